"""Scorecard pages (考评): real computed scores for a small hall, the RAG rule, the
drill-down, friendly refusals and permissions — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from govloop.app import create_app
from govloop.core.auth import Role
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest
from govloop.indicators import results, scorecards, service
from govloop.indicators.scorecards import rag, score_rag
from govloop.org import service as org_service
from tests.factories import make_user
from tests.indicators.scenario import MONDAY_0900, build_monday
from tests.web.helpers import sign_in

PAGE = "/indicators/scorecards?hall=H1&object=window&period=2026-11"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(path))
    return path


@pytest.fixture
def monday(db, data_dir):
    day = build_monday()
    with frozen(MONDAY_0900 + timedelta(days=3)), unit_of_work() as s:
        service.refresh(session=s)
        make_user(s, "agent", Role.HOTLINE_AGENT)
    return day


@pytest.fixture
def client(monday):
    with frozen(MONDAY_0900 + timedelta(days=3)):
        c = TestClient(create_app())
        sign_in(c, "manager")
        yield c


def test_rag_rule():
    # higher is better: met, within 10 % of the target, worse
    assert rag(0.95, 0.9) == "green"
    assert rag(0.9, 0.9) == "green"
    assert rag(0.82, 0.9) == "amber"
    assert rag(0.81, 0.9) == "amber"
    assert rag(0.80, 0.9) == "red"
    # lower is better
    assert rag(12, 15, higher_is_better=False) == "green"
    assert rag(16.5, 15, higher_is_better=False) == "amber"
    assert rag(16.6, 15, higher_is_better=False) == "red"
    assert rag(None, 15) is None and rag(3, None) is None and rag(float("nan"), 1) is None
    # composite scores against 100
    assert score_rag(100) == "green" and score_rag(99.97) == "green"
    assert score_rag(92) == "amber" and score_rag(89.9) == "red" and score_rag(None) is None
    assert scorecards.default_period(date(2026, 1, 15)) == "2025-12"


def test_scorecard_matches_the_scores(monday):
    with unit_of_work() as s:
        card = scorecards.scorecard(
            session=s, hall_code="H1", object_kind="window", period_text="2026-11"
        )
        raw = results.scores(session=s, hall_code="H1", object_kind="window", period_text="2026-11")
    assert card.materialized and card.framework_version == 1
    assert [r.rank for r in card.rows] == [1, 2, 3]
    by_id = {o.object_id: o for o in raw.objects}
    for row in card.rows:
        assert row.overall == pytest.approx(by_id[row.object_id].overall)
        assert row.overall_rag == score_rag(row.overall)
        wait = row.indicators["wait_mean"]
        assert wait.rag == rag(wait.value, wait.target, higher_is_better=False)
    assert {c.code for c in card.indicators} >= {"wait_mean", "satisfaction_rate"}


def test_page_renders_real_scores(client, monday):
    r = client.get(PAGE)
    assert r.status_code == 200, r.text
    html = r.text
    assert "1号窗口" in html and "2号窗口" in html and "3号窗口" in html
    with unit_of_work() as s:
        card = scorecards.scorecard(
            session=s, hall_code="H1", object_kind="window", period_text="2026-11"
        )
    best = card.rows[0]
    assert f"{best.overall:.1f}" in html
    assert 'id="chart-overall"' in html and 'id="chart-radar"' in html
    assert "/static/vendor/echarts.min.js" in html
    assert re.search(r'data-rag="(green|amber|red)"', html)
    assert "/indicators/drilldown?" in html and "scorecards.xlsx" in html
    # figures in their units: ratios as percentages, no raw unit codes
    assert re.search(r">\d{1,3}\.\d%<", html)
    assert ">ratio<" not in html and "per_hour" not in html
    assert "分钟<" in html  # wait_mean in minutes
    # the drill-down behind one figure
    link = re.search(r'href="(/indicators/drilldown\?[^"]+indicator=wait_mean[^"]*)"', html)
    assert link
    d = client.get(link.group(1).replace("&amp;", "&"))
    assert d.status_code == 200, d.text
    assert "wait_s_sum / called / 60" in d.text and "data-relation" in d.text
    # staff, the hall and the other kinds render too
    for kind in ("staff", "department", "item", "hall"):
        r = client.get(PAGE.replace("window", kind))
        assert r.status_code == 200, (kind, r.text)
    assert "staff1" in client.get(PAGE.replace("window", "staff")).text


def test_page_in_chinese(client):
    client.cookies.set("lang", "zh_CN")
    r = client.get(PAGE)
    assert r.status_code == 200, r.text
    assert "考评记分卡" in r.text and "接近目标" in r.text


def test_a_month_without_data_says_so(client):
    r = client.get(PAGE.replace("2026-11", "2025-03"))
    assert r.status_code == 200 and "data-empty" in r.text


@pytest.mark.parametrize(
    ("url", "status", "text"),
    [
        ("/indicators/scorecards?hall=XX&period=2026-11", 404, "未找到服务大厅"),
        ("/indicators/scorecards?hall=H1&object=planet&period=2026-11", 400, "未知的考评对象"),
        ("/indicators/scorecards?hall=H1&object=device&period=2026-11", 400, "未知的考评对象"),
        ("/indicators/scorecards?hall=H1&period=2026-13", 400, "周期格式不正确"),
        (
            "/indicators/drilldown?hall=H1&object=window&id=1&period=2026-11&indicator=nope",
            404,
            "没有指标",
        ),
        ("/indicators/scorecards.xlsx?hall=H1&object=planet&period=2026-11", 400, "考评对象"),
    ],
)
def test_bad_input_is_a_friendly_page(client, url, status, text):
    r = client.get(url)
    assert r.status_code == status
    assert text in r.text and "data-error-message" in r.text
    assert "Traceback" not in r.text


def test_permissions(monday):
    with frozen(MONDAY_0900 + timedelta(days=3)):
        c = TestClient(create_app())
        r = c.get(PAGE, follow_redirects=False)
        assert r.status_code in (303, 401)
        sign_in(c, "agent")  # a hotline agent holds no HALL_VIEW
        assert c.get(PAGE).status_code == 403
        assert c.get(PAGE.replace("scorecards?", "scorecards.xlsx?")).status_code == 403
        home = c.get("/").text
        assert "/indicators/scorecards" not in home
        sign_in(c, "manager")
        home = c.get("/").text
        assert "/indicators/scorecards?hall=H1" in home


def test_drilldown_works_for_every_indicator_and_object_kind(monday):
    """Every figure a scorecard links to has a drill-down, whatever the kind."""
    with frozen(MONDAY_0900 + timedelta(days=3)), unit_of_work() as s:
        _version, framework = service.framework_in_force(session=s, on=date(2026, 11, 1))
        leaves = [code for code, node in framework.nodes.items() if node.is_leaf]
        hall = org_service.get_hall(session=s, code="H1")
        refused = 0
        for kind in ("hall", "department", "window", "staff", "item"):
            for code in leaves:
                try:
                    result = results.drilldown(
                        session=s,
                        hall_code="H1",
                        object_kind=kind,
                        object_id=hall.id,
                        period_text="2026-11",
                        indicator=code,
                    )
                except BadRequest:  # the indicator does not apply to this kind: a clear 400
                    refused += 1
                    continue
                assert result is not None
        assert refused < len(leaves) * 5
