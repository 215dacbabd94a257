"""The hotline's figures as indicators: the engine's values per department equal the
hand-computed week (dashboard_scenario.py) and the dashboard, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.models import User
from govloop.hotline.dashboard import service as dashboard
from govloop.hotline.models import WorkOrder
from govloop.hotline.orders import workflow
from govloop.indicators import results, scorecards, service
from govloop.ratings import rectification
from govloop.ratings.models import RectificationCase
from tests.hotline.dashboard_scenario import (
    CG_NOVEMBER,
    FRIDAY_DEC_11,
    SWJT_NOVEMBER,
    build_week,
)

# indicator → the dashboard's name of the same figure
INDICATORS = {
    "hotline_on_time_close_rate": "on_time_rate",
    "hotline_sign_on_time_rate": "sign_on_time_rate",
    "hotline_satisfaction_rate": "satisfaction_rate",
    "hotline_callback_rate": "callback_rate",
    "hotline_return_rate": "return_rate",
}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(path))
    return path


@pytest.fixture
def week(db, data_dir):
    week = build_week()
    with frozen(FRIDAY_DEC_11), unit_of_work() as s:
        report = service.refresh(session=s)
    assert report.exported["work_order_events"] > 0
    return week


def scores(kind: str, period: str) -> dict[int, dict[str, float | None]]:
    with unit_of_work() as s:
        out = results.scores(session=s, hall_code="H1", object_kind=kind, period_text=period)
    return {o.object_id: {i.code: i.value for i in o.indicators} for o in out.objects}


def expected(figures: dict[str, float]) -> dict[str, float]:
    return {code: figures[name] for code, name in INDICATORS.items()}


def test_department_figures_equal_the_hand_computed_week(week):
    d = week.world.departments
    got = scores("department", "2026-11")
    # HB serves no item in hall H1: its city-wide figures are not this hall's business
    assert set(got) == {d["CG"], d["SWJT"]}
    for code, figures in (("CG", CG_NOVEMBER), ("SWJT", SWJT_NOVEMBER)):
        values = {k: v for k, v in got[d[code]].items() if k in INDICATORS}
        assert values == pytest.approx(expected(figures)), code
    # the week's days, and a custom range computed on the spot, give the same figures
    assert scores("department", "2026-W48")[d["CG"]]["hotline_return_rate"] == pytest.approx(0.2)
    live = scores("department", "2026-11-20..2026-11-30")
    assert live[d["CG"]]["hotline_satisfaction_rate"] == pytest.approx(0.5)
    december = scores("department", "2026-12")
    assert december[d["CG"]]["hotline_on_time_close_rate"] == pytest.approx(1.0)
    assert d["SWJT"] not in december


def test_engine_and_dashboard_agree(week):
    got = scores("department", "2026-11")
    with unit_of_work(readonly=True) as s:
        board = dashboard.compute(
            session=s,
            period=dashboard.Period(date(2026, 11, 1), date(2026, 11, 30)),
            at=FRIDAY_DEC_11,
        )
    for row in board.departments:
        if row.department_id not in got:
            continue
        for code, name in INDICATORS.items():
            assert got[row.department_id][code] == pytest.approx(getattr(row, name)), (
                row.code,
                code,
            )


def test_halls_are_not_scored_on_the_hotline(week):
    [hall] = scores("hall", "2026-11").values()
    assert not set(INDICATORS) & set(hall)  # the indicators do not apply to a hall
    with unit_of_work() as s:
        card = scorecards.scorecard(
            session=s, hall_code="H1", object_kind="department", period_text="2026-11"
        )
        hall_card = scorecards.scorecard(
            session=s, hall_code="H1", object_kind="hall", period_text="2026-11"
        )
    assert set(INDICATORS) <= {c.code for c in card.indicators}
    assert not set(INDICATORS) & {c.code for c in hall_card.indicators}
    cg = card.row(week.world.departments["CG"])
    assert cg is not None and cg.overall is not None  # scored on its hotline figures
    # on-time closing 2/3 against 0.95: 100 × (2/3) / 0.95
    assert cg.indicators["hotline_on_time_close_rate"].score == pytest.approx(100 * (2 / 3) / 0.95)
    assert cg.indicators["hotline_return_rate"].rag == "red"  # 0.2 against at most 0.05


def test_late_events_update_the_stored_month(week):
    d, world = week.world.departments, week.world
    november = scores("department", "2026-11")
    assert november[d["SWJT"]]["hotline_callback_rate"] == 0.5
    assert november[d["CG"]]["hotline_satisfaction_rate"] == 0.5
    later = FRIDAY_DEC_11 + timedelta(hours=2)
    with frozen(later), unit_of_work() as s:
        # o8's bad rating is excluded on appeal: rating events only, no work-order event
        rating_id = s.get(WorkOrder, week.orders["o8"]).rating_id
        case = s.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating_id))
        cg = world.handlers["CG"]
        rectification.appeal(session=s, case_id=case.id, actor=cg, reason="恶意差评，有录音")
        manager = s.scalar(select(User).where(User.username == "manager"))
        rectification.review_appeal(
            session=s, case_id=case.id, actor=manager, uphold=True, note="属实"
        )
    report = refresh(later + timedelta(minutes=5))
    assert "work_order_events" not in report.exported and report.exported["rating_events"] == 2
    assert report.periods["month"] == 1  # November (the order's month), for the one hall
    assert scores("department", "2026-11")[d["CG"]]["hotline_satisfaction_rate"] == 1.0
    with frozen(later + timedelta(hours=1)), unit_of_work() as s:
        workflow.record_callback(
            session=s, order_id=week.orders["o5"], actor=world.agent, reached=True
        )
    report = refresh(later + timedelta(hours=1, minutes=5))
    assert report.exported == {"hall_events": 0, "rating_events": 0, "work_order_events": 1}
    assert report.periods == {"day": 1, "week": 1, "month": 1}  # 23 Nov, W48, November
    assert scores("department", "2026-11")[d["SWJT"]]["hotline_callback_rate"] == 1.0


def refresh(at: datetime) -> service.RefreshReport:
    with frozen(at), unit_of_work() as s:
        return service.refresh(session=s)


def test_drilldown_shows_the_dispatches_behind_a_figure(week):
    cg = week.world.departments["CG"]
    with unit_of_work() as s:
        detail = results.drilldown(
            session=s,
            hall_code="H1",
            object_kind="department",
            object_id=cg,
            period_text="2026-11",
            indicator="hotline_return_rate",
        )
    assert detail["measures"] == {"hotline_returns": 1.0, "hotline_dispatches": 5.0}
    rows = detail["facts"]["work_orders"]["rows"]
    assert detail["facts"]["work_orders"]["total"] == 5
    returned = [r for r in rows if r["return_requested"]]
    assert [(r["order_id"], r["current"]) for r in returned] == [(week.orders["o3"], False)]
