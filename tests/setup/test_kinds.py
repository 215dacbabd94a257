"""Editing the configuration one row at a time (console pages and API), archiving with its
refusals, and a hall's own calendar."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.db import unit_of_work
from govloop.core.errors import RuleViolation
from govloop.hall import service as hall_service
from govloop.hall import windows as hall_windows
from govloop.hall.models import ServiceItem, Ticket, TicketStatus, Window
from govloop.org.models import Hall
from govloop.setup import archive, service
from govloop.setup.models import ConfigChange
from tests.factories import make_hall, make_user
from tests.setup.workbooks import GOOD, workbook
from tests.web.helpers import sign_in

API = "/api/v1/admin/config"


@pytest.fixture
def centre(db):
    with unit_of_work() as s:
        service.import_files(
            session=s, files=[("清单.xlsx", workbook(GOOD))], actor=None, source="cli"
        )
        admin = make_user(s, "root", Role.ADMIN)
        return {"token": issue_api_token(session=s, user=admin, name="t")}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_adds_and_changes_rows_with_the_import_rules(centre):
    client = TestClient(create_app(run_jobs=False))
    auth = _bearer(centre["token"])
    window = {
        "大厅编码": "CITY",
        "窗口号": 3,
        "窗口名称": "社保专窗",
        "窗口类型": "专窗",
        "可办事项": "SB01",
    }
    r = client.put(f"{API}/windows", json={"rows": [window]}, headers=auth)
    assert r.status_code == 200 and r.json()["counts"]["窗口"] == {"created": 1}
    listed = client.get(f"{API}/windows", headers=auth).json()
    assert {
        "大厅编码": "CITY",
        "窗口号": 3,
        "窗口名称": "社保专窗",
        "窗口类型": "专窗",
        "可办事项": "SB01",
    } in listed
    bad = client.put(f"{API}/windows", json={"rows": [window | {"可办事项": "NOPE"}]}, headers=auth)
    assert bad.status_code == 422 and bad.json()["problems"][0]["column"] == "可办事项"
    unknown = client.put(f"{API}/windows", json={"rows": [{"颜色": "红"}]}, headers=auth)
    assert unknown.status_code == 400 and unknown.json()["error"] == "unknown_columns"
    assert client.put(f"{API}/rockets", json={"rows": [{}]}, headers=auth).status_code == 404


def test_archiving_an_item_hides_it_from_the_kiosk_but_keeps_its_history(centre):
    client = TestClient(create_app(run_jobs=False))
    auth = _bearer(centre["token"])
    with unit_of_work() as s:
        city = s.scalars(select(Hall).where(Hall.code == "CITY")).one()
        item = s.scalars(select(ServiceItem).where(ServiceItem.code == "GA01")).one()
        ticket = hall_service.issue_ticket(session=s, hall=city, item=item, check_hours=False)
        ticket_id = ticket.id
    refused = client.post(f"{API}/items/archive", json={"key": ["GA01"]}, headers=auth)
    assert refused.status_code == 422 and "未办完的号票" in refused.json()["message"]
    with unit_of_work() as s:  # the citizen gave up the ticket
        s.get(Ticket, ticket_id).status = TicketStatus.CANCELLED
    assert "居民身份证申领" in client.get("/halls/CITY/kiosk").text
    done = client.post(f"{API}/items/archive", json={"key": ["GA01"]}, headers=auth)
    assert done.status_code == 200
    assert "居民身份证申领" not in client.get("/halls/CITY/kiosk").text
    with unit_of_work() as s:
        assert (
            s.scalars(select(ServiceItem).where(ServiceItem.code == "GA01")).one().active is False
        )
        change = s.scalars(select(ConfigChange).where(ConfigChange.action == "archived")).one()
        assert (change.kind, change.key) == ("item", "GA01")
    again = client.post(f"{API}/items/archive", json={"key": ["GA01"]}, headers=auth)
    assert again.status_code == 422 and again.json()["error"] == "already_archived"


def test_a_window_serving_a_ticket_cannot_be_archived(db):
    with unit_of_work() as s:
        world = make_hall(s)
        hall_service.issue_ticket(
            session=s, hall=world.hall, item=world.items["SB01"], check_hours=False
        )
        hall_windows.call_next(session=s, hall=world.hall, window_number=1, actor=world.staff[1])
        with pytest.raises(RuleViolation, match="正在办理"):
            archive.archive_window(
                session=s, hall_code="H1", number=1, actor=None, source="console"
            )
        archive.archive_window(session=s, hall_code="H1", number=2, actor=None, source="console")
        assert s.scalars(select(Window).where(Window.number == 2)).one().active is False


def test_console_page_saves_a_row_and_shows_the_problems(centre):
    client = TestClient(create_app(run_jobs=False))
    token = sign_in(client, "root")
    page = client.get("/admin/config/items")
    assert page.status_code == 200 and "社会保险参保登记" in page.text and "取号前缀" in page.text
    row = [
        "SB02",
        "失业保险金申领",
        "RSJ",
        "C",
        "15",
        "5",
        "20",
        "不收费",
        "身份证；离职证明",
        "是",
        "否",
        "否",
    ]
    form = {f"col{i}": v for i, v in enumerate(row)} | {"csrf_token": token}
    r = client.post("/admin/config/items", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/config/items?done=saved"
    bad = client.post("/admin/config/items", data=form | {"col3": "B"})  # 公安's letter
    assert bad.status_code == 422 and "同一取号前缀" in bad.text
    assert 'value="SB02"' in bad.text  # the form keeps what was typed
    edit = client.get("/admin/config/items?edit=0")
    assert 'value="GA01"' in edit.text
    staff = ["wangwu", "王五", "window_staff", "RSJ", "CITY"]
    created = client.post(
        "/admin/config/users",
        data={f"col{i}": v for i, v in enumerate(staff)} | {"csrf_token": token},
    )
    assert created.status_code == 200 and 'data-password="wangwu"' in created.text
    refused = client.post(
        "/admin/config/windows/archive", data={"key": ["CITY"], "csrf_token": token}
    )
    assert refused.status_code == 400 and "请指明" in refused.text


def test_a_halls_own_calendar(centre):
    client = TestClient(create_app(run_jobs=False))
    token = sign_in(client, "root")
    r = client.post(
        "/admin/config/halls/calendar",
        data={
            "hall": "CITY",
            "closed": "2026-12-24\n2026-12-25",
            "extra": "2026-12-27",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    with unit_of_work() as s:
        city = s.scalars(select(Hall).where(Hall.code == "CITY")).one()
        assert city.closed_days == ["2026-12-24", "2026-12-25"]
        assert city.extra_days == ["2026-12-27"]
    bad = client.post(
        "/admin/config/halls/calendar",
        data={"hall": "CITY", "closed": "24/12", "extra": "", "csrf_token": token},
    )
    assert bad.status_code == 400 and "格式不正确" in bad.text
    both = client.post(
        "/admin/config/halls/calendar",
        data={"hall": "CITY", "closed": "2026-12-27", "extra": "2026-12-27", "csrf_token": token},
    )
    assert both.status_code == 422 and "不能既是闭厅日又是加班日" in both.text
    assert date(2026, 12, 27).isoweekday() == 7
