"""Whole simulated days in a real hall: SimPy decides when citizens arrive and when clerks
finish; every state change goes through the hall's services (the functions the API calls)
on a real database, with the injectable clock set to the simulated moment first.

What the estimator may know is what the database holds: tickets, windows and events up to
now. The simulation's own knowledge (the handling time a clerk will take, whether a citizen
will be there when called, who arrives later) stays in this module; the handling time is
drawn only when service starts and reaches the database only as the finish event.

Per ticket the simulation keeps the shown estimate and range (stored on the ticket when it
was issued), the queue-length × mean-handling baseline on the same inputs, the delay of the
last ticket of the same item to enter service (LES, computed from past calls only), the
moment it was first called and whether it was served.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import numpy as np
import simpy
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from govloop.bench.eta.scenario import Appointments, Scenario
from govloop.core import calendar
from govloop.core.auth import Role
from govloop.core.clock import FrozenClock, local_tz
from govloop.core.errors import RuleViolation
from govloop.core.models import User
from govloop.hall import appointments as hall_appointments
from govloop.hall import service as hall_service
from govloop.hall import waits as hall_waits
from govloop.hall import windows as hall_windows
from govloop.hall.estimates import naive_estimate
from govloop.hall.models import AppointmentQuota, ServiceItem, Window, window_items
from govloop.org import hours as org_hours
from govloop.org import service as org_service
from govloop.org.models import DEFAULT_PRIORITY_RULE, Department, Hall

HALL_CODE = "ETA"
CITIZEN_CATEGORIES = ("elderly", "disabled", "pregnant", "military")
CATEGORY_WEIGHTS = (0.6, 0.2, 0.12, 0.08)
NO_LOGIN = "!bench-eta"  # not an argon2 hash: nobody can sign in as a bench clerk
T = TypeVar("T")
Process = Generator[simpy.Event, Any, None]


@dataclass
class TicketRecord:
    ticket_id: int
    day: int  # index of the simulated day, warm-up days included
    scored: bool
    item: str
    kind: str  # regular, priority, appointment (on time), late_appointment
    issued_s: float  # seconds since local midnight
    eta: float | None
    low: float | None
    high: float | None
    baseline: float | None
    les: float
    first_call_s: float | None = None
    calls: int = 0
    served: bool = False
    occupied_s: float = 0.0  # window time this ticket took, all its calls

    @property
    def waited(self) -> float | None:
        return None if self.first_call_s is None else self.first_call_s - self.issued_s


@dataclass
class WindowRecord:
    number: int
    items: frozenset[str]
    speed: float
    user_id: int
    busy: list[tuple[float, float]] = field(default_factory=list)
    paused: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class DayRecord:
    index: int
    day: date
    scored: bool
    windows: list[WindowRecord]
    periods: list[tuple[float, float]]
    walk_ins: int
    bookings: int
    refused: int = 0
    left_waiting: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class World:
    """What seeding created: the hall and one clerk per window."""

    windows: list[WindowRecord]
    items: dict[str, frozenset[int]]  # item code → window numbers that serve it


def seed_world(engine: Engine, scenario: Scenario) -> World:
    """The scenario's hall, items, windows (each signed in by its clerk) and slots."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        dept = Department(code="ETA-BENCH", name="等候估计基准部门")
        session.add(dept)
        rule = {**DEFAULT_PRIORITY_RULE, **(scenario.priority_rule or {})}
        hall = Hall(
            code=HALL_CODE,
            name=f"等候估计基准大厅 {scenario.name}",
            enforce_hours=True,
            priority_rule=rule,
            no_show_grace_recalls=scenario.no_show_grace_recalls,
        )
        org_hours.set_hours(
            hall, [org_hours.Period(p.start, p.end) for p in scenario.periods], weekend_days=[]
        )
        session.add(hall)
        session.flush()
        items = {}
        for spec in scenario.items:
            item = ServiceItem(
                code=spec.code,
                name=spec.name or spec.code,
                department_id=dept.id,
                ticket_prefix=spec.prefix,
                promised_minutes=spec.promised_minutes or max(round(spec.handling_minutes), 1),
            )
            session.add(item)
            items[spec.code] = item
        session.flush()
        records: list[WindowRecord] = []
        number = 0
        for group in scenario.windows:
            for speed in group.speeds():
                number += 1
                window = Window(
                    hall_id=hall.id,
                    number=number,
                    name=f"{number}号窗口",
                    is_general=group.general,
                )
                clerk = User(
                    username=f"eta-clerk-{number}",
                    display_name=f"窗口{number}",
                    password_hash=NO_LOGIN,
                    role=Role.WINDOW_STAFF.value,
                )
                session.add_all([window, clerk])
                session.flush()
                for code in group.items:
                    session.execute(
                        insert(window_items).values(window_id=window.id, item_id=items[code].id)
                    )
                hall_windows.sign_in(session=session, hall=hall, window_number=number, actor=clerk)
                served = frozenset(items) if group.general else frozenset(group.items)
                records.append(WindowRecord(number, served, speed, clerk.id))
        if scenario.appointments is not None:
            for slot_start, slot_end in appointment_slots(scenario):
                for code in scenario.appointments.items:
                    session.add(
                        AppointmentQuota(
                            hall_id=hall.id,
                            item_id=items[code].id,
                            weekday=None,
                            slot_start=slot_start,
                            slot_end=slot_end,
                            capacity=scenario.appointments.per_slot,
                        )
                    )
    by_item = {code: frozenset(w.number for w in records if code in w.items) for code in items}
    return World(windows=records, items=by_item)


def appointment_slots(scenario: Scenario) -> list[tuple[time, time]]:
    assert scenario.appointments is not None
    length = scenario.appointments.slot_minutes * 60
    slots = []
    for period in scenario.periods:
        start = period.start_s
        while start + length <= period.end_s:
            slots.append((_clock(start), _clock(start + length)))
            start += length
    return slots


def _clock(seconds: float) -> time:
    whole = int(seconds)
    return time(whole // 3600, (whole % 3600) // 60, whole % 60)


def _seconds(moment: time) -> float:
    return moment.hour * 3600.0 + moment.minute * 60.0 + moment.second


def service_days(scenario: Scenario) -> list[date]:
    """Working days from the scenario's start date, warm-up days first."""
    days: list[date] = []
    day = scenario.start_date
    while len(days) < scenario.warmup_days + scenario.days:
        if calendar.is_workday(day):
            days.append(day)
        day += timedelta(days=1)
    return days


HANDLING_CAP = 8.0  # × the mean: a case that long goes to the back office, not on for hours


def lognormal(rng: np.random.Generator, mean: float, cv: float) -> float:
    """A log-normal handling time with this mean and coefficient of variation, cut at
    ``HANDLING_CAP`` × the mean (with CV 1.2 one draw in 260 is cut)."""
    sigma2 = math.log1p(cv * cv)
    value = float(rng.lognormal(math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)))
    return min(value, HANDLING_CAP * mean)


@dataclass
class Booking:
    code: str
    item: str
    arrive_s: float | None  # None: never comes
    late: bool


class Rngs:
    """Independent streams, so the day's arrivals do not depend on what clerks drew."""

    def __init__(self, seed: int, day: int) -> None:
        streams = np.random.SeedSequence([seed, day]).spawn(5)
        self.arrivals, self.handling, self.citizens, self.clerks, self.pauses = (
            np.random.default_rng(s) for s in streams
        )


class DaySimulation:
    def __init__(
        self,
        *,
        engine: Engine,
        scenario: Scenario,
        world: World,
        clock: FrozenClock,
        day: date,
        index: int,
        seed: int,
        records: dict[int, TicketRecord],
    ) -> None:
        self.engine = engine
        self.scenario = scenario
        self.world = world
        self.clock = clock
        self.day = day
        self.index = index
        self.scored = index >= scenario.warmup_days
        self.rng = Rngs(seed, index)
        self.records = records
        self.items = {i.code: i for i in scenario.items}
        self.periods = [(p.start_s, p.end_s) for p in scenario.periods]
        self.midnight = datetime.combine(day, time(0), tzinfo=local_tz()).astimezone(UTC)
        self.env = simpy.Environment(initial_time=self.periods[0][0] - 3600.0)
        self.windows = [WindowRecord(w.number, w.items, w.speed, w.user_id) for w in world.windows]
        self.wake: dict[int, simpy.Event] = {}
        self.waiting: dict[int, str] = {}  # ticket id → item code, as the display shows
        self.holding: set[int] = set()  # windows calling or serving a ticket
        self.les: dict[str, float] = {}  # item → wait of its last ticket to enter service
        self.arrivals_left = 0
        self.log = DayRecord(
            index, day, self.scored, self.windows, self.periods, walk_ins=0, bookings=0
        )

    # --- the database, at the simulated moment ---------------------------------------

    def tx(self, work: Callable[[Session, Hall], T]) -> T:
        self.clock.current = self.midnight + timedelta(seconds=self.env.now)
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            hall = org_service.get_hall(session=session, code=HALL_CODE)
            return work(session, hall)

    def clerk(self, session: Session, window: WindowRecord) -> User:
        user = session.get(User, window.user_id)
        assert user is not None
        return user

    # --- the day -----------------------------------------------------------------------

    def run(self) -> DayRecord:
        walk_ins = self.walk_ins()
        bookings = self.book() if self.scenario.appointments is not None else []
        arriving = [b for b in bookings if b.arrive_s is not None]
        self.arrivals_left = len(walk_ins) + len(arriving)
        self.log.walk_ins = len(walk_ins)
        self.log.bookings = len(bookings)
        self.env.process(self.walk_in_process(walk_ins))
        self.env.process(self.check_in_process(arriving))
        for window in self.windows:
            self.env.process(self.window_process(window))
        # Serving goes on after closing until the queue is empty; a stuck day still ends.
        self.env.run(until=self.periods[-1][1] + 8 * 3600.0)
        self.log.left_waiting = len(self.waiting)
        if self.holding:
            self.log.errors.append(f"windows still serving at the end: {sorted(self.holding)}")
        return self.log

    def walk_ins(self) -> list[tuple[float, str, str | None]]:
        rng = self.rng.arrivals
        factor = float(rng.lognormal(0.0, self.scenario.day_volume_sd))
        codes = [i.code for i in self.scenario.items]
        shares = np.array([i.share for i in self.scenario.items], dtype=float)
        shares /= shares.sum()
        out: list[tuple[float, str, str | None]] = []
        for block in self.scenario.arrivals:
            span = block.period.end_s - block.period.start_s
            count = int(rng.poisson(block.per_hour * factor * span / 3600.0))
            for at in np.sort(rng.uniform(block.period.start_s, block.period.end_s, count)):
                item = codes[int(rng.choice(len(codes), p=shares))]
                priority = None
                if rng.random() < self.scenario.citizens.priority_share:
                    priority = CITIZEN_CATEGORIES[
                        int(rng.choice(len(CITIZEN_CATEGORIES), p=CATEGORY_WEIGHTS))
                    ]
                out.append((float(at), item, priority))
        out.sort(key=lambda a: a[0])
        return out

    def book(self) -> list[Booking]:
        """Bookings for today, made before opening through the booking service."""
        spec = self.scenario.appointments
        assert spec is not None
        rng = self.rng.arrivals
        wanted: list[tuple[str, time, time]] = []
        for slot_start, slot_end in appointment_slots(self.scenario):
            for code in spec.items:
                for _ in range(int(rng.binomial(spec.per_slot, spec.fill))):
                    wanted.append((code, slot_start, slot_end))

        def make(session: Session, hall: Hall) -> list[str]:
            codes = []
            for n, (code, slot_start, _end) in enumerate(wanted):
                appointment = hall_appointments.book(
                    session=session,
                    hall=hall,
                    item=hall_service.get_item(session=session, code=code),
                    day=self.day,
                    slot_start=slot_start,
                    citizen_name=f"市民{n + 1}",
                    citizen_phone=f"138{self.index:03d}{n:05d}",
                )
                codes.append(appointment.code)
            return codes

        codes = self.tx(make)
        return [
            self.booking_fate(spec, code, item, start, end)
            for code, (item, start, end) in zip(codes, wanted, strict=True)
        ]

    def booking_fate(
        self, spec: Appointments, code: str, item: str, start: time, end: time
    ) -> Booking:
        rng = self.rng.arrivals
        u = rng.random()
        if u < spec.missed_share:
            return Booking(code, item, None, late=False)
        closes = self.periods[-1][1]
        if u < spec.missed_share + spec.late_share:
            grace = 60.0 * 15  # the hall's default appointment_late_minutes
            at = _seconds(end) + grace + float(rng.uniform(60.0, 1800.0))
            open_then = any(a <= at < b for a, b in self.periods)
            return Booking(code, item, at if open_then and at < closes else None, late=True)
        at = _seconds(start) + float(rng.uniform(-20 * 60.0, (_seconds(end) - _seconds(start)) / 2))
        return Booking(code, item, at, late=False)

    # --- citizens ------------------------------------------------------------------------

    def walk_in_process(self, arrivals: list[tuple[float, str, str | None]]) -> Process:
        for at, item, priority in arrivals:
            yield self.env.timeout(max(at - self.env.now, 0.0))
            self.issue(item, "priority" if priority else "regular", priority=priority)
            self.arrivals_left -= 1

    def check_in_process(self, bookings: list[Booking]) -> Process:
        for booking in sorted(bookings, key=lambda b: b.arrive_s or 0.0):
            assert booking.arrive_s is not None
            yield self.env.timeout(max(booking.arrive_s - self.env.now, 0.0))
            self.issue(
                booking.item,
                "late_appointment" if booking.late else "appointment",
                appointment=booking.code,
            )
            self.arrivals_left -= 1

    def issue(
        self, item: str, kind: str, *, priority: str | None = None, appointment: str | None = None
    ) -> None:
        def work(session: Session, hall: Hall) -> tuple[int, float | None, Any, Any, Any]:
            if appointment is not None:
                _a, ticket, _late = hall_appointments.check_in(
                    session=session, hall=hall, code=appointment
                )
            else:
                ticket = hall_service.issue_ticket(
                    session=session,
                    hall=hall,
                    item=hall_service.get_item(session=session, code=item),
                    priority=priority,
                    channel="kiosk",
                )
            # What the kiosk printed is stored on the ticket; the baseline's inputs are the
            # queue-length predictor's, taken at the same moment.
            inputs = hall_waits.queue_inputs(session=session, ticket=ticket)
            baseline = naive_estimate(inputs).expected_s
            return (
                ticket.id,
                baseline,
                ticket.eta_seconds,
                ticket.eta_low_seconds,
                (ticket.eta_high_seconds),
            )

        try:
            ticket_id, baseline, eta, low, high = self.tx(work)
        except RuleViolation as exc:
            self.log.refused += 1
            self.log.errors.append(f"issue {item}: {exc.code}")
            return
        self.records[ticket_id] = TicketRecord(
            ticket_id=ticket_id,
            day=self.index,
            scored=self.scored,
            item=item,
            kind=kind,
            issued_s=self.env.now,
            eta=eta,
            low=low,
            high=high,
            baseline=baseline,
            les=self.les.get(item, 0.0),
        )
        self.waiting[ticket_id] = item
        self.wake_for(item)

    def wake_for(self, item: str) -> None:
        for number in self.world.items[item]:
            event = self.wake.pop(number, None)
            if event is not None and not event.triggered:
                event.succeed()

    # --- clerks ------------------------------------------------------------------------

    def has_work(self, window: WindowRecord) -> bool:
        return any(item in window.items for item in self.waiting.values())

    def day_done(self) -> bool:
        return self.arrivals_left <= 0 and not self.waiting and not self.holding

    def pause_times(self) -> list[float]:
        spec = self.scenario.pauses
        times: list[float] = []
        if spec.per_hour <= 0:
            return times
        for start, end in self.periods:
            at = start
            while True:
                at += float(self.rng.pauses.exponential(3600.0 / spec.per_hour))
                if at >= end:
                    break
                times.append(at)
        return times

    def window_process(self, window: WindowRecord) -> Process:
        env = self.env
        due = self.pause_times()
        lunch_from: float | None = None
        for n, (start, end) in enumerate(self.periods):
            last = n == len(self.periods) - 1
            if env.now < start:
                yield env.timeout(start - env.now)
            if lunch_from is not None:
                self.tx(
                    lambda s, h: hall_windows.resume(
                        session=s, hall=h, window_number=window.number, actor=self.clerk(s, window)
                    )
                )
                window.paused.append((lunch_from, env.now))
                lunch_from = None
            while due and due[0] < start:
                due.pop(0)
            while True:
                if due and due[0] <= env.now < end:
                    due.pop(0)
                    yield from self.pause(window)
                    continue
                if not self.has_work(window):
                    if env.now >= end and (not last or self.day_done()):
                        break
                    horizon = end if env.now < end else env.now + 60.0
                    if due and due[0] < horizon:
                        horizon = due[0]
                    self.wake[window.number] = wake = env.event()
                    yield wake | env.timeout(max(horizon - env.now, 1.0))
                    continue
                gap = self.rng.clerks.uniform(*self.scenario.citizens.call_gap_seconds)
                yield env.timeout(float(gap))
                if self.has_work(window):
                    yield from self.serve_one(window)
            if not last and self.scenario.pauses.lunch and env.now < self.periods[n + 1][0]:
                self.tx(
                    lambda s, h: hall_windows.pause(
                        session=s,
                        hall=h,
                        window_number=window.number,
                        actor=self.clerk(s, window),
                        reason="lunch",
                    )
                )
                lunch_from = env.now

    def pause(self, window: WindowRecord) -> Process:
        low, high = self.scenario.pauses.minutes
        self.tx(
            lambda s, h: hall_windows.pause(
                session=s,
                hall=h,
                window_number=window.number,
                actor=self.clerk(s, window),
                reason="break",
            )
        )
        began = self.env.now
        yield self.env.timeout(60.0 * float(self.rng.pauses.uniform(low, high)))
        self.tx(
            lambda s, h: hall_windows.resume(
                session=s, hall=h, window_number=window.number, actor=self.clerk(s, window)
            )
        )
        window.paused.append((began, self.env.now))

    def serve_one(self, window: WindowRecord) -> Process:
        env, citizens = self.env, self.scenario.citizens

        def call(session: Session, hall: Hall) -> int:
            ticket = hall_windows.call_next(
                session=session,
                hall=hall,
                window_number=window.number,
                actor=self.clerk(session, window),
            )
            return ticket.id

        try:
            ticket_id = self.tx(call)
        except RuleViolation as exc:  # the display and the database disagree: a bench bug
            self.log.errors.append(f"call {window.number}: {exc.code}")
            yield env.timeout(30.0)
            return
        record = self.records[ticket_id]
        self.waiting.pop(ticket_id, None)
        self.holding.add(window.number)
        began = env.now
        if record.first_call_s is None:
            record.first_call_s = env.now
        waited_h = (env.now - record.issued_s) / 3600.0
        if record.calls:
            absent = citizens.absent_after_requeue
        else:
            absent = min(0.95, citizens.absent_base + citizens.absent_per_hour * waited_h)
        record.calls += 1
        actor = lambda s: self.clerk(s, window)  # noqa: E731
        if self.rng.citizens.random() < absent:
            yield env.timeout(citizens.call_timeout_seconds)
            requeued = self.tx(
                lambda s, h: (
                    hall_windows.mark_no_show(
                        session=s, hall=h, window_number=window.number, actor=actor(s)
                    ).status
                    == "waiting"
                )
            )
            if requeued:
                self.waiting[ticket_id] = record.item
                self.wake_for(record.item)
        else:
            yield env.timeout(float(self.rng.citizens.uniform(*citizens.walk_up_seconds)))
            self.tx(
                lambda s, h: hall_windows.start_service(
                    session=s, hall=h, window_number=window.number, actor=actor(s)
                )
            )
            assert record.first_call_s is not None
            self.les[record.item] = record.first_call_s - record.issued_s
            item = self.items[record.item]
            handling = lognormal(
                self.rng.handling, 60.0 * item.handling_minutes * window.speed, item.handling_cv
            )
            yield env.timeout(handling)
            self.tx(
                lambda s, h: hall_windows.finish_service(
                    session=s, hall=h, window_number=window.number, actor=actor(s)
                )
            )
            record.served = True
        self.holding.discard(window.number)
        record.occupied_s += env.now - began
        window.busy.append((began, env.now))


def simulate(
    engine: Engine,
    scenario: Scenario,
    *,
    seed: int,
    clock: FrozenClock,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[int, TicketRecord], list[DayRecord]]:
    """Seed the hall and run the scenario's days (warm-up first) in virtual time."""
    world = seed_world(engine, scenario)
    records: dict[int, TicketRecord] = {}
    days: list[DayRecord] = []
    for index, day in enumerate(service_days(scenario)):
        sim = DaySimulation(
            engine=engine,
            scenario=scenario,
            world=world,
            clock=clock,
            day=day,
            index=index,
            seed=seed,
            records=records,
        )
        days.append(sim.run())
        if progress is not None:
            done = sum(1 for r in records.values() if r.day == index)
            progress(f"{scenario.name}: day {index + 1} ({day}) {done} tickets")
    return records, days


def iter_scored(records: dict[int, TicketRecord]) -> Iterator[TicketRecord]:
    return (r for r in records.values() if r.scored)
