"""The display snapshot is computed once per change of the hall, and never served stale."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest
from sqlalchemy import insert

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hall import overview, service, snapshot_cache
from govloop.hall import windows as hall_windows
from govloop.hall.models import EventKind, HallEvent, Window
from govloop.org import service as org_service
from tests.factories import make_hall

START = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in the hall


@pytest.fixture
def world(db):
    snapshot_cache.clear()
    with frozen(START) as clock:
        with unit_of_work() as s:
            made = make_hall(s)
        yield made, clock


def _snapshot() -> dict:
    with unit_of_work(readonly=True) as s:
        return overview.display_snapshot(session=s, hall=org_service.get_hall(session=s, code="H1"))


def _computations() -> mock.MagicMock:
    return mock.patch.object(overview, "_display_snapshot", wraps=overview._display_snapshot)  # type: ignore[return-value]


def _issue(code: str = "SB01") -> None:
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        service.issue_ticket(session=s, hall=hall, item=service.get_item(session=s, code=code))


def test_unchanged_hall_is_computed_once(world):
    _issue()
    with _computations() as computed:
        first, second, third = _snapshot(), _snapshot(), _snapshot()
    assert computed.call_count == 1
    assert first is second is third
    assert first["waiting_total"] == 1


def test_every_change_is_seen_at_once(world):
    made, _clock = world
    _issue()
    assert _snapshot()["waiting_total"] == 1
    _issue("GS01")
    assert _snapshot()["waiting_total"] == 2
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        hall_windows.call_next(session=s, hall=hall, window_number=1, actor=made.staff[1])
    after_call = _snapshot()
    assert after_call["waiting_total"] == 1
    assert after_call["recent_calls"][0]["code"] == "A001"


def test_a_commit_nobody_announced_is_seen_by_its_event(world):
    """Another process's commit that this one was not told about still changes the
    hall's highest event id, which every read checks."""
    _issue()
    before = _snapshot()
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        s.execute(
            insert(HallEvent).values(
                hall_id=hall.id, kind=EventKind.WINDOW_PAUSED.value, at=START, detail={}
            )
        )
        s.info.pop("touched_topics", None)  # as if committed elsewhere: no wake-up here
    after = _snapshot()
    assert after is not before
    assert after["last_event_id"] == before["last_event_id"] + 1


def test_configuration_changes_are_seen_at_once(world):
    _snapshot()
    with unit_of_work() as s:
        window = s.query(Window).filter_by(number=2).one()
        window.name = "综合受理窗口"
    names = [w["name"] for w in _snapshot()["windows"]]
    assert "综合受理窗口" in names


def test_an_old_snapshot_is_recomputed(world):
    _made, clock = world
    _snapshot()
    with _computations() as computed:
        _snapshot()
        assert computed.call_count == 0
        clock.advance(seconds=snapshot_cache.MAX_AGE_S + 0.5)
        _snapshot()
        assert computed.call_count == 1


def test_staff_names_come_from_the_windows_staff_only(world):
    made, _clock = world
    windows = {w["number"]: w for w in _snapshot()["windows"]}
    assert windows[1]["staff"] == made.staff[1].display_name
