"""The demo hall: a realistic, self-consistent history, the live day and `govloop demo`."""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from govloop.app import create_app
from govloop.cli import app as cli_app
from govloop.core import auth, calendar
from govloop.core.clock import frozen, local_tz, to_local
from govloop.core.db import make_engine, set_engine, unit_of_work
from govloop.core.migrate import upgrade
from govloop.demo.devices import seed_demo as seed_devices
from govloop.demo.hall import seed as demo
from govloop.demo.hall.demand import HallLayout, ItemProfile, SlotQuota, WindowProfile
from govloop.demo.hall.history import simulate_history
from govloop.demo.hall.live import LiveDay, wrap_up
from govloop.hall import service
from govloop.hall import windows as hall_windows
from govloop.hall.models import (
    ACTIVE_STATUSES,
    Appointment,
    HallEvent,
    ServiceItem,
    Ticket,
    TicketCounter,
    Window,
)
from govloop.ingest.models import Device
from govloop.ratings.models import Rating, RatingEvent

# Tuesday 2026-10-13, 12:00 in Shanghai. The 10 days before it: National Day holidays
# (10-03 … 10-07), then Thu 10-08, Fri 10-09, the 调休 Saturday 10-10 and Mon 10-12.
TODAY_NOON = datetime(2026, 10, 13, 4, 0, tzinfo=UTC)
DAYS = 10
SEED = 7


@functools.cache
def _demo_hash() -> str:
    return auth.hash_password(demo.DEMO_PASSWORD)


@pytest.fixture
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash the one demo password once instead of fifteen times (argon2 is slow on purpose)."""
    digest = _demo_hash()
    monkeypatch.setattr(auth, "hash_password", lambda _password, **_: digest)


@pytest.fixture
def history(db, fast_passwords):
    with frozen(TODAY_NOON), unit_of_work() as s:
        world = demo.seed_catalogue(session=s)
        report = demo.generate_history(session=s, world=world, days=DAYS, seed=SEED)
    return report


def _load(model, *order):
    with unit_of_work(readonly=True) as s:
        return s.scalars(select(model).order_by(*order)).all()


def _local_day(moment: datetime) -> date:
    return to_local(moment).date()


def test_history_follows_the_working_day_calendar_and_demand_peaks(history):
    today = to_local(TODAY_NOON).date()
    window = [today - timedelta(days=k) for k in range(DAYS, 0, -1)]
    expected = {d for d in window if calendar.is_workday(d)}
    tickets = _load(Ticket, Ticket.id)
    per_day = Counter(t.service_date for t in tickets)
    assert set(per_day) == expected == set(history.days)
    assert date(2026, 10, 10) in per_day  # 调休: a working Saturday is open
    assert not any(date(2026, 10, d) in per_day for d in range(3, 8))  # 国庆 closed
    # The first day after the holiday is crowded; the working Saturday is quiet.
    assert per_day[date(2026, 10, 8)] > 1.3 * per_day[date(2026, 10, 10)]
    assert min(per_day.values()) > 150 and max(per_day.values()) < 700

    def arrivals(start: time, end: time) -> int:
        return sum(1 for t in tickets if start <= to_local(t.arrived_at).time() < end)

    morning_peak = arrivals(time(9, 30), time(11, 0))
    lunch = arrivals(time(12, 0), time(13, 30))
    afternoon_peak = arrivals(time(14, 30), time(16, 0))
    assert morning_peak > 2.5 * lunch
    assert afternoon_peak > 2 * lunch
    assert all(time(9, 0) <= to_local(t.issued_at).time() < time(17, 0) for t in tickets)


def _replay_tickets(events: list[HallEvent], window_ids: dict[int, int]) -> dict[int, dict]:
    """Rebuild every ticket from the event log alone, following the service's rules."""
    state: dict[int, dict] = {}
    for e in events:
        if e.ticket_id is None or not e.kind.startswith("ticket."):
            continue
        if e.kind == "ticket.issued":
            state[e.ticket_id] = {
                "code": e.detail["code"],
                "priority": e.detail["priority"],
                "channel": e.detail["channel"],
                "item_id": e.item_id,
                "appointment_id": e.appointment_id,
                "issued_at": e.at,
                "status": "waiting",
                "called_at": None,
                "started_at": None,
                "finished_at": None,
                "window_id": None,
                "staff_id": None,
                "target_window_id": None,
                "outcome": None,
                "recall_count": 0,
                "no_show_count": 0,
                "closed_reason": None,
            }
            continue
        t = state[e.ticket_id]
        assert e.item_id == t["item_id"] or e.kind == "ticket.transferred"
        if e.kind == "ticket.called":
            t.update(status="called", called_at=e.at, window_id=e.window_id)
            t.update(staff_id=e.staff_id, target_window_id=None)
            assert e.detail["window"] == window_ids[e.window_id]
        elif e.kind == "ticket.recalled":
            t["recall_count"] += 1
            assert e.detail["recall"] == t["recall_count"]
        elif e.kind == "ticket.started":
            assert t["status"] == "called" and e.window_id == t["window_id"]
            t.update(status="serving", started_at=e.at)
        elif e.kind == "ticket.finished":
            assert t["status"] == "serving"
            t.update(status="finished", finished_at=e.at, outcome=e.detail["outcome"])
        elif e.kind == "ticket.no_show":
            assert t["status"] == "called"
            t["no_show_count"] += 1
            t["status"] = "no_show"
        elif e.kind == "ticket.requeued":
            assert t["status"] == "no_show"
            t.update(status="waiting", window_id=None, staff_id=None)
        elif e.kind == "ticket.transferred":
            assert e.detail["from_item_id"] == t["item_id"]
            to_window = e.detail["to_window"]
            target = next((i for i, n in window_ids.items() if n == to_window), None)
            t.update(status="waiting", item_id=e.detail["to_item_id"], target_window_id=target)
            t.update(window_id=None, staff_id=None, called_at=None, started_at=None)
        elif e.kind == "ticket.cancelled":
            t.update(status="cancelled", closed_reason=e.detail["reason"])
        elif e.kind == "ticket.closed":
            assert t["status"] == "waiting"
            t.update(status="closed", closed_reason=e.detail["reason"])
        else:
            raise AssertionError(f"unexpected event kind {e.kind}")
    return state


def test_event_log_reproduces_tickets_appointments_and_windows(history):
    tickets = _load(Ticket, Ticket.id)
    events = _load(HallEvent, HallEvent.id)
    appointments = _load(Appointment, Appointment.id)
    window_ids = {w.id: w.number for w in _load(Window, Window.id)}
    assert len(events) == history.events and len(tickets) == history.tickets
    # Ids follow time, so "events after id N" reads the history in order.
    assert all(a.at <= b.at for a, b in itertools.pairwise(events))

    replayed = _replay_tickets(events, window_ids)
    assert set(replayed) == {t.id for t in tickets}
    fields = [k for k in next(iter(replayed.values())) if k != "code"]
    for t in tickets:
        r = replayed[t.id]
        assert r["code"] == t.code
        assert {k: r[k] for k in fields} == {k: getattr(t, k) for k in fields}, t.code
        assert t.arrived_at == t.issued_at
        assert t.status in {"finished", "no_show", "closed", "cancelled"}  # the day is over

    by_ticket = defaultdict(list)
    for e in events:
        if e.ticket_id:
            by_ticket[e.ticket_id].append(e)
    for t in tickets:
        if t.status == "finished":
            kinds = [e.kind for e in by_ticket[t.id]]
            assert kinds[0] == "ticket.issued" and kinds[-1] == "ticket.finished"
            assert {"ticket.called", "ticket.started"} <= set(kinds)
            assert t.issued_at <= t.called_at <= t.started_at <= t.finished_at

    # Appointments: booked once, then checked in (on time or late), missed or cancelled.
    appointment_events = defaultdict(list)
    for e in events:
        if e.kind.startswith("appointment."):
            appointment_events[e.appointment_id].append(e)
    ticket_by_id = {t.id: t for t in tickets}
    final = {
        "appointment.checked_in": "checked_in",
        "appointment.late": "checked_in",
        "appointment.missed": "missed",
        "appointment.cancelled": "cancelled",
    }
    for a in appointments:
        log = appointment_events[a.id]
        assert log[0].kind == "appointment.booked" and log[0].at == a.booked_at
        assert log[0].at < datetime.combine(a.service_date, a.slot_start, tzinfo=local_tz())
        assert (final[log[-1].kind] if len(log) > 1 else "booked") == a.status
        if a.status == "checked_in":
            ticket = ticket_by_id[a.ticket_id]
            assert ticket.appointment_id == a.id and log[-1].ticket_id == a.ticket_id
            assert log[-1].at == a.checked_in_at == ticket.issued_at
            late = log[-1].kind == "appointment.late"
            assert ticket.priority == (None if late else "appointment")

    # Every window that signed in signed out the same day; lunch pauses are resumed.
    per_window_day = Counter(
        (e.window_id, _local_day(e.at), e.kind) for e in events if e.kind.startswith("window.")
    )
    for (window_id, day, kind), count in per_window_day.items():
        pair = {
            "window.signed_in": "window.signed_out",
            "window.signed_out": "window.signed_in",
            "window.paused": "window.resumed",
            "window.resumed": "window.paused",
        }[kind]
        assert per_window_day[(window_id, day, pair)] == count


def test_ticket_codes_are_numbered_per_prefix_and_day_and_counters_match(history):
    tickets = _load(Ticket, Ticket.id)
    counters = _load(TicketCounter)
    numbers: dict[tuple[date, str], list[int]] = defaultdict(list)
    for t in sorted(tickets, key=lambda t: t.issued_at):
        numbers[(t.service_date, t.code[:1])].append(int(t.code[1:]))
    for key, seen in numbers.items():
        assert seen == list(range(1, len(seen) + 1)), key  # A001, A002 … in issue order
    assert {(c.service_date, c.prefix): c.last_number for c in counters} == {
        key: len(seen) for key, seen in numbers.items()
    }
    with unit_of_work(readonly=True) as s:
        dupes = s.execute(
            select(Ticket.service_date, Ticket.code)
            .group_by(Ticket.service_date, Ticket.code)
            .having(func.count() > 1)
        ).all()
    assert dupes == []


def test_handling_times_shares_and_outcomes_are_realistic(history):
    tickets = _load(Ticket, Ticket.id)
    events = _load(HallEvent, HallEvent.id)
    n = len(tickets)
    statuses = Counter(t.status for t in tickets)
    assert 0.02 < statuses["no_show"] / n < 0.08
    assert statuses["closed"] / n < 0.05
    citizen_priority = sum(
        1 for t in tickets if t.priority in {"elderly", "disabled", "pregnant", "military"}
    )
    assert 0.03 < citizen_priority / n < 0.08
    assert 0.06 < sum(1 for t in tickets if t.channel == "appointment") / n < 0.15
    kinds = Counter(e.kind for e in events)
    assert kinds["ticket.transferred"] > 0 and kinds["ticket.recalled"] > 0
    assert kinds["appointment.late"] > 0 and kinds["appointment.missed"] > 0
    outcomes = Counter(t.outcome for t in tickets if t.status == "finished")
    assert outcomes["done"] > 0.8 * sum(outcomes.values())
    assert outcomes["needs_documents"] > 0 and outcomes["referred"] > 0

    # Handling time (start → finish) is lognormal per item: skewed, symmetric in log,
    # median near the catalogue's.
    medians = {spec[0]: spec[4] for spec in demo.ITEMS}
    with unit_of_work(readonly=True) as s:
        item_codes = dict(s.execute(select(ServiceItem.id, ServiceItem.code)).all())
    durations = defaultdict(list)
    for t in tickets:
        if t.status == "finished":
            durations[item_codes[t.item_id]].append((t.finished_at - t.started_at).total_seconds())
    checked = 0
    for code, values in durations.items():
        if len(values) < 60:
            continue
        x = np.array(values)
        logs = np.log(x)
        assert _skew(x) > 0.4, code
        assert abs(_skew(logs)) < 0.6, code
        assert 0.75 < np.median(x) / (60 * medians[code]) < 1.3, code
        checked += 1
    assert checked >= 3


def _skew(x: np.ndarray) -> float:
    centred = x - x.mean()
    return float(np.mean(centred**3) / np.mean(centred**2) ** 1.5)


def _small_layout() -> HallLayout:
    items = tuple(
        ItemProfile(k + 1, code, dept, "ABCDEFGH"[k // 4], promised, median, sigma, daily)
        for k, (code, _name, dept, promised, median, sigma, daily) in enumerate(demo.ITEMS)
    )
    by_code = {i.code: i.id for i in items}
    windows = tuple(
        WindowProfile(
            number,
            number,
            100 + number,
            frozenset(by_code[c] for c in demo._expand(serves or ())),
            serves is None,
        )
        for number, _name, serves, _staff in demo.WINDOWS
    )
    quotas = tuple(SlotQuota(i.id, start, end, 2) for i in items for start, end in demo.SLOTS)
    return HallLayout(hall_id=1, items=items, windows=windows, quotas=quotas, manager_id=99)


def test_same_seed_same_history_and_days_are_independent():
    layout = _small_layout()
    days = [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    now = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    first = simulate_history(layout, days, seed=1, now=now)
    again = simulate_history(layout, days, seed=1, now=now)
    other = simulate_history(layout, days, seed=2, now=now)
    assert first.tickets == again.tickets and first.events == again.events
    assert first.tickets != other.tickets
    # A day's arrivals depend on the seed and the day, not on which other days are made.
    alone = simulate_history(layout, days[-1:], seed=1, now=now)
    codes = [(t["code"], t["arrived_at"]) for t in first.tickets if t["service_date"] == days[-1]]
    assert codes == [(t["code"], t["arrived_at"]) for t in alone.tickets]


def test_live_day_drives_the_real_api(db, fast_passwords):
    with frozen(TODAY_NOON) as clock:
        with unit_of_work() as s:
            world = demo.seed_catalogue(session=s)
            demo.generate_history(session=s, world=world, days=1, seed=SEED)  # books today
            seed_devices(session=s, seed=3)
        with unit_of_work() as s:
            plan = demo.live_plan(session=s, world=demo.load_world(session=s))
        assert plan.appointments  # today's bookings are there to check in
        assert len(plan.devices) == 20  # the hall's devices, the revoked one left out
        client = TestClient(create_app(run_jobs=False))
        live = LiveDay(client, plan, seed=3)
        live.begin(0.0)
        t = 0.0
        while t < 80.0:
            t += 0.5
            clock.advance(seconds=0.5)
            live.step(t)
        assert live.counts.get("tickets", 0) > 25
        assert live.counts.get("call-next", 0) > 20 and live.counts.get("finish", 0) > 10
        assert live.counts.get("check-in", 0) >= 1
        assert live.counts.get("rate", 0) >= 2  # citizens rate some finished visits
        with unit_of_work(readonly=True) as s:  # the devices reported in over HTTP
            fleet = s.scalars(select(Device).where(Device.revoked.is_(False))).all()
            assert fleet and all(d.online for d in fleet)
        with unit_of_work(readonly=True) as s:
            states = {w.number: w.state for w in s.scalars(select(Window))}
            today = s.scalars(select(Ticket).where(Ticket.service_date == date(2026, 10, 13)))
            statuses = Counter(t.status for t in today)
            rated = s.execute(
                select(Ticket.status, Ticket.service_date).join(
                    Rating, Rating.ticket_id == Ticket.id
                )
            ).all()
        for number in demo.HUMAN_WINDOWS:
            assert states[number] == "logged_out"  # left for a human
        assert statuses["finished"] > 10
        assert sum(1 for _, day in rated if day == date(2026, 10, 13)) == live.counts["rate"]
        assert all(status == "finished" for status, _ in rated)
        wrap_up(hall_code=plan.hall_code, windows=plan.windows)
        with unit_of_work(readonly=True) as s:
            assert all(w.state == "logged_out" for w in s.scalars(select(Window)))
            active = s.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.status.in_(ACTIVE_STATUSES))
            )
        assert active == 0


def test_reuse_on_a_later_day_closes_leftovers_and_backfills_missing_days(db, fast_passwords):
    monday = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    with frozen(monday):
        with unit_of_work() as s:
            world = demo.seed_catalogue(session=s)
            demo.generate_history(session=s, world=world, days=5, seed=SEED)
        # An interrupted live day: one ticket at a window, one still waiting.
        with unit_of_work() as s:
            world = demo.load_world(session=s)
            hall, staff = world.hall, world.staff(3)
            hall_windows.sign_in(session=s, hall=hall, window_number=3, actor=staff)
            for _ in range(2):
                service.issue_ticket(session=s, hall=hall, item=world.items["GA01"])
            called = hall_windows.call_next(session=s, hall=hall, window_number=3, actor=staff)
            called_id = called.id
    thursday = monday + timedelta(days=3)
    with frozen(thursday), unit_of_work() as s:
        world = demo.load_world(session=s)
        assert demo.close_stale_days(session=s, world=world, today=date(2026, 10, 15)) == 2
        report = demo.generate_history(session=s, world=world, days=5, seed=SEED)
    # 10-10 and 10-12 have data already (history, the live day); 10-11 is a Sunday.
    assert report.days == [date(2026, 10, 13), date(2026, 10, 14)]
    with unit_of_work(readonly=True) as s:
        live = s.scalars(select(Ticket).where(Ticket.service_date == date(2026, 10, 12))).all()
        assert {t.id: t.status for t in live} == {
            t.id: ("finished" if t.id == called_id else "closed") for t in live
        }
        ids = s.scalars(select(Ticket.id)).all()
        assert len(ids) == len(set(ids))
    # The service keeps numbering after the bulk-written ids (sequences were moved on).
    with frozen(thursday), unit_of_work() as s:
        world = demo.load_world(session=s)
        ticket = service.issue_ticket(session=s, hall=world.hall, item=world.items["RS01"])
        assert ticket.id > max(ids) and ticket.code == "B001"


# three whole demos (with the matters' history each): over the suite's 300 s on a busy machine
@pytest.mark.timeout(900)
def test_demo_command_seeds_reuses_and_resets(tmp_path, fast_passwords):
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    set_engine(engine)
    runner = CliRunner()

    def counts() -> tuple[int, int, int, int]:
        with unit_of_work(readonly=True) as s:
            return (
                s.scalar(select(func.count()).select_from(Ticket)) or 0,
                s.scalar(select(func.count()).select_from(HallEvent)) or 0,
                # Hall ratings only: the hotline demo rates its own matters too.
                s.scalar(
                    select(func.count()).select_from(Rating).where(Rating.ticket_id.is_not(None))
                )
                or 0,
                s.scalar(select(func.count()).select_from(RatingEvent)) or 0,
            )

    try:
        with frozen(TODAY_NOON):
            first = runner.invoke(cli_app, ["demo", "--no-serve", "--days", str(DAYS)])
            assert first.exit_code == 0, first.output
            assert "staff02" in first.output and demo.DEMO_PASSWORD in first.output
            assert "enforce_hours" in first.output
            assert "好差评" in first.output and "差评整改" in first.output
            assert "SQ2026" in first.output
            built = counts()
            assert built[0] > 500 and built[1] > 4 * built[0]
            assert 0.3 * built[0] < built[2] < 0.5 * built[0] and built[3] >= built[2]

            again = runner.invoke(cli_app, ["demo", "--no-serve", "--days", str(DAYS)])
            assert again.exit_code == 0, again.output
            assert "沿用" in again.output and counts() == built

            reset = runner.invoke(cli_app, ["demo", "--no-serve", "--reset", "--days", str(DAYS)])
            assert reset.exit_code == 0, reset.output
            assert counts() == built  # same seed, same history
    finally:
        set_engine(None)
        engine.dispose()


def test_demo_command_refuses_to_mix_with_other_data(tmp_path, fast_passwords):
    engine = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    set_engine(engine)
    try:
        upgrade(engine)
        with unit_of_work() as s:
            auth.create_user(session=s, username="admin", password="other-Root-99", role="admin")
        result = CliRunner().invoke(cli_app, ["demo", "--no-serve", "--days", "3"])
        assert result.exit_code == 1
        output = result.output.replace("\n", "")  # rich wraps long lines
        assert "单独的数据库" in output and "（admin）" in output
        with unit_of_work(readonly=True) as s:
            assert s.scalar(select(func.count()).select_from(Ticket)) == 0  # nothing written
    finally:
        set_engine(None)
        engine.dispose()


def test_quota_capacity_leaves_room_for_the_busiest_slot():
    assert demo.quota_capacity(3) == 2
    assert demo.quota_capacity(60) >= math.ceil(60 * 0.115 * 0.22 * 2)


def test_library_warnings_go_to_the_demo_log_not_the_screen(tmp_path, capsys):
    import logging

    from govloop.demo.cli import CHATTY_LOGGERS, libraries_log_to_file

    saved = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate)
        for n in (*CHATTY_LOGGERS, "py.warnings")
    }
    try:
        path = libraries_log_to_file(tmp_path / "demo.log")
        logging.getLogger("splink").warning("Level x not observed in dataset, unable to train m")
        assert "unable to train m" not in capsys.readouterr().err
        assert "unable to train m" in path.read_text(encoding="utf-8")
    finally:
        for name, (handlers, propagate) in saved.items():
            logging.getLogger(name).handlers = handlers
            logging.getLogger(name).propagate = propagate
        logging.captureWarnings(False)
