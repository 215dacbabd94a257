"""Nothing is acknowledged before it is stored.

For each kind of write, a probe looks in the database (over its own connection) at the
instant the response starts to leave the server: what the response says happened must
already be committed. Then commits are made to fail: the client must get an error, never a
success, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from anyio import to_thread
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govloop.app import create_app
from govloop.audit.models import AuditEntry
from govloop.core.auth import Role, issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import PermissionDenied, RecordedRefusal
from govloop.core.models import User
from govloop.hall import service as hall_service
from govloop.hall import windows as hall_windows
from govloop.hall.models import ServiceItem, Ticket
from govloop.hotline.models import WorkOrder
from govloop.org.models import Hall
from govloop.ratings.models import Rating
from govloop.subjects.models import SubjectMaster
from tests.factories import make_hall, make_user
from tests.hotline.factories import build_world
from tests.web.helpers import csrf

NOON = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
ID = "11010519491231002X"


class ProbeAtResponseStart:
    """Runs ``probe`` when the response's first message is about to be sent."""

    def __init__(self, app: ASGIApp, probe: Callable[[], Any]) -> None:
        self.app = app
        self.probe = probe
        self.seen: list[Any] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def probing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and scope["type"] == "http":
                self.seen.append(await to_thread.run_sync(self.probe))
            await send(message)

        await self.app(scope, receive, probing_send)


def _count(engine: Engine, statement: Any) -> int:
    with Session(engine) as s:
        return int(s.scalar(statement) or 0)


@pytest.fixture
def world(db):
    with unit_of_work() as s:
        hall = make_hall(s, code="H1")
        hotline = build_world(s)
        s.add(
            SubjectMaster(
                kind="person",
                identifier=ID,
                display_name="张三",
                attributes={"name": "张三", "id_number": ID, "phone": "13800138000"},
                provenance={},
            )
        )
        make_user(s, "auditor", Role.AUDITOR)
        tokens: dict[str, Any] = {
            "staff1": issue_api_token(session=s, user=hall.staff[1], name="t"),
            "agent": issue_api_token(session=s, user=hotline.agent, name="t"),
        }
    return tokens | {
        "hall_id": hall.hall.id,
        "item_id": hall.items["SB01"].id,
        "staff1_id": hall.staff[1].id,
    }


def _client(app: ASGIApp) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_ticket_is_stored_before_201(db, world):
    probe = ProbeAtResponseStart(create_app(run_jobs=False), lambda: _count(db, _tickets()))
    r = _client(probe).post("/api/v1/halls/H1/tickets", json={"item_code": "SB01"})
    assert r.status_code == 201
    assert probe.seen == [1]


def _tickets() -> Any:
    return select(func.count()).select_from(Ticket)


def test_call_is_stored_before_the_answer(db, world):
    with unit_of_work() as s:
        hall, item = s.get(Hall, world["hall_id"]), s.get(ServiceItem, world["item_id"])
        hall_service.issue_ticket(session=s, hall=hall, item=item)
    called = select(func.count()).select_from(Ticket).where(Ticket.status == "called")
    probe = ProbeAtResponseStart(create_app(run_jobs=False), lambda: _count(db, called))
    r = _client(probe).post(
        "/api/v1/halls/H1/windows/1/call-next", headers=_bearer(world["staff1"])
    )
    assert r.status_code == 200, r.text
    assert probe.seen == [1]


def test_rating_is_stored_before_201(db, world):
    with unit_of_work() as s:
        hall, item = s.get(Hall, world["hall_id"]), s.get(ServiceItem, world["item_id"])
        staff1 = s.get(User, world["staff1_id"])
        ticket = hall_service.issue_ticket(session=s, hall=hall, item=item)
        hall_windows.call_next(session=s, hall=hall, window_number=1, actor=staff1)
        hall_windows.start_service(session=s, hall=hall, window_number=1, actor=staff1)
        hall_windows.finish_service(session=s, hall=hall, window_number=1, actor=staff1)
        public_id = ticket.public_id
    ratings = select(func.count()).select_from(Rating)
    probe = ProbeAtResponseStart(create_app(run_jobs=False), lambda: _count(db, ratings))
    r = _client(probe).post(f"/api/v1/ratings/tickets/{public_id}", json={"level": 5})
    assert r.status_code == 201, r.text
    assert probe.seen == [1]


def test_hotline_order_is_stored_before_201(db, world):
    orders = select(func.count()).select_from(WorkOrder)
    probe = ProbeAtResponseStart(create_app(run_jobs=False), lambda: _count(db, orders))
    r = _client(probe).post(
        "/api/v1/hotline/orders",
        json={"content": "小区门口路灯坏了一个多星期，晚上很黑", "caller_phone": "13800138000"},
        headers=_bearer(world["agent"]),
    )
    assert r.status_code == 201, r.text
    assert probe.seen == [1]


def test_access_read_is_audited_before_the_data_leaves(db, world):
    with unit_of_work() as s:
        hall, item = s.get(Hall, world["hall_id"]), s.get(ServiceItem, world["item_id"])
        staff1 = s.get(User, world["staff1_id"])
        hall_service.issue_ticket(session=s, hall=hall, item=item)
        ticket = hall_windows.call_next(session=s, hall=hall, window_number=1, actor=staff1)
        ticket_id = ticket.id
    with frozen(NOON):
        client = _client(create_app(run_jobs=False))
        auth = _bearer(world["staff1"])
        assert (
            client.post(
                f"/api/v1/access/cases/ticket/{ticket_id}/applicant",
                json={"id_number": ID},
                headers=auth,
            ).status_code
            == 200
        )
        grant = client.post(
            "/api/v1/access/grants",
            json={"case_type": "ticket", "case_id": ticket_id, "purpose": "办理业务"},
            headers=auth,
        )
        assert grant.status_code == 200, grant.text
        reads = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "read")
        probe = ProbeAtResponseStart(create_app(run_jobs=False), lambda: _count(db, reads))
        r = _client(probe).get(
            "/api/v1/access/data", headers=auth | {"X-Grant-Token": grant.json()["token"]}
        )
    assert r.status_code == 200, r.text
    assert "张三" in r.text
    assert probe.seen == [1]


def test_a_refusal_is_audited_before_the_403_leaves(db, world):
    denied = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "denied")
    probe = ProbeAtResponseStart(create_app(run_jobs=False), lambda: _count(db, denied))
    r = _client(probe).get(
        "/api/v1/access/data",
        headers=_bearer(world["staff1"]) | {"X-Grant-Token": "a-guessed-token"},
    )
    assert r.status_code == 403
    assert r.json() == {"error": "bad_grant_token", "message": "授权凭证无效"}
    assert probe.seen == [1]


def test_the_unit_of_work_keeps_a_recorded_refusal_and_drops_other_errors(db, world):
    def attempt(error: Exception, name: str) -> None:
        with pytest.raises(type(error)), unit_of_work() as s:
            s.add(User(username=name, display_name=name, role="window_staff", password_hash="x"))
            raise error

    attempt(RecordedRefusal("不允许", code="refused"), "kept")
    attempt(PermissionDenied("不允许", code="refused"), "dropped")
    names = select(User.username).where(User.username.in_(["kept", "dropped"]))
    with Session(db) as s:
        assert list(s.scalars(names)) == ["kept"]


def _failing_commit(self: Session) -> None:
    raise OperationalError("COMMIT", {}, Exception("disk I/O error (injected)"))


def test_failed_commit_is_an_error_never_a_success(db, world, monkeypatch):
    client = _client(create_app(run_jobs=False))
    monkeypatch.setattr(Session, "commit", _failing_commit)
    r = client.post("/api/v1/halls/H1/tickets", json={"item_code": "SB01"})
    monkeypatch.undo()
    assert r.status_code == 503
    body = r.json()
    assert (
        body["error"] == "database_unavailable" and body["request_id"] == r.headers["x-request-id"]
    )
    assert _count(db, _tickets()) == 0
    # the same number is handed out once the database works again: nothing was promised
    ok = client.post("/api/v1/halls/H1/tickets", json={"item_code": "SB01"})
    assert ok.status_code == 201 and ok.json()["code"] == "A001"


def test_failed_commit_on_a_page_is_a_chinese_error_page(db, world, monkeypatch):
    client = _client(create_app(run_jobs=False))
    page = client.get("/halls/H1/kiosk")
    assert page.status_code == 200
    token = client.cookies and csrf(client)
    monkeypatch.setattr(Session, "commit", _failing_commit)
    r = client.post(
        "/halls/H1/kiosk/tickets",
        data={"item_code": "SB01"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    monkeypatch.undo()
    assert r.status_code == 503
    assert "数据库暂时不可用" in r.text
    assert _count(db, _tickets()) == 0
