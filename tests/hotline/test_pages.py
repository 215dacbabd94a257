"""Hotline pages and JSON API: intake, the workbench queues, one order with its next steps,
confidentiality for departments, and refusals that change nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hotline.models import OrderStatus, WorkOrder, WorkOrderEvent
from tests.hotline.factories import build_world
from tests.web.helpers import csrf, sign_in

MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NOISE = "小区旁边工地每天夜里施工到凌晨两点，噪音太大了，老人孩子都睡不着"


@pytest.fixture
def world(db):
    with frozen(MONDAY_10), unit_of_work() as s:
        built = build_world(s)
    return built


@pytest.fixture
def client(world):
    with frozen(MONDAY_10):
        yield TestClient(create_app())


def _post(client: TestClient, path: str, token: str, **data: object):
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def _order_id(response) -> int:
    match = re.search(r"/hotline/orders/(\d+)", response.headers["location"])
    assert match, response.headers
    return int(match.group(1))


def _count(model) -> int:
    with unit_of_work(readonly=True) as s:
        return s.scalar(select(func.count(model.id))) or 0


def test_agent_registers_dispatches_and_the_unit_answers(client, world):
    token = sign_in(client, "agent")
    form = client.get("/hotline/orders/new")
    assert (form.status_code == 200 and "受理" in form.text) or "登记" in form.text
    suggestion = client.get("/hotline/orders/suggest", params={"content": NOISE})
    assert 'data-suggested-category="CG-NOISE"' in suggestion.text
    r = _post(
        client,
        "/hotline/orders/new",
        token,
        content=NOISE,
        caller_name="李四",
        caller_phone="13912345678",
        confidential="on",
        district="鼓楼区",
        address="湖东路 18 号",
    )
    assert r.status_code == 303
    order_id = _order_id(r)
    page = client.get(f"/hotline/orders/{order_id}?done=created")
    assert "13912345678" in page.text and "工单已登记" in page.text
    r = _post(
        client, f"/hotline/orders/{order_id}/act/dispatch", token, department_code="CG", text=""
    )
    assert r.status_code == 303
    workbench = client.get("/hotline")
    assert workbench.status_code == 200

    # The unit signs in: the caller is hidden, the order is in its queue.
    unit = TestClient(create_app())
    unit_token = sign_in(unit, "handler-cg")
    queue = unit.get("/hotline")
    assert f"/hotline/orders/{order_id}" in queue.text
    page = unit.get(f"/hotline/orders/{order_id}")
    assert "13912345678" not in page.text and "李四" not in page.text
    assert "data-caller-hidden" in page.text
    api = unit.get(f"/api/v1/hotline/orders/{order_id}")
    assert api.status_code == 200 and "caller_phone" not in api.json()
    assert _post(unit, f"/hotline/orders/{order_id}/act/sign", unit_token).status_code == 303
    r = _post(unit, f"/hotline/orders/{order_id}/act/answer", unit_token, text="已责令停工")
    assert r.status_code == 303
    r = _post(client, f"/hotline/orders/{order_id}/act/close", token, text="")
    assert r.status_code == 303
    with unit_of_work(readonly=True) as s:
        order = s.get(WorkOrder, order_id)
        assert order.status == OrderStatus.CLOSED and order.answer == "已责令停工"


def test_another_unit_is_refused_and_nothing_changes(client, world):
    token = sign_in(client, "agent")
    order_id = _order_id(_post(client, "/hotline/orders/new", token, content=NOISE))
    _post(client, f"/hotline/orders/{order_id}/act/dispatch", token, department_code="CG")
    events = _count(WorkOrderEvent)
    other = TestClient(create_app())
    other_token = sign_in(other, "handler-hb")
    r = _post(other, f"/hotline/orders/{order_id}/act/sign", other_token)
    assert r.status_code == 403
    assert other.get(f"/api/v1/hotline/orders/{order_id}").status_code == 403
    assert _count(WorkOrderEvent) == events


def test_closing_without_answer_shows_a_friendly_error(client, world):
    token = sign_in(client, "agent")
    order_id = _order_id(_post(client, "/hotline/orders/new", token, content=NOISE))
    _post(client, f"/hotline/orders/{order_id}/act/dispatch", token, department_code="CG")
    r = _post(client, f"/hotline/orders/{order_id}/act/close", token, text="")
    assert r.status_code == 422
    assert "尚未答复" in r.text
    with unit_of_work(readonly=True) as s:
        assert s.get(WorkOrder, order_id).status == OrderStatus.DISPATCHED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"content": ""}, "请填写诉求内容"),
        ({"content": "路灯坏了", "caller_phone": "123"}, "电话号码格式不正确"),
        ({"content": "路灯坏了", "lat": "abc", "long": "1"}, "经纬度"),
        ({"content": "路灯坏了", "category_code": "NOPE"}, "未知的诉求分类"),
    ],
)
def test_bad_intake_form_is_shown_again_and_stores_nothing(client, data, message):
    token = sign_in(client, "agent")
    r = _post(client, "/hotline/orders/new", token, **data)
    assert r.status_code in (400, 404, 422)
    assert message in r.text
    assert _count(WorkOrder) == 0


def test_api_intake_and_dispatch_with_json_errors(client, world):
    token = sign_in(client, "agent")
    headers = {"X-CSRF-Token": token}
    r = client.post(
        "/api/v1/hotline/orders",
        json={"content": "自来水管爆了，整栋楼停水", "caller_phone": "13800000000"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["number"].startswith("20261123") and body["caller_phone"] == "13800000000"
    assert body["suggestion"]["category"] == "供水"
    bad = client.post(
        f"/api/v1/hotline/orders/{body['id']}/dispatch",
        json={"department_code": "NOPE"},
        headers=headers,
    )
    assert bad.status_code == 404 and bad.json()["error"] == "unknown_department"
    ok = client.post(
        f"/api/v1/hotline/orders/{body['id']}/dispatch",
        json={"department_code": "SWJT"},
        headers=headers,
    )
    assert ok.status_code == 200 and ok.json()["status"] == "dispatched"
    listed = client.get("/api/v1/hotline/orders", params={"status": "open"}).json()
    assert listed["total"] == 1
    assert client.get("/api/v1/hotline/orders", params={"status": "nope"}).status_code == 422


def test_order_list_filters_and_bad_date(client, world):
    token = sign_in(client, "agent")
    _post(client, "/hotline/orders/new", token, content=NOISE)
    _post(client, "/hotline/orders/new", token, content="请问社保卡丢了怎么补办")
    page = client.get("/hotline/orders", params={"q": "社保"})
    assert page.status_code == 200 and "data-total>1<" in page.text
    bad = client.get("/hotline/orders", params={"since": "2026-13-01"})
    assert (bad.status_code == 200 and "YYYY-MM-DD" in bad.text) or "日期" in bad.text


def test_a_citizen_may_write_angle_brackets_and_they_are_shown_as_text(db):
    with unit_of_work() as s:
        build_world(s)
    citizen = TestClient(create_app(run_jobs=False))
    token = csrf(citizen, "/hotline/report")
    content = "小区门口积水<30厘米>，<b>请尽快</b>处理 a<b"
    r = citizen.post(
        "/hotline/report",
        data={"content": content, "caller_phone": "13800138002", "csrf_token": token},
    )
    assert r.status_code == 201, r.text
    with unit_of_work(readonly=True) as s:
        order = s.scalars(select(WorkOrder).where(WorkOrder.caller_phone == "13800138002")).one()
        assert order.content == content  # stored as written
    staff = TestClient(create_app(run_jobs=False))
    sign_in(staff, "agent")
    page = staff.get(f"/hotline/orders/{order.id}")
    assert "&lt;b&gt;请尽快&lt;/b&gt;" in page.text and "<b>请尽快</b>" not in page.text
