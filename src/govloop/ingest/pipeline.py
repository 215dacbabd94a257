"""The one pipeline every source goes through: validate against the source's declared schema,
normalize (recording each change), deduplicate by event id, store with lineage, and put
every row that fails in the dead-letter store with its reason. Nothing is dropped silently:
for every run, rows_in = stored + duplicates + rejected.

Service functions take the session as a keyword and never commit.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice, repeat
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.errors import Conflict, NotAuthenticated, NotFound, RuleViolation
from govloop.ingest.models import (
    DeadLetter,
    IngestedRecord,
    IngestRun,
    RunStatus,
    Source,
    SourceKind,
)
from govloop.ingest.schemas import SCHEMAS, describe_errors, normalize

BATCH = 5_000


@dataclass
class RawRow:
    """One row as received: ``values`` keyed by the source's own column names."""

    values: dict[str, Any]
    row_number: int | None = None
    raw: str | None = None  # the text as received, when it is not just the values
    # set by a connector that could not read the row (bad encoding, malformed JSON line,
    # missing columns): (reason_code, reason); the pipeline dead-letters it as it is
    error: tuple[str, str] | None = None


@dataclass
class RunCounts:
    rows_in: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0

    def add(self, other: RunCounts) -> None:
        self.rows_in += other.rows_in
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.rejected += other.rejected


# --- sources ------------------------------------------------------------------------------


def create_source(
    *,
    session: Session,
    key: str,
    name: str,
    kind: str,
    schema_name: str,
    mapping: dict[str, str] | None = None,
    department: str | None = None,
    owner: str | None = None,
) -> Source:
    if schema_name not in SCHEMAS:
        raise RuleViolation(
            f"未知的数据模式：{schema_name}（可用：{'、'.join(SCHEMAS)}）", code="unknown_schema"
        )
    if kind not in set(SourceKind):
        raise RuleViolation(f"未知的数据源类型：{kind}", code="unknown_kind")
    if session.scalar(select(Source.id).where(Source.key == key)) is not None:
        raise Conflict(f"数据源 {key} 已存在", code="source_exists")
    fields = SCHEMAS[schema_name][0].model_fields
    unknown = sorted(v for v in (mapping or {}).values() if v not in fields)
    if unknown:
        raise RuleViolation(f"字段映射指向未声明的字段：{'、'.join(unknown)}", code="bad_mapping")
    source = Source(
        key=key,
        name=name,
        kind=kind,
        schema_name=schema_name,
        mapping=dict(mapping or {}),
        department=department,
        owner=owner,
    )
    session.add(source)
    session.flush()
    return source


def get_source(*, session: Session, key: str) -> Source:
    source = session.scalar(select(Source).where(Source.key == key))
    if source is None:
        raise NotFound(f"未找到数据源：{key}", code="unknown_source")
    return source


def _key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def issue_api_key(*, session: Session, source: Source) -> str:
    """A new push key for the source; the old one stops working. Only its hash is kept."""
    api_key = f"gl_{source.key}_{secrets.token_urlsafe(24)}"
    source.api_key_hash = _key_hash(api_key)
    session.flush()
    return api_key


PUSH_REFUSED = "数据源不存在或已停用，或推送密钥缺失、不属于此数据源"


def pushing_source(*, session: Session, source_key: str, api_key: str | None) -> Source:
    """The active source ``source_key`` when ``api_key`` is its push key. Every other case
    (unknown or inactive source, no key, a wrong or replaced key, another source's key) is
    the same refusal, so it tells a caller nothing about which sources exist."""
    source = (
        session.scalar(select(Source).where(Source.api_key_hash == _key_hash(api_key)))
        if api_key
        else None
    )
    if source is None or not source.active or source.key != source_key:
        raise NotAuthenticated(PUSH_REFUSED, code="bad_source_key")
    return source


# --- runs and dead letters ----------------------------------------------------------------


def start_run(
    *,
    session: Session,
    source: Source | None,
    channel: str,
    file_name: str | None = None,
    file_sha256: str | None = None,
    encoding: str | None = None,
    started_by: int | None = None,
) -> IngestRun:
    run = IngestRun(
        source_id=source.id if source else None,
        channel=channel,
        file_name=file_name,
        file_sha256=file_sha256,
        encoding=encoding,
        started_by=started_by,
        status=RunStatus.RUNNING,
        started_at=now(),
    )
    session.add(run)
    session.flush()
    return run


def finish_run(
    *, session: Session, run: IngestRun, status: str = RunStatus.DONE, message: str | None = None
) -> IngestRun:
    run.status = status
    run.finished_at = now()
    if message:
        run.message = message
    session.flush()
    return run


def record_dead_letter(
    *,
    session: Session,
    source_key: str,
    raw: str,
    reason_code: str,
    reason: str,
    source: Source | None = None,
    run: IngestRun | None = None,
    row_number: int | None = None,
    file_name: str | None = None,
) -> None:
    """Keep a row that could not be stored, whole, with why. Counts it on the run."""
    session.execute(
        insert(DeadLetter),
        [
            {
                "source_key": source_key[:64],
                "source_id": source.id if source else None,
                "run_id": run.id if run else None,
                "file_name": file_name,
                "row_number": row_number,
                "raw": raw,
                "reason_code": reason_code,
                "reason": reason[:1000],
                "status": "open",
                "created_at": now(),
            }
        ],
    )
    if run is not None:
        run.rows_in += 1
        run.rejected += 1


def raw_text(row: RawRow) -> str:
    if row.raw is not None:
        return row.raw
    return json.dumps(row.values, ensure_ascii=False, default=str)


# --- the pipeline -------------------------------------------------------------------------


@dataclass
class _Valid:
    event_id: str
    occurred_at: datetime | None
    record: Any  # the validated pydantic model
    changes: dict[str, list[Any]]
    row: RawRow

    @property
    def payload(self) -> dict[str, Any]:
        return dict(self.record.model_dump(mode="json", exclude_none=True))

    def payload_json(self) -> str:
        # serialized by pydantic-core: the same JSON as json.dumps(payload), without the
        # intermediate dict (the hot path of a large file)
        return str(self.record.model_dump_json(exclude_none=True))


@dataclass(frozen=True)
class _Plan:
    """What validating one source's rows needs, looked up once per batch, not per row."""

    model: Any
    id_field: str
    time_field: str | None
    mapping: dict[str, str]


def _plan(source: Source) -> _Plan:
    model, id_field, time_field = SCHEMAS[source.schema_name]
    return _Plan(model, id_field, time_field, dict(source.mapping or {}))


def validate_row(
    source: Source, row: RawRow, plan: _Plan | None = None
) -> _Valid | tuple[str, str]:
    """A valid, normalized row, or (reason_code, reason)."""
    plan = plan or _plan(source)
    values, changes = normalize(row.values, plan.mapping)
    try:
        record = plan.model.model_validate(values)
    except ValidationError as exc:
        return "invalid", describe_errors(exc)
    occurred = getattr(record, plan.time_field) if plan.time_field else None
    if isinstance(occurred, datetime):
        occurred = occurred.astimezone(UTC) if occurred.tzinfo else occurred.replace(tzinfo=UTC)
    return _Valid(str(getattr(record, plan.id_field)), occurred, record, changes, row)


def _chunks(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def ingest_rows(
    *,
    session: Session,
    source: Source,
    run: IngestRun,
    rows: Iterable[RawRow],
    batch_size: int = BATCH,
) -> RunCounts:
    """Validate, deduplicate and store rows in batches; failures become dead letters.

    Idempotent: an event id the source already delivered (in an earlier run or earlier in
    this one) counts as a duplicate and adds nothing.
    """
    total = RunCounts()
    for chunk in _chunks(rows, batch_size):
        counts = _ingest_chunk(session=session, source=source, run=run, chunk=chunk)
        total.add(counts)
    return total


_INSERT_COLUMNS = (
    "source_id",
    "event_id",
    "schema_name",
    "occurred_at",
    "payload",
    "run_id",
    "file_name",
    "row_number",
    "changes",
    "stored_at",
)


def _sqlite_time(value: datetime | None) -> str | None:
    # the text SQLAlchemy's SQLite DateTime writes, in UTC like UTCDateTime
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def insert_records(
    *,
    session: Session,
    source: Source,
    run_id: int,
    file_name: str | None,
    valid: list[_Valid],
    stamp: datetime,
    row_numbers: list[int | None] | None = None,
) -> int:
    """Store validated rows with their lineage, skipping event ids the source already
    delivered; returns how many were stored."""
    numbers = row_numbers or [v.row.row_number for v in valid]
    if session.connection().dialect.name == "sqlite":
        dumps = json.dumps
        return insert_sqlite_rows(
            session=session,
            source=source,
            run_id=run_id,
            file_name=file_name,
            stamp=stamp,
            event_ids=[v.event_id for v in valid],
            occurred=[_sqlite_time(v.occurred_at) for v in valid],
            payloads=[v.payload_json() for v in valid],
            numbers=numbers,
            changes=[dumps(v.changes) if v.changes else "{}" for v in valid],
        )
    return insert_rows(
        session=session,
        source=source,
        run_id=run_id,
        file_name=file_name,
        stamp=stamp,
        event_ids=[v.event_id for v in valid],
        occurred=[v.occurred_at for v in valid],
        payloads=[v.payload for v in valid],
        numbers=numbers,
        changes=[v.changes for v in valid],
    )


def insert_sqlite_rows(
    *,
    session: Session,
    source: Source,
    run_id: int,
    file_name: str | None,
    stamp: datetime,
    event_ids: list[str],
    occurred: list[str | None],
    payloads: list[str],
    numbers: list[int | None],
    changes: list[str],
) -> int:
    """SQLite (the hot path of a large file): rows as columns already in the text SQLite
    keeps (times as ``_sqlite_time`` writes them, payload and changes as JSON), stored by one
    executemany with ``ON CONFLICT DO NOTHING`` against the (source, event id) unique key:
    what the ORM's bulk insert would send, without its per-row bookkeeping or a lookup of
    5,000 ids. Returns how many were stored."""
    sql = (
        f"INSERT INTO {IngestedRecord.__tablename__} ({', '.join(_INSERT_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in _INSERT_COLUMNS)}) "
        "ON CONFLICT (source_id, event_id) DO NOTHING"
    )
    params = list(
        zip(
            repeat(source.id),
            event_ids,
            repeat(source.schema_name),
            occurred,
            payloads,
            repeat(run_id),
            repeat(file_name),
            numbers,
            changes,
            repeat(_sqlite_time(stamp)),
            strict=False,  # repeat() is endless; the lists have one length
        )
    )
    result = session.connection().exec_driver_sql(sql, params)
    return int(result.rowcount)


def insert_rows(
    *,
    session: Session,
    source: Source,
    run_id: int,
    file_name: str | None,
    stamp: datetime,
    event_ids: list[str],
    occurred: list[datetime | None],
    payloads: list[dict[str, Any]],
    numbers: list[int | None],
    changes: list[dict[str, Any]],
) -> int:
    """Other databases: the ids already stored are looked up and the rest go in one Core
    insert (on PostgreSQL through psycopg, one ``COPY``). Returns how many were stored."""
    seen = set(
        session.scalars(
            select(IngestedRecord.event_id).where(
                IngestedRecord.source_id == source.id,
                IngestedRecord.event_id.in_(event_ids),
            )
        )
    )
    rows = [
        {
            "source_id": source.id,
            "event_id": event_id,
            "schema_name": source.schema_name,
            "occurred_at": at,
            "payload": payload,
            "run_id": run_id,
            "file_name": file_name,
            "row_number": number,
            "changes": change,
            "stored_at": stamp,
        }
        for event_id, at, payload, number, change in zip(
            event_ids, occurred, payloads, numbers, changes, strict=True
        )
        if event_id not in seen
    ]
    connection = session.connection()
    if rows and connection.dialect.driver == "psycopg":
        _copy_rows(connection.connection.driver_connection, rows)
    elif rows:
        session.execute(insert(IngestedRecord), rows)
    return len(rows)


def _copy_rows(driver: Any, rows: list[dict[str, Any]]) -> None:
    """COPY into ingest_records, in the session's transaction: what the Core insert stores
    (JSON documents as jsonb), without building a multi-row INSERT statement per 1,000 rows."""
    from psycopg.types.json import Jsonb

    sql = f"COPY {IngestedRecord.__tablename__} ({', '.join(_INSERT_COLUMNS)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(
                tuple(
                    Jsonb(row[c]) if c in ("payload", "changes") else row[c]
                    for c in _INSERT_COLUMNS
                )
            )


def _ingest_chunk(
    *, session: Session, source: Source, run: IngestRun, chunk: list[RawRow]
) -> RunCounts:
    counts = RunCounts(rows_in=len(chunk))
    valid: dict[str, _Valid] = {}
    dead: list[dict[str, Any]] = []
    stamp = now()

    def reject(row: RawRow, code: str, reason: str) -> None:
        dead.append(
            dead_letter_row(source, run, stamp, row.row_number, raw_text(row), code, reason)
        )

    plan = _plan(source)
    for row in chunk:
        if row.error is not None:
            reject(row, *row.error)
            continue
        result = validate_row(source, row, plan)
        if isinstance(result, tuple):
            reject(row, *result)
        elif result.event_id in valid:
            counts.duplicates += 1
        else:
            valid[result.event_id] = result
    if valid:
        stored = insert_records(
            session=session,
            source=source,
            run_id=run.id,
            file_name=run.file_name,
            valid=list(valid.values()),
            stamp=stamp,
        )
        counts.duplicates += len(valid) - stored
        counts.stored += stored
    finish_chunk(session=session, run=run, counts=counts, dead=dead)
    return counts


def dead_letter_row(
    source: Source,
    run: IngestRun,
    stamp: datetime,
    row_number: int | None,
    raw: str,
    code: str,
    reason: str,
) -> dict[str, Any]:
    """A dead letter of a file or batch run, as the values of its insert."""
    return {
        "source_key": source.key,
        "source_id": source.id,
        "run_id": run.id,
        "file_name": run.file_name,
        "row_number": row_number,
        "raw": raw,
        "reason_code": code,
        "reason": reason[:1000],
        "status": "open",
        "created_at": stamp,
    }


def finish_chunk(
    *, session: Session, run: IngestRun, counts: RunCounts, dead: list[dict[str, Any]]
) -> None:
    """Store a batch's dead letters and add the batch's counts to its run."""
    if dead:
        session.execute(insert(DeadLetter), dead)
    counts.rejected = len(dead)
    session.execute(
        update(IngestRun)
        .where(IngestRun.id == run.id)
        .values(
            rows_in=IngestRun.rows_in + counts.rows_in,
            stored=IngestRun.stored + counts.stored,
            duplicates=IngestRun.duplicates + counts.duplicates,
            rejected=IngestRun.rejected + counts.rejected,
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(run, ["rows_in", "stored", "duplicates", "rejected"])
