"""subject stewardship: "not the same person" decisions between source records, and the
history of every split, move and automatic split of a master

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 19:34:09.383137
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import govloop.core.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "subject_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("master_id", sa.Integer(), nullable=False),
        sa.Column("other_master_id", sa.Integer(), nullable=True),
        sa.Column("record_ids", JSON, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.Column("created_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_subject_decisions_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["master_id"],
            ["subject_masters.id"],
            name=op.f("fk_subject_decisions_master_id_subject_masters"),
        ),
        sa.ForeignKeyConstraint(
            ["other_master_id"],
            ["subject_masters.id"],
            name=op.f("fk_subject_decisions_other_master_id_subject_masters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_decisions")),
    )
    with op.batch_alter_table("subject_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_decisions_master_id"), ["master_id"], unique=False
        )

    op.create_table(
        "subject_cannot_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_a", sa.Integer(), nullable=False),
        sa.Column("record_b", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_subject_cannot_links_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["record_a"],
            ["ingest_records.id"],
            name=op.f("fk_subject_cannot_links_record_a_ingest_records"),
        ),
        sa.ForeignKeyConstraint(
            ["record_b"],
            ["ingest_records.id"],
            name=op.f("fk_subject_cannot_links_record_b_ingest_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_cannot_links")),
        sa.UniqueConstraint(
            "record_a", "record_b", name=op.f("uq_subject_cannot_links_record_a_record_b")
        ),
    )
    with op.batch_alter_table("subject_cannot_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_cannot_links_record_a"), ["record_a"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subject_cannot_links_record_b"), ["record_b"], unique=False
        )


def downgrade() -> None:
    op.drop_table("subject_cannot_links")
    op.drop_table("subject_decisions")
