"""KPI engine figures against hand-computed expectations, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from govloop.core.db import unit_of_work
from govloop.indicators import results, service
from govloop.indicators.periods import parse_period
from govloop.org import service as org_service
from govloop.ratings import figures as rating_figures
from tests.indicators.scenario import HALL_MONDAY, WINDOWS_MONDAY, build_monday


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(path))
    return path


@pytest.fixture
def monday(db, data_dir):
    day = build_monday()
    with unit_of_work() as s:
        report = service.refresh(session=s)
    assert report.exported["hall_events"] > 0
    return day


def values(scores_out):
    return {obj.object_id: {i.code: i.value for i in obj.indicators} for obj in scores_out.objects}


def check(actual: dict, expected: dict) -> None:
    for code, want in expected.items():
        got = actual.get(code)
        if want is None:
            assert got is None, f"{code}: expected no data, got {got}"
        else:
            assert got == pytest.approx(want, rel=1e-9, abs=1e-12), code


def test_hall_figures_for_the_day_week_and_month(monday):
    with unit_of_work() as s:
        for period in ("2026-11-23", "2026-W48", "2026-11"):
            out = results.scores(session=s, hall_code="H1", object_kind="hall", period_text=period)
            assert out.materialized
            [hall] = out.objects
            check({i.code: i.value for i in hall.indicators}, HALL_MONDAY)
        # The same figures computed live for a custom range (not materialized).
        out = results.scores(
            session=s, hall_code="H1", object_kind="hall", period_text="2026-11-20..2026-11-24"
        )
        assert not out.materialized
        check({i.code: i.value for i in out.objects[0].indicators}, HALL_MONDAY)


def test_rating_figures_agree_with_the_ratings_service(monday):
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        figures = rating_figures.figures(
            session=s,
            hall_id=hall.id,
            start=datetime(2026, 11, 22, 16, 0, tzinfo=UTC),
            end=datetime(2026, 11, 23, 16, 0, tzinfo=UTC),
        )
        out = results.scores(
            session=s, hall_code="H1", object_kind="hall", period_text="2026-11-23"
        )
    got = {i.code: i.value for i in out.objects[0].indicators}
    assert got["satisfaction_rate"] == pytest.approx(figures.satisfaction_rate)
    assert got["bad_rating_rate"] == pytest.approx(figures.bad_rate)
    assert got["callback_rate"] == pytest.approx(figures.real_name_callback_rate)
    assert got["rectification_rate"] == pytest.approx(figures.rectification_rate)
    assert got["on_time_rectification_rate"] == pytest.approx(figures.on_time_rectification_rate)


def test_window_and_staff_figures(monday):
    world = monday.world
    with unit_of_work() as s:
        windows = values(
            results.scores(session=s, hall_code="H1", object_kind="window", period_text="2026-11")
        )
        staff = values(
            results.scores(session=s, hall_code="H1", object_kind="staff", period_text="2026-11")
        )
    for number, (on_post, busy, served) in WINDOWS_MONDAY.items():
        got = windows[world.windows[number].id]
        assert got["on_post_rate"] == pytest.approx(on_post / 480)
        assert got["window_utilization"] == pytest.approx(busy / on_post)
        assert got["served_per_duty_hour"] == pytest.approx(served / (on_post / 60))
        # one staff member per window here: the same figures per person
        assert staff[world.staff[number].id]["on_post_rate"] == pytest.approx(on_post / 480)
        # indicators that do not apply to windows are not reported for them
        assert "unserved_rate" not in got and "appointment_punctuality" not in got
    w1, w3 = windows[world.windows[1].id], windows[world.windows[3].id]
    assert w1["wait_mean"] == pytest.approx((10 + 1) / 2)  # A002 and A003
    assert w1["no_show_rate"] == pytest.approx(1 / 2)
    assert w3["wait_mean"] == pytest.approx((16 + 1) / 2)  # A001 and B003 ended here
    assert w3["transfer_rate"] == pytest.approx(1 / 2)
    assert w3["mean_rating"] == pytest.approx(4.0)  # A001; B003's rating was excluded


def test_item_and_department_figures(monday):
    world = monday.world
    with unit_of_work() as s:
        items = values(
            results.scores(session=s, hall_code="H1", object_kind="item", period_text="2026-11-23")
        )
        depts = values(
            results.scores(
                session=s, hall_code="H1", object_kind="department", period_text="2026-11-23"
            )
        )
    sb, gs = items[world.items["SB01"].id], items[world.items["GS01"].id]
    assert sb["wait_mean"] == pytest.approx((16 + 10 + 1) / 3)
    assert sb["unserved_rate"] == pytest.approx(0.0)
    assert gs["unserved_rate"] == pytest.approx(1 / 3)
    assert gs["on_time_completion"] == pytest.approx(1 / 2)
    [dept] = depts.values()  # one department holds both items
    check(dept, {k: v for k, v in HALL_MONDAY.items() if k in dept})


def test_composite_scores(monday):
    with unit_of_work() as s:
        out = results.scores(session=s, hall_code="H1", object_kind="hall", period_text="2026-11")
    [hall] = out.objects
    by_code = {i.code: i for i in hall.indicators}
    # empathy: callback 1/1 (target 1) → 100; on-time callback 1 (0.95) → 100;
    # priority wait 10 min (5, lower) → 50; mean rating 11/3 (4.5) → 81.48;
    # very satisfied 1/3 (0.7) → 47.62; weights .3 .15 .25 .15 .15
    expected = (
        0.3 * 100
        + 0.15 * 100
        + 0.25 * 50
        + 0.15 * (11 / 3) / 4.5 * 100
        + 0.15 * (1 / 3) / 0.7 * 100
    )
    assert hall.dimensions["empathy"] == pytest.approx(expected)
    assert by_code["priority_wait"].score == pytest.approx(50.0)
    assert by_code["priority_wait"].met is False
    assert by_code["served_within_20"].met is True
    # tangibles: device uptime has no data, so its weight goes to the other three
    t = {
        c: by_code[c].score for c in ("on_post_rate", "window_utilization", "served_per_duty_hour")
    }
    assert by_code["device_uptime"].value is None and by_code["device_uptime"].score is None
    assert hall.dimensions["tangibles"] == pytest.approx(
        (
            0.35 * t["on_post_rate"]
            + 0.25 * t["window_utilization"]
            + 0.15 * t["served_per_duty_hour"]
        )
        / 0.75
    )
    dims = hall.dimensions
    weights = {
        "tangibles": 0.1,
        "reliability": 0.25,
        "responsiveness": 0.3,
        "assurance": 0.2,
        "empathy": 0.15,
    }
    assert hall.overall == pytest.approx(sum(weights[d] * dims[d] for d in weights))


def test_thirty_minute_slots(monday):
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        _v, _fw, scored = results.compute_scores(
            session=s, hall=hall, period=parse_period("2026-11-23"), kinds=["hall"], by_slot=True
        )
    frame = scored.values.frame
    by_slot = dict(zip(frame["slot"], frame["wait_mean"], strict=True))
    # arrivals 09:00–09:29 (slot 18): A001 16, A002 10, B001 7; 09:30–09:59 (19): A003 1, B003 1
    assert by_slot[18] == pytest.approx(11.0)
    assert by_slot[19] == pytest.approx(1.0)
    # session figures have no slot: no data rather than a wrong number
    assert frame["on_post_rate"].isna().all()
    assert date(2026, 11, 23) in set(frame["period_start"])
