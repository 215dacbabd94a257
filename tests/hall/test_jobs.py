from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.app import create_app
from govloop.core.auth import issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hall import appointments, jobs, service
from govloop.hall.models import HallEvent, Ticket
from govloop.org import service as org_service
from tests.factories import add_quota, make_hall

MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def hall_with_queue(db):
    with frozen(MONDAY_10) as clock:
        with unit_of_work() as s:
            world = make_hall(s, enforce_hours=True, closes_at=time(17, 0))
            add_quota(s, world, "SB01", time(10, 0), time(10, 30), 5)
            h = world.hall
            for _ in range(3):
                service.issue_ticket(
                    session=s, hall=h, item=service.get_item(session=s, code="SB01")
                )
            appointments.book(
                session=s,
                hall=h,
                item=world.items["SB01"],
                day=MONDAY_10.date(),
                slot_start=time(10, 0),
                citizen_name="张三",
                citizen_phone="13800138000",
            )
        yield world, clock


def statuses() -> dict[str, str]:
    with unit_of_work() as s:
        return dict(s.execute(select(Ticket.code, Ticket.status)).all())


def test_nothing_happens_during_opening_hours(hall_with_queue):
    with unit_of_work() as s:
        report = jobs.run_all_halls(session=s)
    assert report[0]["closed"] == {} and report[0]["missed"] == []
    assert set(statuses().values()) == {"waiting"}


def test_after_closing_time_queue_is_closed_with_reason_and_missed_marked(hall_with_queue):
    world, clock = hall_with_queue
    clock.advance(hours=7, minutes=1)  # 17:01 local
    with unit_of_work() as s:
        report = jobs.run_all_halls(session=s)
    assert report[0]["closed"] == {"2026-11-23": ["A001", "A002", "A003"]}
    assert len(report[0]["missed"]) == 1
    assert set(statuses().values()) == {"closed"}
    with unit_of_work() as s:
        reasons = {
            e.detail["reason"]
            for e in s.scalars(select(HallEvent).where(HallEvent.kind == "ticket.closed"))
        }
        assert reasons == {jobs.CLOSING_REASON}
    # The manager still carries one over afterwards.
    with unit_of_work() as s, frozen(clock.current):
        token = issue_api_token(session=s, user=world.manager, name="t")
    client = TestClient(create_app(run_jobs=False))
    r = client.post(
        "/api/v1/halls/H1/carry-over",
        json={"day": "2026-11-23", "codes": ["A002"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["carried_over"] == [{"from": "A002", "to": "A001", "day": "2026-11-24"}]
    r = client.post(
        "/api/v1/halls/H1/carry-over",
        json={"day": "2026-11-23", "codes": ["A002"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 400 and r.json()["error"] == "not_carriable"


def test_hall_without_hours_closes_only_past_days(hall_with_queue):
    _, clock = hall_with_queue
    with unit_of_work() as s:
        org_service.get_hall(session=s, code="H1").enforce_hours = False
    clock.advance(hours=10)  # 20:00, same day
    with unit_of_work() as s:
        assert jobs.run_all_halls(session=s)[0]["closed"] == {}
    clock.advance(days=1)
    with unit_of_work() as s:
        assert list(jobs.run_all_halls(session=s)[0]["closed"]) == ["2026-11-23"]


def test_run_jobs_command(hall_with_queue):
    from typer.testing import CliRunner

    from govloop.cli import app

    _, clock = hall_with_queue
    clock.advance(days=1)
    result = CliRunner().invoke(app, ["hall", "run-jobs"])
    assert result.exit_code == 0, result.output
    assert "H1: missed appointments 1, closed 3" in result.output
    assert set(statuses().values()) == {"closed"}
