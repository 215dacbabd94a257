"""A decision of the action loop carried out in the configuration: the rows the
recommendation proposes, edited by the manager, applied with the import's rules; the loop
records it."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.actions.models import Action, ActionStatus, LoopEvent
from govloop.app import create_app
from govloop.core.auth import Role
from govloop.core.db import unit_of_work
from govloop.hall.models import AppointmentQuota, Window
from govloop.org.models import Hall
from govloop.setup import service
from govloop.setup.models import ConfigChange
from tests.factories import make_user
from tests.setup.workbooks import GOOD, workbook
from tests.web.helpers import sign_in


@pytest.fixture
def client(db):
    with unit_of_work() as s:
        service.import_files(
            session=s, files=[("清单.xlsx", workbook(GOOD))], actor=None, source="cli"
        )
        make_user(s, "boss", Role.HALL_MANAGER)
    web = TestClient(create_app(run_jobs=False))
    web.headers["x-csrf"] = sign_in(web, "boss")
    return web


def _action(kind: str, recommendation: dict, status: str = ActionStatus.PLANNED) -> int:
    with unit_of_work() as s:
        hall = s.scalars(select(Hall).where(Hall.code == "CITY")).one()
        action = Action(
            hall_id=hall.id,
            title="高峰增开窗口" if kind == "open_windows" else "低谷时段预约号源",
            kind=kind,
            decision="按建议执行",
            due_date=date(2026, 12, 31),
            starts_on=date(2026, 12, 7),
            scope={},
            indicators=[],
            status=status,
            recommendation=recommendation,
        )
        s.add(action)
        s.flush()
        return action.id


def _fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'name="(r\d+c\d+)" value="([^"]*)"', html))


def test_open_windows_proposes_free_numbers_and_the_loop_records_it(client):
    action_id = _action("open_windows", {"kind": ["open_windows"], "extra_windows": ["2"]})
    page = client.get(f"/insight/CITY/actions/{action_id}/apply")
    assert page.status_code == 200 and "在配置中执行" in page.text
    fields = _fields(page.text)
    assert (fields["r0c1"], fields["r1c1"], fields["r0c2"]) == ("3", "4", "临时增开窗口")
    r = client.post(
        f"/insight/CITY/actions/{action_id}/apply",
        data=fields | {"csrf_token": client.headers["x-csrf"]},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?done=applied")
    with unit_of_work() as s:
        added = s.scalars(select(Window).where(Window.number.in_([3, 4]))).all()
        assert len(added) == 2 and all(w.is_general and w.active for w in added)
        event = s.scalars(select(LoopEvent).where(LoopEvent.kind == "action.config_applied")).one()
        assert event.action_id == action_id and event.detail["changes"] == 2
        sources = s.scalars(select(ConfigChange.source).where(ConfigChange.kind == "window"))
        assert list(sources).count("action") == 2
    action_page = client.get(f"/insight/CITY/actions/{action_id}?done=applied")
    assert "已在配置中执行" in action_page.text


def test_quota_rows_come_from_the_quiet_periods_and_bad_rows_change_nothing(client):
    recommendation = {"kind": ["appointment_quota"], "quota": ["6"], "periods": ["2026-12-09 pm"]}
    action_id = _action("appointment_quota", recommendation)
    fields = _fields(client.get(f"/insight/CITY/actions/{action_id}/apply").text)
    # 2026-12-09 is a Wednesday; the hall's afternoon opens at 13:30
    assert (fields["r0c1"], fields["r0c2"], fields["r0c3"], fields["r0c4"]) == (
        "GA01",
        "周三",
        "13:30-14:30",
        "6",
    )
    bad = client.post(
        f"/insight/CITY/actions/{action_id}/apply",
        data=fields | {"r0c3": "12:00-13:00", "csrf_token": client.headers["x-csrf"]},
    )
    assert bad.status_code == 422 and "不在大厅开放时间" in bad.text
    with unit_of_work() as s:
        assert (
            s.scalars(select(LoopEvent).where(LoopEvent.kind == "action.config_applied")).all()
            == []
        )
    ok = client.post(
        f"/insight/CITY/actions/{action_id}/apply",
        data=fields | {"csrf_token": client.headers["x-csrf"]},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    with unit_of_work() as s:
        quota = s.scalars(select(AppointmentQuota).where(AppointmentQuota.weekday == 3)).one()
        assert (quota.capacity, f"{quota.slot_start:%H:%M}") == (6, "13:30")


def test_only_open_decisions_of_these_kinds_are_carried_out(client):
    done = _action("open_windows", {"extra_windows": ["1"]}, status=ActionStatus.COMPLETED)
    fields = _fields(client.get(f"/insight/CITY/actions/{done}/apply").text)
    refused = client.post(
        f"/insight/CITY/actions/{done}/apply",
        data=fields | {"csrf_token": client.headers["x-csrf"]},
    )
    assert refused.status_code == 409
    other = _action("best_time", {})
    assert client.get(f"/insight/CITY/actions/{other}/apply").status_code == 422


def test_an_afternoon_quota_in_a_hall_open_straight_through_starts_at_two():
    from datetime import time

    from govloop.setup.action_pages import _slot_in

    straight = Hall(code="S", name="s", opens_at=time(9), closes_at=time(17))
    assert _slot_in(straight, "am") == "09:00-10:00"
    assert _slot_in(straight, "pm") == "14:00-15:00"
    lunch = Hall(code="L", name="l", sessions=[["09:00", "12:00"], ["13:30", "17:00"]])
    assert _slot_in(lunch, "pm") == "13:30-14:30"
