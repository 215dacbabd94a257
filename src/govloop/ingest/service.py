"""Ingestion services used by the API, the pages and the CLI: load a file or an HTTP batch,
look at runs, and work the dead-letter store (list, view, replay, discard).

Service functions take the session as a keyword and never commit. Nothing here deletes a
row: a dead letter is replayed (stored by a later run) or discarded with a reason, and its
history keeps every attempt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from govloop.core.clock import now, to_local
from govloop.core.errors import BadRequest, NotFound, RuleViolation
from govloop.core.input_guard import loads_json
from govloop.core.settings import get_settings
from govloop.ingest import adapters, columnar, connectors
from govloop.ingest.models import (
    DeadLetter,
    DeadLetterStatus,
    IngestedRecord,
    IngestRun,
    RunStatus,
    Source,
)
from govloop.ingest.pipeline import (
    RawRow,
    RunCounts,
    finish_run,
    get_source,
    ingest_rows,
    start_run,
    validate_row,
)


@dataclass
class LoadResult:
    run_id: int
    status: str
    counts: RunCounts
    encoding: str | None
    sha256: str | None
    message: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "rows_in": self.counts.rows_in,
            "stored": self.counts.stored,
            "duplicates": self.counts.duplicates,
            "rejected": self.counts.rejected,
            "encoding": self.encoding,
            "sha256": self.sha256,
            "message": self.message,
        }


# --- loading ------------------------------------------------------------------------------


def load_file(
    *,
    session: Session,
    source: Source,
    path: Path,
    vendor: str | None = None,
    file_name: str | None = None,
    started_by: int | None = None,
    progress: connectors.Progress | None = None,
    on_size: Any = None,
) -> LoadResult:
    """Read a CSV / .xlsx / JSON-lines file through the source's mapping (or a vendor
    layout) into the pipeline. A header missing required columns, or a file in neither
    UTF-8 nor GB18030, fails the run with the reason; its rows are dead letters."""
    try:
        layout = adapters.get_layout(vendor) if vendor else None
    except adapters.VendorRowError as exc:  # the caller named a layout that does not exist
        raise BadRequest(str(exc), code="unknown_vendor") from None
    if layout and layout.schema_name != source.schema_name:
        raise RuleViolation(
            f"厂商格式 {layout.key} 产生 {layout.schema_name} 记录，数据源 {source.key} 的模式是"
            f" {source.schema_name}",
            code="layout_mismatch",
        )
    kind = connectors.file_kind(path)
    info = connectors.scan_file(path)
    if on_size and kind != "xlsx":  # Excel progress counts rows, its total is unknown
        on_size(info.size)
    mapping = dict(source.mapping or {})

    def header_error(columns: list[str]) -> str | None:
        if layout:
            missing = adapters.missing_columns(layout, columns)
            return f"缺少厂商格式 {layout.key} 的必填列：{'、'.join(missing)}" if missing else None
        return connectors.check_header(
            columns, schema_name=source.schema_name, mapping=mapping
        ).message

    run = start_run(
        session=session,
        source=source,
        channel="vendor" if layout else kind,
        file_name=file_name or path.name,
        file_sha256=info.sha256,
        encoding=info.encoding,
        started_by=started_by,
    )
    rows: Iterable[RawRow]
    failure = info.failure
    if kind == "xlsx":
        header = connectors.xlsx_header(path)
        rows = connectors.read_xlsx(path, header_error=header_error, progress=progress)
    elif kind == "jsonl":
        header = []
        rows = connectors.read_jsonl(info, progress=progress)
    else:
        header = connectors.csv_header(info)
        rows = connectors.read_csv(info, header_error=header_error, progress=progress)
    if failure is None and kind != "jsonl":
        failure = header_error(header)
    counts = None
    if kind == "csv" and not layout and failure is None:
        counts = columnar.ingest_csv(
            session=session, source=source, run=run, info=info, header=header, progress=progress
        )
    if counts is None:  # not a file the column-wise reader takes: row by row
        if layout:
            rows = adapters.expand(layout, rows)
        counts = ingest_rows(session=session, source=source, run=run, rows=rows)
    message = failure
    if info.bad_lines and not info.failure:
        message = f"{info.bad_lines} 行无法按 {info.encoding} 解码，已进入死信"
    finish_run(
        session=session,
        run=run,
        status=RunStatus.FAILED if failure else RunStatus.DONE,
        message=message,
    )
    return LoadResult(run.id, run.status, counts, info.encoding, info.sha256, message)


def load_batch(
    *, session: Session, source: Source, records: list[Any], started_by: int | None = None
) -> LoadResult:
    """An HTTP batch: each record is a JSON object keyed like the source's columns. More
    than ``GOVLOOP_INGEST_MAX_ROWS`` records are refused whole, before anything is stored."""
    limit = get_settings().ingest_max_rows
    if len(records) > limit:
        raise RuleViolation(
            f"每批最多 {limit} 条记录，本批 {len(records)} 条，未存储任何内容",
            code="batch_too_large",
        )
    run = start_run(session=session, source=source, channel="http", started_by=started_by)

    def rows() -> Iterator[RawRow]:
        for number, record in enumerate(records, start=1):
            if isinstance(record, dict):
                yield RawRow(record, number)
            else:
                yield RawRow(
                    {},
                    number,
                    raw=json.dumps(record, ensure_ascii=False, default=str),
                    error=("malformed_record", f"第 {number} 条记录不是 JSON 对象"),
                )

    counts = ingest_rows(session=session, source=source, run=run, rows=rows())
    finish_run(session=session, run=run)
    return LoadResult(run.id, run.status, counts, None, None, None)


# --- runs and overview --------------------------------------------------------------------


def list_sources(*, session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.key)))


def get_run(*, session: Session, run_id: int) -> IngestRun:
    run = session.get(IngestRun, run_id)
    if run is None:
        raise NotFound(f"未找到接入运行：{run_id}", code="run_not_found")
    return run


def list_runs(
    *, session: Session, source_id: int | None = None, limit: int = 50
) -> list[IngestRun]:
    query = select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)
    if source_id is not None:
        query = query.where(IngestRun.source_id == source_id)
    return list(session.scalars(query))


def last_runs(*, session: Session) -> dict[int, IngestRun]:
    latest = (
        select(func.max(IngestRun.id))
        .where(IngestRun.source_id.is_not(None))
        .group_by(IngestRun.source_id)
    )
    runs = session.scalars(select(IngestRun).where(IngestRun.id.in_(latest)))
    return {r.source_id: r for r in runs if r.source_id is not None}


def source_totals(*, session: Session) -> dict[int, dict[str, int]]:
    """Per source: records stored and dead letters still open."""
    totals: dict[int, dict[str, int]] = {}
    for source_id, n in session.execute(
        select(IngestedRecord.source_id, func.count()).group_by(IngestedRecord.source_id)
    ):
        totals.setdefault(source_id, {"records": 0, "open": 0})["records"] = n
    for dead_source, n in session.execute(
        select(DeadLetter.source_id, func.count())
        .where(DeadLetter.status == DeadLetterStatus.OPEN, DeadLetter.source_id.is_not(None))
        .group_by(DeadLetter.source_id)
    ):
        if dead_source is not None:
            totals.setdefault(dead_source, {"records": 0, "open": 0})["open"] = n
    return totals


def daily_counts(*, session: Session, days: int = 30) -> list[dict[str, Any]]:
    """Rows stored and rejected per local day of the run start, for the chart. Runs are
    few (one per file or batch), so they are summed here rather than by dialect SQL."""
    since = now() - timedelta(days=days)
    per_day: dict[date, list[int]] = {}
    for started, stored, rejected in session.execute(
        select(IngestRun.started_at, IngestRun.stored, IngestRun.rejected).where(
            IngestRun.started_at >= since
        )
    ):
        day = to_local(started).date()
        totals = per_day.setdefault(day, [0, 0])
        totals[0] += stored
        totals[1] += rejected
    return [
        {"day": d.isoformat(), "stored": v[0], "rejected": v[1]} for d, v in sorted(per_day.items())
    ]


def open_dead_letter_count(*, session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(DeadLetter)
            .where(DeadLetter.status == DeadLetterStatus.OPEN)
        )
        or 0
    )


# --- dead letters -------------------------------------------------------------------------


def list_dead_letters(
    *,
    session: Session,
    source_key: str | None = None,
    status: str | None = None,
    reason: str | None = None,
    run_id: int | None = None,
    limit: int = 200,
) -> list[DeadLetter]:
    query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if source_key:
        query = query.where(DeadLetter.source_key == source_key)
    if status:
        query = query.where(DeadLetter.status == status)
    if reason:
        # the reason code, or words of the reason text
        query = query.where(
            (DeadLetter.reason_code == reason) | DeadLetter.reason.contains(reason, autoescape=True)
        )
    if run_id is not None:
        query = query.where(DeadLetter.run_id == run_id)
    return list(session.scalars(query))


def get_dead_letter(*, session: Session, dead_letter_id: int) -> DeadLetter:
    dead = session.get(DeadLetter, dead_letter_id)
    if dead is None:
        raise NotFound(f"未找到死信：{dead_letter_id}", code="dead_letter_not_found")
    return dead


def _note(dead: DeadLetter, entry: dict[str, Any]) -> None:
    # a new list, so the JSON column sees the change
    dead.history = [*(dead.history or []), {"at": now().isoformat(), **entry}]


def discard_dead_letter(
    *, session: Session, dead_letter_id: int, reason: str, by: int | None = None
) -> DeadLetter:
    dead = get_dead_letter(session=session, dead_letter_id=dead_letter_id)
    if dead.status != DeadLetterStatus.OPEN:
        raise RuleViolation("只有待处理的死信可以作废", code="dead_letter_closed")
    if not reason.strip():
        raise RuleViolation("作废须写明理由", code="reason_required")
    dead.status = DeadLetterStatus.DISCARDED
    dead.resolved_at = now()
    dead.resolved_by = by
    dead.resolution_note = reason.strip()[:500]
    _note(dead, {"action": "discarded", "by": by, "note": reason.strip()[:500]})
    session.flush()
    return dead


@dataclass
class ReplayResult:
    run_id: int
    replayed: list[int]
    still_open: dict[int, str]  # dead letter id → the new reason


def _replay_values(dead: DeadLetter, corrected: dict[str, Any] | None) -> dict[str, Any]:
    if corrected is not None:
        return corrected
    try:
        values = loads_json(dead.raw)
    except ValueError:  # not JSON, or JSON no record may hold (see loads_json)
        raise RuleViolation(
            "原始内容不是 JSON 记录，须提供更正后的记录再重放", code="correction_required"
        ) from None
    if not isinstance(values, dict):
        raise RuleViolation(
            "原始内容不是 JSON 对象，须提供更正后的记录再重放", code="correction_required"
        )
    return values


def replay_dead_letters(
    *,
    session: Session,
    ids: list[int],
    by: int | None = None,
    corrected: dict[str, Any] | None = None,
) -> ReplayResult:
    """Run open dead letters through the pipeline again, under the source's current mapping
    (or with a corrected record supplied by the steward, for one dead letter). One that now
    validates is stored with lineage to its original file and row and marked replayed with
    the new run; one that still fails stays open with the new reason added to its history."""
    if corrected is not None and len(ids) != 1:
        raise RuleViolation("更正后的记录只能用于一条死信", code="one_correction")
    letters = [get_dead_letter(session=session, dead_letter_id=i) for i in ids]
    for dead in letters:
        if dead.status != DeadLetterStatus.OPEN:
            raise RuleViolation(f"死信 {dead.id} 已处理，不能重放", code="dead_letter_closed")
    run = start_run(session=session, source=None, channel="replay", started_by=by)
    run.message = f"重放死信 {len(letters)} 条"
    result = ReplayResult(run.id, [], {})
    sources: dict[str, Source | None] = {}
    for dead in letters:
        if dead.source_key not in sources:
            sources[dead.source_key] = session.scalar(
                select(Source).where(Source.key == dead.source_key)
            )
        source = sources[dead.source_key]
        run.rows_in += 1
        outcome = _replay_one(session, run, dead, source, corrected)
        if outcome is None:
            dead.status = DeadLetterStatus.REPLAYED
            dead.resolved_at = now()
            dead.resolved_by = by
            dead.resolved_run_id = run.id
            dead.resolution_note = "更正后重放" if corrected is not None else "重放"
            _note(dead, {"action": "replayed", "by": by, "run_id": run.id, "corrected": corrected})
            result.replayed.append(dead.id)
        else:
            code, reason = outcome
            run.rejected += 1
            _note(
                dead,
                {
                    "action": "replay_failed",
                    "by": by,
                    "run_id": run.id,
                    "previous_reason": dead.reason,
                    "corrected": corrected,
                },
            )
            dead.reason_code, dead.reason = code, reason[:1000]
            result.still_open[dead.id] = reason
    only = {sources[d.source_key] for d in letters}
    if len(only) == 1:
        single = only.pop()
        run.source_id = single.id if single is not None else None
    finish_run(session=session, run=run)
    return result


def _replay_one(
    session: Session,
    run: IngestRun,
    dead: DeadLetter,
    source: Source | None,
    corrected: dict[str, Any] | None,
) -> tuple[str, str] | None:
    if source is None or not source.active:
        return "unknown_source", f"数据源 {dead.source_key} 仍不存在或已停用"
    values = _replay_values(dead, corrected)
    layout = adapters.layout_of(values)
    if layout is not None:
        try:
            events = adapters.ticket_events(values)
        except adapters.VendorRowError as exc:
            return "vendor_row", f"{layout.name}：{exc}"
    else:
        events = [values]
    valid = []
    for event in events:
        checked = validate_row(source, RawRow(event, dead.row_number))
        if isinstance(checked, tuple):
            return checked
        valid.append(checked)
    seen = set(
        session.scalars(
            select(IngestedRecord.event_id).where(
                IngestedRecord.source_id == source.id,
                IngestedRecord.event_id.in_([v.event_id for v in valid]),
            )
        )
    )
    fresh = [v for v in valid if v.event_id not in seen]
    run.duplicates += len(valid) - len(fresh)
    if fresh:
        stamp = now()
        session.execute(
            insert(IngestedRecord),
            [
                {
                    "source_id": source.id,
                    "event_id": v.event_id,
                    "schema_name": source.schema_name,
                    "occurred_at": v.occurred_at,
                    "payload": v.payload,
                    "run_id": run.id,
                    # lineage goes back to where the row first came from
                    "file_name": dead.file_name,
                    "row_number": dead.row_number,
                    "changes": v.changes,
                    "stored_at": stamp,
                }
                for v in fresh
            ],
        )
        run.stored += len(fresh)
    return None


def update_mapping(*, session: Session, source: Source, mapping: dict[str, str]) -> Source:
    """Fix a source's column mapping (then replay its dead letters)."""
    from govloop.ingest.schemas import SCHEMAS

    fields = SCHEMAS[source.schema_name][0].model_fields
    unknown = sorted(v for v in mapping.values() if v not in fields)
    if unknown:
        raise RuleViolation(f"字段映射指向未声明的字段：{'、'.join(unknown)}", code="bad_mapping")
    source.mapping = dict(mapping)
    session.flush()
    return source


__all__ = [
    "LoadResult",
    "ReplayResult",
    "daily_counts",
    "discard_dead_letter",
    "get_dead_letter",
    "get_run",
    "get_source",
    "last_runs",
    "list_dead_letters",
    "list_runs",
    "list_sources",
    "load_batch",
    "load_file",
    "open_dead_letter_count",
    "replay_dead_letters",
    "source_totals",
    "update_mapping",
]
