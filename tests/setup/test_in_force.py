"""The configuration in force on each day: scheduled hours and windows are seen by plans
for their day and later, a cancelled one never held, an archived window leaves from today."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import select

from govloop.core import calendar
from govloop.core.clock import frozen, local_today, now
from govloop.core.db import unit_of_work
from govloop.insight.planning.service import hall_model, opening_hours, windows_in_force
from govloop.insight.queueing_types import ItemLoad, WindowSkill
from govloop.insight.staffing import plan_week
from govloop.org import in_force
from govloop.org.models import ConfigVersion, Hall
from govloop.setup import archive, schedule
from tests.setup.test_schedule import NEW_HOURS, _centre

NEW_WINDOW = {
    "大厅编码": "CITY",
    "窗口号": "9",
    "窗口名称": "社保潮汐窗口",
    "窗口类型": "专窗",
    "可办事项": "SB01",
}


def _workday(start: date, before: date | None = None) -> date:
    day = start
    while not calendar.day_info(day).is_workday:
        day += timedelta(days=1)
    assert before is None or day < before, "no working day in the range"
    return day


def _hall(session, code: str) -> Hall:
    return session.scalars(select(Hall).where(Hall.code == code)).one()


def test_scheduled_hours_hold_from_their_day_and_go_when_cancelled(db):
    _centre()
    today = local_today()
    day = today + timedelta(days=10)
    with unit_of_work() as s:
        _result, change = schedule.save_rows(
            session=s, sheet="大厅", rows=[NEW_HOURS], effective_on=day, actor=None, source="api"
        )
        assert change is not None
        change_id = change.id
    with unit_of_work() as s:
        east = _hall(s, "EAST")
        assert [str(p) for p in in_force.hours_on(s, east, today).periods] == ["08:30-17:30"]
        later = in_force.hours_on(s, east, day + timedelta(days=30))
        assert [str(p) for p in later.periods] == ["09:00-12:00", "14:00-18:00"]
        opening = opening_hours(s, east)
        before, after = _workday(today, day), _workday(day)
        assert time(12, 30) in opening.day(before).slots  # no break yet
        assert time(12, 30) not in opening.day(after).slots  # the new lunch break
        assert time(17, 30) in opening.day(after).slots  # open until 18:00 from then
    with unit_of_work() as s:
        schedule.cancel(session=s, change_id=change_id)
    with unit_of_work() as s:
        east = _hall(s, "EAST")
        assert [str(p) for p in in_force.hours_on(s, east, day).periods] == ["08:30-17:30"]
        assert not s.scalars(
            select(ConfigVersion).where(ConfigVersion.scheduled_id == change_id)
        ).all()


def test_a_window_scheduled_from_a_day_is_planned_from_that_day(db):
    _centre()
    today = local_today()
    day = today + timedelta(days=3)
    with unit_of_work() as s:
        result, change = schedule.save_rows(
            session=s, sheet="窗口", rows=[NEW_WINDOW], effective_on=day, actor=None, source="api"
        )
        assert result.ok and change is not None
    visits = pd.DataFrame(columns=["item_id", "handle_s", "wait_s", "no_show"])
    days = [today + timedelta(days=n) for n in range(7)]
    with unit_of_work() as s:
        model = hall_model(session=s, hall=_hall(s, "CITY"), visits=visits)
        assert {w.code for w in model.windows} == {"1", "2"}  # not applied yet
        by_day = windows_in_force(s, model, days)
    assert set(by_day) == {d for d in days if d >= day}
    assert WindowSkill("9", frozenset({"SB01"})) in by_day[day]

    # a slot on each side of the day: an item only the new window serves
    load = [ItemLoad("ID99", 0.3, 10.0)]
    slots = {
        datetime.combine(today, time(10)): load,
        datetime.combine(day, time(10)): load,
    }
    only_new = WindowSkill("9", frozenset({"ID99"}))
    plan = plan_week(
        slots,
        [WindowSkill("1", frozenset({"SB01"}))],
        windows_on={day: [WindowSkill("1", frozenset({"SB01"})), only_new]},
    )
    assert datetime.combine(today, time(10)) in plan.infeasible
    assert "9" in plan.schedule[datetime.combine(day, time(10))]


def test_an_archived_window_leaves_from_today_and_stays_in_the_past(db):
    with frozen(now() - timedelta(days=7)):  # the centre was set up last week
        _centre()
    today = local_today()
    with unit_of_work() as s:
        archive.archive_window(session=s, hall_code="CITY", number=2, actor=None, source="api")
    with unit_of_work() as s:
        spans = in_force.window_spans(s, "CITY")["CITY/2"]
        assert in_force.state_on(spans, today - timedelta(days=1))["active"] is True
        assert in_force.state_on(spans, today)["active"] is False
        visits = pd.DataFrame(columns=["item_id", "handle_s", "wait_s", "no_show"])
        model = hall_model(session=s, hall=_hall(s, "CITY"), visits=visits)
        yesterday = today - timedelta(days=1)
        by_day = windows_in_force(s, model, [yesterday, today])
    assert {w.code for w in model.windows} == {"1"}
    assert today not in by_day  # as today
    assert {w.code for w in by_day[yesterday]} == {"1", "2"}
    # a window made today did not exist the day before
    with unit_of_work() as s:
        result, _change = schedule.save_rows(
            session=s, sheet="窗口", rows=[NEW_WINDOW], effective_on=None, actor=None, source="api"
        )
        assert result.ok
        spans = in_force.window_spans(s, "CITY")["CITY/9"]
    assert in_force.state_on(spans, yesterday) is None
    assert in_force.state_on(spans, today)["items"] == ["SB01"]
