"""matters: department records taken from the ingest store (matter_ingest_records)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govloop.core.db

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "matter_ingest_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=False),
        sa.Column("matter_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("state_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dead_letter_id", sa.Integer(), nullable=True),
        sa.Column("applied_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dead_letter_id"],
            ["ingest_dead_letters.id"],
            name=op.f("fk_matter_ingest_records_dead_letter_id_ingest_dead_letters"),
        ),
        sa.ForeignKeyConstraint(
            ["matter_id"], ["matters.id"], name=op.f("fk_matter_ingest_records_matter_id_matters")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["ingest_records.id"],
            name=op.f("fk_matter_ingest_records_record_id_ingest_records"),
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["ingest_sources.id"],
            name=op.f("fk_matter_ingest_records_source_id_ingest_sources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matter_ingest_records")),
        sa.UniqueConstraint("record_id", name=op.f("uq_matter_ingest_records_record_id")),
    )
    with op.batch_alter_table("matter_ingest_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_matter_ingest_records_matter_id"), ["matter_id"], unique=False
        )
        batch_op.create_index(
            "ix_matter_ingest_records_ref", ["external_ref", "source_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("matter_ingest_records", schema=None) as batch_op:
        batch_op.drop_index("ix_matter_ingest_records_ref")
        batch_op.drop_index(batch_op.f("ix_matter_ingest_records_matter_id"))
    op.drop_table("matter_ingest_records")
