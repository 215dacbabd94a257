"""audit log: format version, signing keys and exported heads

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govloop.core.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # existing entries keep the original encoding (format 1); new ones are written as 2
    with op.batch_alter_table("access_audit_log", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("format", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
    op.create_table(
        "access_audit_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("endorsed_by", sa.String(length=16), nullable=True),
        sa.Column("endorsement", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_access_audit_keys")),
    )


def downgrade() -> None:
    op.drop_table("access_audit_keys")
    with op.batch_alter_table("access_audit_log", schema=None) as batch_op:
        batch_op.drop_column("format")
