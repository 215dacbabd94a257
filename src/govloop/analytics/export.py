"""Incremental export of the event logs from the OLTP database into the analytics store.

Reads ``hall_events``, ``rating_events``, ``work_order_events`` and ``matter_events`` past
the watermark in chunks with SQLAlchemy, joined to tickets, appointments, ratings, work
orders and matters only for their attributes (service day, arrival, item, department, the
order's acceptance day and sign-for deadline, the matter's promised limit …), and appends
Parquet files to the store. The watermark rows
change in the caller's transaction: if it rolls back, the next export first removes the
files written past the committed watermark, so no row is ever stored twice.

Caveat: ids are handed out when a row is inserted, not when it commits. On PostgreSQL a
transaction still open during an export may commit an event with an id below the new
watermark; ``settle_seconds`` keeps the newest events back to make that unlikely.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from govloop.analytics.models import ExportWatermark
from govloop.analytics.store import (
    CITY,
    DELIVERY_CODES,
    DEVICE_FACTS_SCHEMA,
    HALL_EVENTS_SCHEMA,
    HALL_KIND_CODES,
    HALL_PERIODS_SCHEMA,
    MATTER_EVENTS_SCHEMA,
    MATTER_KIND_CODES,
    MATTER_STATE_CODES,
    OUTCOME_CODES,
    PRIORITY_CODES,
    RATING_EVENTS_SCHEMA,
    RATING_KIND_CODES,
    SOURCES,
    WORK_ORDER_EVENTS_SCHEMA,
    WORK_ORDER_KIND_CODES,
    Store,
    month_key,
)
from govloop.core.clock import local_today, local_tz, now
from govloop.core.errors import RuleViolation
from govloop.hall import feed as hall_feed
from govloop.hotline import feed as hotline_feed
from govloop.ingest import feed as device_feed
from govloop.ingest.devices import service as device_service
from govloop.matters import feed as matter_feed
from govloop.ratings import feed as rating_feed

CHUNK = 20_000


@dataclass
class ExportResult:
    rows: dict[str, int] = field(default_factory=dict)
    # hall id → anchor days that received events in this export
    dirty: dict[int, set[date]] = field(default_factory=lambda: defaultdict(set))
    # acceptance days of work orders that received events (city-wide: every hall's)
    city_dirty: set[date] = field(default_factory=set)
    reset: bool = False


def _naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None)


def _local(moment: datetime) -> datetime:
    return moment.astimezone(local_tz()).replace(tzinfo=None)


def _slot(local: datetime) -> int:
    return (local.hour * 60 + local.minute) // 30


def _watermark(session: Session, source: str) -> ExportWatermark:
    # Locked until the caller commits: two refreshes never export the same batch twice
    # (SQLite serializes writers with BEGIN IMMEDIATE anyway).
    mark = session.get(ExportWatermark, source, with_for_update=True)
    if mark is None:
        mark = ExportWatermark(source=source, last_id=0, store_token="", updated_at=now())
        session.add(mark)
        session.flush()
    return mark


def _ensure_store(session: Session, store: Store) -> bool:
    """Start over when the store and the database do not belong together."""
    token = store.token()
    marks = [_watermark(session, s) for s in SOURCES]
    known = [m for m in marks if m.store_token]
    if token is not None and known and all(m.store_token == token for m in known):
        for mark in marks:  # a source added since the store was made starts from the top
            mark.store_token = token
        return False
    if any(m.archived_through for m in marks):
        # the rows retention removed are only in the store and the archives now
        raise RuleViolation(
            "分析库与数据库不匹配，且已有旧事件归档并移出数据库，无法从数据库重建分析库："
            "请用 govloop restore 恢复备份中的分析数据目录",
            code="store_needs_restore",
        )
    token = store.reset()
    for mark in marks:
        mark.last_id, mark.store_token, mark.updated_at = 0, token, now()
    session.flush()
    return True


def export_dims(session: Session, store: Store) -> None:
    halls = hall_feed.halls(session)
    store.write_dim(
        "halls",
        pa.table(
            {
                "id": [h.id for h in halls],
                "code": [h.code for h in halls],
                "opens_s": [h.opens_at.hour * 3600 + h.opens_at.minute * 60 for h in halls],
                "closes_s": [h.closes_at.hour * 3600 + h.closes_at.minute * 60 for h in halls],
            }
        ),
    )
    periods = hall_feed.hall_periods(session)
    store.write_dim(
        "hall_periods",
        pa.table(
            {name: [row[n] for row in periods] for n, name in enumerate(HALL_PERIODS_SCHEMA.names)}
        ),
    )
    items = hall_feed.items(session)
    store.write_dim(
        "items",
        pa.table(
            {
                "id": [i.id for i in items],
                "department_id": [i.department_id for i in items],
                "promised_s": [float(i.promised_minutes) * 60 for i in items],
            }
        ),
    )
    pairs = hall_feed.hall_departments(session)
    store.write_dim(
        "hall_departments",
        pa.table({"hall_id": [h for h, _d in pairs], "department_id": [d for _h, d in pairs]}),
    )
    windows = hall_feed.windows(session)
    store.write_dim(
        "windows",
        pa.table(
            {
                "id": [w.id for w in windows],
                "hall_id": [w.hall_id for w in windows],
                "number": [w.number for w in windows],
            }
        ),
    )


def _write(
    store: Store,
    source: str,
    schema: pa.Schema,
    records: list[dict[str, Any]],
    result: ExportResult,
) -> None:
    parts: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        parts[(rec["hall_id"], month_key(rec["day"]))].append(rec)
        if source == "work_order_events":
            result.city_dirty.add(rec["day"])
        elif source == "hall_events" or rec["hall_id"]:
            result.dirty[rec["hall_id"]].add(rec["day"])
    for (hall_id, month), rows in parts.items():
        table = pa.Table.from_pylist(rows, schema=schema)
        store.write_part(source, hall_id, month, table)


def _export_hall_events(
    session: Session, store: Store, mark: ExportWatermark, settle: float, result: ExportResult
) -> None:
    upto = hall_feed.EVENTS.newest_id(session, settle)
    count = 0
    for rows in hall_feed.EVENTS.chunks(session, mark.last_id, upto, CHUNK):
        records = []
        for r in rows:
            kind = HALL_KIND_CODES.get(r.kind, 0)
            local = _local(r.at)
            detail = r.detail or {}
            day = r.service_date or r.appointment_day or local.date()
            issued = kind == HALL_KIND_CODES["ticket.issued"]
            arrived_local = _local(r.arrived_at) if issued and r.arrived_at else None
            records.append(
                {
                    "id": r.id,
                    "hall_id": r.hall_id,
                    "day": day,
                    "kind": kind,
                    "at": _naive_utc(r.at),
                    "local_at": local,
                    "ticket_id": r.ticket_id,
                    "appointment_id": r.appointment_id,
                    "item_id": r.item_id,
                    "window_id": r.window_id,
                    "staff_id": r.staff_id,
                    "outcome": OUTCOME_CODES.get(detail.get("outcome", ""), None),
                    "requeued": bool(detail["requeued"]) if "requeued" in detail else None,
                    "priority": PRIORITY_CODES.get(r.priority, 0) if issued else None,
                    "arrived_at": _naive_utc(r.arrived_at) if issued else None,
                    "slot": _slot(arrived_local) if arrived_local else None,
                }
            )
        _write(store, "hall_events", HALL_EVENTS_SCHEMA, records, result)
        mark.last_id = rows[-1][0]
        count += len(rows)
    result.rows["hall_events"] = count


def _export_rating_events(
    session: Session, store: Store, mark: ExportWatermark, settle: float, result: ExportResult
) -> None:
    upto = rating_feed.EVENTS.newest_id(session, settle)
    count = 0
    for rows in rating_feed.EVENTS.chunks(session, mark.last_id, upto, CHUNK):
        records = []
        # a hotline rating changes the figures of the day its order was accepted
        accepted = hotline_feed.accepted_at(
            session,
            (r.matter_ref for r in rows if r.matter_source == hotline_feed.RATED_MATTER_SOURCE),
        )
        for r in rows:
            kind = RATING_KIND_CODES.get(r.kind, 0)
            rated_local = _local(r.rated_at)
            detail = r.detail or {}
            opened = r.kind == "case.opened"
            order_accepted = (
                accepted.get(r.matter_ref)
                if r.matter_source == hotline_feed.RATED_MATTER_SOURCE
                else None
            )
            if order_accepted is not None:
                result.city_dirty.add(_local(order_accepted).date())
            records.append(
                {
                    "id": r.id,
                    "hall_id": r.hall_id or 0,
                    "day": rated_local.date(),
                    "kind": kind,
                    "at": _naive_utc(r.at),
                    "local_at": _local(r.at),
                    "rating_id": r.rating_id,
                    "level": r.level,
                    "real_name": bool(r.real_name),
                    "item_id": r.item_id,
                    "window_id": r.window_id,
                    "staff_id": r.staff_id,
                    "department_id": r.department_id,
                    "slot": _slot(rated_local),
                    "callback_due": date.fromisoformat(detail["callback_due"])
                    if opened and detail.get("callback_due")
                    else None,
                    "rectification_due": date.fromisoformat(detail["rectification_due"])
                    if opened and detail.get("rectification_due")
                    else None,
                }
            )
        _write(store, "rating_events", RATING_EVENTS_SCHEMA, records, result)
        mark.last_id = rows[-1][0]
        count += len(rows)
    result.rows["rating_events"] = count


def _export_work_order_events(
    session: Session, store: Store, mark: ExportWatermark, settle: float, result: ExportResult
) -> None:
    upto = hotline_feed.EVENTS.newest_id(session, settle)
    count = 0
    for rows in hotline_feed.EVENTS.chunks(session, mark.last_id, upto, CHUNK):
        records = []
        for r in rows:
            detail = r.detail or {}
            records.append(
                {
                    "id": r.id,
                    "hall_id": CITY,
                    "day": _local(r.created_at).date(),
                    "kind": WORK_ORDER_KIND_CODES.get(r.kind, 0),
                    "at": _naive_utc(r.at),
                    "local_at": _local(r.at),
                    "order_id": r.order_id,
                    "department_id": r.department_id,
                    # a direct answer (即问即答) has no time limit: on time
                    "on_time": bool(detail.get("on_time", True))
                    if r.kind == "order.closed"
                    else None,
                    "reached": bool(detail["reached"]) if "reached" in detail else None,
                    "rating_id": detail.get("rating_id") if r.kind == "order.rated" else None,
                    "sign_due_at": _naive_utc(r.sign_due_at),
                }
            )
        _write(store, "work_order_events", WORK_ORDER_EVENTS_SCHEMA, records, result)
        mark.last_id = rows[-1][0]
        count += len(rows)
    if count:  # the hotline's source is reported when it had rows (halls-only sites: never)
        result.rows["work_order_events"] = count


def _export_matter_events(
    session: Session, store: Store, mark: ExportWatermark, settle: float, result: ExportResult
) -> None:
    upto = matter_feed.EVENTS.newest_id(session, settle)
    count = 0
    for rows in matter_feed.EVENTS.chunks(session, mark.last_id, upto, CHUNK):
        records = []
        for r in rows:
            records.append(
                {
                    "id": r.id,
                    "hall_id": r.hall_id or CITY,
                    "day": _local(r.accepted_at).date(),
                    "kind": MATTER_KIND_CODES.get(r.kind, 0),
                    "at": _naive_utc(r.at),
                    "local_at": _local(r.at),
                    "matter_id": r.matter_id,
                    "department_id": r.department_id,
                    "item_id": r.item_id,
                    "from_state": MATTER_STATE_CODES.get(r.from_state) if r.from_state else None,
                    "to_state": MATTER_STATE_CODES.get(r.to_state) if r.to_state else None,
                    "promised_due_at": _naive_utc(r.promised_due_at),
                    "decided_at": _naive_utc(r.decided_at),
                    "certified_at": _naive_utc(r.certified_at),
                    "visits": r.visits,
                    "delivery": DELIVERY_CODES.get(r.delivery_method),
                }
            )
        _write(store, "matter_events", MATTER_EVENTS_SCHEMA, records, result)
        mark.last_id = rows[-1][0]
        count += len(rows)
    if count:
        result.rows["matter_events"] = count


def _export_devices(
    session: Session, store: Store, mark: ExportWatermark, settle: float, result: ExportResult
) -> None:
    """Recompute the ``devices`` facts (uptime per hall, device and day, from the device
    registry) from the month of the oldest new device event through today. Today's row
    always changes (an online device keeps adding up time), so today is always dirty."""
    upto = device_feed.EVENTS.newest_id(session, settle)
    first_at, count = device_feed.span(session, mark.last_id, upto)
    today = local_today()
    first = min(_local(first_at).date(), today) if first_at is not None else today
    rows = device_service.uptime_days(
        session=session, start=first.replace(day=1), end=today, with_hall=True
    )
    parts: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        assert row.hall_id is not None
        parts[(row.hall_id, month_key(row.day))].append(
            {
                "hall_id": row.hall_id,
                "day": row.day,
                "device_id": row.device_id,
                "up_s": row.up_s,
                "expected_s": row.expected_s,
            }
        )
        if row.day >= first:
            result.dirty[row.hall_id].add(row.day)
    (store.root / "facts").mkdir(parents=True, exist_ok=True)
    for (hall_id, month), records in parts.items():
        staging = store.root / "facts" / f".staging-devices-{hall_id}-{secrets.token_hex(4)}"
        staging.mkdir()
        pq.write_table(
            pa.Table.from_pylist(records, schema=DEVICE_FACTS_SCHEMA), staging / "part-0.parquet"
        )
        store.replace_facts("devices", hall_id, month, staging)
    mark.last_id = max(mark.last_id, upto)
    if count:
        result.rows["device_events"] = int(count)


def export_events(*, session: Session, store: Store, settle_seconds: float = 0) -> ExportResult:
    """Append the events past the watermarks to the store; move the watermarks."""
    result = ExportResult()
    result.reset = _ensure_store(session, store)
    for source in SOURCES:
        store.drop_parts_after(source, _watermark(session, source).last_id)
    export_dims(session, store)
    hall_mark = _watermark(session, "hall_events")
    rating_mark = _watermark(session, "rating_events")
    order_mark = _watermark(session, "work_order_events")
    _export_hall_events(session, store, hall_mark, settle_seconds, result)
    _export_rating_events(session, store, rating_mark, settle_seconds, result)
    _export_work_order_events(session, store, order_mark, settle_seconds, result)
    matter_mark = _watermark(session, "matter_events")
    _export_matter_events(session, store, matter_mark, settle_seconds, result)
    device_mark = _watermark(session, "device_events")
    _export_devices(session, store, device_mark, settle_seconds, result)
    for mark in (hall_mark, rating_mark, order_mark, matter_mark, device_mark):
        mark.updated_at = now()
    session.flush()
    return result
