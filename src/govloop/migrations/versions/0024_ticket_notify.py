"""hall: "your turn is near" on tickets (the phone left at the kiosk, how many ahead, sent)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govloop.core.db

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("notify_phone IS NOT NULL AND turn_notified_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("notify_phone", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("notify_ahead", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("turn_notified_at", govloop.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index(
        "ix_tickets_turn_pending",
        "tickets",
        ["hall_id", "service_date"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_turn_pending", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("turn_notified_at")
        batch.drop_column("notify_ahead")
        batch.drop_column("notify_phone")
