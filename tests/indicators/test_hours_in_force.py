"""Duty time and on-post time use the opening hours in force on each day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hall import windows as hall_windows
from govloop.indicators import results, service
from govloop.org import service as org_service
from govloop.setup import schedule
from tests.factories import make_hall, make_user

MONDAY_0900 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
LUNCH_HOURS = {
    "大厅编码": "H1",
    "大厅名称": "测试大厅",
    "地址": "",
    "工作日开放时间": "09:00-12:00,13:30-17:00",
    "周末开放": "否",
}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(tmp_path / "data"))


def _window_figures(window_id: int, day: str) -> dict[str, float]:
    with unit_of_work() as s:
        out = results.scores(session=s, hall_code="H1", object_kind="window", period_text=day)
    figures = next(o for o in out.objects if o.object_id == window_id)
    return {i.code: i.value for i in figures.indicators}


def test_hours_with_a_lunch_break_from_tuesday_change_tuesday_only(db, data_dir):
    with frozen(MONDAY_0900 - timedelta(days=3)) as clock:  # the Friday before
        with unit_of_work() as s:
            world = make_hall(s, windows={1: None}, staffed=False)
            clerk = make_user(s, "clerk")
            result, change = schedule.save_rows(
                session=s,
                sheet="大厅",
                rows=[LUNCH_HOURS],
                effective_on=date(2026, 11, 24),
                actor=None,
                source="api",
            )
            assert result.ok and change is not None
        for offset in (0, 1):  # Monday, then Tuesday with the new hours
            clock.current = MONDAY_0900 + timedelta(days=offset, hours=-1)
            with unit_of_work() as s:
                schedule.apply_due(session=s)
            for hours, action in ((0, "sign_in"), (5, "sign_out")):  # 09:00 to 14:00
                clock.current = MONDAY_0900 + timedelta(days=offset, hours=hours)
                with unit_of_work() as s:
                    hall = org_service.get_hall(session=s, code="H1")
                    getattr(hall_windows, action)(
                        session=s, hall=hall, window_number=1, actor=clerk
                    )
        clock.current = MONDAY_0900 + timedelta(days=2)
        with unit_of_work() as s:
            service.refresh(session=s)
        window_id = world.windows[1].id
        monday = _window_figures(window_id, "2026-11-23")
        tuesday = _window_figures(window_id, "2026-11-24")
    # Monday: 09:00–17:00 in force, on post 09:00–14:00
    assert monday["on_post_rate"] == pytest.approx(300 / 480)
    # Tuesday: the lunch break is neither on-post nor duty time: (180 + 30) / (180 + 210)
    assert tuesday["on_post_rate"] == pytest.approx(210 / 390)
