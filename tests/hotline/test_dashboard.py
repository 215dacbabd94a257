"""Hotline dashboard figures against the hand-computed week (dashboard_scenario.py), on
SQLite and PostgreSQL; the period rules; and the ranking's documented score."""

from __future__ import annotations

from datetime import date

import pytest

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest
from govloop.hotline.dashboard import service as dashboard
from tests.hotline.dashboard_scenario import (
    CG_NOVEMBER,
    FRIDAY_DEC_11,
    SWJT_NOVEMBER,
    build_week,
)

NOVEMBER = dashboard.Period(date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def week(db):
    return build_week()


def figures(period: dashboard.Period = NOVEMBER, **kw) -> dashboard.Dashboard:
    with unit_of_work(readonly=True) as s:
        return dashboard.compute(session=s, period=period, at=FRIDAY_DEC_11, **kw)


def test_city_wide_figures_of_november(week):
    d = figures()
    k = d.kpis
    assert (k.orders, k.open, k.closed) == (8, 1, 7)  # o9 is December's; o4 open
    assert k.on_time_rate == pytest.approx(6 / 7)  # o2 late; o7 (即问即答) on time
    assert k.sign_on_time_rate == pytest.approx(5 / 7)  # o2 and o5 late; o7 never signed
    assert k.callback_rate == pytest.approx(4 / 7)  # o1 o3 o6 o8
    assert (k.rated, k.satisfied) == (4, 3)  # o2's rating was excluded on appeal
    # hours from Monday 09:00 to closing: o1 26, o2 73, o3 26, o5 50, o6 5, o7 0.5, o8 4
    assert k.mean_handling_days == pytest.approx((26 + 73 + 26 + 50 + 5 + 0.5 + 4) / 24 / 7)
    assert k.overdue_now == 1
    assert d.by_channel == {"phone": 6, "web": 1, "h5": 1}
    assert list(d.by_type.items()) == [("complaint", 3), ("help", 2), ("report", 2), ("enquiry", 1)]
    assert d.by_category == [  # most first, then by code
        ("CG-NOISE", "噪音扰民", 2),
        ("SW-WATER", "供水", 2),
        ("CG-GARBAGE", "垃圾清运", 1),
        ("CG-ROAD", "道路设施损坏", 1),
        ("GJJ-FUND", "住房公积金", 1),
        ("HB-POLLUTION", "环境污染", 1),
    ]
    day = NOVEMBER.days.index(date(2026, 11, 23))
    assert d.by_day["phone"][day] == 6 and d.by_day["web"][day] == 1
    assert sum(sum(v) for v in d.by_day.values()) == 8


def test_units_and_their_ranking(week):
    d = figures()
    rows = {r.code: r for r in d.departments}
    assert set(rows) == {"CG", "SWJT", "HB"}  # the center's o7 belongs to no unit
    for code, expected in (("CG", CG_NOVEMBER), ("SWJT", SWJT_NOVEMBER)):
        row = rows[code]
        got = {name: getattr(row, name) for name in expected}
        assert got == pytest.approx(expected), code
    assert (rows["CG"].returns, rows["SWJT"].returns, rows["HB"].returns) == (1, 1, 0)
    assert (rows["CG"].overdue_now, rows["SWJT"].overdue_now) == (1, 0)
    # score: 100 × (0.4 on time + 0.2 signing + 0.3 satisfaction + 0.1 not returned)
    assert rows["CG"].score == pytest.approx(100 * (0.4 * 2 / 3 + 0.2 * 0.75 + 0.3 * 0.5 + 0.08))
    assert rows["SWJT"].score == pytest.approx(85.0)
    assert rows["HB"].score == pytest.approx(100.0)
    assert [(r.code, r.rank) for r in d.departments] == [("HB", 1), ("SWJT", 2), ("CG", 3)]


def test_overdue_list_and_what_a_department_sees(week):
    d = figures()
    [late] = d.overdue
    assert late.number == week.numbers["o4"] and late.department == "城市管理局"
    assert late.late_hours == pytest.approx(10.0)  # due at the end of Thursday 10 Dec
    assert late.supervision_count == 2
    assert figures(overdue_department_id=week.world.departments["SWJT"]).overdue == []
    # the counts stay city-wide for a department viewer
    assert figures(overdue_department_id=week.world.departments["SWJT"]).kpis.overdue_now == 1


def test_periods_split_by_acceptance_day(week):
    december = figures(dashboard.Period(date(2026, 12, 1), date(2026, 12, 31)))
    assert (december.kpis.orders, december.kpis.closed, december.kpis.on_time_rate) == (1, 1, 1.0)
    assert [r.code for r in december.departments] == ["CG"]
    monday = figures(dashboard.Period(date(2026, 11, 23), date(2026, 11, 23)))
    assert monday.kpis.orders == 8
    before = figures(dashboard.Period(date(2026, 11, 1), date(2026, 11, 22)))
    assert (before.kpis.orders, before.kpis.on_time_rate) == (0, None)
    # overdue orders are "now", whenever accepted: CG appears only for o4
    assert [(r.code, r.orders, r.overdue_now, r.rank) for r in before.departments] == [
        ("CG", 0, 1, None)
    ]


def test_the_viewers_dashboard(week):
    with frozen(FRIDAY_DEC_11), unit_of_work(readonly=True) as s:
        center, own = dashboard.for_viewer(
            session=s, viewer=week.world.agent, start="2026-11-01", end="2026-11-30"
        )
        assert own is None and center.overdue_total == 1
        unit, own = dashboard.for_viewer(
            session=s, viewer=week.world.handlers["SWJT"], start="2026-11-01", end="2026-11-30"
        )
        assert own == week.world.departments["SWJT"] and unit.overdue_total == 0
    body = center.as_dict()
    assert body["period"] == {"from": "2026-11-01", "to": "2026-11-30"}
    assert body["kpis"]["on_time_rate"] == pytest.approx(6 / 7)
    assert body["overdue"][0]["number"] == week.numbers["o4"]
    assert body["at"] == FRIDAY_DEC_11.isoformat()
    assert [r["code"] for r in body["departments"]] == ["HB", "SWJT", "CG"]


def test_period_rules():
    today = date(2026, 12, 11)
    assert dashboard.parse_period(None, None, today) == dashboard.Period(date(2026, 11, 12), today)
    assert dashboard.parse_period("2026-11-01", "", today).end == today
    assert dashboard.parse_period("", "2026-11-30", today).start == date(2026, 11, 1)
    for start, end, message in (
        ("2026-13-01", None, "开始日期格式不正确"),
        ("yesterday", None, "格式不正确"),
        ("2026-11-30", "2026-11-01", "晚于结束日期"),
        ("2024-01-01", "2026-11-01", "最长"),
    ):
        with pytest.raises(BadRequest, match=message):
            dashboard.parse_period(start, end, today)


def test_ranking_shares_ranks_and_leaves_units_without_figures_unranked():
    rows = [
        dashboard.DepartmentRow(department_id=i, code=c, name=c, orders=1, score=s)
        for i, (c, s) in enumerate((("A", 90.0), ("B", 95.0), ("C", 90.0), ("D", None)))
    ]
    assert [(r.code, r.rank) for r in dashboard.rank(rows)] == [
        ("B", 1),
        ("A", 2),
        ("C", 2),
        ("D", None),
    ]
    bare = dashboard.DepartmentRow(department_id=9, code="E", name="E", dispatches=2, returns=1)
    assert dashboard.score_of(bare) == pytest.approx(50.0)  # only "not returned" is known
    assert dashboard.score_of(dashboard.DepartmentRow()) is None
