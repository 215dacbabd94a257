"""Read access to stored records for other domains (subjects, catalog): plain rows with
their lineage, never the ORM objects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.ingest.models import DeadLetter, IngestedRecord, IngestRun, Source


@dataclass(frozen=True)
class StoredRecord:
    id: int
    source_key: str
    department: str | None
    event_id: str
    payload: dict[str, Any]
    occurred_at: datetime | None
    stored_at: datetime
    file_name: str | None
    row_number: int | None
    changes: dict[str, Any]
    source_id: int | None = None
    run_id: int | None = None


def iter_records(
    *, session: Session, schema_name: str, after_id: int = 0, chunk: int = 5_000
) -> Iterator[StoredRecord]:
    """Records of one schema with ids above ``after_id``, oldest first, in chunks."""
    last = after_id
    while True:
        rows = session.execute(
            select(IngestedRecord, Source.key, Source.department)
            .join(Source, Source.id == IngestedRecord.source_id)
            .where(IngestedRecord.schema_name == schema_name, IngestedRecord.id > last)
            .order_by(IngestedRecord.id)
            .limit(chunk)
        ).all()
        if not rows:
            return
        for record, key, department in rows:
            yield _stored(record, key, department)
        last = rows[-1][0].id


def records_by_id(*, session: Session, ids: list[int]) -> dict[int, StoredRecord]:
    found: dict[int, StoredRecord] = {}
    for start in range(0, len(ids), 1_000):
        rows = session.execute(
            select(IngestedRecord, Source.key, Source.department)
            .join(Source, Source.id == IngestedRecord.source_id)
            .where(IngestedRecord.id.in_(ids[start : start + 1_000]))
        ).all()
        for record, key, department in rows:
            found[record.id] = _stored(record, key, department)
    return found


def _stored(record: IngestedRecord, key: str, department: str | None) -> StoredRecord:
    return StoredRecord(
        id=record.id,
        source_key=key,
        department=department,
        event_id=record.event_id,
        payload=dict(record.payload or {}),
        occurred_at=record.occurred_at,
        stored_at=record.stored_at,
        file_name=record.file_name,
        row_number=record.row_number,
        changes=dict(record.changes or {}),
        source_id=record.source_id,
        run_id=record.run_id,
    )


def refuse_stored(*, session: Session, record: StoredRecord, reason_code: str, reason: str) -> int:
    """A stored record its consumer could not use (an unknown code, a change the consuming
    domain forbids) becomes an open dead letter with the record's lineage (source, run,
    file, row) and its payload as the raw row; returns the dead letter's id. The record
    stays stored: the run's counts describe what the pipeline did with each row."""
    dead = DeadLetter(
        source_key=record.source_key[:64],
        source_id=record.source_id,
        run_id=record.run_id,
        file_name=record.file_name,
        row_number=record.row_number,
        raw=json.dumps(record.payload, ensure_ascii=False, default=str),
        reason_code=reason_code[:32],
        reason=reason[:1000],
        status="open",
        created_at=now(),
        history=[],
    )
    session.add(dead)
    session.flush()
    return dead.id


def delivery_counts(*, session: Session, source_key: str) -> dict[str, int]:
    """Rows a source delivered (duplicates aside) and how many of them were stored."""
    row = session.execute(
        select(
            func.coalesce(func.sum(IngestRun.rows_in - IngestRun.duplicates), 0),
            func.coalesce(func.sum(IngestRun.stored), 0),
        )
        .join(Source, Source.id == IngestRun.source_id)
        .where(Source.key == source_key)
    ).one()
    return {"received": int(row[0]), "stored": int(row[1])}


@dataclass(frozen=True)
class RejectedRow:
    id: int
    file_name: str | None
    row_number: int | None
    raw: str
    reason: str
    created_at: datetime


def open_dead_letters(
    *, session: Session, source_key: str, limit: int = 10_000
) -> list[RejectedRow]:
    rows = session.scalars(
        select(DeadLetter)
        .where(DeadLetter.source_key == source_key, DeadLetter.status == "open")
        .order_by(DeadLetter.id)
        .limit(limit)
    )
    return [
        RejectedRow(d.id, d.file_name, d.row_number, d.raw, d.reason, d.created_at) for d in rows
    ]
