"""The closed loop over HTTP: the JSON API (hall managers only, clear JSON errors, nothing
changed by bad input) and the pages (login, CSRF, assessment and decision forms, the
action page with its measured effect) — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from govloop.actions import api as actions_api
from govloop.actions import measurement
from govloop.actions import pages as actions_pages
from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.insight.models import Anomaly, AnomalyStatus
from tests.actions.test_service import (
    MONDAY,
    START,
    TODAY,
    add_anomaly,
    counts,
    events,
    synthetic_measures,
)
from tests.factories import make_hall, make_user
from tests.web.helpers import sign_in

BASE = "/api/v1/halls/H1"
LOOP = "/insight/H1/loop"


def make_app() -> FastAPI:
    """The application with the loop's routers (until app.py includes them itself)."""
    app = create_app(run_jobs=False)
    if LOOP.replace("H1", "{hall_code}") not in {getattr(r, "path", "") for r in app.routes}:
        app.include_router(actions_api.router)
        app.include_router(actions_pages.router)
    return app


@pytest.fixture
def setup(db):
    with frozen(MONDAY):
        with unit_of_work() as s:
            world = make_hall(s)
            auditor = make_user(s, "auditor", Role.AUDITOR)
            tokens = {
                "manager": issue_api_token(session=s, user=world.manager, name="t"),
                "staff": issue_api_token(session=s, user=world.staff[1], name="t"),
                "auditor": issue_api_token(session=s, user=auditor, name="t"),
            }
        yield world, tokens


@pytest.fixture
def api(setup):
    world, tokens = setup
    with frozen(MONDAY):
        client = TestClient(make_app())
        client.world = world  # type: ignore[attr-defined]
        client.tokens = tokens  # type: ignore[attr-defined]
        yield client


def auth(client: TestClient, who: str = "manager") -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens[who]}"}  # type: ignore[attr-defined]


def body(world, **overrides) -> dict:
    data = {
        "title": "周一上午加开窗口",
        "kind": "open_windows",
        "decision": "周一 9:00–11:00 加开 3 号窗口专办社保",
        "owner_id": world.manager.id,
        "starts_on": START.isoformat(),
        "due_date": TODAY.isoformat(),
        "scope": {"items": ["SB01"], "slots": ["09:00", "09:30", "10:00", "10:30"]},
        "indicators": ["wait_mean", "served_within_20"],
    }
    data.update(overrides)
    return data


# --- the JSON API -------------------------------------------------------------------------------


def test_api_is_for_hall_managers_only(api):
    r = api.get(f"{BASE}/actions")
    assert r.status_code == 401 and r.json()["error"] == "not_authenticated"
    for who in ("staff", "auditor"):
        r = api.get(f"{BASE}/actions", headers=auth(api, who))
        assert r.status_code == 403 and r.json()["error"] == "permission_denied"
    r = api.post(f"{BASE}/actions", json=body(api.world), headers=auth(api, "staff"))
    assert r.status_code == 403
    assert api.get(f"{BASE}/actions", headers=auth(api)).json() == []
    assert counts() == (0, 0)


def test_api_create_read_and_life_cycle(api, monkeypatch):
    r = api.post(f"{BASE}/actions", json=body(api.world), headers=auth(api))
    assert r.status_code == 201, r.text
    action = r.json()
    assert action["status"] == "planned" and action["owner"] == "manager"
    assert action["scope"]["slots"] == ["09:00", "09:30", "10:00", "10:30"]
    assert [e["kind"] for e in action["events"]] == ["action.created"]
    url = f"{BASE}/actions/{action['id']}"

    r = api.post(f"{url}/effect", headers=auth(api))
    assert r.status_code == 422 and r.json()["error"] == "action_not_started"
    r = api.post(f"{url}/start", json={"on": START.isoformat()}, headers=auth(api))
    assert r.status_code == 200 and r.json()["status"] == "active"
    r = api.post(f"{url}/start", headers=auth(api))
    assert r.status_code == 409 and r.json()["error"] == "invalid_transition"

    monkeypatch.setattr(
        measurement, "daily_measures", synthetic_measures(api.world, effect_minutes=-5)
    )
    r = api.post(f"{url}/effect", headers=auth(api))
    assert r.status_code == 200, r.text
    effect = r.json()["effect"]
    assert effect["slots"] == ["09:00", "09:30", "10:00", "10:30"]
    wait = effect["indicators"][0]
    assert wait["code"] == "wait_mean" and wait["verdict"] == "improved"
    assert wait["ci_low"] <= -5 <= wait["ci_high"]

    r = api.post(f"{url}/complete", json={"note": "已完成排班调整"}, headers=auth(api))
    assert r.status_code == 200 and r.json()["status"] == "completed"
    r = api.post(f"{url}/cancel", json={"reason": "重复"}, headers=auth(api))
    assert r.status_code == 409
    detail = api.get(url, headers=auth(api)).json()
    assert [e["kind"] for e in detail["events"]] == [
        "action.created",
        "action.started",
        "action.effect_measured",
        "action.completed",
    ]
    assert (
        api.get(f"{BASE}/actions?status=completed", headers=auth(api)).json()[0]["id"]
        == (action["id"])
    )
    assert api.get(f"{BASE}/actions?status=planned", headers=auth(api)).json() == []
    r = api.get(f"{BASE}/actions?status=someday", headers=auth(api))
    assert r.status_code == 400 and r.json()["error"] == "unknown_status"
    assert api.get(f"{BASE}/actions/999", headers=auth(api)).status_code == 404
    assert api.get("/api/v1/halls/NOPE/actions", headers=auth(api)).status_code == 404


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"scope": {"items": ["XX99"]}}, 404, "item_not_found"),
        ({"indicators": ["device_uptime"]}, 422, "no_measurable_indicator"),
        ({"ends_on": "2026-11-01"}, 400, "end_before_start"),
        ({"kind": "miracle"}, 400, "unknown_kind"),
        ({"starts_on": "someday"}, 422, "invalid_request"),
        ({"scope": {"rooms": [1]}}, 422, "invalid_request"),
    ],
)
def test_api_bad_input_is_a_clear_error_and_changes_nothing(api, overrides, status, code):
    r = api.post(f"{BASE}/actions", json=body(api.world, **overrides), headers=auth(api))
    assert r.status_code == status, r.text
    assert r.json()["error"] == code and r.json()["message"]
    assert counts() == (0, 0)


def test_api_assessment(api):
    anomaly_id = add_anomaly(api.world)
    url = f"{BASE}/anomalies/{anomaly_id}/assessment"
    r = api.post(url, json={"reasonable": False}, headers=auth(api))
    assert r.status_code == 400 and r.json()["error"] == "comment_required"
    assert events(anomaly_id=anomaly_id) == []
    r = api.post(url, json={"reasonable": False, "comment": "排班不足"}, headers=auth(api))
    assert r.status_code == 200
    assert r.json()["status"] == "unreasonable" and r.json()["needs_action"] is True
    r = api.post(f"{BASE}/actions", json=body(api.world, anomaly_id=anomaly_id), headers=auth(api))
    assert r.status_code == 201
    r = api.post(
        url, json={"reasonable": False, "comment": "排班不足，已有措施"}, headers=auth(api)
    )
    assert r.json()["needs_action"] is False
    assert api.post(url, json={"reasonable": True}, headers=auth(api, "staff")).status_code == 403
    r = api.post(f"{BASE}/anomalies/999/assessment", json={"reasonable": True}, headers=auth(api))
    assert r.status_code == 404


# --- the pages -----------------------------------------------------------------------------------


@pytest.fixture
def client(setup):
    with frozen(MONDAY):
        c = TestClient(make_app())
        c.world = setup[0]  # type: ignore[attr-defined]
        c.token = sign_in(c, "manager")  # type: ignore[attr-defined]
        yield c


def form_page(client: TestClient, url: str, data: dict, **kwargs):
    return client.post(
        url,
        data={"csrf_token": client.token, **data},  # type: ignore[attr-defined]
        follow_redirects=False,
        **kwargs,
    )


def test_loop_page_needs_a_signed_in_manager(setup):
    with frozen(MONDAY):
        anonymous = TestClient(make_app())
        r = anonymous.get(LOOP, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        staff = TestClient(make_app())
        sign_in(staff, "staff1")
        r = staff.get(LOOP)
        assert r.status_code == 403 and "权限" in r.text


def test_loop_page_walks_anomaly_assessment_and_decision(client):
    world = client.world
    open_id = add_anomaly(world)
    page = client.get(LOOP)
    assert page.status_code == 200
    assert "闭环" in page.text or "Closed loop" in page.text
    assert f'id="anomaly-{open_id}"' in page.text
    assert f'href="/insight/H1/anomalies/{open_id}"' in page.text  # the analysis
    assert "平均等候时长" in page.text

    # no CSRF token: refused, nothing changed
    r = client.post(
        f"/insight/H1/anomalies/{open_id}/assess",
        data={"verdict": "unreasonable", "comment": "x"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    # unreasonable without a reason: the form comes back with the message
    r = form_page(client, f"/insight/H1/anomalies/{open_id}/assess", {"verdict": "unreasonable"})
    assert r.status_code == 400 and "请写明理由" in r.text
    with unit_of_work() as s:
        assert s.get(Anomaly, open_id).status == AnomalyStatus.OPEN
    r = form_page(
        client,
        f"/insight/H1/anomalies/{open_id}/assess",
        {"verdict": "unreasonable", "comment": "周一上午社保窗口不足"},
    )
    assert r.status_code == 303 and f"anomaly={open_id}" in r.headers["location"]

    # the decision form, prefilled from the anomaly
    page = client.get(r.headers["location"])
    assert "评估已记录" in page.text or "Assessment recorded" in page.text
    assert f'name="anomaly_id" value="{open_id}"' in page.text
    assert re.search(r'value="wait_mean" checked', page.text)
    assert f'data-needs-action="{open_id}"' in page.text

    # a refused decision keeps what the manager typed
    before = counts()
    r = form_page(
        client,
        "/insight/H1/actions",
        {
            "title": "社保窗口加开",
            "kind": "open_windows",
            "decision": "周一上午加开",
            "owner_id": str(world.manager.id),
            "starts_on": TODAY.isoformat(),
            "due_date": "2026-12-01",
            "items": "SB01",
            "indicators": "on_post_rate",  # does not apply to single items
            "anomaly_id": str(open_id),
        },
    )
    assert r.status_code == 422 and "不适用于单个事项" in r.text
    assert 'value="社保窗口加开"' in r.text
    assert counts() == before

    r = form_page(
        client,
        "/insight/H1/actions",
        {
            "title": "社保窗口加开",
            "kind": "open_windows",
            "decision": "周一上午加开",
            "owner_id": str(world.manager.id),
            "starts_on": TODAY.isoformat(),
            "due_date": "2026-12-01",
            "items": "SB01",
            "windows": "",
            "weekdays": ["0"],
            "indicators": ["wait_mean", "served_within_20"],
            "anomaly_id": str(open_id),
        },
    )
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert re.fullmatch(r"/insight/H1/actions/\d+\?done=created", location)
    detail = client.get(location)
    assert detail.status_code == 200 and "社保窗口加开" in detail.text
    assert f'data-linked-anomaly="{open_id}"' in detail.text
    page = client.get(LOOP)
    assert f'data-needs-action="{open_id}"' not in page.text
    assert f'data-acted-on="{open_id}"' in page.text


def test_a_recommendation_prefills_the_decision_form(client):
    r = client.get(
        LOOP,
        params=[
            ("kind", "open_windows"),
            ("title", "周一 9:00–11:00 加开 1 个窗口"),
            ("items", "SB01,GS01"),
            ("slots", "09:00"),
            ("slots", "09:30"),
            ("indicators", "wait_mean"),
        ],
    )
    assert r.status_code == 200
    text = r.text
    assert 'value="周一 9:00–11:00 加开 1 个窗口"' in text
    assert re.search(r'<option value="open_windows" selected', text)
    for value in ("SB01", "GS01", "09:00", "09:30", "wait_mean"):
        assert re.search(rf'value="{value}" checked', text), value
    assert not re.search(r'value="10:00" checked', text)
    hidden = re.search(r'name="recommendation" value="([^"]*)"', text)
    assert hidden and "open_windows" in hidden.group(1).replace("&#34;", '"')


def test_action_page_steps_and_measured_effect(client, monkeypatch):
    world = client.world
    r = form_page(
        client,
        "/insight/H1/actions",
        {
            "title": "社保事项分流",
            "kind": "other",
            "decision": "社保卡业务引导至自助终端",
            "owner_id": str(world.manager.id),
            "starts_on": START.isoformat(),
            "due_date": TODAY.isoformat(),
            "items": "SB01",
            "indicators": ["wait_mean", "device_uptime"],
        },
    )
    url = r.headers["location"].split("?")[0]
    page = client.get(url)
    assert 'data-step="start"' in page.text and 'data-step="measure"' not in page.text
    assert "data-no-effect" in page.text

    r = form_page(client, f"{url}/start", {"on": "2026-12-01"})  # the future
    assert r.status_code == 400 and "不能晚于今天" in r.text
    r = form_page(client, f"{url}/start", {"on": START.isoformat(), "note": "已上线"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=start")

    monkeypatch.setattr(measurement, "daily_measures", synthetic_measures(world, effect_minutes=-5))
    r = form_page(client, f"{url}/measure", {})
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert 'data-effect-row="wait_mean" data-effect-status="measured"' in page.text
    assert 'data-verdict="improved"' in page.text
    assert 'data-effect-row="device_uptime" data-effect-status="not_measurable"' in page.text
    data = re.search(r'<script type="application/json" id="effect-data">(.*?)</script>', page.text)
    assert data, "the chart data are on the page"
    chart = json.loads(data.group(1))["charts"][0]
    assert chart["code"] == "wait_mean" and chart["start"] == START.isoformat()
    assert len(chart["days"]) == len(chart["observed"]) == len(chart["high"]) == 30
    assert chart["expected"][0] is None and chart["low"][-1] < chart["high"][-1]
    assert "/static/vendor/echarts.min.js" in page.text

    r = form_page(client, f"{url}/complete", {"note": "完成"})
    assert r.status_code == 303
    r = form_page(client, f"{url}/cancel", {"reason": "重复"})
    assert r.status_code == 409 and "已完成" in r.text
    kinds = [e.kind for e in events()]
    assert kinds == [
        "action.created",
        "action.started",
        "action.effect_measured",
        "action.completed",
    ]


def test_pages_in_english(client):
    add_anomaly(client.world)
    client.cookies.set("lang", "en")
    page = client.get(LOOP)
    assert page.status_code == 200
    assert "Closed loop" in page.text and "Decide an action" in page.text
    assert "Mean wait" in page.text


def test_manager_of_no_such_action_gets_a_friendly_404(client):
    r = client.get("/insight/H1/actions/424242")
    assert r.status_code == 404 and "未找到措施" in r.text


def test_dates_and_owner_are_checked_in_the_form(client):
    before = counts()
    r = form_page(
        client,
        "/insight/H1/actions",
        {
            "title": "x",
            "decision": "y",
            "owner_id": "",
            "starts_on": "tomorrow",
            "indicators": "wait_mean",
        },
    )
    assert r.status_code == 400 and "YYYY-MM-DD" in r.text
    r = form_page(
        client,
        "/insight/H1/actions",
        {
            "title": "x",
            "decision": "y",
            "owner_id": "",
            "starts_on": "2026-11-23",
            "due_date": "2026-11-30",
            "indicators": "wait_mean",
        },
    )
    assert r.status_code == 400 and "请指定负责人" in r.text
    assert counts() == before
