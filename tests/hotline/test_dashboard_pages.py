"""The hotline dashboard page and its JSON: who may see what, the figures shown, and bad
periods answered with a friendly message that changes nothing."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from govloop.app import create_app
from govloop.core.clock import frozen
from govloop.hotline.dashboard import api as dashboard_api
from govloop.hotline.dashboard import pages as dashboard_pages
from tests.hotline.dashboard_scenario import FRIDAY_DEC_11, build_week
from tests.web.helpers import sign_in

PAGE = "/hotline/dashboard?from=2026-11-01&to=2026-11-30"
API = "/api/v1/hotline/dashboard"


def make_app():  # type: ignore[no-untyped-def]
    app = create_app()
    paths = {getattr(r, "path", None) for r in app.routes}
    if "/hotline/dashboard" not in paths:
        app.include_router(dashboard_pages.router)
    if "/api/v1/hotline/dashboard" not in paths:
        app.include_router(dashboard_api.router)
    return app


@pytest.fixture
def week(db):
    return build_week()


@pytest.fixture
def client(week):
    with frozen(FRIDAY_DEC_11):
        yield TestClient(make_app())


def chart(html: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="hotline-dashboard-data">(.*?)</script>', html, re.S
    )
    assert match, "no chart data"
    return json.loads(match.group(1))


def test_the_center_sees_the_figures_the_ranking_and_the_overdue_orders(client, week):
    sign_in(client, "agent")
    r = client.get(PAGE)
    assert r.status_code == 200
    html = r.text
    assert 'data-kpi="orders"' in html and re.search(
        r'data-kpi="orders">\s*<span class="kpi-num">8<', html
    )
    assert re.search(r'data-kpi="on_time_rate">\s*<span class="kpi-num">85.7%<', html)  # 6/7
    assert re.search(r'data-kpi="overdue_now">\s*<span class="kpi-num">1<', html)
    ranks = re.findall(r'data-department="(\w+)" data-rank="(\d*)"', html)
    assert ranks == [("HB", "1"), ("SWJT", "2"), ("CG", "3")]
    assert "data-own-unit" not in html  # the center has no unit of its own
    o4 = week.orders["o4"]
    assert f'href="/hotline/orders/{o4}"' in html and "data-overdue-total>1<" in html
    data = chart(html)
    assert sorted(c["data"][22] for c in data["channels"]) == [1, 1, 6]  # 23 Nov: h5 web phone
    assert sum(sum(c["data"]) for c in data["channels"]) == 8
    assert data["categories"][0] == {"name": "噪音扰民", "value": 2}
    assert [d["name"] for d in data["departments"]] == ["生态环境局", "自来水公司", "城市管理局"]
    assert "/static/js/hotline_dashboard.js" in html and "echarts.min.js" in html


def test_a_department_sees_its_row_and_only_its_overdue_orders(client, week):
    sign_in(client, "handler-cg")
    html = client.get(PAGE).text
    own = re.findall(r'<tr data-department="(\w+)"[^>]*data-own-unit', html)
    assert own == ["CG"]
    assert f'href="/hotline/orders/{week.orders["o4"]}"' in html  # CG's own overdue order
    sign_in(client, "handler-swjt")
    html = client.get(PAGE).text
    assert re.findall(r'<tr data-department="(\w+)"[^>]*data-own-unit', html) == ["SWJT"]
    assert "data-no-overdue" in html and "/hotline/orders/" not in html
    assert re.search(r'data-kpi="overdue_now">\s*<span class="kpi-num">1<', html)  # city-wide


def test_who_may_open_the_dashboard(week):
    with frozen(FRIDAY_DEC_11):
        anonymous = TestClient(make_app())
        r = anonymous.get(PAGE, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert anonymous.get(API).status_code == 401
        from govloop.core.auth import Role, create_user
        from govloop.core.db import unit_of_work

        with unit_of_work() as s:
            create_user(session=s, username="clerk", password="correct-horse-battery",
                        role=Role.WINDOW_STAFF)  # fmt: skip
        clerk = TestClient(make_app())
        sign_in(clerk, "clerk")
        assert clerk.get(PAGE).status_code == 403
        assert clerk.get(API).status_code == 403


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("from=2026-13-01", "开始日期格式不正确"),
        ("from=2026-11-30&to=2026-11-01", "晚于结束日期"),
        ("to=tomorrow", "结束日期格式不正确"),
        ("from=2020-01-01&to=2026-11-30", "最长"),
    ],
)
def test_bad_periods_are_a_friendly_message(client, query, text):
    sign_in(client, "agent")
    r = client.get(f"/hotline/dashboard?{query}")
    assert r.status_code == 400
    assert text in r.text and "data-error-message" in r.text and "Traceback" not in r.text
    api = client.get(f"{API}?{query}")
    assert api.status_code == 400 and text in api.json()["message"]


def test_an_empty_period_says_so_and_the_default_is_the_last_30_days(client):
    sign_in(client, "agent")
    html = client.get("/hotline/dashboard?from=2026-10-01&to=2026-10-31").text
    assert "data-empty" in html and 'id="chart-days"' not in html
    html = client.get("/hotline/dashboard").text
    assert 'data-period="2026-11-12..2026-12-11"' in html


def test_the_json(client, week):
    sign_in(client, "agent")
    body = client.get(API, params={"from": "2026-11-01", "to": "2026-11-30"}).json()
    assert body["kpis"]["orders"] == 8 and body["kpis"]["closed"] == 7
    assert body["kpis"]["satisfaction_rate"] == pytest.approx(3 / 4)
    assert body["viewer_department_id"] is None
    assert body["score_weights"] == {
        "on_time": 0.4,
        "sign_on_time": 0.2,
        "satisfaction": 0.3,
        "no_return": 0.1,
    }
    cg = next(r for r in body["departments"] if r["code"] == "CG")
    assert (cg["orders"], cg["returns"], cg["rank"]) == (4, 1, 3)
    assert cg["on_time_rate"] == pytest.approx(2 / 3)
    assert body["overdue"][0]["number"] == week.numbers["o4"]
    assert body["by_day"]["days"][0] == "2026-11-01" and len(body["by_day"]["days"]) == 30
