"""catalog profiles, tag runs and tag assignments

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import govloop.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:

    op.create_table(
        "catalog_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_key", sa.String(length=100), nullable=False),
        sa.Column("measured_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("newest_at", govloop.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("checks", _json(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_profiles")),
    )
    with op.batch_alter_table("catalog_profiles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_profiles_dataset_measured", ["dataset_key", "measured_at"], unique=False
        )

    op.create_table(
        "catalog_tag_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("computed_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rules_sha256", sa.String(length=64), nullable=False),
        sa.Column("counts", _json(), nullable=False),
        sa.Column("subjects_scanned", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_tag_runs")),
    )

    op.create_table(
        "catalog_tag_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("tag_code", sa.String(length=64), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_key", sa.String(length=128), nullable=False),
        sa.Column("subject_label", sa.String(length=200), nullable=False),
        sa.Column("evidence", _json(), nullable=False),
        sa.Column("computed_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["catalog_tag_runs.id"],
            name=op.f("fk_catalog_tag_assignments_run_id_catalog_tag_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_tag_assignments")),
    )
    with op.batch_alter_table("catalog_tag_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_tag_assignments_run_id"), ["run_id"], unique=False
        )
        batch_op.create_index(
            "ix_catalog_tag_assignments_tag", ["tag_code", "subject_key"], unique=False
        )
        batch_op.create_index(
            "ix_catalog_tag_assignments_subject", ["subject_type", "subject_key"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("catalog_tag_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_tag_assignments_subject")
        batch_op.drop_index("ix_catalog_tag_assignments_tag")
        batch_op.drop_index(batch_op.f("ix_catalog_tag_assignments_run_id"))

    op.drop_table("catalog_tag_assignments")
    op.drop_table("catalog_tag_runs")
    with op.batch_alter_table("catalog_profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_profiles_dataset_measured")

    op.drop_table("catalog_profiles")
