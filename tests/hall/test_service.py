from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest, Conflict, NotFound, PermissionDenied, RuleViolation
from govloop.hall import day_close as hall_day_close
from govloop.hall import service
from govloop.hall import waits as hall_waits
from govloop.hall import windows as hall_windows
from govloop.hall.models import HallEvent, Ticket
from govloop.org import service as org_service
from tests.factories import make_hall

# 2026-11-23 is a Monday; 10:00 in Shanghai.
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db):
    with frozen(MONDAY_10) as clock, unit_of_work() as s:
        w = make_hall(s)
    with frozen(MONDAY_10) as clock:
        yield w, clock


def issue(world, item="SB01", priority=None, minutes_later=0.0):
    _w, clock = world
    clock.advance(minutes=minutes_later)
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        t = service.issue_ticket(
            session=s, hall=hall, item=service.get_item(session=s, code=item), priority=priority
        )
        return t.code


ALIASES = {"start": "start_service", "finish": "finish_service"}


def act(world, action, window=1, **kwargs):
    w, _ = world
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        return getattr(hall_windows, ALIASES.get(action, action))(
            session=s, hall=hall, window_number=window, actor=w.staff[window], **kwargs
        )


def events(kind=None):
    with unit_of_work() as s:
        stmt = select(HallEvent).order_by(HallEvent.id)
        if kind:
            stmt = stmt.where(HallEvent.kind == kind)
        return s.scalars(stmt).all()


def test_numbers_per_prefix_per_day(world):
    assert [issue(world) for _ in range(3)] == ["A001", "A002", "A003"]
    assert issue(world, "GS01") == "B001"
    world[1].advance(days=1)
    assert issue(world) == "A001"


def test_call_next_serves_only_window_items_in_rank_order(world):
    a1 = issue(world)
    b1 = issue(world, "GS01", minutes_later=1)
    a2 = issue(world, minutes_later=1)
    assert act(world, "call_next", window=1).code == a1
    assert act(world, "call_next", window=2).code == b1
    # General window 3 takes the oldest remaining ticket of any item.
    assert act(world, "call_next", window=3).code == a2


def test_priority_ticket_is_called_ahead_but_never_starves_regular(world):
    issue(world)  # A001, arrives at 10:00
    issue(world, minutes_later=5)  # A002
    elderly = issue(world, priority="elderly", minutes_later=1)  # boosted by 60 min
    assert act(world, "call_next").code == elderly
    # A regular ticket that has waited longer than the boost is still ahead of a new priority one.
    act(world, "start")
    act(world, "finish")
    world[1].advance(minutes=90)
    late_priority = issue(world, priority="pregnant")
    assert act(world, "call_next").code == "A001"
    assert late_priority == "A004"


def test_empty_queue_and_busy_window_are_rule_violations(world):
    with pytest.raises(RuleViolation) as exc:
        act(world, "call_next")
    assert exc.value.code == "queue_empty"
    issue(world)
    issue(world)
    act(world, "call_next")
    with pytest.raises(RuleViolation) as exc:
        act(world, "call_next")
    assert exc.value.code == "window_busy"


def test_full_service_flow_logs_every_transition(world):
    code = issue(world)
    act(world, "call_next")
    act(world, "recall")
    act(world, "start")
    finished = act(world, "finish", outcome="needs_documents")
    assert finished.code == code and finished.outcome == "needs_documents"
    kinds = [e.kind for e in events() if e.ticket_id]
    assert kinds == [
        "ticket.issued",
        "ticket.called",
        "ticket.recalled",
        "ticket.started",
        "ticket.finished",
    ]
    called = events("ticket.called")[0]
    assert called.window_id == world[0].windows[1].id
    assert called.staff_id == world[0].staff[1].id
    assert called.item_id == world[0].items["SB01"].id


def test_finish_requires_serving_and_double_finish_changes_nothing(world):
    issue(world)
    act(world, "call_next")
    with pytest.raises(RuleViolation) as exc:
        act(world, "finish")
    assert exc.value.code == "not_serving"
    act(world, "start")
    act(world, "finish")
    before = len(events())
    with pytest.raises(RuleViolation) as exc:
        act(world, "finish")
    assert exc.value.code == "no_current_ticket"
    assert len(events()) == before


def test_unknown_outcome_is_bad_request(world):
    issue(world)
    act(world, "call_next")
    act(world, "start")
    with pytest.raises(BadRequest):
        act(world, "finish", outcome="whatever")


def test_staff_cannot_act_on_another_window(world):
    w, _ = world
    issue(world)
    with unit_of_work() as s, pytest.raises(PermissionDenied):
        hall = org_service.get_hall(session=s, code="H1")
        hall_windows.call_next(session=s, hall=hall, window_number=2, actor=w.staff[1])
    with unit_of_work() as s:
        assert s.scalar(select(Ticket.status)) == "waiting"


def test_no_show_requeues_once_then_closes(world):
    code = issue(world)
    act(world, "call_next")
    requeued = act(world, "mark_no_show")
    assert requeued.status == "waiting" and requeued.code == code
    again = act(world, "call_next")
    assert again.code == code
    final = act(world, "mark_no_show")
    assert final.status == "no_show"
    assert [e.detail["requeued"] for e in events("ticket.no_show")] == [True, False]


def test_transfer_keeps_original_arrival(world):
    first = issue(world)  # A001 at 10:00
    issue(world, "GS01", minutes_later=10)  # B001 at 10:10
    act(world, "call_next", window=1)
    moved = act(world, "transfer", to_item_code="GS01")
    assert moved.status == "waiting" and moved.arrived_at == MONDAY_10
    # Window 2 (GS01) now calls the transferred ticket before B001, which arrived later.
    assert act(world, "call_next", window=2).code == first


def test_transfer_to_window_only_that_window_calls(world):
    first = issue(world)
    act(world, "call_next", window=1)
    act(world, "transfer", to_window_number=3)
    issue(world)  # A002 for window 1
    assert act(world, "call_next", window=1).code == "A002"
    assert act(world, "call_next", window=3).code == first


def test_transfer_to_window_that_does_not_serve_item(world):
    issue(world)
    act(world, "call_next", window=1)
    with pytest.raises(RuleViolation):
        act(world, "transfer", to_window_number=2)


def test_unknown_lookups_and_malformed_code(world):
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        with pytest.raises(NotFound):
            org_service.get_hall(session=s, code="NOPE")
        with pytest.raises(NotFound):
            service.get_item(session=s, code="NOPE")
        with pytest.raises(NotFound):
            service.get_window(session=s, hall=hall, number=99)
        with pytest.raises(BadRequest):
            service.get_ticket(session=s, hall=hall, code="A-1'; drop")
        with pytest.raises(NotFound):
            service.get_ticket(session=s, hall=hall, code="A999")


def test_sign_in_conflicts_and_pause(world):
    w, _ = world
    with unit_of_work() as s, pytest.raises(Conflict):
        hall_windows.sign_in(
            session=s,
            hall=org_service.get_hall(session=s, code="H1"),
            window_number=2,
            actor=w.staff[1],
        )
    act(world, "pause", reason="午休")
    issue(world)
    with pytest.raises(RuleViolation) as exc:
        act(world, "call_next")
    assert exc.value.code == "window_paused"
    act(world, "resume")
    assert act(world, "call_next").code == "A001"


def test_close_day_closes_with_reason_and_carries_over(world):
    w, clock = world
    for _ in range(3):
        issue(world)
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        result = hall_day_close.close_day(
            session=s, hall=hall, actor=w.manager, reason="下班", carry_over_codes=["A002"]
        )
    assert result["closed"] == ["A001", "A003"]
    assert result["carried_over"][0]["from"] == "A002"
    assert result["carried_over"][0]["day"] == "2026-11-24"
    with unit_of_work() as s:
        statuses = dict(
            s.execute(
                select(Ticket.code, Ticket.status).where(Ticket.service_date == MONDAY_10.date())
            ).all()
        )
        assert statuses == {"A001": "closed", "A002": "carried_over", "A003": "closed"}
        assert s.scalar(select(func.count()).select_from(Ticket)) == 4  # nothing dropped
    # Next morning the carried ticket is first in line.
    clock.advance(days=1)
    issue(world)
    assert act(world, "call_next").code == result["carried_over"][0]["to"]


def test_close_day_refuses_unknown_codes(world):
    w, _ = world
    issue(world)
    with unit_of_work() as s, pytest.raises(BadRequest):
        hall_day_close.close_day(
            session=s,
            hall=org_service.get_hall(session=s, code="H1"),
            actor=w.manager,
            carry_over_codes=["A777"],
        )
    with unit_of_work() as s:
        assert s.scalar(select(Ticket.status)) == "waiting"


def test_opening_hours_enforced(world):
    _w, clock = world
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        hall.enforce_hours = True
    issue(world)  # Monday 10:00 is open
    clock.advance(hours=10)  # 20:00
    with pytest.raises(RuleViolation) as exc:
        issue(world)
    assert exc.value.code == "hall_closed_hours"
    clock.current = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)  # National Day
    with pytest.raises(RuleViolation) as exc:
        issue(world)
    assert exc.value.code == "hall_closed_day"


def test_estimate_uses_position_and_open_windows(world):
    for _ in range(6):
        issue(world)
    with unit_of_work() as s:
        t = service.get_ticket(
            session=s, hall=org_service.get_hall(session=s, code="H1"), code="A006"
        )
        pos = hall_waits.estimate_wait(session=s, ticket=t)
    assert pos.ahead == 5
    # Windows 1 and 3 serve SB01 and both are idle: 5 ahead, 2 idle → 3 services to wait for.
    assert pos.inputs.servers == 2 and pos.inputs.idle == 2
    assert pos.wait.low_s < pos.wait.expected_s < pos.wait.high_s
    assert pos.wait.expected_s == pytest.approx(4 * 600 / 2, rel=0.01)
    assert timedelta(seconds=pos.wait.expected_s) < timedelta(hours=1)
