"""Configuration changes that take effect from a day."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.app import create_app
from govloop.core.auth import Role
from govloop.core.clock import local_today
from govloop.core.db import unit_of_work
from govloop.hall.models import Window
from govloop.org.models import Hall
from govloop.setup import archive, schedule, service
from govloop.setup.models import ConfigChange, ScheduledChange
from tests.factories import make_user
from tests.setup.workbooks import GOOD, workbook
from tests.web.helpers import sign_in

NEW_HOURS = {
    "大厅编码": "EAST",
    "大厅名称": "东区便民服务中心",
    "地址": "",
    "工作日开放时间": "09:00-12:00,14:00-18:00",
    "周末开放": "否",
}


def _centre() -> None:
    with unit_of_work() as s:
        service.import_files(
            session=s, files=[("清单.xlsx", workbook(GOOD))], actor=None, source="cli"
        )
        make_user(s, "root", Role.ADMIN)


def test_new_hours_wait_for_their_day_then_apply(db):
    _centre()
    day = local_today() + timedelta(days=10)
    with unit_of_work() as s:
        result, change = schedule.save_rows(
            session=s, sheet="大厅", rows=[NEW_HOURS], effective_on=day, actor=None, source="api"
        )
        assert result.ok and change is not None
    with unit_of_work() as s:
        east = s.scalars(select(Hall).where(Hall.code == "EAST")).one()
        assert east.sessions == [["08:30", "17:30"]]  # not yet
        assert schedule.apply_due(session=s, today=day - timedelta(days=1)) == {
            "applied": 0,
            "failed": 0,
        }
        assert schedule.apply_due(session=s, today=day) == {"applied": 1, "failed": 0}
    with unit_of_work() as s:
        east = s.scalars(select(Hall).where(Hall.code == "EAST")).one()
        assert east.sessions == [["09:00", "12:00"], ["14:00", "18:00"]]
        assert s.scalars(select(ScheduledChange)).one().status == "applied"
        logged = s.scalars(select(ConfigChange).where(ConfigChange.source == "scheduled")).one()
        assert logged.key == "EAST"


def test_a_change_that_no_longer_passes_on_its_day_fails_and_changes_nothing(db):
    _centre()
    day = local_today() + timedelta(days=3)
    window = {
        "大厅编码": "CITY",
        "窗口号": "5",
        "窗口名称": "新窗口",
        "窗口类型": "专窗",
        "可办事项": "GA01",
    }
    with unit_of_work() as s:
        _, change = schedule.save_rows(
            session=s, sheet="窗口", rows=[window], effective_on=day, actor=None, source="api"
        )
        assert change is not None
        # meanwhile the item is archived: on the day the window row no longer passes
        archive.archive_item(session=s, code="GA01", actor=None, source="console")
    with unit_of_work() as s:
        assert schedule.apply_due(session=s, today=day) == {"applied": 0, "failed": 1}
    with unit_of_work() as s:
        failed = s.scalars(select(ScheduledChange)).one()
        assert failed.status == "failed" and "GA01" in failed.problems[0]["message"]
        assert s.scalars(select(Window).where(Window.number == 5)).all() == []


def test_scheduling_from_the_console_and_the_api(db):
    _centre()
    client = TestClient(create_app(run_jobs=False))
    token = sign_in(client, "root")
    day = (local_today() + timedelta(days=7)).isoformat()
    row = ["CITY", "6", "周末专窗", "专窗", "SB01"]
    form = {f"col{i}": v for i, v in enumerate(row)} | {"effective_on": day, "csrf_token": token}
    r = client.post("/admin/config/windows", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=scheduled")
    page = client.get("/admin/config/windows")
    assert "待生效的修改" in page.text and "周末专窗" in page.text and day in page.text
    bad = client.post("/admin/config/windows", data=form | {"col4": "NOPE"})
    assert bad.status_code == 422  # checked when entered, not only on the day
    with unit_of_work() as s:
        change_id = s.scalars(select(ScheduledChange.id)).one()
        assert s.scalars(select(Window).where(Window.number == 6)).all() == []
    cancelled = client.post(
        f"/admin/config/scheduled/{change_id}/cancel",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert cancelled.status_code == 303
    again = client.post(f"/admin/config/scheduled/{change_id}/cancel", data={"csrf_token": token})
    assert again.status_code == 422
    bad_day = client.post("/admin/config/windows", data=form | {"effective_on": "下周一"})
    assert bad_day.status_code == 400 and "日期" in bad_day.text
    users = client.post(
        "/admin/config/users",
        data={
            "col0": "zz9",
            "col1": "张",
            "col2": "window_staff",
            "col3": "",
            "col4": "",
            "effective_on": day,
            "csrf_token": token,
        },
    )
    assert users.status_code == 400 and "只能立即生效" in users.text
    assert date.fromisoformat(day) > local_today()
