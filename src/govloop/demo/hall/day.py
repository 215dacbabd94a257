"""One working day of the simulated demo hall: a multi-window queue, event by event.

The windows call tickets exactly as :func:`govloop.hall.service.call_next` ranks them,
and every state change is emitted with the fields the service layer would record.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

import numpy as np

from govloop.demo.hall.demand import (
    CANCEL_SHARE,
    DAY_NOISE_SIGMA,
    MOBILE_SHARE,
    PRIORITY_MIX,
    PRIORITY_SHARE,
    SURGE_FACTOR,
    TAX_DEPARTMENT,
    TAX_PERIOD_FACTOR,
    WALK_IN_SHARE,
    Booking,
    HallLayout,
    ItemProfile,
    WindowProfile,
    arrival_seconds,
    day_factor,
    local_epoch,
    surge_department,
)
from govloop.hall.models import (
    AppointmentStatus,
    EventKind,
    Outcome,
    PriorityCategory,
    TicketStatus,
)

# --- queue parameters ----------------------------------------------------------------

ABSENCE_BASE = 0.055  # not there when first called …
ABSENCE_PER_HOUR_WAITED = 0.06  # … more often after a long wait
ABSENCE_AFTER_REQUEUE = 0.6  # a requeued ticket called again: most have left
PRESENT_RECALL_SHARE = 0.06
GENERAL_TRANSFER_SHARE = 0.03  # 综合窗口 → specialised window, same item
SPECIALISED_TRANSFER_SHARE = 0.012  # wrong item taken → another item of the department
REFERRED_SHARE = 0.02
WINDOW_ABSENCE = 0.25  # chance that one specialised window is unstaffed for the day
LUNCH_MINUTES = (40.0, 50.0)
CLOSE_GRACE = timedelta(minutes=45)  # serving goes on after closing; then the rest is closed
CLOSE_REASON = "营业结束"
SWEEP_EVERY_S = 1800  # the missed-appointment sweep runs every half hour
ABANDON_WINDOW_DAYS = 14  # the estimator's look-back for the no-show rate
RECENT_OCCUPANCIES = 50


# --- the day simulation ----------------------------------------------------------------


class SimTicket:
    __slots__ = (
        "appointment_id",
        "arrived_at",
        "called_at",
        "cancel_at",
        "channel",
        "closed_reason",
        "code",
        "eta",
        "finished_at",
        "id",
        "issued_at",
        "item",
        "no_show_count",
        "outcome",
        "priority",
        "rank_at",
        "recall_count",
        "staff_id",
        "started_at",
        "status",
        "target_window_id",
        "transferred",
        "window_id",
    )

    def __init__(self, item: ItemProfile, arrived: float, priority: str | None, channel: str):
        self.id = 0
        self.code = ""
        self.item = item
        self.arrived_at = arrived
        self.issued_at = arrived
        self.rank_at = arrived
        self.priority = priority
        self.channel = channel
        self.status: str = TicketStatus.WAITING
        self.called_at: float | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.window_id: int | None = None
        self.staff_id: int | None = None
        self.target_window_id: int | None = None
        self.outcome: str | None = None
        self.recall_count = 0
        self.no_show_count = 0
        self.appointment_id: int | None = None
        self.closed_reason: str | None = None
        self.cancel_at: float | None = None
        self.transferred = False
        self.eta: tuple[float, float] | None = None  # (mean, variance) of the QLP estimate

    def key(self) -> tuple[float, int]:
        return (self.rank_at, self.id)


class _Window:
    __slots__ = ("lunch_due", "lunch_s", "pending", "profile", "signed_out", "state")

    def __init__(self, profile: WindowProfile, lunch_s: float):
        self.profile = profile
        self.state = "logged_out"
        self.pending = False
        self.lunch_due = False
        self.lunch_s = lunch_s
        self.signed_out = False


@dataclass
class CrossDay:
    """What the service's estimator would know from earlier days."""

    occupancies: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=400))
    waits: deque[tuple[float, int]] = field(
        default_factory=lambda: deque(maxlen=ABANDON_WINDOW_DAYS)
    )

    def abandon_rate(self) -> float:
        total = sum(w for w, _ in self.waits)
        return sum(n for _, n in self.waits) / total if total > 0 else 0.0


ARRIVE, CALL, FREE, REQUEUE, CANCEL, LUNCH, RESUME, CLOSE, END = range(9)


class DaySim:
    def __init__(
        self,
        layout: HallLayout,
        day: date,
        rng: np.random.Generator,
        cross: CrossDay,
        emit: Callable[..., None],
        next_ticket_id: int,
        bookings: list[Booking],
    ) -> None:
        self.layout = layout
        self.day = day
        self.rng = rng
        self.cross = cross
        self.emit = emit
        self.next_ticket_id = next_ticket_id
        self.bookings = bookings
        self.opens = local_epoch(day, layout.opens_at)
        self.closes = local_epoch(day, layout.closes_at)
        self.heap: list[tuple[float, int, int, Any]] = []
        self.seq = 0
        self.waiting: list[SimTicket] = []
        self.tickets: list[SimTicket] = []
        self.counters: dict[str, int] = {}
        self.arrivals_left = 0
        self.ended = False
        self.items = {i.id: i for i in layout.items}
        self.by_department: dict[str, list[ItemProfile]] = {}
        for item in layout.items:
            self.by_department.setdefault(item.department, []).append(item)
        self.serving_static = {
            i.id: {w.id for w in layout.windows if w.serves(i.id)} for i in layout.items
        }
        served_by = {
            w.id: set(self.items) if w.is_general else set(w.item_ids) for w in layout.windows
        }
        # Items whose tickets compete for the same windows (the estimator's "ahead").
        self.competing = {
            i: set().union(*(served_by[w] for w in ws)) if ws else {i}
            for i, ws in self.serving_static.items()
        }
        self.windows: list[_Window] = []

    # -- plumbing --

    def push(self, at: float, kind: int, obj: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, obj))

    def u(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def ticket_event(
        self,
        at: float,
        kind: EventKind,
        t: SimTicket,
        *,
        window_id: int | None = None,
        staff_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.emit(
            at,
            kind,
            t.id,
            t.appointment_id,
            t.item.id,
            window_id if window_id is not None else t.window_id,
            staff_id,
            detail or {},
        )

    def window_event(
        self, at: float, kind: EventKind, w: _Window, detail: dict[str, Any] | None = None
    ) -> None:
        p = w.profile
        self.emit(at, kind, None, None, None, p.id, p.staff_id, detail or {})

    # -- setup --

    def run(self) -> list[SimTicket]:
        rng = self.rng
        self._staff_windows()
        arrivals = self._walk_ins() + self._check_ins()
        arrivals.sort(key=lambda pair: pair[0].arrived_at)
        for ticket, booking in arrivals:
            ticket.id = self.next_ticket_id
            self.next_ticket_id += 1
            prefix = ticket.item.prefix
            self.counters[prefix] = self.counters.get(prefix, 0) + 1
            ticket.code = f"{prefix}{self.counters[prefix]:03d}"
            ticket.rank_at = ticket.arrived_at - 60.0 * float(
                self.layout.priority_rule.get(ticket.priority or "", 0)
            )
            if booking is not None:
                booking.ticket_id = ticket.id
                booking.status = AppointmentStatus.CHECKED_IN
                booking.checked_in_at = ticket.arrived_at
            elif rng.random() < CANCEL_SHARE:
                ticket.cancel_at = ticket.arrived_at + self.u(20 * 60, 80 * 60)
            self.tickets.append(ticket)
            self.push(ticket.arrived_at, ARRIVE, (ticket, booking))
        self.arrivals_left = len(arrivals)
        self._sweep_missed()
        self.push(self.closes, CLOSE, None)
        self.push(self.closes + CLOSE_GRACE.total_seconds(), END, None)
        handlers: dict[int, Callable[[float, Any], None]] = {
            ARRIVE: self._arrive,
            CALL: self._call,
            FREE: self._free,
            REQUEUE: self._requeue,
            CANCEL: self._cancel,
            LUNCH: self._lunch,
            RESUME: self._resume,
            CLOSE: self._close,
            END: self._end,
        }
        last = self.closes
        while self.heap:
            at, _seq, kind, obj = heapq.heappop(self.heap)
            handlers[kind](at, obj)
            last = max(last, at)
        self._close_day(last + self.u(60, 300))
        return self.tickets

    def _staff_windows(self) -> None:
        profiles = sorted(self.layout.windows, key=lambda p: p.number)
        has_general = any(p.is_general for p in profiles)
        specialised = [p for p in profiles if not p.is_general]
        absent = None
        if has_general and specialised and self.rng.random() < WINDOW_ABSENCE:
            absent = specialised[int(self.rng.integers(len(specialised)))]
        present = [p for p in profiles if p is not absent]
        for index, profile in enumerate(present):
            w = _Window(profile, 60.0 * self.u(*LUNCH_MINUTES))
            self.windows.append(w)
            signed_in = self.opens - self.u(120, 900)
            w.state = "idle"
            self.window_event(signed_in, EventKind.WINDOW_SIGNED_IN, w)
            lunch = time(11, 45) if index % 2 == 0 else time(12, 30)
            self.push(local_epoch(self.day, lunch) + self.u(0, 600), LUNCH, w)

    def _walk_ins(self) -> list[tuple[SimTicket, Booking | None]]:
        rng = self.rng
        factor = day_factor(self.day) * math.exp(rng.normal(0.0, DAY_NOISE_SIGMA))
        span = self.closes - self.opens
        categories = list(PRIORITY_MIX)
        mix = np.array(list(PRIORITY_MIX.values()))
        out: list[tuple[SimTicket, Booking | None]] = []
        surging = surge_department(self.day)
        for item in self.layout.items:
            f = factor
            if item.department == TAX_DEPARTMENT and self.day.day <= 15:
                f *= TAX_PERIOD_FACTOR
            if item.department == surging:
                f *= SURGE_FACTOR
            count = int(rng.poisson(item.daily_volume * WALK_IN_SHARE * f))
            for offset in arrival_seconds(rng, count, span):
                priority = None
                if rng.random() < PRIORITY_SHARE:
                    priority = categories[int(rng.choice(len(categories), p=mix))].value
                channel = "mobile" if rng.random() < MOBILE_SHARE else "kiosk"
                out.append((SimTicket(item, self.opens + float(offset), priority, channel), None))
        return out

    def _check_ins(self) -> list[tuple[SimTicket, Booking | None]]:
        out: list[tuple[SimTicket, Booking | None]] = []
        for b in self.bookings:
            if b.fate in ("show", "late") and b.arrive_at is not None:
                priority = PriorityCategory.APPOINTMENT.value if b.fate == "show" else None
                ticket = SimTicket(self.items[b.item_id], b.arrive_at, priority, "appointment")
                ticket.appointment_id = b.id
                out.append((ticket, b))
        return out

    def _sweep_missed(self) -> None:
        grace = self.layout.appointment_late_minutes * 60
        for b in self.bookings:
            if b.fate == "missed":
                deadline = local_epoch(self.day, b.slot_end) + grace
                at = (math.floor(deadline / SWEEP_EVERY_S) + 1) * SWEEP_EVERY_S + self.u(0, 30)
                b.status = AppointmentStatus.MISSED
                self.emit(at, EventKind.APPOINTMENT_MISSED, None, b.id, b.item_id, None, None, {})

    # -- queue --

    def _eligible(self, w: _Window, t: SimTicket) -> bool:
        return w.profile.serves(t.item.id) and t.target_window_id in (None, w.profile.id)

    def _offer(self, at: float, ticket: SimTicket) -> None:
        for w in self.windows:
            if w.state == "idle" and not w.pending and self._eligible(w, ticket):
                w.pending = True
                self.push(at + self.u(3, 20), CALL, w)

    def _estimate(self, t: SimTicket) -> tuple[float, float] | None:
        """Mean and variance of the wait the slip would have printed (service.estimate_wait)."""
        serving = self.serving_static[t.item.id]
        open_windows = [
            w for w in self.windows if w.profile.id in serving and w.state in ("idle", "serving")
        ]
        if not open_windows:
            return None
        idle = sum(1 for w in open_windows if w.state == "idle")
        competing = self.competing[t.item.id]
        key = t.key()
        ahead = sum(
            1
            for o in self.waiting
            if o.item.id in competing
            and (o.target_window_id is None or o.target_window_id in serving)
            and o.key() < key
        )
        recent = [occ for item_id, occ in reversed(self.cross.occupancies) if item_id in competing]
        recent = recent[:RECENT_OCCUPANCIES]
        if recent:
            mean_service = sum(recent) / len(recent)
        else:
            items = [self.items[i] for i in competing]
            mean_service = 60.0 * sum(i.promised_minutes for i in items) / len(items)
        needed = ahead - idle
        if needed < 0:
            return (0.0, 0.0)
        rates = len(open_windows) / mean_service + np.arange(needed + 1) * max(
            self.cross.abandon_rate(), 0.0
        )
        return (float(np.sum(1.0 / rates)), float(np.sum(1.0 / rates**2)))

    def _arrive(self, at: float, payload: tuple[SimTicket, Booking | None]) -> None:
        t, booking = payload
        self.arrivals_left -= 1
        self.ticket_event(
            at,
            EventKind.ISSUED,
            t,
            detail={"code": t.code, "priority": t.priority, "channel": t.channel},
        )
        if booking is not None:
            late = booking.fate == "late"
            self.ticket_event(
                at,
                EventKind.APPOINTMENT_LATE if late else EventKind.APPOINTMENT_CHECKED_IN,
                t,
                detail={"code": t.code, "late": late},
            )
        self.waiting.append(t)
        t.eta = self._estimate(t)
        if t.cancel_at is not None:
            self.push(t.cancel_at, CANCEL, t)
        self._offer(at, t)

    def _requeue(self, at: float, t: SimTicket) -> None:
        self.waiting.append(t)
        self._offer(at, t)

    def _cancel(self, at: float, t: SimTicket) -> None:
        if t.status != TicketStatus.WAITING or t.no_show_count or t.transferred:
            return
        self.waiting.remove(t)
        t.status = TicketStatus.CANCELLED
        t.closed_reason = "citizen"
        self.ticket_event(at, EventKind.CANCELLED, t, detail={"reason": "citizen"})

    def _sign_out(self, at: float, w: _Window) -> None:
        w.signed_out = True
        w.state = "logged_out"
        self.window_event(at + self.u(30, 180), EventKind.WINDOW_SIGNED_OUT, w)

    def _call(self, at: float, w: _Window) -> None:
        w.pending = False
        if w.state != "idle" or w.signed_out:
            return
        if self.ended:
            self._sign_out(at, w)
            return
        if w.lunch_due and at < self.closes:
            w.state = "paused"
            self.window_event(at, EventKind.WINDOW_PAUSED, w, {"reason": "午休"})
            self.push(at + w.lunch_s, RESUME, w)
            return
        candidates = [t for t in self.waiting if self._eligible(w, t)]
        if not candidates:
            if at >= self.closes and self.arrivals_left == 0:
                self._sign_out(at, w)
            return
        self._serve(at, w, min(candidates, key=SimTicket.key))

    def _serve(self, at: float, w: _Window, t: SimTicket) -> None:
        rng, p = self.rng, w.profile
        self.waiting.remove(t)
        wait = at - t.arrived_at
        t.status = TicketStatus.CALLED
        t.called_at = at
        t.window_id, t.staff_id, t.target_window_id = p.id, p.staff_id, None
        w.state = "serving"
        self.ticket_event(
            at,
            EventKind.CALLED,
            t,
            staff_id=p.staff_id,
            detail={"code": t.code, "window": p.number},
        )
        if t.no_show_count:
            absent = rng.random() < ABSENCE_AFTER_REQUEUE
        else:
            hours = min(wait / 3600.0, 1.0)
            absent = rng.random() < ABSENCE_BASE + ABSENCE_PER_HOUR_WAITED * hours
        last = at
        if absent:
            recalls = 1 + int(rng.random() < 0.4)
        else:
            recalls = int(rng.random() < PRESENT_RECALL_SHARE)
        for _ in range(recalls):
            last += self.u(25, 45)
            t.recall_count += 1
            self.ticket_event(
                last,
                EventKind.RECALLED,
                t,
                staff_id=p.staff_id,
                detail={"code": t.code, "window": p.number, "recall": t.recall_count},
            )
        if absent:
            self._no_show(last + self.u(20, 40), w, t)
        else:
            self._handle(last + self.u(15, 60), w, t)

    def _no_show(self, at: float, w: _Window, t: SimTicket) -> None:
        p = w.profile
        t.no_show_count += 1
        requeue = t.no_show_count <= self.layout.no_show_grace_recalls
        self.ticket_event(
            at,
            EventKind.NO_SHOW,
            t,
            staff_id=p.staff_id,
            detail={"code": t.code, "requeued": requeue},
        )
        if requeue:
            t.status = TicketStatus.WAITING
            t.rank_at = at
            t.window_id = t.staff_id = None
            self.ticket_event(at, EventKind.REQUEUED, t)
            self.push(at, REQUEUE, t)
        else:
            t.status = TicketStatus.NO_SHOW
        self.push(at, FREE, (w, None, self.u(3, 10)))

    def _handle(self, start: float, w: _Window, t: SimTicket) -> None:
        rng, p, item = self.rng, w.profile, t.item
        t.status = TicketStatus.SERVING
        t.started_at = start
        self.ticket_event(start, EventKind.STARTED, t, staff_id=p.staff_id)
        duration = item.median_minutes * 60.0 * math.exp(item.sigma * rng.standard_normal())
        duration = min(max(duration, 30.0), item.median_minutes * 60.0 * 6)
        target = self._transfer_target(w, t)
        if target is not None:
            self._transfer(start + min(duration, self.u(90, 300)), w, t, *target)
            return
        end = start + duration
        p_docs = 0.04 + 0.08 * min(item.median_minutes / 30.0, 1.0)
        draw = rng.random()
        outcome = (
            Outcome.NEEDS_DOCUMENTS
            if draw < p_docs
            else Outcome.REFERRED
            if draw < p_docs + REFERRED_SHARE
            else Outcome.DONE
        )
        t.status = TicketStatus.FINISHED
        t.finished_at = end
        t.outcome = outcome.value
        self.ticket_event(
            end, EventKind.FINISHED, t, staff_id=p.staff_id, detail={"outcome": outcome.value}
        )
        assert t.called_at is not None
        self.push(end, FREE, (w, (item.id, end - t.called_at), self.u(10, 45)))

    def _transfer_target(
        self, w: _Window, t: SimTicket
    ) -> tuple[ItemProfile, _Window | None] | None:
        if t.transferred:
            return None
        rng, item = self.rng, t.item
        if w.profile.is_general:
            specialists = [
                o
                for o in self.windows
                if not o.profile.is_general and not o.signed_out and item.id in o.profile.item_ids
            ]
            if specialists and rng.random() < GENERAL_TRANSFER_SHARE:
                return item, specialists[int(rng.integers(len(specialists)))]
            return None
        siblings = [i for i in self.by_department[item.department] if i.id != item.id]
        if siblings and rng.random() < SPECIALISED_TRANSFER_SHARE:
            return siblings[int(rng.integers(len(siblings)))], None
        return None

    def _transfer(
        self, at: float, w: _Window, t: SimTicket, to_item: ItemProfile, target: _Window | None
    ) -> None:
        p = w.profile
        from_item = t.item
        t.item = to_item
        t.transferred = True
        t.status = TicketStatus.WAITING
        t.target_window_id = target.profile.id if target else None
        t.window_id = t.staff_id = None
        t.called_at = t.started_at = None
        t.rank_at = t.arrived_at - 60.0 * float(self.layout.priority_rule.get(t.priority or "", 0))
        self.ticket_event(
            at,
            EventKind.TRANSFERRED,
            t,
            window_id=p.id,
            staff_id=p.staff_id,
            detail={
                "code": t.code,
                "from_item_id": from_item.id,
                "to_item_id": to_item.id,
                "from_window": p.number,
                "to_window": target.profile.number if target else None,
            },
        )
        self.push(at, REQUEUE, t)
        self.push(at, FREE, (w, None, self.u(10, 30)))

    def _free(self, at: float, payload: tuple[_Window, tuple[int, float] | None, float]) -> None:
        w, occupancy, gap = payload
        w.state = "idle"
        if occupancy is not None:
            self.cross.occupancies.append(occupancy)
        w.pending = True
        self.push(at + gap, CALL, w)

    def _lunch(self, at: float, w: _Window) -> None:
        w.lunch_due = True
        if w.state == "idle" and not w.pending:
            w.pending = True
            self.push(at, CALL, w)

    def _resume(self, at: float, w: _Window) -> None:
        if w.signed_out:
            return
        w.lunch_due = False
        w.state = "idle"
        self.window_event(at, EventKind.WINDOW_RESUMED, w)
        w.pending = True
        self.push(at + self.u(5, 20), CALL, w)

    def _close(self, at: float, _obj: None) -> None:
        for w in self.windows:
            if w.state == "idle" and not w.pending:
                w.pending = True
                self.push(at + self.u(0, 60), CALL, w)

    def _end(self, at: float, _obj: None) -> None:
        """Windows stop calling; the manager closes the day once the last one is done."""
        self.ended = True
        for w in self.windows:
            if w.state in ("idle", "paused") and not w.pending and not w.signed_out:
                self._sign_out(at, w)

    def _close_day(self, at: float) -> None:
        for t in sorted(self.waiting, key=SimTicket.key):
            t.status = TicketStatus.CLOSED
            t.closed_reason = CLOSE_REASON
            self.ticket_event(
                at,
                EventKind.CLOSED,
                t,
                staff_id=self.layout.manager_id,
                detail={"reason": CLOSE_REASON},
            )
        self.waiting.clear()

    def wait_stats(self) -> tuple[float, int]:
        called = [t for t in self.tickets if t.called_at is not None]
        return (
            sum(max(t.called_at - t.arrived_at, 0.0) for t in called if t.called_at),
            sum(1 for t in called if t.no_show_count > 0),
        )
