"""go-live configuration: hall hours with breaks, weekend days and own calendar; item time
limits, fee, materials and service flags; archiving; hall memberships; the configuration's
change log; one-time passwords and last login

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _false() -> sa.TextClause:
    return sa.text("false")


def upgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("archived", sa.Boolean(), nullable=False, server_default=_false())
        )
    with op.batch_alter_table("halls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("location", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("sessions", JSON, nullable=True))
        for name in ("weekend_days", "closed_days", "extra_days"):
            batch_op.add_column(
                sa.Column(name, JSON, nullable=False, server_default=sa.text("'[]'"))
            )
        batch_op.add_column(
            sa.Column("archived", sa.Boolean(), nullable=False, server_default=_false())
        )
    with op.batch_alter_table("service_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("statutory_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("promised_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fee", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("materials", JSON, nullable=False, server_default=sa.text("'[]'"))
        )
        for name in ("online", "self_service", "by_post"):
            batch_op.add_column(
                sa.Column(name, sa.Boolean(), nullable=False, server_default=_false())
            )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=_false())
        )
        batch_op.add_column(sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "hall_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_hall_members_hall_id_halls")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_hall_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hall_members")),
        sa.UniqueConstraint("user_id", "hall_id", name=op.f("uq_hall_members_user_id_hall_id")),
    )
    op.create_index(op.f("ix_hall_members_hall_id"), "hall_members", ["hall_id"], unique=False)
    op.create_index(op.f("ix_hall_members_user_id"), "hall_members", ["user_id"], unique=False)
    op.create_table(
        "config_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_config_changes_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_changes")),
    )
    op.create_index("ix_config_changes_object", "config_changes", ["kind", "key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_config_changes_object", table_name="config_changes")
    op.drop_table("config_changes")
    op.drop_index(op.f("ix_hall_members_user_id"), table_name="hall_members")
    op.drop_index(op.f("ix_hall_members_hall_id"), table_name="hall_members")
    op.drop_table("hall_members")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("last_login_at")
        batch_op.drop_column("must_change_password")
    with op.batch_alter_table("service_items", schema=None) as batch_op:
        for name in ("by_post", "self_service", "online", "materials", "fee"):
            batch_op.drop_column(name)
        batch_op.drop_column("promised_days")
        batch_op.drop_column("statutory_days")
    with op.batch_alter_table("halls", schema=None) as batch_op:
        for name in ("archived", "extra_days", "closed_days", "weekend_days", "sessions"):
            batch_op.drop_column(name)
        batch_op.drop_column("location")
        batch_op.drop_column("address")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_column("archived")
