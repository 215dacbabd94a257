"""Planning pages and API: the arrivals forecast with its backtest, the staffing plan with
the manager's target form, and the public 最佳办事时间 page — rendered from a 45-day demo
history on SQLite and PostgreSQL; bad input is a clear refusal that changes nothing."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.app import create_app
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.demo.hall import seed as demo
from govloop.insight.models import StaffingTarget
from govloop.insight.planning.pages import reason_label, short_explanation
from tests.insight.history import build_demo_history
from tests.web.helpers import csrf, sign_in

# Friday 2026-09-25, 12:00 in Shanghai: the 14-day horizon reaches the National Day
# holidays (10-01 … 10-08), so the forecast shows closed days with their reason.
NOW = datetime(2026, 9, 25, 4, 0, tzinfo=UTC)
TODAY = date(2026, 9, 25)
NEXT_MONDAY = "2026-09-28"
BASE = "/insight/DEMO"
API = "/api/v1/halls/DEMO"


@pytest.fixture
def history(db, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(tmp_path / "data"))
    build_demo_history(NOW, days=45, seed=3)


def planning_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="planning-data">(.*?)</script>', html)
    assert match, "page has no chart data"
    return json.loads(match.group(1))


def hall_target() -> tuple[float, float] | None:
    with unit_of_work() as s:
        row = s.scalars(select(StaffingTarget).where(StaffingTarget.item_id.is_(None))).first()
        return None if row is None else (row.share, row.within_minutes)


def test_helpers():
    assert reason_label(None) == ""
    # The holiday's name, not the service's wording (国庆节 once the catalog has it).
    assert reason_label("public holiday (National Day)") in {"国庆节", "National Day"}
    text = "; ".join(f"A{i} reaches 0.0% < 80% within 20 min" for i in range(7))
    short = short_explanation(text)
    assert short.startswith("A0 reaches") and "A2 reaches" in short and "A3" not in short
    assert "4" in short.rsplit("A2", 1)[1]  # how many more
    assert short_explanation("one; two") == "one; two"
    shortfalls = [
        {"item": f"B{i}", "service_level": 0.5 + i / 100, "share": 0.8, "within": 20.0}
        for i in range(5)
    ]
    structured = short_explanation("ignored", shortfalls)
    assert "B0" in structured and "50.0%" in structured and "80%" in structured
    assert "B3" not in structured and "2" in structured.rsplit("B2", 1)[1]


def test_forecast_and_staffing_pages_and_api(history):
    with frozen(NOW):
        client = TestClient(create_app(run_jobs=False))
        # The public page needs no login and lists an item's quietest half hours.
        page = client.get("/best-time/DEMO")
        assert page.status_code == 200
        assert 'data-best-slot="' in page.text
        best = client.get(f"{API}/best-time").json()
        assert best["hall"]["code"] == "DEMO"
        with_data = [i for i in best["items"] if i["enough_data"]]
        assert with_data and with_data[0]["weekdays"][0]["best"]
        code = with_data[0]["code"]
        first_slot = sorted(b["slot"] for b in with_data[0]["weekdays"][0]["best"])[0]
        page = client.get(f"/best-time/DEMO?item={code}")
        assert f'data-item="{code}"' in page.text and f'data-best-slot="{first_slot}"' in page.text
        assert "data-unknown-item" in client.get("/best-time/DEMO?item=NOPE").text

        # Staff pages need a login.
        assert client.get(f"{BASE}/forecast", follow_redirects=False).status_code == 303
        assert client.get(f"{API}/forecast").status_code == 401

        sign_in(client, "manager", demo.DEMO_PASSWORD)

        fc = client.get(f"{API}/forecast?days=14").json()
        assert len(fc["days"]) == 14 and fc["start"] == TODAY.isoformat()
        bt = fc["backtest"]
        assert bt["origins"] > 0 and bt["mase"] > 0 and bt["snaive_mase"] > 0
        assert bt["ratio"] == pytest.approx(bt["mase"] / bt["snaive_mase"], abs=1e-3)
        closed = {d["day"]: d["reason"] for d in fc["days"] if not d["open"]}
        assert "2026-10-01" in closed and "National Day" in closed["2026-10-01"]

        page = client.get(f"{BASE}/forecast")
        assert page.status_code == 200
        assert page.text.count("data-day=") == 14
        assert re.search(r'data-day="2026-10-01" data-open="false"', page.text)
        assert f"<strong data-mase>{bt['mase']:.2f}</strong>" in page.text
        assert 'data-effect="Monday"' in page.text
        chart = planning_data(page.text)
        assert chart["kind"] == "forecast" and len(chart["slots"]["expected"]) > 0
        assert all(
            lo <= ex <= up
            for lo, ex, up in zip(
                chart["slots"]["lower"],
                chart["slots"]["expected"],
                chart["slots"]["upper"],
                strict=True,
            )
        )
        item_fc = client.get(f"{API}/forecast?days=7&item={code}").json()
        assert item_fc["scope"]["item"] == code and len(item_fc["days"]) == 7
        assert sum(d["expected"] for d in item_fc["days"]) < sum(
            d["expected"] for d in fc["days"][:7]
        )

        # Bad horizon and bad dates: a clear refusal, never a crash.
        r = client.get(f"{API}/forecast?days=0")
        assert r.status_code == 400 and r.json()["error"] == "bad_days"
        assert "1 到 28" in r.json()["message"]
        assert client.get(f"{API}/forecast?days=abc").status_code == 400
        r = client.get(f"{BASE}/forecast?days=0")
        assert r.status_code == 400 and "预测天数须为 1 到 28" in r.text
        r = client.get(f"{BASE}/staffing?week=2026-13-01")
        assert r.status_code == 400 and "YYYY-MM-DD" in r.text
        assert client.get(f"{API}/staffing?week=2026-09-01").json()["error"] == "week_in_past"
        assert client.get(f"{API}/staffing?week=2026-12-01").json()["error"] == "week_too_far"
        assert client.get(f"{API}/forecast?item=NOPE").status_code == 404

        plan = client.get(f"{API}/staffing?week={NEXT_MONDAY}").json()
        assert plan["week_start"] == NEXT_MONDAY
        assert plan["days"] and plan["items"] and plan["shifts"]
        first_day = next(iter(plan["days"].values()))
        assert all(row["required"] >= 1 for row in first_day)
        page = client.get(f"{BASE}/staffing?week={NEXT_MONDAY}")
        assert page.status_code == 200
        assert "data-staff-grid" in page.text and 'id="gaps"' in page.text
        required = {
            m.group(1): int(m.group(2))
            for m in re.finditer(r'data-slot="([^"]+)" data-required="(\d+)"', page.text)
        }
        day = next(iter(plan["days"]))
        row = plan["days"][day][0]
        assert required[f"{day} {row['slot']}"] == row["required"]
        assert "data-seconds" in page.text and 'id="target"' in page.text
        assert "data-simulation-checks" in page.text  # the busiest slots, checked in SimPy
        assert planning_data(page.text)["required"][0] == row["required"]
        assert len(page.text) < 400_000  # long explanations are shortened

        # The recommendations come from the same whole-day simulation as the plan: opening
        # windows as planned shows the plan's own figure for the busiest half-day.
        simulated = plan["day_simulation"]
        assert 0 <= simulated["target_met"] <= 1 and simulated["slot_items"] > 0
        recs = client.get(f"{API}/recommendations").json()
        peak = recs["period"]
        half = next(
            h
            for h in simulated["half_days"]
            if (h["day"], h["half"]) == (peak["day"], peak["half"])
        )
        opened = next(r for r in recs["items"] if r["kind"] == "open_windows")
        assert opened["effect"]["service_level_after"] == half["service_level"]
        assert opened["effect"]["mean_wait_after"] == half["mean_wait"]
        shown = f"{round(half['service_level'] * 100, 1)}%"
        assert f'data-half="{peak["half"]}">{shown}<' in page.text
        assert f"<strong>{shown}</strong>" in client.get(f"{BASE}/recommendations").text

        # The manager's target form: a bad share is refused and changes nothing.
        token = csrf(client, f"{BASE}/staffing?week={NEXT_MONDAY}")
        before = hall_target()
        r = client.post(
            f"{BASE}/staffing/target",
            data={"share": "1.5", "within_minutes": "15", "csrf_token": token},
        )
        assert r.status_code == 400 and "目标比例" in r.text
        r = client.put(
            f"{API}/staffing/target",
            json={"share": 1.5, "within_minutes": 15},
            headers={"X-CSRF-Token": token},
        )
        assert r.status_code == 400 and r.json()["error"] == "bad_share"
        assert hall_target() == before

        r = client.post(
            f"{BASE}/staffing/target",
            data={
                "share": "0.9",
                "within_minutes": "15",
                "week": NEXT_MONDAY,
                "csrf_token": token,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303 and "saved=1" in r.headers["location"]
        assert hall_target() == (0.9, 15.0)
        page = client.get(r.headers["location"])
        assert "data-saved" in page.text and "90% ≤ 15" in page.text
        after = client.get(f"{API}/staffing?week={NEXT_MONDAY}").json()
        assert after["target"] == {"share": 0.9, "within_minutes": 15.0}
        # A stricter target never needs fewer windows.
        assert sum(r["required"] for rows in after["days"].values() for r in rows) >= sum(
            r["required"] for rows in plan["days"].values() for r in rows
        )

        r = client.put(
            f"{API}/staffing/target",
            json={"share": 0.85, "within_minutes": 30, "item": code},
            headers={"X-CSRF-Token": token},
        )
        assert r.status_code == 200 and r.json()["item"] == code
        items = client.get(f"{API}/staffing?week={NEXT_MONDAY}").json()["items"]
        mine = next(i for i in items if i["code"] == code)
        assert (mine["target_share"], mine["target_within"]) == (0.85, 30.0)
        r = client.put(
            f"{API}/staffing/target",
            json={"share": 0.8, "within_minutes": 20, "item": "NOPE"},
            headers={"X-CSRF-Token": token},
        )
        assert r.status_code == 404
