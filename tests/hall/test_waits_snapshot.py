"""A hall's waiting tickets share one projection of its queue while it is fresh."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hall import service
from govloop.hall import waits as hall_waits
from govloop.hall import windows as hall_windows
from govloop.hall.models import Ticket
from govloop.org import service as org_service
from tests.factories import make_hall

MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def hall_with_history(db):
    """A hall with enough finished tickets for the projection, all three windows busy."""
    with frozen(MONDAY_10) as clock:
        with unit_of_work() as s:  # one transaction: the history is only setup
            world = make_hall(s)
            hall = world.hall
            for k in range(hall_waits.MIN_HISTORY + 2):
                item = service.get_item(session=s, code=("SB01", "GS01")[k % 2])
                service.issue_ticket(session=s, hall=hall, item=item)
                for step in ("call_next", "start_service"):
                    getattr(hall_windows, step)(
                        session=s, hall=hall, window_number=3, actor=world.staff[3]
                    )
                clock.advance(seconds=120 + 30 * (k % 5))
                hall_windows.finish_service(
                    session=s, hall=hall, window_number=3, actor=world.staff[3]
                )
        for number in (1, 2, 3):
            _issue("SB01" if number == 1 else "GS01")
            _act(world, "call_next", number)
        hall_waits.clear_stats_cache()
        yield world, clock


def _issue(item: str, priority: str | None = None) -> Ticket:
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        return service.issue_ticket(
            session=s, hall=hall, item=service.get_item(session=s, code=item), priority=priority
        )


def _act(world, action: str, number: int) -> None:
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        getattr(hall_windows, action)(
            session=s, hall=hall, window_number=number, actor=world.staff[number]
        )


def _estimate(ticket_id: int) -> hall_waits.WaitEstimate:
    with unit_of_work() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        return hall_waits.estimate_wait(session=s, ticket=ticket).wait


@pytest.fixture
def projections(monkeypatch):
    """Counts the hall projections made."""
    calls: list[int] = []
    real = hall_waits.project_queue

    def counted(**kwargs):
        calls.append(len(kwargs["queue"]))
        return real(**kwargs)

    monkeypatch.setattr(hall_waits, "project_queue", counted)
    return calls


def test_one_projection_serves_a_hall_while_fresh_and_an_old_one_is_made_again(
    hall_with_history, projections
):
    world, clock = hall_with_history
    first = _issue("SB01")
    assert first.eta_seconds is not None and projections == [1]
    # Issued after the projection: each takes the walk-in of its item and boost from it.
    later = [_issue(item) for item in ("SB01", "GS01", "SB01")]
    elderly = _issue("SB01", priority="elderly")
    assert projections == [1]
    snapshot = hall_waits._snapshots[(first.hall_id, first.service_date)]
    walk_in = snapshot.phantoms[(first.item_id, 0)]
    assert walk_in is not None and later[0].eta_seconds == walk_in.expected_s
    other = snapshot.phantoms[(later[1].item_id, 0)]
    assert other is not None and later[1].eta_seconds == other.expected_s
    boost = round(hall_waits.boost_seconds(world.hall, "elderly"))
    jumping = snapshot.phantoms[(first.item_id, boost)]
    assert jumping is not None and elderly.eta_seconds == jumping.expected_s
    # A read of the first ticket a moment later: its own entry, moved on by the moment.
    clock.advance(seconds=0.5)
    own = snapshot.tickets[first.id]
    assert own is not None and own.expected_s > 0.5
    assert _estimate(first.id).expected_s == pytest.approx(own.expected_s - 0.5)
    assert projections == [1]
    # Once FRESH_S old, the next read projects the hall again, with every waiting ticket.
    clock.advance(seconds=hall_waits.FRESH_S)
    _estimate(first.id)
    assert projections == [1, 5]
    # A ticket it does not know that no walk-in stands for (issued, then transferred to a
    # window) makes it again too.
    fresh = _issue("GS01")
    assert projections == [1, 5]
    with unit_of_work() as s:
        ticket = s.get(Ticket, fresh.id)
        assert ticket is not None
        ticket.target_window_id = world.windows[3].id
        s.flush()
        hall_waits.estimate_wait(session=s, ticket=ticket)
    assert projections == [1, 5, 6]
