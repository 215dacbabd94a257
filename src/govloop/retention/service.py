"""Retention: hall, hotline and access events older than the configured age leave the
transactional tables for Parquet archives in the data directory.

An event row leaves only when it is already in the analytics store (its id is at or below
the export watermark), so every figure stays the same; the watermark then records how far
rows were removed, and the store refuses to be rebuilt from the database alone. Each file
is listed in ``event_archives`` with its checksum; the access log archives whole signed
segments (``audit.archive``) and still verifies end to end. On PostgreSQL the emptied
monthly partitions are dropped.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Boolean, Column, DateTime, Integer, Table, delete, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.types import JSON, BigInteger

from govloop.analytics.models import ExportWatermark
from govloop.audit import archive as audit_archive
from govloop.audit.models import AuditEntry
from govloop.core import parquet_archive, partitions
from govloop.core.clock import now
from govloop.hall.models import HallEvent
from govloop.hotline.models import WorkOrderEvent
from govloop.retention.models import EventArchive

CHUNK = 50_000
# The archived event tables: each is a source of the analytics export of the same name.
TABLES: dict[str, Table] = {
    "hall_events": HallEvent.__table__,  # type: ignore[dict-item]
    "work_order_events": WorkOrderEvent.__table__,  # type: ignore[dict-item]
}


@dataclass
class SourceResult:
    rows: int = 0
    files: list[str] = field(default_factory=list)
    # rows older than the cutoff still waiting for the analytics export
    waiting_for_export: int = 0


@dataclass
class RetentionResult:
    cutoff: datetime
    audit_cutoff: datetime | None
    dry_run: bool
    sources: dict[str, SourceResult] = field(default_factory=dict)
    audit_entries: int = 0
    audit_files: list[str] = field(default_factory=list)
    partitions_dropped: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "audit_cutoff": self.audit_cutoff.isoformat() if self.audit_cutoff else None,
            "dry_run": self.dry_run,
            "sources": {
                name: {
                    "rows": r.rows,
                    "files": r.files,
                    "waiting_for_export": r.waiting_for_export,
                }
                for name, r in self.sources.items()
            },
            "audit_entries": self.audit_entries,
            "audit_files": self.audit_files,
            "partitions_dropped": self.partitions_dropped,
        }


def _arrow_type(column: Column[Any]) -> pa.DataType:
    kind = column.type
    if isinstance(kind, Boolean):
        return pa.bool_()
    if isinstance(kind, BigInteger | Integer):
        return pa.int64()
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        return pa.timestamp("us", tz="UTC")
    return pa.string()  # text, and JSON as its text


def _plain(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, JSON) or isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def schema_of(table: Table) -> pa.Schema:
    """The archive files' columns: every column of the table, JSON kept as its text."""
    return pa.schema([(c.name, _arrow_type(c)) for c in table.columns])


def _to_arrow(table: Table, rows: list[Any]) -> pa.Table:
    schema = schema_of(table)
    columns = list(table.columns)
    data = {
        c.name: pa.array([_plain(c, row[i]) for row in rows], type=schema.field(c.name).type)
        for i, c in enumerate(columns)
    }
    return pa.table(data, schema=schema)


def _month(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def _archive_source(
    session: Session,
    name: str,
    cutoff: datetime,
    data_dir: Path,
    dry_run: bool,
) -> SourceResult:
    table = TABLES[name]
    result = SourceResult()
    mark = session.get(ExportWatermark, name, with_for_update=True)
    exported = mark.last_id if mark is not None and mark.store_token else 0
    old = table.c.at < cutoff
    result.waiting_for_export = (
        session.scalar(select(func.count()).select_from(table).where(old, table.c.id > exported))
        or 0
    )
    last = 0
    while True:
        rows = session.execute(
            select(table)
            .where(old, table.c.id > last, table.c.id <= exported)
            .order_by(table.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        first_id, last = rows[0].id, rows[-1].id
        result.rows += len(rows)
        if not dry_run:
            by_month: dict[str, list[Any]] = defaultdict(list)
            for row in rows:
                by_month[_month(row.at)].append(row)
            for month, chunk in sorted(by_month.items()):
                result.files.append(_write_file(session, name, month, chunk, cutoff, data_dir))
            session.execute(delete(table).where(old, table.c.id.between(first_id, last)))
    if result.rows and not dry_run and mark is not None:
        mark.archived_through = max(mark.archived_through or 0, last)
    return result


def _write_file(
    session: Session, name: str, month: str, rows: list[Any], cutoff: datetime, data_dir: Path
) -> str:
    table = TABLES[name]
    first, last = rows[0].id, rows[-1].id
    relative = Path("archive") / name / f"month={month}" / f"part-{first:012d}-{last:012d}.parquet"
    digest = parquet_archive.write(data_dir / relative, _to_arrow(table, rows))
    session.add(
        EventArchive(
            source=name,
            month=month,
            first_id=first,
            last_id=last,
            rows=len(rows),
            cutoff=cutoff,
            path=relative.as_posix(),
            sha256=digest,
        )
    )
    return relative.as_posix()


def _drop_empty_partitions(session: Session, before: datetime) -> list[str]:
    """Monthly partitions wholly before ``before`` that hold no row any more."""
    conn = session.connection()
    dropped = []
    for table in partitions.PARTITIONED_TABLES:
        if not partitions.is_partitioned(conn, table):
            continue
        for month in partitions.months(conn, table):
            if month.end > before:
                continue
            name = partitions.partition_name(table, month)
            if conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {name})")).scalar():
                continue
            partitions.drop_month(conn, table, month)
            dropped.append(name)
    return dropped


def run(
    *,
    session: Session,
    days: int,
    audit_days: int | None,
    data_dir: Path,
    dry_run: bool = False,
) -> RetentionResult:
    """Archive what is older than ``days`` (events) and ``audit_days`` (access log; None:
    keep it all in the database). Runs in the caller's transaction."""
    moment = now()
    cutoff = moment - timedelta(days=days)
    audit_cutoff = moment - timedelta(days=audit_days) if audit_days is not None else None
    result = RetentionResult(cutoff=cutoff, audit_cutoff=audit_cutoff, dry_run=dry_run)
    for name in TABLES:
        result.sources[name] = _archive_source(session, name, cutoff, data_dir, dry_run)
    if audit_cutoff is not None:
        done = audit_archive.archive_before(
            session=session, cutoff=audit_cutoff, data_dir=data_dir, dry_run=dry_run
        )
        result.audit_entries, result.audit_files = done.entries, done.files
    if not dry_run:
        session.flush()
        oldest = min(cutoff, audit_cutoff) if audit_cutoff else cutoff
        result.partitions_dropped = _drop_empty_partitions(session, oldest)
    return result


def ensure_partitions(session: Session, today: date) -> list[str]:
    """This month's and the next months' partitions of every partitioned table."""
    conn = session.connection()
    created = []
    for table in partitions.PARTITIONED_TABLES:
        if partitions.is_partitioned(conn, table):
            created += partitions.ensure_months(conn, table, today=today)
    return created


@dataclass(frozen=True)
class SourceStatus:
    source: str
    rows: int
    oldest: datetime | None
    archived_rows: int
    archive_files: int
    partitions: int


def status(session: Session) -> list[SourceStatus]:
    conn = session.connection()
    found = []
    tables = {**TABLES, "access_audit_log": AuditEntry.__table__}
    for name, table in tables.items():
        rows, oldest = session.execute(select(func.count(), func.min(table.c.at))).one()
        if name == "access_audit_log":
            archived = audit_archive.archived_totals(session)
        else:
            archived = session.execute(
                select(func.coalesce(func.sum(EventArchive.rows), 0), func.count()).where(
                    EventArchive.source == name
                )
            ).one()
        parts = len(partitions.months(conn, name)) if partitions.is_partitioned(conn, name) else 0
        found.append(SourceStatus(name, rows, oldest, int(archived[0]), int(archived[1]), parts))
    return found
