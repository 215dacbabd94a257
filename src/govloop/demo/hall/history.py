"""Simulated history of a service hall: arrivals, a multi-window queue and its event log.

Pure computation, no database: :func:`simulate_history` turns a hall layout, a list of
working days and a seed into ticket, appointment, counter and event rows, which the demo
(:mod:`govloop.demo.hall.seed`) writes in bulk.

The model, per working day:

* arrivals per item are a non-homogeneous Poisson process over opening hours (morning
  peak 9:30–11:00, lunch dip, afternoon peak 14:30–16:00), scaled per day for Mondays,
  month-end, the tax filing period, the days around public holidays and 调休 weekends;
* appointments are booked days ahead within the slot quotas; most check in on time
  (priority ticket), some late (regular ticket), some are missed or cancelled;
* windows sign in before opening, take a staggered lunch break (paused/resumed) and call
  the first eligible ticket by queue rank, exactly as :func:`hall.service.call_next`
  ranks them (priority boost, appointment boost, 过号重排 after a no-show);
* handling times are lognormal per item; a citizen who is not there when called is
  recalled and then marked no-show (more often after a long wait); a few tickets are
  transferred to a specialised window or to another item; outcomes are done,
  needs_documents (一次性告知) or referred;
* tickets still waiting 45 minutes after closing are closed by the hall manager.

Every state change is emitted as an event with the same fields the service layer records,
so replaying the event log reproduces the tickets and appointments exactly.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from scipy.stats import gamma

from govloop.demo.hall.day import CrossDay, DaySim, SimTicket
from govloop.demo.hall.demand import (
    Booking,
    HallLayout,
    appointment_code,
    plan_bookings,
    to_datetime,
)
from govloop.hall.models import AppointmentStatus, EventKind

# --- outputs -------------------------------------------------------------------------

# (epoch seconds, emission order, kind, ticket id, appointment id, item id, window id,
#  staff id, detail)
EventTuple = tuple[float, int, str, int | None, int | None, int | None, int | None, int | None, Any]


@dataclass
class History:
    days: list[date]
    tickets: list[dict[str, Any]]
    appointments: list[dict[str, Any]]
    counters: list[dict[str, Any]]
    events: list[EventTuple]  # sorted by time (and emission order within a moment)

    def event_rows(self, hall_id: int, first_id: int) -> list[dict[str, Any]]:
        return [
            {
                "id": first_id + i,
                "hall_id": hall_id,
                "kind": kind,
                "at": to_datetime(at),
                "ticket_id": ticket_id,
                "appointment_id": appointment_id,
                "item_id": item_id,
                "window_id": window_id,
                "staff_id": staff_id,
                "detail": detail,
            }
            for i, (
                at,
                _seq,
                kind,
                ticket_id,
                appointment_id,
                item_id,
                window_id,
                staff_id,
                detail,
            ) in enumerate(self.events)
        ]


# --- the whole history -----------------------------------------------------------------


def _public_id(rng: np.random.Generator) -> str:
    return base64.urlsafe_b64encode(rng.bytes(12)).decode()


def simulate_history(
    layout: HallLayout,
    days: Sequence[date],
    *,
    seed: int,
    now: datetime,
    first_ticket_id: int = 1,
    first_appointment_id: int = 1,
    future_days: Sequence[date] = (),
    taken_codes: set[str] | None = None,
    on_day: Callable[[date], None] | None = None,
) -> History:
    """Simulate ``days`` (working days, oldest first) and book ``future_days`` ahead.

    Each day draws from its own generator seeded by ``(seed, day)``, so a day's arrivals
    do not depend on which other days are generated.
    """
    days = sorted(days)
    taken = set(taken_codes or ())
    bookings: list[Booking] = []
    for day in days:
        bookings += plan_bookings(layout, day, np.random.default_rng([seed, day.toordinal(), 1]))
    for k, day in enumerate(sorted(future_days)):
        rng = np.random.default_rng([seed, day.toordinal(), 2])
        fill = max(0.3, 1.0 - 0.1 * k)
        bookings += plan_bookings(layout, day, rng, fill=fill, booked_before=now.timestamp())
    bookings.sort(key=lambda b: b.booked_at)
    code_rng = np.random.default_rng([seed, 3])
    for offset, b in enumerate(bookings):
        b.id = first_appointment_id + offset
        b.code = appointment_code(code_rng, taken)

    events: list[EventTuple] = []
    seq = 0

    def emit(
        at: float,
        kind: EventKind,
        ticket_id: int | None,
        appointment_id: int | None,
        item_id: int | None,
        window_id: int | None,
        staff_id: int | None,
        detail: dict[str, Any],
    ) -> None:
        nonlocal seq
        seq += 1
        events.append(
            (at, seq, kind.value, ticket_id, appointment_id, item_id, window_id, staff_id, detail)
        )

    for b in bookings:
        emit(
            b.booked_at,
            EventKind.APPOINTMENT_BOOKED,
            None,
            b.id,
            b.item_id,
            None,
            None,
            {"day": b.day.isoformat(), "slot": f"{b.slot_start:%H:%M}"},
        )
        if b.fate == "cancelled" and b.cancel_at is not None:
            b.status = AppointmentStatus.CANCELLED
            emit(
                b.cancel_at, EventKind.APPOINTMENT_CANCELLED, None, b.id, b.item_id, None, None, {}
            )

    by_day: dict[date, list[Booking]] = {}
    for b in bookings:
        by_day.setdefault(b.day, []).append(b)

    cross = CrossDay()
    tickets: list[dict[str, Any]] = []
    counters: list[dict[str, Any]] = []
    next_id = first_ticket_id
    etas: list[tuple[dict[str, Any], float, float]] = []
    for day in days:
        rng = np.random.default_rng([seed, day.toordinal(), 0])
        sim = DaySim(layout, day, rng, cross, emit, next_id, by_day.get(day, []))
        day_tickets = sim.run()
        next_id = sim.next_ticket_id
        cross.waits.append(sim.wait_stats())
        for t in day_tickets:
            row = _ticket_row(layout.hall_id, day, t, _public_id(rng))
            tickets.append(row)
            if t.eta is not None:
                etas.append((row, *t.eta))
        counters += [
            {"hall_id": layout.hall_id, "service_date": day, "prefix": p, "last_number": n}
            for p, n in sorted(sim.counters.items())
        ]
        if on_day is not None:
            on_day(day)
    _fill_eta_ranges(etas)
    events.sort(key=lambda e: (e[0], e[1]))
    return History(
        days=list(days),
        tickets=tickets,
        appointments=[b.row(layout.hall_id) for b in bookings],
        counters=counters,
        events=events,
    )


def _ticket_row(hall_id: int, day: date, t: SimTicket, public_id: str) -> dict[str, Any]:
    def dt(x: float | None) -> datetime | None:
        return to_datetime(x) if x is not None else None

    return {
        "id": t.id,
        "hall_id": hall_id,
        "service_date": day,
        "code": t.code,
        "public_id": public_id,
        "item_id": t.item.id,
        "status": str(t.status),
        "priority": t.priority,
        "channel": t.channel,
        "arrived_at": to_datetime(t.arrived_at),
        "rank_at": to_datetime(t.rank_at),
        "issued_at": to_datetime(t.issued_at),
        "called_at": dt(t.called_at),
        "started_at": dt(t.started_at),
        "finished_at": dt(t.finished_at),
        "window_id": t.window_id,
        "staff_id": t.staff_id,
        "target_window_id": t.target_window_id,
        "outcome": t.outcome,
        "recall_count": t.recall_count,
        "no_show_count": t.no_show_count,
        "appointment_id": t.appointment_id,
        "carried_from_id": None,
        "closed_reason": t.closed_reason,
        "eta_seconds": None,
        "eta_low_seconds": None,
        "eta_high_seconds": None,
    }


def _fill_eta_ranges(etas: list[tuple[dict[str, Any], float, float]]) -> None:
    """The slip's 10th–90th percentile range: a gamma with the QLP's mean and variance."""
    positive = [(row, m, v) for row, m, v in etas if m > 0 and v > 0]
    for row, m, v in etas:
        if not (m > 0 and v > 0):
            row["eta_seconds"] = row["eta_low_seconds"] = row["eta_high_seconds"] = 0.0
    if not positive:
        return
    means = np.array([m for _, m, _ in positive])
    variances = np.array([v for _, _, v in positive])
    shape, scale = means**2 / variances, variances / means
    lows = gamma.ppf(0.10, shape, scale=scale)
    highs = gamma.ppf(0.90, shape, scale=scale)
    for (row, m, _), low, high in zip(positive, lows, highs, strict=True):
        row["eta_seconds"] = m
        row["eta_low_seconds"] = float(low)
        row["eta_high_seconds"] = float(high)
