"""Vectorised generator of a year of hall and rating events, written straight to the store.

Realistic enough for a benchmark, not a simulation: arrivals follow a morning and an
afternoon peak and a Monday surge, waits grow with the hour's load and the hall's
congestion, handling times are log-normal around a share of each item's promised time,
and the usual accidents happen — cancellations, no-shows (some put back in the queue),
recalls, transfers, tickets still waiting at closing time, late and missed appointments,
pauses and absent windows. About 55 % of finished visits are rated; bad ratings open
cases that are called back, rectified or appealed on later working days.

Halls open 09:00–17:00 in Asia/Shanghai (UTC+8, no daylight saving), on the working days
of the official calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from govloop.analytics.store import (
    HALL_EVENTS_SCHEMA,
    RATING_EVENTS_SCHEMA,
    RATING_KIND_CODES,
    K,
    Store,
)
from govloop.core import calendar

START = date(2025, 1, 1)
UTC_OFFSET_S = 8 * 3600
OPEN_S, CLOSE_S = 9 * 3600, 17 * 3600
N_DEPARTMENTS, N_ITEMS, ITEMS_PER_HALL = 15, 200, 60
TICKETS_PER_HALL_DAY = 1330  # 30 halls × ~250 working days ≈ 10 million tickets a year
ID_SPACE = 10**9  # event, ticket, appointment and rating ids of hall h start at h × ID_SPACE
EPOCH = np.datetime64("1970-01-01", "D")
R = RATING_KIND_CODES


@dataclass
class Generated:
    tickets: int
    hall_events: int
    rating_events: int


def _day_number(d: date) -> int:
    return int((np.datetime64(d, "D") - EPOCH).astype(int))


def write_dims(store: Store, halls: int, rng: np.random.Generator) -> np.ndarray:
    """Catalogue shared by all halls; returns the promised seconds per item (index = id)."""
    store.write_dim(
        "halls",
        pa.table(
            {
                "id": np.arange(1, halls + 1, dtype=np.int32),
                "code": [f"B{h:03d}" for h in range(1, halls + 1)],
                "opens_s": np.full(halls, OPEN_S, dtype=np.int32),
                "closes_s": np.full(halls, CLOSE_S, dtype=np.int32),
            }
        ),
    )
    store.write_dim(
        "hall_periods",
        pa.table(
            {
                "hall_id": np.arange(1, halls + 1, dtype=np.int32),
                "valid_from": [date(2000, 1, 1)] * halls,
                "valid_to": [date(9999, 12, 31)] * halls,
                "start_s": np.full(halls, OPEN_S, dtype=np.int32),
                "end_s": np.full(halls, CLOSE_S, dtype=np.int32),
            }
        ),
    )
    promised = rng.choice([5, 8, 10, 15, 20, 30], size=N_ITEMS + 1).astype(float) * 60
    store.write_dim(
        "items",
        pa.table(
            {
                "id": np.arange(1, N_ITEMS + 1, dtype=np.int32),
                "department_id": (np.arange(1, N_ITEMS + 1) % N_DEPARTMENTS + 1).astype(np.int32),
                "promised_s": promised[1:],
            }
        ),
    )
    windows = [(h * 100 + j, h, j) for h in range(1, halls + 1) for j in range(1, 61)]
    store.write_dim(
        "windows",
        pa.table(
            {
                "id": np.array([w[0] for w in windows], dtype=np.int32),
                "hall_id": np.array([w[1] for w in windows], dtype=np.int32),
                "number": np.array([w[2] for w in windows], dtype=np.int32),
            }
        ),
    )
    return promised


class _Events:
    """Columns of event rows collected step by step, then sorted and numbered."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, **cols: Any) -> None:
        n = max(len(v) for v in cols.values() if np.ndim(v) > 0)
        if n:
            self.parts.append(
                {k: np.broadcast_to(v, n) if np.ndim(v) == 0 else v for k, v in cols.items()}
            )

    def table(self, first_id: int, order_cols: tuple[str, ...]) -> tuple[pa.Table, np.ndarray]:
        names = [f.name for f in self.schema if f.name != "id"]
        cols: dict[str, np.ndarray] = {}
        masks: dict[str, np.ndarray] = {}
        for name in names:
            field = self.schema.field(name)
            chunks, present = [], []
            for part in self.parts:
                n = len(part["day"])
                if name in part:
                    chunks.append(np.asarray(part[name]))
                    present.append(np.ones(n, dtype=bool))
                else:
                    chunks.append(np.zeros(n, dtype=_numpy_type(field.type)))
                    present.append(np.zeros(n, dtype=bool))
            cols[name] = np.concatenate(chunks).astype(_numpy_type(field.type), copy=False)
            masks[name] = np.concatenate(present)
        step = np.concatenate([np.full(len(p["day"]), i) for i, p in enumerate(self.parts)])
        order = np.lexsort((step, *[cols[c] for c in reversed(order_cols)]))
        arrays = {"id": np.arange(first_id, first_id + len(order), dtype=np.int64)}
        for name in names:
            arrays[name] = cols[name][order]
            masks[name] = masks[name][order]
        table = pa.table(
            [
                pa.array(arrays[f.name], type=f.type)
                if f.name == "id" or masks[f.name].all()
                else pa.array(arrays[f.name], type=f.type, mask=~masks[f.name])
                for f in self.schema
            ],
            schema=self.schema,
        )
        return table, arrays["day"]


def _numpy_type(t: pa.DataType) -> np.dtype:
    if pa.types.is_timestamp(t):
        return np.dtype("datetime64[us]")
    if pa.types.is_date32(t):
        return np.dtype("datetime64[D]")
    if pa.types.is_boolean(t):
        return np.dtype(bool)
    return np.dtype(t.to_pandas_dtype())


def _write_months(
    store: Store, source: str, hall_id: int, table: pa.Table, days: np.ndarray
) -> None:
    months = days.astype("datetime64[M]")
    for month in np.unique(months):
        idx = np.nonzero(months == month)[0]
        store.write_part(source, hall_id, str(month), table.take(pa.array(idx)))


def _workday_tables(days: list[date]) -> tuple[np.ndarray, np.ndarray, int]:
    """day number → next working day and the 5th working day after (rectification due)."""
    first = _day_number(days[0])
    span = len(days) + 60
    next_wd = np.zeros(span, dtype=np.int64)
    fifth_wd = np.zeros(span, dtype=np.int64)
    for i in range(span):
        d = days[0] + timedelta(days=i)
        next_wd[i] = _day_number(calendar.add_workdays(d, 1))
        fifth_wd[i] = _day_number(calendar.add_workdays(d, 5))
    return next_wd, fifth_wd, first


def generate_hall(
    store: Store,
    hall_id: int,
    working_days: list[date],
    promised: np.ndarray,
    workday_tables: tuple[np.ndarray, np.ndarray, int],
    seed: int,
) -> Generated:
    rng = np.random.default_rng([seed, hall_id])
    base = hall_id * ID_SPACE
    size = rng.uniform(0.6, 1.4)
    congestion = rng.uniform(0.6, 1.6)
    items = rng.choice(np.arange(1, N_ITEMS + 1), size=ITEMS_PER_HALL, replace=False)
    popularity = 1.0 / np.arange(1, ITEMS_PER_HALL + 1) ** 0.9
    popularity /= popularity.sum()
    depts = items % N_DEPARTMENTS + 1
    handle_share = rng.uniform(0.35, 0.85, size=N_ITEMS + 1)
    # enough windows for the demand at a utilization between 55 % and 85 %
    work_s = (
        TICKETS_PER_HALL_DAY
        * size
        * float((popularity * (promised[items] * handle_share[items] + 90)).sum())
    )
    n_windows = int(np.clip(round(work_s / (7.3 * 3600 * rng.uniform(0.55, 0.85))), 12, 56))

    day_numbers = np.array([_day_number(d) for d in working_days], dtype=np.int64)
    weekday = np.array([d.weekday() for d in working_days])
    day_factor = np.where(weekday == 0, 1.25, np.where(weekday == 4, 0.85, 1.0))
    per_day = rng.poisson(TICKETS_PER_HALL_DAY * size * day_factor)
    n = int(per_day.sum())
    day = np.repeat(day_numbers, per_day)
    day_index = np.repeat(np.arange(len(working_days)), per_day)

    # arrivals: morning and afternoon peaks inside opening hours
    morning = rng.random(n) < 0.6
    arrival = np.where(
        morning, rng.normal(9.9 * 3600, 0.8 * 3600, n), rng.normal(14.8 * 3600, 0.9 * 3600, n)
    )
    arrival = np.clip(arrival, OPEN_S, CLOSE_S - 600).astype(np.int64)
    hour_load = np.bincount(arrival // 3600, minlength=24).astype(float)
    load = hour_load[arrival // 3600] / hour_load[hour_load > 0].mean()

    item_pos = rng.choice(ITEMS_PER_HALL, size=n, p=popularity)
    item = items[item_pos].astype(np.int64)
    dept = depts[item_pos]
    # windows: blocks per department plus four general windows at the end
    window_no = (dept * 7 + rng.integers(0, 3, n)) % (n_windows - 4) + 1
    general = rng.random(n) < 0.15
    window_no = np.where(general, n_windows - 3 + rng.integers(0, 4, n), window_no)
    window = hall_id * 100 + window_no
    # staff: window's own staff member, a substitute on some days
    substitute = rng.random((len(working_days), n_windows + 1)) < 0.08
    staff_of = hall_id * 1000 + np.where(
        substitute, n_windows + 1 + rng.integers(0, 6, substitute.shape), np.arange(n_windows + 1)
    )
    staff = staff_of[day_index, window_no]

    priority = rng.random(n) < 0.05
    appointment = ~priority & (rng.random(n) < 0.12)
    late_appt = appointment & (rng.random(n) < 0.12)
    wait_mean = 9 * 60 * load * congestion
    wait = rng.gamma(1.6, wait_mean / 1.6)
    wait = np.where(priority, wait * 0.35, np.where(appointment & ~late_appt, wait * 0.3, wait))
    wait = wait.astype(np.int64) + 15
    cancelled = rng.random(n) < 0.012
    cancel_after = (rng.random(n) * wait).astype(np.int64) + 1
    called = ~cancelled & (arrival + wait < CLOSE_S)
    closed = ~cancelled & ~called
    u = rng.random(n)
    final_no_show = called & (u < 0.035)
    requeue = called & (u >= 0.035) & (u < 0.065)
    transfer = called & (u >= 0.065) & (u < 0.095)
    recalled = called & (rng.random(n) < 0.08)
    served = called & ~final_no_show

    ticket_id = base + np.arange(1, n + 1, dtype=np.int64)
    appt_id = np.where(appointment, base + np.arange(1, n + 1), 0)
    local_day_us = day.astype("datetime64[D]").astype("datetime64[us]")

    def ts(seconds: np.ndarray, idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        days_us = local_day_us if idx is None else local_day_us[idx]
        local = days_us + seconds.astype("timedelta64[s]")
        return local - np.timedelta64(UTC_OFFSET_S, "s"), local

    ev = _Events(HALL_EVENTS_SCHEMA)
    dayd = day.astype("datetime64[D]")

    def add(mask: np.ndarray, kind: int, seconds: np.ndarray, **extra: np.ndarray) -> None:
        idx = np.nonzero(mask)[0]
        at, local = ts(seconds[idx], idx)
        cols = {
            "hall_id": np.int32(hall_id),
            "day": dayd[idx],
            "kind": np.int8(kind),
            "at": at,
            "local_at": local,
            "ticket_id": ticket_id[idx],
            "item_id": item[idx].astype(np.int32),
        }
        # appointment tickets carry their appointment on every event (0 → null below)
        cols["appointment_id"] = appt_id[idx]
        for key, value in extra.items():
            cols[key] = value[idx] if np.ndim(value) else value
        ev.add(**cols)

    prio_code = np.where(priority, 1, np.where(appointment & ~late_appt, 2, 0)).astype(np.int8)
    arrived_at, _ = ts(arrival)
    add(
        np.ones(n, dtype=bool),
        K["ISSUED"],
        arrival,
        priority=prio_code,
        arrived_at=arrived_at,
        slot=(arrival // 1800).astype(np.int16),
    )
    add(appointment & ~late_appt, K["APPOINTMENT_CHECKED_IN"], arrival)
    add(late_appt, K["APPOINTMENT_LATE"], arrival)
    add(cancelled, K["CANCELLED"], arrival + cancel_after)
    add(closed, K["CLOSED"], np.full(n, CLOSE_S))

    w32, s32 = window.astype(np.int32), staff.astype(np.int32)
    first_call = arrival + wait
    add(called, K["CALLED"], first_call, window_id=w32, staff_id=s32)
    add(recalled, K["RECALLED"], first_call + 30, window_id=w32, staff_id=s32)
    # final no-show
    add(
        final_no_show,
        K["NO_SHOW"],
        first_call + 90,
        window_id=w32,
        staff_id=s32,
        requeued=np.zeros(n, dtype=bool),
    )
    # no-show put back in the queue, called again later
    add(
        requeue,
        K["NO_SHOW"],
        first_call + 90,
        window_id=w32,
        staff_id=s32,
        requeued=np.ones(n, dtype=bool),
    )
    add(requeue, K["REQUEUED"], first_call + 90)
    second_call = first_call + np.where(requeue, 300 + rng.integers(0, 900, n), 0)
    add(requeue, K["CALLED"], second_call, window_id=w32, staff_id=s32)
    start1 = second_call + 20 + rng.integers(0, 70, n)
    # transfers: served a little at the first window, then called at another
    add(transfer, K["STARTED"], start1, window_id=w32, staff_id=s32)
    transfer_at = start1 + 60 + rng.integers(0, 240, n)
    to_window_no = (window_no % (n_windows - 1)) + 1
    to_window = (hall_id * 100 + to_window_no).astype(np.int32)
    to_staff = staff_of[day_index, to_window_no].astype(np.int32)
    new_item_pos = np.where(rng.random(n) < 0.5, rng.choice(ITEMS_PER_HALL, n), item_pos)
    item = np.where(transfer, items[new_item_pos], item)
    add(transfer, K["TRANSFERRED"], transfer_at, window_id=w32, staff_id=s32)
    last_call = np.where(transfer, transfer_at + 120 + rng.integers(0, 480, n), second_call)
    window = np.where(transfer, to_window, window)
    staff = np.where(transfer, to_staff, staff)
    w32, s32 = window.astype(np.int32), staff.astype(np.int32)
    add(transfer, K["CALLED"], last_call, window_id=w32, staff_id=s32)
    start = np.where(transfer, last_call + 20 + rng.integers(0, 70, n), start1)
    add(served, K["STARTED"], start, window_id=w32, staff_id=s32)
    median = promised[item] * handle_share[item]
    handle = (rng.lognormal(np.log(np.maximum(median, 60)), 0.45)).astype(np.int64)
    outcome_u = rng.random(n)
    outcome = np.where(outcome_u < 0.9, 1, np.where(outcome_u < 0.97, 2, 3)).astype(np.int8)
    finished = start + handle
    add(served, K["FINISHED"], finished, window_id=w32, staff_id=s32, outcome=outcome)

    # appointments missed (no ticket): booked for the day, never checked in
    n_appt = int(appointment.sum())
    missed_n = int(n_appt * 0.08)
    missed_day = rng.choice(day, size=missed_n) if missed_n else np.zeros(0, dtype=np.int64)
    missed_ids = base + n + 1 + np.arange(missed_n, dtype=np.int64)
    missed_item = items[rng.choice(ITEMS_PER_HALL, size=missed_n, p=popularity)]
    slot_end = rng.integers(10, 16, missed_n) * 3600
    missed_at_local = missed_day.astype("datetime64[D]").astype("datetime64[us]") + (
        slot_end + 15 * 60
    ).astype("timedelta64[s]")
    ev.add(
        hall_id=np.int32(hall_id),
        day=missed_day.astype("datetime64[D]"),
        kind=np.int8(K["APPOINTMENT_MISSED"]),
        at=missed_at_local - np.timedelta64(UTC_OFFSET_S, "s"),
        local_at=missed_at_local,
        appointment_id=missed_ids,
        item_id=missed_item.astype(np.int32),
    )

    # window sessions: sign in, a pause around lunch on most days, sign out
    wd = np.repeat(np.arange(len(working_days)), n_windows)
    wn = np.tile(np.arange(1, n_windows + 1), len(working_days))
    present = rng.random(len(wd)) > 0.04
    wd, wn = wd[present], wn[present]
    m = len(wd)
    wday = day_numbers[wd].astype("datetime64[D]")
    wlocal = wday.astype("datetime64[us]")
    w_id = (hall_id * 100 + wn).astype(np.int32)
    w_staff = staff_of[wd, wn].astype(np.int32)
    sign_in = OPEN_S - 600 + rng.integers(0, 1500, m)
    pause = rng.random(m) < 0.7
    pause_at = 11 * 3600 + 1800 + rng.integers(0, 3600, m)
    resume_at = pause_at + 900 + rng.integers(0, 2700, m)
    sign_out = CLOSE_S - 300 + rng.integers(0, 1500, m)
    for kind, secs, mask in (
        (K["WINDOW_SIGNED_IN"], sign_in, np.ones(m, dtype=bool)),
        (K["WINDOW_PAUSED"], pause_at, pause),
        (K["WINDOW_RESUMED"], resume_at, pause),
        (K["WINDOW_SIGNED_OUT"], sign_out, np.ones(m, dtype=bool)),
    ):
        local = wlocal[mask] + secs[mask].astype("timedelta64[s]")
        ev.add(
            hall_id=np.int32(hall_id),
            day=wday[mask],
            kind=np.int8(kind),
            at=local - np.timedelta64(UTC_OFFSET_S, "s"),
            local_at=local,
            window_id=w_id[mask],
            staff_id=w_staff[mask],
        )
    table, days_col = ev.table(base + 1, ("at",))
    # events without an appointment carry appointment_id 0 from the padding above: null it
    appt = table.column("appointment_id")
    table = table.set_column(
        table.schema.get_field_index("appointment_id"),
        "appointment_id",
        pc.if_else(pc.equal(appt, 0), pa.scalar(None, pa.int64()), appt),
    )
    _write_months(store, "hall_events", hall_id, table, days_col)
    hall_events = table.num_rows
    del table

    # ratings of finished visits
    rated = served & (rng.random(n) < 0.55)
    idx = np.nonzero(rated)[0]
    r = len(idx)
    long_wait = wait[idx] > 30 * 60
    not_done = outcome[idx] != 1
    bad_boost = 1 + 3 * long_wait + 1 * not_done
    p1, p2, p3, p4 = 0.006 * bad_boost, 0.012 * bad_boost, 0.06, 0.22
    lu = rng.random(r)
    level = np.where(
        lu < p1,
        1,
        np.where(
            lu < p1 + p2, 2, np.where(lu < p1 + p2 + p3, 3, np.where(lu < p1 + p2 + p3 + p4, 4, 5))
        ),
    ).astype(np.int8)
    real_name = rng.random(r) < 0.35
    rating_id = base + np.arange(1, r + 1, dtype=np.int64)
    rated_s = finished[idx] + 5 + rng.integers(0, 115, r)
    rday = day[idx]
    rlocal = rday.astype("datetime64[D]").astype("datetime64[us]") + rated_s.astype(
        "timedelta64[s]"
    )
    rev = _Events(RATING_EVENTS_SCHEMA)
    attrs = {
        "hall_id": np.int32(hall_id),
        "day": rday.astype("datetime64[D]"),
        "rating_id": rating_id,
        "level": level,
        "real_name": real_name,
        "item_id": item[idx].astype(np.int32),
        "window_id": window[idx].astype(np.int32),
        "staff_id": staff[idx].astype(np.int32),
        "department_id": (item[idx] % N_DEPARTMENTS + 1).astype(np.int32),
        "slot": (rated_s // 1800).astype(np.int16),
    }
    rev.add(
        kind=np.int8(R["rating.submitted"]),
        at=rlocal - np.timedelta64(UTC_OFFSET_S, "s"),
        local_at=rlocal,
        **attrs,
    )
    bad = level <= 2
    b = np.nonzero(bad)[0]
    next_wd, fifth_wd, first_day = workday_tables
    rel = rday[b] - first_day
    cb_due = next_wd[rel].astype("datetime64[D]")
    rect_due = fifth_wd[rel].astype("datetime64[D]")

    def case_event(rows: np.ndarray, kind: int, local: np.ndarray, **extra: np.ndarray) -> None:
        sub = {k: (v[b][rows] if np.ndim(v) else v) for k, v in attrs.items()}
        rev.add(
            kind=np.int8(kind),
            at=local - np.timedelta64(UTC_OFFSET_S, "s"),
            local_at=local,
            **sub,
            **extra,
        )

    all_b = np.arange(len(b))
    case_event(
        all_b,
        R["case.opened"],
        rlocal[b] + np.timedelta64(1, "s"),
        callback_due=cb_due,
        rectification_due=rect_due,
    )
    cb = rng.random(len(b)) < 0.92
    cb_delay = rng.choice([0, 1, 2, 3], size=len(b), p=[0.3, 0.5, 0.15, 0.05])
    cb_local = (rday[b] + cb_delay).astype("datetime64[D]").astype("datetime64[us]") + (
        10 * 3600 + rng.integers(0, 6 * 3600, len(b))
    ).astype("timedelta64[s]")
    cb_local = np.maximum(cb_local, rlocal[b] + np.timedelta64(60, "s"))
    case_event(np.nonzero(cb)[0], R["case.called_back"], cb_local[cb])
    rect = cb & (rng.random(len(b)) < 0.9)
    rect_local = cb_local + (rng.integers(1, 9, len(b)) * 86400).astype("timedelta64[s]")
    case_event(np.nonzero(rect)[0], R["case.rectified"], rect_local[rect])
    appealed = ~rect & (rng.random(len(b)) < 0.3)
    appeal_local = rlocal[b] + np.timedelta64(2 * 86400, "s")
    case_event(np.nonzero(appealed)[0], R["case.appealed"], appeal_local[appealed])
    upheld = appealed & (rng.random(len(b)) < 0.5)
    case_event(
        np.nonzero(upheld)[0],
        R["case.appeal_upheld"],
        appeal_local[upheld] + np.timedelta64(86400, "s"),
    )
    rtable, rdays = rev.table(base + 1, ("at",))
    # case rows keep only their own columns meaningful; due dates only on case.opened
    _write_months(store, "rating_events", hall_id, rtable, rdays)
    return Generated(tickets=n, hall_events=hall_events, rating_events=rtable.num_rows)


def generate(root: Path, halls: int, days: int, seed: int) -> Generated:
    store = Store(root)
    store.reset()
    rng = np.random.default_rng(seed)
    promised = write_dims(store, halls, rng)
    all_days = [START + timedelta(days=i) for i in range(days)]
    working = [d for d in all_days if calendar.is_workday(d)]
    tables = _workday_tables(all_days)
    total = Generated(0, 0, 0)
    for hall_id in range(1, halls + 1):
        g = generate_hall(store, hall_id, working, promised, tables, seed)
        total.tickets += g.tickets
        total.hall_events += g.hall_events
        total.rating_events += g.rating_events
    return total
