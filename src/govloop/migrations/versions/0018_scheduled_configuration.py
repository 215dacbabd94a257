"""configuration changes that take effect from a day

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "config_scheduled_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sheet", sa.String(length=16), nullable=False),
        sa.Column("rows", JSON, nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problems", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_config_scheduled_changes_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_scheduled_changes")),
    )
    op.create_index(
        "ix_config_scheduled_due",
        "config_scheduled_changes",
        ["status", "effective_on"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_config_scheduled_due", table_name="config_scheduled_changes")
    op.drop_table("config_scheduled_changes")
