"""The hotline's categories (派单目录) and time limits from the console and the API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.db import unit_of_work
from govloop.hotline.models import HotlineCategory
from govloop.hotline.orders import sla
from govloop.org.models import Department
from govloop.setup.models import ConfigChange
from tests.factories import make_user
from tests.web.helpers import sign_in

API = "/api/v1/admin/hotline"


def _world() -> str:
    with unit_of_work() as s:
        s.add(Department(code="CG", name="城市管理局"))
        admin = make_user(s, "root", Role.ADMIN)
        return issue_api_token(session=s, user=admin, name="t")


def test_categories_and_time_limits_over_the_api(db):
    auth = {"Authorization": f"Bearer {_world()}"}
    client = TestClient(create_app(run_jobs=False))
    body = {
        "name": "噪音扰民",
        "group": "城市管理",
        "department": "CG",
        "order_type": "complaint",
        "keywords": ["噪音", "施工扰民"],
    }
    r = client.put(f"{API}/categories/CG-NOISE", json=body, headers=auth)
    assert r.status_code == 200
    bad = client.put(f"{API}/categories/CG-X", json=body | {"department": "NOPE"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"] == "unknown_department"
    listed = client.get(f"{API}/categories", headers=auth).json()
    assert listed == [
        {
            "code": "CG-NOISE",
            "name": "噪音扰民",
            "group": "城市管理",
            "department": "CG",
            "order_type": "complaint",
            "keywords": ["噪音", "施工扰民"],
            "public": True,
            "active": True,
        }
    ]
    limit = {
        "order_type": "complaint",
        "urgency": "normal",
        "category": "CG-NOISE",
        "sign_days": 1,
        "handle_days": 7,
        "warn_hours": 12,
    }
    assert client.put(f"{API}/time-limits", json=limit, headers=auth).status_code == 200
    wrong = client.put(f"{API}/time-limits", json=limit | {"sign_days": 9}, headers=auth)
    assert wrong.status_code == 400 and wrong.json()["error"] == "sign_after_handle"
    with unit_of_work() as s:
        noise = s.scalars(select(HotlineCategory).where(HotlineCategory.code == "CG-NOISE")).one()
        got = sla.limit_for(
            session=s, order_type="complaint", urgency="normal", category_id=noise.id
        )
        assert (got.sign_working_days, got.handle_working_days, got.warn_hours) == (1, 7, 12)
        kinds = sorted(s.scalars(select(ConfigChange.kind)))
        assert kinds == ["category", "time_limit"]
    rows = client.get(f"{API}/time-limits", headers=auth).json()
    assert {"order_type": "complaint", "category": "CG-NOISE", "handle_days": 7}.items() <= next(
        r for r in rows if r["category"] == "CG-NOISE"
    ).items()


def test_the_hotline_page_saves_archives_and_refuses(db):
    _world()
    client = TestClient(create_app(run_jobs=False))
    token = sign_in(client, "root")
    page = client.get("/admin/hotline")
    assert page.status_code == 200 and "热线分类与时限" in page.text and "投诉" in page.text
    form = {
        "code": "CG-ROAD",
        "name": "道路设施损坏",
        "group": "城市管理",
        "department": "CG",
        "order_type": "report",
        "keywords": "路面，井盖 路灯",
        "public": "1",
        "csrf_token": token,
    }
    saved = client.post("/admin/hotline/categories", data=form, follow_redirects=False)
    assert saved.status_code == 303
    with unit_of_work() as s:
        road = s.scalars(select(HotlineCategory).where(HotlineCategory.code == "CG-ROAD")).one()
        assert road.keywords == ["路面", "井盖", "路灯"] and road.default_type == "report"
    bad = client.post("/admin/hotline/categories", data=form | {"code": "坏 编码"})
    assert bad.status_code == 400 and "分类编码" in bad.text
    archived = client.post(
        "/admin/hotline/categories/CG-ROAD/archive",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert archived.status_code == 303
    again = client.post("/admin/hotline/categories/CG-ROAD/archive", data={"csrf_token": token})
    assert again.status_code == 422 and "已归档" in again.text
    limit = client.post(
        "/admin/hotline/time-limits",
        data={
            "order_type": "help",
            "urgency": "urgent",
            "category": "",
            "sign_days": "0",
            "handle_days": "2",
            "warn_hours": "4",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert limit.status_code == 303
    assert 'data-limit="help/urgent/"' in client.get("/admin/hotline").text
