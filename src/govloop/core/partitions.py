"""Monthly partitions of the append-only event tables on PostgreSQL.

``hall_events``, ``work_order_events`` and ``access_audit_log`` are range-partitioned by
their ``at`` column, one partition per UTC month (``hall_events_p202612``), plus a default
partition that catches rows of months nobody created yet (a restored old backup, a clock
set far ahead). A month's partition is created ahead of time by the ``partitions`` duty;
when the default partition already holds rows of that month they are moved into it. Old
months are dropped whole by retention once their rows are archived.

SQLite keeps plain tables: retention deletes rows there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, text

PARTITIONED_TABLES = ("hall_events", "work_order_events", "access_audit_log")
MONTHS_AHEAD = 3
_PARTITION_NAME = re.compile(
    r"^(?P<table>" + "|".join(PARTITIONED_TABLES) + r")_(?P<suffix>p\d{6}|default)$"
)


def is_partition_name(name: str) -> bool:
    """A partition of a partitioned table (not a table the models describe)."""
    return _PARTITION_NAME.match(name) is not None


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, moment: date | datetime) -> Month:
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return cls(moment.year, moment.month)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.next().start

    def suffix(self) -> str:
        return f"p{self.year:04d}{self.month:02d}"


def partition_name(table: str, month: Month) -> str:
    return f"{table}_{month.suffix()}"


def is_partitioned(conn: Connection, table: str) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(
        text("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(:t)"), {"t": table}
    ).scalar()
    return kind == "p"


def months(conn: Connection, table: str) -> list[Month]:
    """The months that have a partition of their own, oldest first."""
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": table},
    ).scalars()
    found = []
    for name in names:
        suffix = name.rsplit("_", 1)[-1]
        if suffix.startswith("p") and suffix[1:].isdigit():
            found.append(Month(int(suffix[1:5]), int(suffix[5:7])))
    return sorted(found, key=lambda m: (m.year, m.month))


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def create_default(conn: Connection, table: str) -> None:
    default = _quote(conn, f"{table}_default")
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS {default} PARTITION OF {table} DEFAULT"))


def create_month(conn: Connection, table: str, month: Month) -> bool:
    """Create one month's partition; rows of that month already in the default partition
    move into it (PostgreSQL refuses the partition otherwise). False when it existed."""
    if month in months(conn, table):
        return False
    name = _quote(conn, partition_name(table, month))
    default = _quote(conn, f"{table}_default")
    bounds = {"start": month.start, "end": month.end}
    stranded = conn.execute(
        text(f"SELECT count(*) FROM {default} WHERE at >= :start AND at < :end"), bounds
    ).scalar()
    if stranded:
        conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {default}"))
    conn.execute(
        text(
            f"CREATE TABLE {name} PARTITION OF {table} "
            f"FOR VALUES FROM ('{month.start.isoformat()}') TO ('{month.end.isoformat()}')"
        )
    )
    if stranded:
        conn.execute(
            text(f"INSERT INTO {name} SELECT * FROM {default} WHERE at >= :start AND at < :end"),
            bounds,
        )
        conn.execute(text(f"DELETE FROM {default} WHERE at >= :start AND at < :end"), bounds)
        conn.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {default} DEFAULT"))
    return True


def ensure_months(
    conn: Connection, table: str, *, today: date, back: int = 0, ahead: int = MONTHS_AHEAD
) -> list[str]:
    """Partitions from ``back`` months before today's month to ``ahead`` months after it;
    returns the names created."""
    month = Month.of(today)
    for _ in range(back):
        month = Month(month.year - (month.month == 1), (month.month - 2) % 12 + 1)
    created = []
    for _ in range(back + ahead + 1):
        if create_month(conn, table, month):
            created.append(partition_name(table, month))
        month = month.next()
    return created


def drop_month(conn: Connection, table: str, month: Month) -> None:
    conn.execute(text(f"DROP TABLE IF EXISTS {_quote(conn, partition_name(table, month))}"))
