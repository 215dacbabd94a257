"""retention: archive manifests; monthly partitions of the event tables on PostgreSQL

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 12:20:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from govloop.core import partitions

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → its primary key column (the partition key ``at`` joins it: PostgreSQL requires
# every unique constraint of a partitioned table to include the partition key)
KEYS = {"hall_events": "id", "work_order_events": "id", "access_audit_log": "seq"}


def upgrade() -> None:
    op.create_table(
        "event_archives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_archives")),
    )
    op.create_index(op.f("ix_event_archives_source"), "event_archives", ["source"])
    op.create_table(
        "access_audit_archives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_audit_archives")),
        sa.UniqueConstraint("first_seq", name=op.f("uq_access_audit_archives_first_seq")),
        sa.UniqueConstraint("last_seq", name=op.f("uq_access_audit_archives_last_seq")),
    )
    with op.batch_alter_table("indicator_watermarks") as batch:
        batch.add_column(
            sa.Column("archived_through", sa.BigInteger(), nullable=False, server_default="0")
        )
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for table, key in KEYS.items():
            _partition(conn, table, key)


def _partition(conn: sa.Connection, table: str, key: str) -> None:
    """Rebuild ``table`` as a partitioned table with the same columns, defaults, indexes,
    foreign keys and rows; the id sequence carries on where it was."""
    if partitions.is_partitioned(conn, table):
        return
    q = sa.text
    indexes = conn.execute(
        q(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = to_regclass(:t) AND NOT i.indisprimary"
        ),
        {"t": table},
    ).scalars()
    index_defs = list(indexes)
    foreign = conn.execute(
        q(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = to_regclass(:t) AND contype = 'f'"
        ),
        {"t": table},
    ).all()
    sequence = conn.execute(
        q("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": key}
    ).scalar()
    if sequence:  # else dropping the old table would drop the sequence with it
        conn.execute(q(f"ALTER SEQUENCE {sequence} OWNED BY NONE"))
    old = f"{table}_unpartitioned"
    conn.execute(q(f"ALTER TABLE {table} RENAME TO {old}"))
    conn.execute(
        q(
            f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
            "PARTITION BY RANGE (at)"
        )
    )
    partitions.create_default(conn, table)
    first = conn.execute(q(f"SELECT min(at) FROM {old}")).scalar()
    today = datetime.now(UTC).date()
    back = 0
    if first is not None:
        start = partitions.Month.of(first)
        back = (today.year - start.year) * 12 + today.month - start.month
    partitions.ensure_months(conn, table, today=today, back=max(back, 0))
    conn.execute(q(f"INSERT INTO {table} SELECT * FROM {old}"))
    conn.execute(q(f"DROP TABLE {old}"))
    conn.execute(q(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key}, at)"))
    for definition in index_defs:
        conn.execute(q(definition))
    for name, definition in foreign:
        conn.execute(q(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
    if sequence:
        conn.execute(q(f"ALTER SEQUENCE {sequence} OWNED BY {table}.{key}"))


def _unpartition(conn: sa.Connection, table: str, key: str) -> None:
    if not partitions.is_partitioned(conn, table):
        return
    q = sa.text
    index_defs = list(
        conn.execute(
            q(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "WHERE i.indrelid = to_regclass(:t) AND NOT i.indisprimary"
            ),
            {"t": table},
        ).scalars()
    )
    foreign = conn.execute(
        q(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = to_regclass(:t) AND contype = 'f' AND conparentid = 0"
        ),
        {"t": table},
    ).all()
    sequence = conn.execute(
        q("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": key}
    ).scalar()
    if sequence:
        conn.execute(q(f"ALTER SEQUENCE {sequence} OWNED BY NONE"))
    old = f"{table}_partitioned"
    conn.execute(q(f"ALTER TABLE {table} RENAME TO {old}"))
    conn.execute(q(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    conn.execute(q(f"INSERT INTO {table} SELECT * FROM {old}"))
    conn.execute(q(f"DROP TABLE {old} CASCADE"))
    conn.execute(q(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})"))
    for definition in index_defs:
        conn.execute(q(definition.replace("ONLY ", "")))
    for name, definition in foreign:
        conn.execute(q(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
    if sequence:
        conn.execute(q(f"ALTER SEQUENCE {sequence} OWNED BY {table}.{key}"))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for table, key in KEYS.items():
            _unpartition(conn, table, key)
    with op.batch_alter_table("indicator_watermarks") as batch:
        batch.drop_column("archived_through")
    op.drop_table("access_audit_archives")
    op.drop_index(op.f("ix_event_archives_source"), table_name="event_archives")
    op.drop_table("event_archives")
