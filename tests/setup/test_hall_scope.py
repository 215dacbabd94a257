"""Staff who belong to some halls act in those halls only; city-wide staff (no membership)
and the administrator in every hall. The refusal says why and shows nothing of the hall."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.app import create_app
from govloop.core.auth import Role
from govloop.core.db import unit_of_work
from govloop.org.models import Hall, HallMember
from tests.factories import make_user
from tests.setup.test_schedule import _centre
from tests.web.helpers import htmx, sign_in


def _member(username: str, role: Role, hall_code: str | None) -> None:
    with unit_of_work() as s:
        user = make_user(s, username, role)
        if hall_code:
            hall = s.scalars(select(Hall).where(Hall.code == hall_code)).one()
            s.add(HallMember(user_id=user.id, hall_id=hall.id))


def test_a_hall_manager_sees_their_hall_only(db):
    _centre()
    _member("city_manager", Role.HALL_MANAGER, "CITY")
    _member("city_wide", Role.HALL_MANAGER, None)
    with TestClient(create_app(run_jobs=False)) as client:
        sign_in(client, "city_manager")
        assert client.get("/api/v1/halls/CITY/anomalies").status_code == 200
        refused = client.get("/api/v1/halls/EAST/anomalies")
        assert refused.status_code == 403
        assert refused.json()["error"] == "not_your_hall"
        assert "东区" not in refused.text  # nothing of the other hall
        page = client.get("/insight/EAST/demand")
        assert page.status_code == 403 and "您不属于该服务大厅" in page.text
    with TestClient(create_app(run_jobs=False)) as client:
        sign_in(client, "city_wide")
        assert client.get("/api/v1/halls/EAST/anomalies").status_code == 200
    with TestClient(create_app(run_jobs=False)) as client:
        sign_in(client, "root")  # the administrator
        assert client.get("/api/v1/halls/EAST/anomalies").status_code == 200


def test_a_clerk_cannot_sign_in_to_a_window_of_another_hall(db):
    _centre()
    _member("east_clerk", Role.WINDOW_STAFF, "EAST")
    with TestClient(create_app(run_jobs=False)) as client:
        token = sign_in(client, "east_clerk")
        refused = client.post("/api/v1/halls/CITY/windows/1/sign-in", headers=htmx(token))
        assert refused.status_code == 403
        assert refused.json()["error"] == "not_your_hall"
        ok = client.post("/api/v1/halls/EAST/windows/1/sign-in", headers=htmx(token))
        assert ok.status_code == 200, ok.text
    with unit_of_work() as s:
        city = s.scalars(select(Hall).where(Hall.code == "CITY")).one()
        assert city is not None  # untouched: nobody signed in at CITY
