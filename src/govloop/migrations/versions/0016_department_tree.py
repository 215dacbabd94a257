"""organisation tree: a department may sit under a parent department

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_departments_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_departments_parent_id_departments"), "departments", ["parent_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_departments_parent_id_departments"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_departments_parent_id"))
        batch_op.drop_column("parent_id")
