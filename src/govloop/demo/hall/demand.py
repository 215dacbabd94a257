"""Demand of the simulated demo hall: its layout, daily and intraday arrivals, bookings.

Pure computation, no database. Used by :mod:`govloop.demo.hall.day` (one day's queue)
and :mod:`govloop.demo.hall.history` (the whole history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np

from govloop.core import calendar
from govloop.core.clock import local_tz
from govloop.demo.people import GIVEN, MOBILE_PREFIXES, SURNAMES
from govloop.hall.models import AppointmentStatus, PriorityCategory
from govloop.org.models import DEFAULT_PRIORITY_RULE

# --- model parameters ----------------------------------------------------------------

# Relative arrival intensity per quarter hour from 9:00 to 17:00 (32 bins): doors-open
# rush, morning peak 9:30–11:00, lunch dip 12:00–13:30, afternoon peak 14:30–16:00.
# fmt: off
INTRADAY_PROFILE = np.array([
    1.30, 1.20,                          # 9:00–9:30
    1.70, 1.80, 1.80, 1.75, 1.65, 1.55,  # 9:30–11:00
    1.20, 1.05, 0.80, 0.65,              # 11:00–12:00
    0.40, 0.35, 0.35, 0.40, 0.50, 0.60,  # 12:00–13:30
    0.80, 0.90, 1.00, 1.10,              # 13:30–14:30
    1.35, 1.45, 1.50, 1.45, 1.35, 1.25,  # 14:30–16:00
    1.00, 0.80, 0.60, 0.35,              # 16:00–17:00
])
# fmt: on
WEEKDAY_FACTOR = (1.22, 1.05, 1.0, 0.97, 0.92, 0.8, 0.8)  # Monday … Sunday (调休 weekends)
DAY_NOISE_SIGMA = 0.07
MAX_DAY_FACTOR = 1.5
POST_HOLIDAY_FACTOR = 1.35  # first working day after a break of 3+ days
POST_HOLIDAY_SECOND_FACTOR = 1.12
PRE_HOLIDAY_FACTOR = 1.15  # last working day before a break of 3+ days
MONTH_END_FACTOR = 1.12  # last three working days of a month
TAX_PERIOD_FACTOR = 1.25  # 税务 items, first 15 days of a month (申报期)
TAX_DEPARTMENT = "SW"
# Irregular surges the calendar cannot foresee (a certificate campaign, a policy deadline):
# about one working day in 30, one department's walk-ins at this factor. They give the
# anomaly watch something real to find in the demo.
SURGE_DEPARTMENTS = ("GA", "RS", "BDC")
SURGE_FACTOR = 1.9
SURGE_EVERY_DAYS = 31

WALK_IN_SHARE = 0.90  # of an item's daily volume; the rest comes through appointments
BOOKING_SHARE = 0.115
PRIORITY_SHARE = 0.05
PRIORITY_MIX = {
    PriorityCategory.ELDERLY: 0.62,
    PriorityCategory.DISABLED: 0.14,
    PriorityCategory.PREGNANT: 0.12,
    PriorityCategory.MILITARY: 0.12,
}
MOBILE_SHARE = 0.22  # 手机取号; the rest take a ticket at the kiosk
CANCEL_SHARE = 0.015  # walk-ins who give up after a while and cancel their ticket

APPOINTMENT_FATES = {"show": 0.80, "late": 0.06, "missed": 0.09, "cancelled": 0.05}
SLOT_POPULARITY = (0.22, 0.22, 0.14, 0.12, 0.16, 0.14)


# --- inputs --------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemProfile:
    id: int
    code: str
    department: str
    prefix: str
    promised_minutes: int
    median_minutes: float  # lognormal handling time: median …
    sigma: float  # … and shape
    daily_volume: float  # tickets on an ordinary Wednesday


@dataclass(frozen=True)
class WindowProfile:
    id: int
    number: int
    staff_id: int
    item_ids: frozenset[int]
    is_general: bool

    def serves(self, item_id: int) -> bool:
        return self.is_general or item_id in self.item_ids


@dataclass(frozen=True)
class SlotQuota:
    item_id: int
    start: time
    end: time
    capacity: int


@dataclass(frozen=True)
class HallLayout:
    hall_id: int
    items: tuple[ItemProfile, ...]
    windows: tuple[WindowProfile, ...]
    quotas: tuple[SlotQuota, ...]
    manager_id: int
    opens_at: time = time(9, 0)
    closes_at: time = time(17, 0)
    priority_rule: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PRIORITY_RULE))
    no_show_grace_recalls: int = 1
    appointment_late_minutes: int = 15


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def local_epoch(day: date, at: time) -> float:
    return datetime.combine(day, at, tzinfo=local_tz()).timestamp()


# --- day-level demand ----------------------------------------------------------------


def _prev_workday(day: date) -> date:
    d = day - timedelta(days=1)
    while not calendar.is_workday(d):
        d -= timedelta(days=1)
    return d


def day_factor(day: date) -> float:
    """Expected demand of a working day relative to an ordinary Wednesday."""
    factor = WEEKDAY_FACTOR[day.weekday()]
    prev = _prev_workday(day)
    if (day - prev).days >= 4:  # a break longer than a weekend just ended
        factor = max(factor, POST_HOLIDAY_FACTOR)
    elif (prev - _prev_workday(prev)).days >= 4:
        factor *= POST_HOLIDAY_SECOND_FACTOR
    if (calendar.next_workday(day) - day).days >= 4:
        factor *= PRE_HOLIDAY_FACTOR
    month_end = date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1)
    remaining = sum(
        1 for k in range((month_end - day).days + 1) if calendar.is_workday(day + timedelta(k))
    )
    if remaining <= 3:
        factor *= MONTH_END_FACTOR
    return min(factor, MAX_DAY_FACTOR)


def surge_department(day: date) -> str | None:
    """The department with an irregular surge on ``day``, if any (deterministic)."""
    if day.toordinal() % SURGE_EVERY_DAYS != 0:
        return None
    return SURGE_DEPARTMENTS[(day.toordinal() // SURGE_EVERY_DAYS) % len(SURGE_DEPARTMENTS)]


def arrival_seconds(rng: np.random.Generator, count: int, span_s: float) -> np.ndarray:
    """Offsets from opening of ``count`` arrivals drawn from the intraday profile."""
    probs = INTRADAY_PROFILE / INTRADAY_PROFILE.sum()
    bins = rng.choice(len(probs), size=count, p=probs)
    width = span_s / len(probs)
    return np.asarray((bins + rng.random(count)) * width, dtype=float)


# --- appointments ----------------------------------------------------------------------


@dataclass
class Booking:
    item_id: int
    day: date
    slot_start: time
    slot_end: time
    booked_at: float
    fate: str  # show | late | missed | cancelled | pending (a future day)
    code: str = ""
    citizen_name: str = ""
    citizen_phone: str = ""
    id: int = 0
    arrive_at: float | None = None
    cancel_at: float | None = None
    status: str = AppointmentStatus.BOOKED
    checked_in_at: float | None = None
    ticket_id: int | None = None

    def row(self, hall_id: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "hall_id": hall_id,
            "item_id": self.item_id,
            "service_date": self.day,
            "slot_start": self.slot_start,
            "slot_end": self.slot_end,
            "code": self.code,
            "citizen_name": self.citizen_name,
            "citizen_phone": self.citizen_phone,
            "status": self.status,
            "booked_at": to_datetime(self.booked_at),
            "checked_in_at": to_datetime(self.checked_in_at) if self.checked_in_at else None,
            "ticket_id": self.ticket_id,
        }


def _new_citizen(rng: np.random.Generator) -> tuple[str, str]:
    name = SURNAMES[rng.integers(len(SURNAMES))] + "".join(
        GIVEN[rng.integers(len(GIVEN))] for _ in range(1 + int(rng.random() < 0.7))
    )
    phone = MOBILE_PREFIXES[rng.integers(len(MOBILE_PREFIXES))] + f"{rng.integers(10**8):08d}"
    return name, phone


# Citizens come back: a quarter of the bookings are by people from a fixed pool of regulars,
# so frequent visitors and repeat visits for one matter (重复跑) exist in the demo data.
_REGULARS = [_new_citizen(np.random.default_rng(2026 + i)) for i in range(300)]
RETURNING_SHARE = 0.25


def _citizen(rng: np.random.Generator, returning: np.random.Generator) -> tuple[str, str]:
    # the main generator draws as it always did, so the rest of the history is unchanged;
    # whether this is a regular comes from a generator of its own
    citizen = _new_citizen(rng)
    if returning.random() < RETURNING_SHARE:
        return _REGULARS[int(returning.integers(len(_REGULARS)))]
    return citizen


def plan_bookings(
    layout: HallLayout,
    day: date,
    rng: np.random.Generator,
    *,
    fill: float = 1.0,
    booked_before: float | None = None,
) -> list[Booking]:
    """Bookings for one day within the slot quotas.

    Past days get a fate (show, late, missed, cancelled); future days (``booked_before``
    given: the present moment) stay booked.
    """
    factor = day_factor(day)
    returning = np.random.default_rng(day.toordinal())
    by_item: dict[int, list[SlotQuota]] = {}
    for quota in layout.quotas:
        by_item.setdefault(quota.item_id, []).append(quota)
    fates = list(APPOINTMENT_FATES)
    fate_p = np.array(list(APPOINTMENT_FATES.values()))
    out: list[Booking] = []
    for item in layout.items:
        quotas = sorted(by_item.get(item.id, []), key=lambda q: q.start)
        if not quotas:
            continue
        wanted = rng.poisson(item.daily_volume * BOOKING_SHARE * factor * fill)
        weights = np.array(
            [SLOT_POPULARITY[i % len(SLOT_POPULARITY)] for i in range(len(quotas))], dtype=float
        )
        taken = [0] * len(quotas)
        for slot_index in rng.choice(len(quotas), size=wanted, p=weights / weights.sum()):
            quota = quotas[int(slot_index)]
            if taken[slot_index] >= quota.capacity:
                continue  # slot full: the citizen came without an appointment instead
            taken[slot_index] += 1
            start = local_epoch(day, quota.start)
            if booked_before is None:
                booked_at = start - rng.uniform(2 * 3600, 7 * 86400)
                fate = fates[int(rng.choice(len(fates), p=fate_p))]
            else:
                booked_at = booked_before - rng.uniform(1800, 6 * 86400)
                fate = "pending"
            booking = Booking(item.id, day, quota.start, quota.end, booked_at, fate)
            booking.citizen_name, booking.citizen_phone = _citizen(rng, returning)
            _place_arrival(layout, booking, rng)
            out.append(booking)
    return out


def _place_arrival(layout: HallLayout, booking: Booking, rng: np.random.Generator) -> None:
    day = booking.day
    opens, closes = local_epoch(day, layout.opens_at), local_epoch(day, layout.closes_at)
    start, end = local_epoch(day, booking.slot_start), local_epoch(day, booking.slot_end)
    if booking.fate == "show":
        at = start + rng.uniform(-20 * 60, max(end - start - 5 * 60, 60))
        booking.arrive_at = min(max(at, opens + rng.uniform(0, 120)), closes - 60)
    elif booking.fate == "late":
        at = end + layout.appointment_late_minutes * 60 + rng.uniform(60, 35 * 60)
        if at >= closes - 60:
            booking.fate = "missed"
        else:
            booking.arrive_at = at
    elif booking.fate == "cancelled":
        booking.cancel_at = booking.booked_at + rng.uniform(0.2, 0.9) * (start - booking.booked_at)


def appointment_code(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        code = f"{int(rng.integers(0, 2**32)):08X}"
        if code not in taken:
            taken.add(code)
            return code
