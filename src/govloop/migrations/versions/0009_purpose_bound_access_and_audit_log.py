"""purpose-bound access and audit log

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 15:29:04.778450
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import govloop.core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_audit_checkpoints")),
        sa.UniqueConstraint("seq", name=op.f("uq_access_audit_checkpoints_seq")),
    )
    op.create_table(
        "access_audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_audit_head")),
    )
    op.create_table(
        "access_audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("case_type", sa.String(length=16), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("case_label", sa.String(length=200), nullable=True),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("fields", sa.String(length=500), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_access_audit_log")),
    )
    with op.batch_alter_table("access_audit_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_audit_log_actor_id"), ["actor_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_access_audit_log_hash"), ["hash"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_access_audit_log_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "access_case_subjects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_type", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("master_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("added_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["master_id"],
            ["subject_masters.id"],
            name=op.f("fk_access_case_subjects_master_id_subject_masters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_case_subjects")),
        sa.UniqueConstraint(
            "case_type",
            "case_id",
            "master_id",
            name=op.f("uq_access_case_subjects_case_type_case_id_master_id"),
        ),
    )
    with op.batch_alter_table("access_case_subjects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_case_subjects_master_id"), ["master_id"], unique=False
        )

    op.create_table(
        "access_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("case_type", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("case_label", sa.String(length=200), nullable=False),
        sa.Column("policy_key", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column(
            "subject_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", govloop.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", govloop.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("device_key", sa.String(length=64), nullable=False),
        sa.Column("break_glass", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("review_status", sa.String(length=16), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", govloop.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_access_grants_reviewed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["users.id"], name=op.f("fk_access_grants_staff_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grants")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_access_grants_token_hash")),
    )
    with op.batch_alter_table("access_grants", schema=None) as batch_op:
        batch_op.create_index("ix_access_grants_staff_status", ["staff_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_grants_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_grants_status"))
        batch_op.drop_index("ix_access_grants_staff_status")

    op.drop_table("access_grants")
    with op.batch_alter_table("access_case_subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_case_subjects_master_id"))

    op.drop_table("access_case_subjects")
    with op.batch_alter_table("access_audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_audit_log_subject_id"))
        batch_op.drop_index(batch_op.f("ix_access_audit_log_hash"))
        batch_op.drop_index(batch_op.f("ix_access_audit_log_actor_id"))

    op.drop_table("access_audit_log")
    op.drop_table("access_audit_head")
    op.drop_table("access_audit_checkpoints")
