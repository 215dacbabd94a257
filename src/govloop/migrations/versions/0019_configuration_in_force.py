"""configuration in force per day: versions of hall hours and windows

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "config_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("hall_code", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("scheduled_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_versions")),
        sa.UniqueConstraint(
            "kind", "key", "valid_from", name=op.f("uq_config_versions_kind_key_valid_from")
        ),
    )
    op.create_index(
        op.f("ix_config_versions_hall_code"), "config_versions", ["hall_code"], unique=False
    )
    op.create_index(
        op.f("ix_config_versions_scheduled_id"), "config_versions", ["scheduled_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_config_versions_scheduled_id"), table_name="config_versions")
    op.drop_index(op.f("ix_config_versions_hall_code"), table_name="config_versions")
    op.drop_table("config_versions")
