"""field workbench: tasks, devices, submissions and photos

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 15:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import govloop.core.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC = govloop.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "field_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("task_type", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due", UTC, nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_field_tasks_assignee_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_tasks")),
        sa.UniqueConstraint("number", name=op.f("uq_field_tasks_number")),
    )
    with op.batch_alter_table("field_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_field_tasks_assignee_id"), ["assignee_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_field_tasks_status"), ["status"], unique=False)

    op.create_table(
        "field_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("registered_at", UTC, nullable=False),
        sa.Column("last_seen", UTC, nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_field_devices_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["users.id"], name=op.f("fk_field_devices_revoked_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_devices")),
        sa.UniqueConstraint("device_id", name=op.f("uq_field_devices_device_id")),
    )
    with op.batch_alter_table("field_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_field_devices_user_id"), ["user_id"], unique=False)

    op.create_table(
        "field_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("location", JSON, nullable=True),
        sa.Column("captured_at", UTC, nullable=True),
        sa.Column("submitted_at", UTC, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("conflict_detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"], ["field_tasks.id"], name=op.f("fk_field_submissions_task_id_field_tasks")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["field_devices.id"],
            name=op.f("fk_field_submissions_device_id_field_devices"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_field_submissions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_submissions")),
        sa.UniqueConstraint("user_id", "client_id", name=op.f("uq_field_submissions_user_id")),
    )
    with op.batch_alter_table("field_submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_field_submissions_task_id"), ["task_id"], unique=False)

    op.create_table(
        "field_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["field_submissions.id"],
            name=op.f("fk_field_photos_submission_id_field_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_photos")),
    )
    with op.batch_alter_table("field_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_field_photos_submission_id"), ["submission_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("field_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_field_photos_submission_id"))
    op.drop_table("field_photos")
    with op.batch_alter_table("field_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_field_submissions_task_id"))
    op.drop_table("field_submissions")
    with op.batch_alter_table("field_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_field_devices_user_id"))
    op.drop_table("field_devices")
    with op.batch_alter_table("field_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_field_tasks_status"))
        batch_op.drop_index(batch_op.f("ix_field_tasks_assignee_id"))
    op.drop_table("field_tasks")
