"""break-glass: limits, alerts and second-person approval

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govloop.core.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = govloop.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("access_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approval_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("decided_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("decided_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("decision_note", sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_access_grants_decided_by_users"), "users", ["decided_by"], ["id"]
        )
        batch_op.create_index(
            "ix_access_grants_staff_opened", ["staff_id", "opened_at"], unique=False
        )

    op.create_table(
        "access_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_at", UTC, nullable=False),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", UTC, nullable=True),
        sa.Column("acknowledgement", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["users.id"], name=op.f("fk_access_alerts_staff_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["access_grants.id"], name=op.f("fk_access_alerts_grant_id_access_grants")
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["users.id"],
            name=op.f("fk_access_alerts_acknowledged_by_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_alerts")),
    )
    with op.batch_alter_table("access_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_access_alerts_staff_kind", ["staff_id", "kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_access_alerts_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_access_alerts_acknowledged_at"), ["acknowledged_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("access_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_alerts_acknowledged_at"))
        batch_op.drop_index(batch_op.f("ix_access_alerts_created_at"))
        batch_op.drop_index("ix_access_alerts_staff_kind")
    op.drop_table("access_alerts")
    with op.batch_alter_table("access_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_access_grants_staff_opened")
        batch_op.drop_constraint(
            batch_op.f("fk_access_grants_decided_by_users"), type_="foreignkey"
        )
        batch_op.drop_column("decision_note")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decided_by")
        batch_op.drop_column("approval_status")
