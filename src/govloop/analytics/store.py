"""The analytics store: event rows as partitioned Parquet files, read by DuckDB.

Layout under the data directory::

    store.json                                   store identity (token) and format
    dims/halls.parquet, items.parquet, windows.parquet, hall_departments.parquet
    raw/hall_events/hall_id=H/month=YYYY-MM/part-<first id>.parquet
    raw/rating_events/hall_id=H/month=YYYY-MM/part-<first id>.parquet
    raw/work_order_events/hall_id=0/month=YYYY-MM/part-<first id>.parquet
    raw/matter_events/hall_id=H/month=YYYY-MM/part-<first id>.parquet
    facts/<relation>/hall_id=H/month=YYYY-MM/*.parquet   derived per partition (facts.py)
    facts/.built/<source>/hall_id=H/month=YYYY-MM        when a partition's facts were built

The facts layer (one row per ticket visit, window-day session, appointment, rating) is
derived from the raw rows of one partition at a time and rebuilt only for partitions whose
raw files are newer than their facts, so the KPI engine aggregates facts, not events.

Raw files are append-only: each export batch adds a file named after the first event id
it holds. Rows are partitioned by the *anchor day* of the event — the service day of the
ticket, the day of the appointment, the day a rating was given, or the event's own local
day — so every event about one ticket, appointment or rating lands in one partition even
when it happens later (a rectification closed weeks after the rating).

Work orders of the 12345 hotline belong to no hall: the hotline center serves the whole
city. Their events are stored under the pseudo hall ``CITY`` (0, like ratings of matters
outside any hall), anchored on the local day the order was accepted (受理).

Matters (办件) are stored under the hall that accepted them (``CITY`` for a matter applied
for online or pushed by a department's approval system), anchored on the local day of
acceptance: every event of a matter, however much later, lands in that one partition.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from govloop.hall.models import EventKind

STORE_FORMAT = 1
SOURCES = (
    "hall_events",
    "rating_events",
    "work_order_events",
    "device_events",
    "matter_events",
)
# device_events has no raw files: device uptime needs the state carried across partitions,
# so the export writes the ``devices`` facts (one row per hall, device, day) directly.
DEVICE_FACTS_SCHEMA = pa.schema(
    [
        ("hall_id", pa.int32()),
        ("day", pa.date32()),
        ("device_id", pa.int32()),
        ("up_s", pa.float64()),
        ("expected_s", pa.float64()),
    ]
)
# The pseudo hall of everything city-wide: hotline work orders, matters rated outside halls.
CITY = 0

# Stable small codes for event kinds; 0 is "a kind the engine does not use".
HALL_KIND_CODES: dict[str, int] = {
    EventKind.ISSUED: 1,
    EventKind.CALLED: 2,
    EventKind.RECALLED: 3,
    EventKind.STARTED: 4,
    EventKind.FINISHED: 5,
    EventKind.NO_SHOW: 6,
    EventKind.REQUEUED: 7,
    EventKind.TRANSFERRED: 8,
    EventKind.CANCELLED: 9,
    EventKind.CLOSED: 10,
    EventKind.CARRIED_OVER: 11,
    EventKind.APPOINTMENT_BOOKED: 21,
    EventKind.APPOINTMENT_CHECKED_IN: 22,
    EventKind.APPOINTMENT_LATE: 23,
    EventKind.APPOINTMENT_MISSED: 24,
    EventKind.APPOINTMENT_CANCELLED: 25,
    EventKind.WINDOW_SIGNED_IN: 31,
    EventKind.WINDOW_SIGNED_OUT: 32,
    EventKind.WINDOW_PAUSED: 33,
    EventKind.WINDOW_RESUMED: 34,
}
K = {kind.name: code for kind, code in ((EventKind(k), c) for k, c in HALL_KIND_CODES.items())}

RATING_KIND_CODES: dict[str, int] = {
    "rating.submitted": 1,
    "case.opened": 2,
    "case.called_back": 3,
    "case.rectified": 4,
    "case.closed": 5,
    "case.appealed": 6,
    "case.appeal_upheld": 7,
    "case.appeal_rejected": 8,
}
# Work-order events the engine reads; every other kind is stored as 0.
WORK_ORDER_KIND_CODES: dict[str, int] = {
    "order.accepted": 1,
    "order.dispatched": 2,
    "order.redispatched": 3,
    "order.signed": 4,
    "order.return_requested": 5,
    "order.return_approved": 6,
    "order.return_rejected": 7,
    "order.answered": 8,
    "order.closed": 9,
    "order.called_back": 10,
    "order.rated": 11,
    "order.supervised": 12,
    "order.merged": 13,
    "sla.overdue": 14,
}
# Matter events: the kind, the states moved between and the delivery method, as codes.
MATTER_STATE_CODES: dict[str, int] = {
    "accepted": 1,
    "reviewing": 2,
    "correction": 3,
    "granted": 4,
    "refused": 5,
    "certifying": 6,
    "awaiting_pickup": 7,
    "posted": 8,
    "delivered": 9,
    "picked_up": 10,
    "returned": 11,
}
MATTER_KIND_CODES: dict[str, int] = {
    **{f"matter.{state}": code for state, code in MATTER_STATE_CODES.items()},
    "matter.delivery_chosen": 21,
    "matter.warning": 22,
    "matter.overdue": 23,
}
DELIVERY_CODES = {"pickup": 1, "post": 2}
# accepted: 受理, the application taken for processing (a matter follows)
OUTCOME_CODES = {"done": 1, "needs_documents": 2, "referred": 3, "accepted": 4}
# Priority of an issued ticket: 1 = citizen priority lane (绿色通道).
PRIORITY_CODES = {
    None: 0,
    "elderly": 1,
    "disabled": 1,
    "pregnant": 1,
    "military": 1,
    "appointment": 2,
    "carried_over": 3,
}

TS = pa.timestamp("us")
HALL_EVENTS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("hall_id", pa.int32()),
        ("day", pa.date32()),  # anchor day (local)
        ("kind", pa.int8()),
        ("at", TS),  # UTC
        ("local_at", TS),  # local wall-clock time
        ("ticket_id", pa.int64()),
        ("appointment_id", pa.int64()),
        ("item_id", pa.int32()),
        ("window_id", pa.int32()),
        ("staff_id", pa.int32()),
        ("outcome", pa.int8()),  # finished: OUTCOME_CODES
        ("requeued", pa.bool_()),  # no-show: put back in the queue
        ("priority", pa.int8()),  # issued: PRIORITY_CODES
        ("arrived_at", TS),  # issued: the ticket's arrival (UTC)
        ("slot", pa.int16()),  # issued: 30-minute slot of the local arrival time
    ]
)
RATING_EVENTS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("hall_id", pa.int32()),  # 0: a matter rated outside any hall
        ("day", pa.date32()),  # local day of the rating
        ("kind", pa.int8()),
        ("at", TS),
        ("local_at", TS),
        ("rating_id", pa.int64()),
        ("level", pa.int8()),
        ("real_name", pa.bool_()),
        ("item_id", pa.int32()),
        ("window_id", pa.int32()),
        ("staff_id", pa.int32()),
        ("department_id", pa.int32()),
        ("slot", pa.int16()),  # slot of the rating's local time
        ("callback_due", pa.date32()),  # case.opened
        ("rectification_due", pa.date32()),  # case.opened
    ]
)
WORK_ORDER_EVENTS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("hall_id", pa.int32()),  # always CITY
        ("day", pa.date32()),  # local day the order was accepted
        ("kind", pa.int8()),
        ("at", TS),
        ("local_at", TS),
        ("order_id", pa.int64()),
        ("department_id", pa.int32()),  # the unit the event concerns
        ("on_time", pa.bool_()),  # order.closed: within the time limit (direct answers: true)
        ("reached", pa.bool_()),  # order.called_back: the citizen was reached
        ("rating_id", pa.int64()),  # order.rated
        ("sign_due_at", TS),  # the order's sign-for deadline when the row was exported
    ]
)
# One row per matter event, with the matter's attributes as they were when it was exported
# (the facts take each attribute from the matter's newest row).
MATTER_EVENTS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("hall_id", pa.int32()),  # the accepting hall; CITY: online or a department's system
        ("day", pa.date32()),  # local day the matter was accepted (受理)
        ("kind", pa.int8()),  # MATTER_KIND_CODES
        ("at", TS),
        ("local_at", TS),
        ("matter_id", pa.int64()),
        ("department_id", pa.int32()),
        ("item_id", pa.int32()),
        ("from_state", pa.int8()),  # MATTER_STATE_CODES
        ("to_state", pa.int8()),
        ("promised_due_at", TS),  # the promised limit (承诺时限), later by every 补正 pause
        ("decided_at", TS),  # 准予 / 不予
        ("certified_at", TS),  # 制证 done
        ("visits", pa.int16()),  # 跑动次数 so far
        ("delivery", pa.int8()),  # DELIVERY_CODES: the method chosen
    ]
)
SCHEMAS = {
    "hall_events": HALL_EVENTS_SCHEMA,
    "rating_events": RATING_EVENTS_SCHEMA,
    "work_order_events": WORK_ORDER_EVENTS_SCHEMA,
    "matter_events": MATTER_EVENTS_SCHEMA,
}
# Fact relations derived from each raw source.
FACT_RELATIONS = {
    "hall_events": ("visits", "sessions", "appointments", "visit_cube"),
    "rating_events": ("ratings",),
    "work_order_events": ("work_orders",),
    "matter_events": ("matters",),
}

HALLS_SCHEMA = pa.schema(
    [("id", pa.int32()), ("code", pa.string()), ("opens_s", pa.int32()), ("closes_s", pa.int32())]
)
# a hall's opening periods with the days they were in force (valid_to exclusive)
HALL_PERIODS_SCHEMA = pa.schema(
    [
        ("hall_id", pa.int32()),
        ("valid_from", pa.date32()),
        ("valid_to", pa.date32()),
        ("start_s", pa.int32()),
        ("end_s", pa.int32()),
    ]
)
ITEMS_SCHEMA = pa.schema(
    [("id", pa.int32()), ("department_id", pa.int32()), ("promised_s", pa.float64())]
)
WINDOWS_SCHEMA = pa.schema([("id", pa.int32()), ("hall_id", pa.int32()), ("number", pa.int32())])
# Departments offering items at a hall's windows (a general window offers every active item).
HALL_DEPARTMENTS_SCHEMA = pa.schema([("hall_id", pa.int32()), ("department_id", pa.int32())])
CORE_DIMS = ("halls", "items", "windows")
DIM_SCHEMAS = {
    "halls": HALLS_SCHEMA,
    "hall_periods": HALL_PERIODS_SCHEMA,
    "items": ITEMS_SCHEMA,
    "windows": WINDOWS_SCHEMA,
    "hall_departments": HALL_DEPARTMENTS_SCHEMA,
}


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_between(start: date, end: date) -> list[str]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


@dataclass(frozen=True)
class Store:
    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    def dim_path(self, name: str) -> Path:
        return self.root / "dims" / f"{name}.parquet"

    # identity ---------------------------------------------------------------------------

    def token(self) -> str | None:
        path = self.root / "store.json"
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if data.get("format") != STORE_FORMAT:
            return None
        return str(data.get("token"))

    def reset(self) -> str:
        """Empty the store and give it a new identity."""
        for sub in ("raw", "dims", "facts"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        (self.root / "store.json").write_text(json.dumps({"format": STORE_FORMAT, "token": token}))
        return token

    # partitions -------------------------------------------------------------------------

    def partition(self, source: str, hall_id: int, month: str) -> Path:
        return self.raw / source / f"hall_id={hall_id}" / f"month={month}"

    def halls(self, source: str = "hall_events") -> list[int]:
        base = self.raw / source
        if not base.exists():
            return []
        return sorted(int(p.name.split("=", 1)[1]) for p in base.glob("hall_id=*") if p.is_dir())

    def files(self, source: str, hall_id: int, months: Iterable[str] | None = None) -> list[str]:
        base = self.raw / source / f"hall_id={hall_id}"
        if not base.exists():
            return []
        if months is None:
            return sorted(str(p) for p in base.glob("month=*/*.parquet"))
        out: list[str] = []
        for month in months:
            out.extend(sorted(str(p) for p in (base / f"month={month}").glob("*.parquet")))
        return out

    def write_part(self, source: str, hall_id: int, month: str, table: pa.Table) -> Path:
        """Write one batch of one partition (the file is named after its first id)."""
        folder = self.partition(source, hall_id, month)
        folder.mkdir(parents=True, exist_ok=True)
        first = int(pc.min(table.column("id")).as_py())
        path = folder / f"part-{first:015d}.parquet"
        tmp = path.with_suffix(".tmp")
        pq.write_table(table.cast(SCHEMAS[source]), tmp)
        tmp.replace(path)
        return path

    def drop_parts_after(self, source: str, last_id: int) -> int:
        """Remove files of a batch that never committed its watermark (ids past it)."""
        removed = 0
        base = self.raw / source
        if not base.exists():
            return 0
        for path in base.glob("hall_id=*/month=*/part-*.parquet"):
            first = int(path.stem.split("-", 1)[1])
            if first > last_id:
                path.unlink()
                removed += 1
        for tmp in base.glob("hall_id=*/month=*/*.tmp"):
            tmp.unlink()
        return removed

    def write_dim(self, name: str, table: pa.Table) -> None:
        path = self.dim_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        pq.write_table(table.cast(DIM_SCHEMAS[name]), tmp)
        tmp.replace(path)

    def has_dims(self) -> bool:
        return all(self.dim_path(n).exists() for n in CORE_DIMS)

    # facts ------------------------------------------------------------------------------

    def facts_partition(self, relation: str, hall_id: int, month: str) -> Path:
        return self.root / "facts" / relation / f"hall_id={hall_id}" / f"month={month}"

    def fact_files(self, relation: str, hall_id: int, months: Iterable[str]) -> list[str]:
        out: list[str] = []
        for month in months:
            folder = self.facts_partition(relation, hall_id, month)
            out.extend(sorted(str(p) for p in folder.glob("*.parquet")))
        return out

    def fact_months(self, relation: str, hall_id: int) -> list[str]:
        """The months that hold facts of a relation for a hall."""
        base = self.root / "facts" / relation / f"hall_id={hall_id}"
        return sorted(
            p.name.split("=", 1)[1]
            for p in base.glob("month=*")
            if p.is_dir() and not p.name.endswith(".old")
        )

    def _built_marker(self, source: str, hall_id: int, month: str) -> Path:
        return self.root / "facts" / ".built" / source / f"hall_id={hall_id}" / f"month={month}"

    def mark_built(self, source: str, hall_id: int, month: str) -> None:
        marker = self._built_marker(source, hall_id, month)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()

    def stale_partitions(self, source: str) -> dict[int, list[str]]:
        """Partitions whose raw files are newer than their facts (or have none)."""
        stale: dict[int, list[str]] = {}
        base = self.raw / source
        if not base.exists():
            return stale
        for folder in sorted(base.glob("hall_id=*/month=*")):
            parts = list(folder.glob("*.parquet"))
            if not parts:
                continue
            hall_id = int(folder.parent.name.split("=", 1)[1])
            month = folder.name.split("=", 1)[1]
            marker = self._built_marker(source, hall_id, month)
            newest = max(p.stat().st_mtime_ns for p in parts)
            if not marker.exists() or marker.stat().st_mtime_ns < newest:
                stale.setdefault(hall_id, []).append(month)
        return stale

    def replace_facts(self, relation: str, hall_id: int, month: str, built: Path | None) -> None:
        """Put a freshly built partition folder in place (None: the partition is empty)."""
        target = self.facts_partition(relation, hall_id, month)
        old = target.with_name(target.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        if built is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            built.rename(target)
        shutil.rmtree(old, ignore_errors=True)
