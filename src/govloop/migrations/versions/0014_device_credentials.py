"""device credentials: a key per hall device (HTTP heartbeats); field device ids unique
per user, not across users

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("field_devices", schema=None) as batch_op:
        batch_op.drop_constraint("uq_field_devices_device_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_field_devices_user_id_device_id", ["user_id", "device_id"]
        )


def downgrade() -> None:
    # fails while two users hold the same device id, which only this revision allows
    with op.batch_alter_table("field_devices", schema=None) as batch_op:
        batch_op.drop_constraint("uq_field_devices_user_id_device_id", type_="unique")
        batch_op.create_unique_constraint("uq_field_devices_device_id", ["device_id"])
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("key_hash")
