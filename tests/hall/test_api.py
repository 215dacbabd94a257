"""The hall's JSON API: happy paths and bad input (clear 4xx, nothing changed)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hall.models import HallEvent, Ticket
from govloop.org import service as org_service
from tests.factories import add_quota, make_hall, make_user

MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
BASE = "/api/v1/halls/H1"


@pytest.fixture
def api(db):
    with frozen(MONDAY_10) as clock:
        with unit_of_work() as s:
            world = make_hall(s)
            add_quota(s, world, "SB01", time(10, 0), time(10, 30), 2)
            tokens = {
                n: issue_api_token(session=s, user=u, name="t") for n, u in world.staff.items()
            }
            tokens["manager"] = issue_api_token(session=s, user=world.manager, name="t")
            auditor = make_user(s, "auditor", Role.AUDITOR)
            tokens["auditor"] = issue_api_token(session=s, user=auditor, name="t")
        client = TestClient(create_app())
        client.tokens = tokens  # type: ignore[attr-defined]
        client.clock = clock  # type: ignore[attr-defined]
        yield client


def auth(client, who):
    return {"Authorization": f"Bearer {client.tokens[who]}"}


def state_counts():
    with unit_of_work() as s:
        return (
            s.scalar(select(func.count()).select_from(Ticket)),
            s.scalar(select(func.count()).select_from(HallEvent)),
        )


def test_issue_ticket_returns_slip_with_estimate(api):
    r = api.post(f"{BASE}/tickets", json={"item_code": "SB01"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"] == "A001" and body["position"] == 1 and body["ahead"] == 0
    assert body["estimate"]["known"] is True
    r2 = api.post(f"{BASE}/tickets", json={"item_code": "SB01", "priority": "elderly"})
    assert r2.json()["priority"] == "elderly"
    status = api.get(f"{BASE}/tickets/A002").json()
    # The elderly ticket ranks ahead of A001 even though it arrived later.
    assert status["position"] == 1


@pytest.mark.parametrize(
    ("path", "payload", "status", "error"),
    [
        (f"{BASE}/tickets", {"item_code": "NOPE"}, 404, "item_not_found"),
        ("/api/v1/halls/NOPE/tickets", {"item_code": "SB01"}, 404, "hall_not_found"),
        (f"{BASE}/tickets", {"item_code": "SB01", "priority": "vip"}, 422, "invalid_request"),
        (f"{BASE}/tickets", {}, 422, "invalid_request"),
        (f"{BASE}/tickets", None, 422, "invalid_request"),
    ],
)
def test_issue_ticket_bad_input(api, path, payload, status, error):
    before = state_counts()
    r = (
        api.post(path, json=payload)
        if payload is not None
        else api.post(path, content=b"{not json", headers={"content-type": "application/json"})
    )
    assert r.status_code == status
    assert r.json()["error"] == error and r.json()["message"]
    assert state_counts() == before


def test_window_flow_over_api(api):
    api.post(f"{BASE}/tickets", json={"item_code": "SB01"})
    r = api.post(f"{BASE}/windows/1/call-next", headers=auth(api, 1))
    assert r.status_code == 200 and r.json()["text"] == "请 A001 号到 1 号窗口"
    assert api.post(f"{BASE}/windows/1/recall", headers=auth(api, 1)).json()["recall_count"] == 1
    assert api.post(f"{BASE}/windows/1/start", headers=auth(api, 1)).json()["status"] == "serving"
    r = api.post(f"{BASE}/windows/1/finish", headers=auth(api, 1), json={"outcome": "referred"})
    assert r.json()["status"] == "finished" and r.json()["outcome"] == "referred"
    assert api.get(f"{BASE}/tickets/A001").json()["status"] == "finished"


@pytest.mark.parametrize(
    ("steps", "status", "error"),
    [
        ([], 422, "queue_empty"),  # calling with nobody waiting
        (["ticket", "call"], 422, "not_serving"),  # finishing a ticket that is not being served
        (["ticket", "call", "start", "finish"], 422, "no_current_ticket"),  # double finish
    ],
)
def test_window_rule_violations_change_nothing(api, steps, status, error):
    actions = {
        "ticket": lambda: api.post(f"{BASE}/tickets", json={"item_code": "SB01"}),
        "call": lambda: api.post(f"{BASE}/windows/1/call-next", headers=auth(api, 1)),
        "start": lambda: api.post(f"{BASE}/windows/1/start", headers=auth(api, 1)),
        "finish": lambda: api.post(f"{BASE}/windows/1/finish", headers=auth(api, 1)),
    }
    for step in steps:
        assert actions[step]().status_code < 300
    before = state_counts()
    last = "call" if not steps else "finish"
    r = actions[last]()
    assert r.status_code == status and r.json()["error"] == error
    assert state_counts() == before


def test_staff_acting_on_another_window_is_forbidden(api):
    api.post(f"{BASE}/tickets", json={"item_code": "GS01"})
    before = state_counts()
    r = api.post(f"{BASE}/windows/2/call-next", headers=auth(api, 1))
    assert r.status_code == 403 and r.json()["error"] == "not_your_window"
    assert state_counts() == before


def test_authentication_and_permissions(api):
    assert api.post(f"{BASE}/windows/1/call-next").status_code == 401
    r = api.post(f"{BASE}/windows/1/call-next", headers={"Authorization": "Bearer gl_wrong"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    r = api.post(f"{BASE}/windows/1/call-next", headers=auth(api, "auditor"))
    assert r.status_code == 403
    r = api.post(f"{BASE}/close-day", headers=auth(api, 1), json={})
    assert r.status_code == 403


def test_unknown_window_and_malformed_ticket_code(api):
    r = api.post(f"{BASE}/windows/77/call-next", headers=auth(api, 1))
    assert r.status_code == 404 and r.json()["error"] == "window_not_found"
    r = api.get(f"{BASE}/tickets/%3Cscript%3E")
    assert r.status_code == 400 and r.json()["error"] == "malformed_ticket_code"
    r = api.get(f"{BASE}/tickets/A123")
    assert r.status_code == 404
    r = api.post(f"{BASE}/windows/abc/call-next", headers=auth(api, 1))
    assert r.status_code == 422


def test_transfer_over_api(api):
    api.post(f"{BASE}/tickets", json={"item_code": "SB01"})
    api.post(f"{BASE}/windows/1/call-next", headers=auth(api, 1))
    r = api.post(f"{BASE}/windows/1/transfer", headers=auth(api, 1), json={})
    assert r.status_code == 400 and r.json()["error"] == "transfer_target_missing"
    r = api.post(f"{BASE}/windows/1/transfer", headers=auth(api, 1), json={"to_item_code": "GS01"})
    assert r.status_code == 200 and r.json()["status"] == "waiting"
    assert api.post(f"{BASE}/windows/2/call-next", headers=auth(api, 2)).json()["code"] == "A001"


def test_close_day_and_carry_over(api):
    for _ in range(2):
        api.post(f"{BASE}/tickets", json={"item_code": "SB01"})
    r = api.post(
        f"{BASE}/close-day",
        headers=auth(api, "manager"),
        json={"carry_over": ["A001"], "reason": "系统维护"},
    )
    assert r.status_code == 200
    assert r.json()["closed"] == ["A002"] and r.json()["carried_over"][0]["from"] == "A001"
    r = api.get(f"{BASE}/tickets/A002", headers=auth(api, "manager"))  # the reason is for staff
    assert r.json()["closed_reason"] == "系统维护"


def test_appointment_book_check_in_and_bad_input(api):
    slots = api.get(
        f"{BASE}/appointment-slots", params={"item_code": "SB01", "day": "2026-11-23"}
    ).json()
    assert slots == [
        {"slot_start": "10:00", "slot_end": "10:30", "capacity": 2, "booked": 0, "remaining": 2}
    ]
    book = {
        "item_code": "SB01",
        "day": "2026-11-23",
        "slot_start": "10:00",
        "name": "张三",
        "phone": "13800138000",
    }
    r = api.post(f"{BASE}/appointments", json=book)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert api.post(f"{BASE}/appointments", json=book).json()["error"] == "already_booked"
    assert (
        api.post(f"{BASE}/appointments", json=book | {"phone": "12345"}).json()["error"]
        == "invalid_phone"
    )
    assert api.post(f"{BASE}/appointments", json=book | {"phone": "13900139000"}).status_code == 201
    r = api.post(f"{BASE}/appointments", json=book | {"phone": "13700137000"})
    assert r.status_code == 409 and r.json()["error"] == "slot_full"
    r = api.post(f"{BASE}/appointments", json=book | {"day": "2026-11-22"})  # Sunday, in the past
    assert r.status_code == 422
    r = api.post(f"{BASE}/appointments/check-in", json={"code": code})
    assert r.status_code == 201
    body = r.json()
    assert body["late"] is False and body["ticket"]["priority"] == "appointment"
    assert (
        api.post(f"{BASE}/appointments/check-in", json={"code": code}).json()["error"]
        == "appointment_not_open"
    )
    assert api.post(f"{BASE}/appointments/check-in", json={"code": "ZZZZZZZZ"}).status_code == 404


def test_late_check_in_becomes_regular_ticket_and_missed_sweep(api):
    book = {
        "item_code": "SB01",
        "day": "2026-11-23",
        "slot_start": "10:00",
        "name": "李四",
        "phone": "13800138001",
    }
    late_code = api.post(f"{BASE}/appointments", json=book).json()["code"]
    missed_code = api.post(f"{BASE}/appointments", json=book | {"phone": "13800138002"}).json()[
        "code"
    ]
    api.clock.advance(minutes=50)  # 10:50: past 10:30 + 15 minutes grace
    r = api.post(f"{BASE}/appointments/check-in", json={"code": late_code})
    assert (
        r.status_code == 201 and r.json()["late"] is True and r.json()["ticket"]["priority"] is None
    )
    from govloop.hall import appointments

    with unit_of_work() as s:
        missed = appointments.sweep_missed(
            session=s, hall=org_service.get_hall(session=s, code="H1")
        )
    assert missed == [missed_code]
    with unit_of_work() as s:
        kinds = list(
            s.scalars(
                select(HallEvent.kind)
                .where(HallEvent.kind.like("appointment.%"))
                .order_by(HallEvent.id)
            )
        )
    assert kinds == [
        "appointment.booked",
        "appointment.booked",
        "appointment.late",
        "appointment.missed",
    ]


def test_check_in_too_early(api):
    book = {
        "item_code": "SB01",
        "day": "2026-11-23",
        "slot_start": "10:00",
        "name": "王五",
        "phone": "13800138003",
    }
    code = api.post(f"{BASE}/appointments", json=book).json()["code"]
    api.clock.current = MONDAY_10 - timedelta(hours=1)  # 09:00, more than 30 minutes early
    r = api.post(f"{BASE}/appointments/check-in", json={"code": code})
    assert r.status_code == 422 and r.json()["error"] == "too_early"
