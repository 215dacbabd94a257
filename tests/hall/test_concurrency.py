"""Call-next and numbering under concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import RuleViolation
from govloop.hall import service
from govloop.hall import windows as hall_windows
from govloop.hall.models import HallEvent, Ticket
from govloop.org import service as org_service
from tests.factories import make_hall

CALLERS = 24
TICKETS = 120
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _run_threads(count: int, target) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def wrapped(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


@pytest.fixture
def busy_hall(db):
    with frozen(MONDAY_10), unit_of_work() as s:
        world = make_hall(
            s,
            items={"SB01": "A", "GS01": "B", "YB01": "C"},
            # A mix of specialised and general windows.
            windows={
                n: (None if n % 3 == 0 else [["SB01", "GS01", "YB01"][n % 3]])
                for n in range(1, CALLERS + 1)
            },
        )
    return world


def test_concurrent_issue_numbers_are_unique_and_gapless(busy_hall):
    with frozen(MONDAY_10):

        def take(_: int) -> None:
            for _ in range(5):
                with unit_of_work() as s:
                    hall = org_service.get_hall(session=s, code="H1")
                    service.issue_ticket(
                        session=s, hall=hall, item=service.get_item(session=s, code="SB01")
                    )

        assert _run_threads(CALLERS, take) == []
    with unit_of_work() as s:
        codes = sorted(s.scalars(select(Ticket.code)))
    assert codes == [f"A{n:03d}" for n in range(1, CALLERS * 5 + 1)]


def test_concurrent_call_next_never_double_calls_or_skips(busy_hall):
    with frozen(MONDAY_10) as clock:
        with unit_of_work() as s:
            hall = org_service.get_hall(session=s, code="H1")
            items = [service.get_item(session=s, code=c) for c in ("SB01", "GS01", "YB01")]
            for i in range(TICKETS):
                clock.advance(seconds=1)
                service.issue_ticket(session=s, hall=hall, item=items[i % 3])

        calls: list[tuple[int, str]] = []
        lock = threading.Lock()

        def window_loop(i: int) -> None:
            number = i + 1
            actor = busy_hall.staff[number]
            while True:
                try:
                    with unit_of_work() as s:
                        hall = org_service.get_hall(session=s, code="H1")
                        ticket = hall_windows.call_next(
                            session=s, hall=hall, window_number=number, actor=actor
                        )
                        code = ticket.code
                except RuleViolation as exc:
                    assert exc.code == "queue_empty"
                    return
                with lock:
                    calls.append((number, code))
                with unit_of_work() as s:
                    hall = org_service.get_hall(session=s, code="H1")
                    hall_windows.start_service(
                        session=s, hall=hall, window_number=number, actor=actor
                    )
                    hall_windows.finish_service(
                        session=s, hall=hall, window_number=number, actor=actor
                    )

        assert _run_threads(CALLERS, window_loop) == []

    counts = Counter(code for _, code in calls)
    assert [code for code, n in counts.items() if n > 1] == []  # nobody called twice
    with unit_of_work() as s:
        all_codes = set(s.scalars(select(Ticket.code)))
        statuses = set(s.scalars(select(Ticket.status)))
        called_events = Counter(
            s.scalars(select(HallEvent.ticket_id).where(HallEvent.kind == "ticket.called"))
        )
    assert set(counts) == all_codes  # nobody skipped
    assert statuses == {"finished"}
    assert len(called_events) == TICKETS and set(called_events.values()) == {1}
    # More than one window actually took part.
    assert len({number for number, _ in calls}) > 1
