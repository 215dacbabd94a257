"""subject databases and data quality

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 15:19:05.170918
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import govloop.core.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quality_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_runs")),
    )
    op.create_table(
        "subject_masters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("identifier", sa.String(length=32), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "provenance",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("created_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_masters")),
        sa.UniqueConstraint("kind", "identifier", name=op.f("uq_subject_masters_kind_identifier")),
    )
    with op.batch_alter_table("subject_masters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_masters_kind"), ["kind"], unique=False)

    op.create_table(
        "quality_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column(
            "samples",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["quality_runs.id"],
            name=op.f("fk_quality_results_run_id_quality_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_results")),
    )
    with op.batch_alter_table("quality_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quality_results_run_source", ["run_id", "source_key"], unique=False
        )

    op.create_table(
        "subject_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("master_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column(
            "candidates",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("candidates_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_value", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", govloop.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_subject_conflicts_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["master_id"],
            ["subject_masters.id"],
            name=op.f("fk_subject_conflicts_master_id_subject_masters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_conflicts")),
    )
    with op.batch_alter_table("subject_conflicts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subject_conflicts_master_field", ["master_id", "field"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_subject_conflicts_status"), ["status"], unique=False)

    op.create_table(
        "subject_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("master_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("linked_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["master_id"],
            ["subject_masters.id"],
            name=op.f("fk_subject_links_master_id_subject_masters"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["ingest_records.id"],
            name=op.f("fk_subject_links_record_id_ingest_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_links")),
        sa.UniqueConstraint("record_id", name=op.f("uq_subject_links_record_id")),
    )
    with op.batch_alter_table("subject_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_links_master_id"), ["master_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subject_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_links_master_id"))

    op.drop_table("subject_links")
    with op.batch_alter_table("subject_conflicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_conflicts_status"))
        batch_op.drop_index("ix_subject_conflicts_master_field")

    op.drop_table("subject_conflicts")
    with op.batch_alter_table("quality_results", schema=None) as batch_op:
        batch_op.drop_index("ix_quality_results_run_source")

    op.drop_table("quality_results")
    with op.batch_alter_table("subject_masters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_masters_kind"))

    op.drop_table("subject_masters")
    op.drop_table("quality_runs")
