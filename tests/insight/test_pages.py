"""Insight pages (理解分析): the hub, the demand heatmap with peaks and calendar patterns,
the comparison of two periods and the anomalies with their drill-down — rendered from a
six-week demo history, on SQLite and PostgreSQL; bad input is the friendly Chinese page."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.demo.hall import seed as demo
from govloop.insight import service, watch
from govloop.insight.models import Anomaly
from govloop.org import service as org_service
from tests.factories import make_user
from tests.insight.history import build_demo_history
from tests.web.helpers import csrf, sign_in

# Tuesday 2026-10-13, 12:00 in Shanghai: six weeks back reach the September month end and
# the National Day holidays (10-01 … 10-07), so every calendar pattern has days behind it.
TODAY_NOON = datetime(2026, 10, 13, 4, 0, tzinfo=UTC)
DAYS = 42
SEED = 11
BASE = "/insight/DEMO"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(path))
    return path


@pytest.fixture
def history(db, data_dir):
    build_demo_history(TODAY_NOON, days=DAYS, seed=SEED)
    with frozen(TODAY_NOON), unit_of_work() as s:
        make_user(s, "agent", Role.HOTLINE_AGENT)


@pytest.fixture
def client(history):
    with frozen(TODAY_NOON):
        c = TestClient(create_app(run_jobs=False))
        sign_in(c, "manager", demo.DEMO_PASSWORD)
        yield c


def chart_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="insight-data">(.*?)</script>', html)
    assert match, "page has no chart data"
    return json.loads(match.group(1))


def friendly(r, status: int, text: str) -> None:
    assert r.status_code == status, r.text
    assert "data-error-message" in r.text and text in r.text
    assert "Traceback" not in r.text


def check_hub(client):
    home = client.get("/").text
    assert "/insight?hall=DEMO" in home
    r = client.get("/insight")  # the first hall by default
    assert r.status_code == 200, r.text
    for target in (
        "/demand",
        "/compare",
        "/forecast",
        "/staffing",
        "/anomalies",
        "/recommendations",
        "/loop",
    ):
        assert f'href="{BASE}{target}"' in r.text, target
    assert 'href="/best-time/DEMO"' in r.text
    assert client.get("/insight?hall=DEMO").text.count('data-link="') == 8
    assert client.get(BASE, follow_redirects=False).headers["location"] == "/insight?hall=DEMO"
    friendly(client.get("/insight?hall=NOPE"), 404, "未找到服务大厅")


def check_demand(client):
    with unit_of_work(readonly=True) as s:
        start, end = service.default_range()
        expected = service.demand_report(session=s, hall_code="DEMO", start=start, end=end)
    r = client.get(f"{BASE}/demand")
    assert r.status_code == 200, r.text
    html = r.text
    data = chart_data(html)
    # the heatmap is the service's: weekday × slot means, named 周一 … in Chinese
    assert data["heatmap"]["values"] == expected["heatmap"]["values"]
    assert data["heatmap"]["slots"][0] == "09:00" and len(data["heatmap"]["weekdays"]) >= 5
    assert max(max(row) for row in data["heatmap"]["values"]) > 5
    assert data["weekday_names"][:2] == ["周一", "周二"]
    assert data["daily"]["arrivals"] == expected["daily"]["arrivals"]
    assert f"data-arrivals>{expected['arrivals']}<" in html
    # peak rows, busiest first, with their share of the day
    peaks = re.findall(r'data-peak="(\d)-(\d\d:\d\d)"', html)
    assert peaks == [(str(p["weekday"]), p["slot"]) for p in expected["peaks"]]
    assert len(peaks) == 5
    first = expected["peaks"][0]
    assert f"{first['share_of_day'] * 100:.1f}%" in html
    # month end, before and after the National Day holidays: ratios with intervals
    for p in expected["patterns"]:
        assert f'data-pattern="{p["kind"]}"' in html
        if p["ratio"] is not None:
            assert f'data-ratio="{p["ratio"]}"' in html
    assert 'id="chart-heatmap"' in html and 'id="chart-daily"' in html
    assert "/static/vendor/echarts.min.js" in html and "/static/js/insight.js" in html


def check_demand_filters_and_too_few_days(client):
    # only five days after the holidays: one first-working-day-after, no month end → no number
    r = client.get(f"{BASE}/demand?start=2026-10-08&end=2026-10-12")
    assert r.status_code == 200, r.text
    rows = dict(re.findall(r'<tr data-pattern="(\w+)">(.*?)</tr>', r.text, re.S))
    assert set(rows) == {"month_end", "pre_holiday", "post_holiday"}
    assert all("data-too-few" in row and "data-ratio" not in row for row in rows.values())
    # narrowed to one item at one window: fewer arrivals, the choices stay selected
    whole = client.get(f"{BASE}/demand?start=2026-09-14&end=2026-10-12")
    narrow = client.get(f"{BASE}/demand?start=2026-09-14&end=2026-10-12&item=GA01&window=3")
    assert narrow.status_code == 200, narrow.text
    total = int(re.search(r"data-arrivals>(\d+)<", whole.text).group(1))
    part = int(re.search(r"data-arrivals>(\d+)<", narrow.text).group(1))
    assert 0 < part < total
    assert '<option value="GA01" selected>' in narrow.text
    assert '<option value="3" selected>' in narrow.text


BAD_INPUT = [
    ("/demand?start=2026-10-10&end=2026-10-01", 400, "结束日期早于开始日期"),
    ("/demand?start=2026-13-01", 400, "日期格式应为 YYYY-MM-DD"),
    ("/demand?start=2024-01-01&end=2026-10-01", 400, "最长 366 天"),
    ("/demand?item=NOPE", 404, "本大厅不办理该事项：NOPE"),
    ("/demand?window=99", 404, "未找到 99 号窗口"),
    ("/demand?window=abc", 400, "窗口号必须是正整数"),
    ("/compare?a_start=2026-09-20&a_end=2026-09-10", 400, "结束日期早于开始日期"),
    ("/compare?b_end=yesterday", 400, "日期格式应为 YYYY-MM-DD"),
    ("/anomalies?status=maybe", 400, "未知的异常状态"),
    ("/anomalies/999999", 404, "未找到异常记录"),
]


def check_bad_input(client):
    for query, status, text in BAD_INPUT:
        friendly(client.get(BASE + query), status, text)
    friendly(client.get("/insight/NOPE/demand"), 404, "未找到服务大厅")


def check_compare(client):
    """By default the last four weeks (B) against the four weeks before (A)."""
    r = client.get(f"{BASE}/compare")
    assert r.status_code == 200, r.text
    html = r.text
    for name, value in {
        "a_start": "2026-08-18",
        "a_end": "2026-09-14",
        "b_start": "2026-09-15",
        "b_end": "2026-10-12",
    }.items():
        assert f'name="{name}" value="{value}"' in html
    with unit_of_work(readonly=True) as s:
        expected = service.compare_report(
            session=s,
            hall_code="DEMO",
            a=(date(2026, 8, 18), date(2026, 9, 14)),
            b=(date(2026, 9, 15), date(2026, 10, 12)),
        )
    data = chart_data(html)
    assert data["weekdays"] == expected["weekdays"]
    for row, weekday in enumerate(expected["weekdays"]):
        in_a, in_b = (expected[p]["open_days"].get(weekday) for p in ("a", "b"))
        if in_a and in_b:  # both periods were open on this weekday: B − A per slot
            assert data["difference"][row] == expected["difference"][row]
        else:  # a 调休 Saturday open in one period only is not a drop to zero
            assert data["difference"][row] is None
    b_rows = dict(zip(expected["b"]["weekdays"], expected["b"]["values"], strict=True))
    assert data["b"][0] == b_rows[expected["weekdays"][0]]
    assert 'id="chart-a"' in html and 'id="chart-b"' in html and 'id="chart-diff"' in html
    assert f"{expected['daily_mean_b']:.1f}" in html
    # two explicit periods of the history: the change is shown with its sign
    r = client.get(
        f"{BASE}/compare?a_start=2026-09-01&a_end=2026-09-14&b_start=2026-09-15&b_end=2026-09-30"
    )
    assert r.status_code == 200, r.text
    assert re.search(r'data-change="-?[\d.e-]+"', r.text)
    assert 'data-changes="up"' in r.text and 'data-changes="down"' in r.text


def check_english(client):
    client.cookies.set("lang", "en")
    r = client.get(f"{BASE}/demand")
    client.cookies.delete("lang")
    assert r.status_code == 200
    assert "Demand analysis" in r.text and chart_data(r.text)["weekday_names"][0] == "Mon"


def check_who_may_look_and_scan():
    with frozen(TODAY_NOON):
        c = TestClient(create_app(run_jobs=False))
        r = c.get(f"{BASE}/demand", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        sign_in(c, "agent")  # a hotline agent holds no HALL_VIEW
        assert c.get("/insight").status_code == 403
        assert "/insight?hall=" not in c.get("/").text
        # window staff may look, but only a manager may scan
        c = TestClient(create_app(run_jobs=False))
        sign_in(c, "staff01", demo.DEMO_PASSWORD)
        page = c.get(f"{BASE}/anomalies")
        assert page.status_code == 200 and "data-scan" not in page.text
        token = csrf(c, f"{BASE}/anomalies")
        r = c.post(f"{BASE}/anomalies/scan", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 403
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Anomaly)) == 0


def check_scan_lists_anomalies_once_and_explains_one(client):
    page = client.get(f"{BASE}/anomalies")
    assert page.status_code == 200 and "data-empty" in page.text
    assert "data-scan" in page.text
    # the scan is a POST with the page's CSRF token; without it nothing happens
    refused = client.post(f"{BASE}/anomalies/scan", follow_redirects=False)
    assert refused.status_code == 403
    token = csrf(client, f"{BASE}/anomalies")
    r = client.post(f"{BASE}/anomalies/scan", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(f"{BASE}/anomalies?scanned=")
    with unit_of_work(readonly=True) as s:
        stored = s.scalar(select(func.count()).select_from(Anomaly))
    assert stored and f"scanned={stored}&" in r.headers["location"]
    listed = client.get(r.headers["location"])
    assert "data-scan-result" in listed.text
    assert len(re.findall(r"<tr data-anomaly-id=", listed.text)) == stored
    # scanning again finds the same anomalies and stores nothing new
    again = client.post(
        f"{BASE}/anomalies/scan", data={"csrf_token": token}, follow_redirects=False
    )
    assert again.headers["location"].startswith(f"{BASE}/anomalies?scanned=0&")
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Anomaly)) == stored
    # filters: nothing is assessed yet
    assert "data-empty" in client.get(f"{BASE}/anomalies?status=reasonable").text
    opened = client.get(f"{BASE}/anomalies?status=open")
    assert len(re.findall(r"<tr data-anomaly-id=", opened.text)) == stored

    # a day with extra arrivals, explained by item, window, staff and slot
    with frozen(TODAY_NOON), unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="DEMO")
        anomaly = Anomaly(
            hall_id=hall.id,
            indicator_code=watch.ARRIVALS,
            object_kind="hall",
            object_id=hall.id,
            day=date(2026, 10, 12),
            method="tail_test",
            series_kind="count",
            direction="spike",
            worse=True,
            observed=520.0,
            expected=390.0,
            p_value=0.0004,
            score=3.4,
            detail={"baseline": "same weekday, 4 weeks"},
        )
        s.add(anomaly)
        s.flush()
        anomaly_id = anomaly.id
    with frozen(TODAY_NOON), unit_of_work(readonly=True) as s:
        explanation = watch.explain_anomaly(session=s, hall_code="DEMO", anomaly_id=anomaly_id)
    r = client.get(f"{BASE}/anomalies/{anomaly_id}")
    assert r.status_code == 200, r.text
    html = r.text
    assert f'href="{BASE}/loop?anomaly={anomaly_id}"' in html
    assert "data-observed>520<" in html and "data-expected>390<" in html
    for kind in ("item", "window", "staff", "slot"):
        assert f'data-dimension="{kind}"' in html
        members = [c["member"] for c in explanation["dimensions"][kind]]
        assert members, kind
        for member in members:
            assert f'data-member="{member}"' in html, (kind, member)
    assert (
        chart_data(html)["dimensions"]["item"][0]["member"]
        == (explanation["dimensions"]["item"][0]["member"])
    )
    # the list links to the detail
    assert f'href="{BASE}/anomalies/{anomaly_id}"' in client.get(f"{BASE}/anomalies").text


def test_insight_pages(client):
    """One six-week history behind every page: building it is the slow part."""
    check_hub(client)
    check_demand(client)
    check_demand_filters_and_too_few_days(client)
    check_compare(client)
    check_bad_input(client)
    check_english(client)
    check_who_may_look_and_scan()
    check_scan_lists_anomalies_once_and_explains_one(client)
