"""The insight JSON API: demand, period comparison, anomalies with their drill-down and the
manager's scan — from a six-week demo history, on SQLite and PostgreSQL; bad input is a
clear JSON 4xx and changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.demo.hall import seed as demo
from govloop.insight import service
from govloop.insight.models import Anomaly
from tests.factories import make_user
from tests.insight.history import build_demo_history
from tests.web.helpers import csrf, sign_in

TODAY_NOON = datetime(2026, 10, 13, 4, 0, tzinfo=UTC)  # Tuesday, after National Day
DAYS = 42
SEED = 5
BASE = "/api/v1/halls/DEMO"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(path))
    return path


@pytest.fixture
def api(db, data_dir):
    with frozen(TODAY_NOON):
        build_demo_history(TODAY_NOON, days=DAYS, seed=SEED)
        with unit_of_work() as s:
            agent = make_user(s, "agent", Role.HOTLINE_AGENT)
            manager = demo.load_world(session=s)
            assert manager is not None
            tokens = {
                "manager": issue_api_token(session=s, user=manager.manager, name="t"),
                "staff": issue_api_token(session=s, user=manager.staff(1), name="t"),
                "agent": issue_api_token(session=s, user=agent, name="t"),
            }
        client = TestClient(create_app(run_jobs=False))
        client.tokens = tokens  # type: ignore[attr-defined]
        yield client


def as_(client, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens[who]}"}


def anomaly_count() -> int:
    with unit_of_work(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(Anomaly)) or 0


def check_demand_and_compare(api):
    staff = as_(api, "staff")
    r = api.get(f"{BASE}/demand", headers=staff)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["start"], body["end"]) == ("2026-08-18", "2026-10-12")  # 56 days to yesterday
    assert body["open_days"] > 20 and body["arrivals"] > 5000
    grid = body["heatmap"]
    assert grid["slots"][0] == "09:00" and 0 in grid["weekdays"]
    assert len(grid["values"]) == len(grid["weekdays"])
    assert all(len(row) == len(grid["slots"]) for row in grid["values"])
    means = [p["mean_arrivals"] for p in body["peaks"]]
    assert means == sorted(means, reverse=True) and 0 < body["peaks"][0]["share_of_day"] < 1
    assert sum(body["slot_shares"]) == pytest.approx(1, abs=0.01)
    assert {p["kind"] for p in body["patterns"]} == {"month_end", "pre_holiday", "post_holiday"}
    assert sum(body["daily"]["arrivals"]) == body["arrivals"]

    # narrowed to one item, then to one window
    item = api.get(f"{BASE}/demand?item=GA01", headers=staff).json()
    assert item["scope"] == {"item": "GA01", "window": None}
    assert 0 < item["arrivals"] < body["arrivals"]
    window = api.get(f"{BASE}/demand?window=3&start=2026-09-01", headers=staff).json()
    assert window["scope"]["window"] == 3 and window["start"] == "2026-09-01"

    # the default comparison: the last four weeks (b) against the four weeks before (a)
    r = api.get(f"{BASE}/demand/compare", headers=staff)
    assert r.status_code == 200, r.text
    cmp = r.json()
    assert (cmp["a"]["start"], cmp["a"]["end"]) == ("2026-08-18", "2026-09-14")
    assert (cmp["b"]["start"], cmp["b"]["end"]) == ("2026-09-15", "2026-10-12")
    assert len(cmp["difference"]) == len(cmp["weekdays"])
    r = api.get(
        f"{BASE}/demand/compare?a_start=2026-09-01&a_end=2026-09-14"
        "&b_start=2026-09-15&b_end=2026-09-30&item=GA01",
        headers=staff,
    )
    cmp = r.json()
    assert cmp["change"] == pytest.approx(
        (cmp["daily_mean_b"] - cmp["daily_mean_a"]) / cmp["daily_mean_a"], abs=0.01
    )
    with unit_of_work(readonly=True) as s:
        same = service.compare_report(
            session=s,
            hall_code="DEMO",
            a=(date(2026, 9, 1), date(2026, 9, 14)),
            b=(date(2026, 9, 15), date(2026, 9, 30)),
            scope=service.Scope(item_code="GA01"),
        )
    assert cmp["difference"] == same["difference"]

    # bad input: a JSON error with a stable code, in plain Chinese
    for query, status, code in [
        ("/demand?item=NOPE", 404, "item_not_found"),
        ("/demand?window=99", 404, "window_not_found"),
        ("/demand?window=-1", 400, "bad_window"),
        ("/demand?start=2026-10-10&end=2026-10-01", 400, "bad_range"),
        ("/demand?end=10/01/2026", 400, "bad_date"),
        ("/demand?start=2020-01-01", 400, "range_too_long"),
        ("/demand/compare?a_start=2026-09-20&a_end=2026-09-10", 400, "bad_range"),
        ("/demand/compare?item=NOPE", 404, "item_not_found"),
    ]:
        r = api.get(BASE + query, headers=staff)
        assert r.status_code == status, (query, r.text)
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["error"] == code, query
    assert api.get(f"{BASE}/demand?item=NOPE", headers=staff).json()["message"] == (
        "本大厅不办理该事项：NOPE"
    )
    r = api.get("/api/v1/halls/NOPE/demand", headers=staff)
    assert r.status_code == 404 and r.json()["error"] == "hall_not_found"

    # who may read
    assert api.get(f"{BASE}/demand").status_code == 401
    assert api.get(f"{BASE}/demand", headers=as_(api, "agent")).status_code == 403


def check_scan_list_and_explain_anomalies(api):
    manager = as_(api, "manager")
    assert api.get(f"{BASE}/anomalies", headers=manager).json()["anomalies"] == []
    # only a manager scans
    assert api.post(f"{BASE}/anomalies/scan", headers=as_(api, "staff")).status_code == 403
    assert api.post(f"{BASE}/anomalies/scan").status_code == 401
    assert anomaly_count() == 0

    r = api.post(f"{BASE}/anomalies/scan", headers=manager)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["hall_code"] == "DEMO" and first["series"] > 10
    assert first["new"] == first["found"] > 0 and anomaly_count() == first["new"]
    # idempotent: the same anomalies are found again, none is stored twice
    again = api.post(f"{BASE}/anomalies/scan", headers=manager).json()
    assert again["found"] == first["found"] and again["new"] == 0
    assert anomaly_count() == first["new"]

    listed = api.get(f"{BASE}/anomalies", headers=manager).json()["anomalies"]
    assert len(listed) == first["new"]
    days = [a["day"] for a in listed]
    assert days == sorted(days, reverse=True)
    one = listed[0]
    assert one["status"] == "open" and one["method"] in {"tail_test", "change_point"}
    assert one["indicator_name"]["zh"] and one["indicator_name"]["en"]
    # found in the hall as a whole or in one of its departments, named either way
    assert all(a["object_name"] for a in listed)
    assert {a["object_kind"] for a in listed} <= {"hall", "department"}
    worse = api.get(f"{BASE}/anomalies?worse_only=true", headers=manager).json()["anomalies"]
    assert all(a["worse"] for a in worse) and len(worse) <= len(listed)
    none = api.get(f"{BASE}/anomalies?status=reasonable", headers=manager).json()
    assert none["anomalies"] == []
    r = api.get(f"{BASE}/anomalies?status=maybe", headers=manager)
    assert r.status_code == 400 and r.json()["error"] == "bad_status"

    r = api.get(f"{BASE}/anomalies/{one['id']}", headers=manager)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["anomaly"]["id"] == one["id"]
    assert detail["anomaly"]["indicator_name"] == one["indicator_name"]
    assert set(detail["dimensions"]) == {"item", "window", "staff", "slot"}
    assert any(detail["dimensions"].values())
    for rows in detail["dimensions"].values():
        for c in rows:
            assert c["member"] and "observed" in c and "expected" in c
    r = api.get(f"{BASE}/anomalies/999999", headers=manager)
    assert r.status_code == 404 and r.json()["error"] == "anomaly_not_found"

    # from a signed-in page session the scan needs the CSRF token
    with frozen(TODAY_NOON):
        browser = TestClient(create_app(run_jobs=False))
        sign_in(browser, "manager", demo.DEMO_PASSWORD)
        r = browser.post(f"{BASE}/anomalies/scan")
        assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
        token = csrf(browser, "/")
        r = browser.post(f"{BASE}/anomalies/scan", headers={"X-CSRF-Token": token})
        assert r.status_code == 200 and r.json()["new"] == 0


def test_insight_api(api):
    """One six-week history behind every call: building it is the slow part."""
    check_demand_and_compare(api)
    check_scan_list_and_explain_anomalies(api)
