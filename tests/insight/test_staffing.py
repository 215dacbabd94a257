"""Staffing: slot plans with multi-skill windows, week schedules, gaps, simulation check."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from govloop.insight.erlang import fewest_windows
from govloop.insight.queueing_types import ItemLoad, ServiceTarget, WindowSkill
from govloop.insight.staffing import (
    NO_WINDOW,
    ONE_OFF,
    OPEN_PERMANENT_WINDOW,
    RECURRING,
    TEMPORARY_COVER,
    UNREACHABLE,
    check_with_simulation,
    classify_gaps,
    plan_slot,
    plan_week,
)

TARGET = ServiceTarget(0.8, 20.0)
GENERAL = [WindowSkill(f"G{k}") for k in range(1, 7)]


def test_single_item_on_general_windows_matches_fewest_windows():
    item = ItemLoad("a", 0.4, 10.0, 40.0)  # a = 4 erlangs
    plan = plan_slot([item], GENERAL, TARGET, margin=0.0)
    assert plan.feasible
    assert plan.window_count == fewest_windows(0.4, 10.0, 40.0, TARGET, 6)
    forecast = plan.items["a"]
    assert forecast.met and forecast.service_level >= 0.8
    assert forecast.windows_serving == plan.window_count
    assert 0.0 <= forecast.service_level_erlang_c <= 1.0


def test_item_served_by_one_specialised_window_gets_it_opened():
    windows = [
        WindowSkill("WX", frozenset({"x"})),
        WindowSkill("WY1", frozenset({"y", "z"})),
        WindowSkill("WY2", frozenset({"y", "z"})),
    ]
    items = [ItemLoad("x", 0.01, 10.0, 40.0), ItemLoad("y", 0.05, 10.0, 40.0)]
    plan = plan_slot(items, windows, TARGET)
    assert plan.feasible
    assert "WX" in plan.open_windows
    assert plan.open_windows.count("WY1") + plan.open_windows.count("WY2") >= 1
    assert "z" not in plan.items  # no demand, nothing needed


def test_specialised_window_preferred_over_general_at_equal_count():
    windows = [WindowSkill("G1"), WindowSkill("WA", frozenset({"a"}))]
    plan = plan_slot([ItemLoad("a", 0.02, 10.0, 40.0)], windows, TARGET)
    assert plan.open_windows == ("WA",)


def test_pooling_on_general_windows_saves_windows():
    # three departments with tiny demand: one general window beats one window each
    windows = [WindowSkill(f"W{d}", frozenset({d})) for d in "abc"] + [WindowSkill("G1")]
    items = [ItemLoad(d, 0.004, 10.0, 40.0) for d in "abc"]
    plan = plan_slot(items, windows, TARGET)
    assert plan.feasible and plan.window_count == 1


def test_department_and_general_windows_meet_targets_in_simulation():
    windows = [
        WindowSkill("A1", frozenset({"a1", "a2"})),
        WindowSkill("A2", frozenset({"a1", "a2"})),
        WindowSkill("B1", frozenset({"b1"})),
        WindowSkill("G1"),
        WindowSkill("G2"),
    ]
    items = [
        ItemLoad("a1", 0.08, 12.0, 40.0),
        ItemLoad("a2", 0.05, 8.0, 35.0),
        ItemLoad("b1", 0.06, 15.0, 50.0),
        ItemLoad("c", 0.03, 10.0, 30.0),  # general windows only
    ]
    plan = plan_slot(items, windows, TARGET)
    assert plan.feasible and 2 <= plan.window_count <= 5
    check = check_with_simulation(plan, items, windows, TARGET, minutes=60_000, seed=2)
    for item in check.items.values():
        assert item.simulated >= 0.8 - 3 * item.simulated_se - 0.01


def test_no_demand_opens_nothing():
    plan = plan_slot([ItemLoad("a", 0.0, 10.0)], GENERAL, TARGET)
    assert plan.feasible and plan.open_windows == () and plan.items == {}


def test_unreachable_target_is_explained_not_invented():
    items = [ItemLoad("a", 2.0, 10.0, 30.0), ItemLoad("b", 0.01, 10.0, 30.0)]  # a = 20 erlangs
    windows = [*GENERAL, WindowSkill("WB", frozenset({"b"}))]
    plan = plan_slot(items, windows, TARGET)
    assert not plan.feasible and plan.reason == UNREACHABLE
    assert set(plan.open_windows) == {w.code for w in windows}  # the best the hall can do
    short = {s.item: s for s in plan.shortfalls}
    assert "a" in short and short["a"].service_level < 0.8
    assert "a reaches" in plan.explanation


def test_item_without_any_window_is_reported():
    plan = plan_slot(
        [ItemLoad("a", 0.1, 10.0), ItemLoad("x", 0.1, 10.0)], [WindowSkill("W", frozenset({"a"}))]
    )
    assert not plan.feasible and plan.reason == NO_WINDOW and "x" in plan.explanation


def test_week_schedule_is_contiguous_and_covers_every_plan():
    day = datetime(2025, 3, 3, 9, 0)
    rates = [0.05, 0.3, 0.3, 0.05, 0.3, 0.3, 0.0, 0.05, 0.05]  # a one-slot dip at 10:30
    slots = {
        day + timedelta(minutes=30 * k): [ItemLoad("a", rate, 10.0, 40.0)]
        for k, rate in enumerate(rates)
    }
    week = plan_week(slots, GENERAL, TARGET)
    for start, plan in week.slots.items():
        assert set(plan.open_windows) <= set(week.schedule[start])
        assert week.required[start] == plan.window_count
    dip, peak = day + timedelta(minutes=90), day + timedelta(minutes=60)
    assert week.required[dip] < week.required[peak]
    assert set(week.schedule[dip]) == set(week.schedule[peak])  # half an hour off: kept open
    by_window: dict[str, list] = {}
    for shift in week.shifts:
        assert shift.end > shift.start
        by_window.setdefault(shift.window, []).append(shift)
    for shifts in by_window.values():
        shifts.sort(key=lambda s: s.start)
        assert all(a.end < b.start for a, b in itertools.pairwise(shifts))
    assert not week.infeasible


def test_gaps_recurring_by_weekday_and_by_time_of_day():
    monday = datetime(2025, 3, 3, 9, 0)
    required, scheduled = {}, {}
    for day in range(14):
        for slot in (0, 2, 4):
            start = monday + timedelta(days=day, minutes=30 * slot)
            required[start], scheduled[start] = 3, 3
    two_mondays = [monday, monday + timedelta(days=7)]
    for start in two_mondays:
        required[start] = 5  # Monday 09:00, both weeks
    ten_oclock = [monday + timedelta(days=d, minutes=60) for d in range(9)]
    for start in ten_oclock:  # 10:00 on 9 of 14 days
        required[start] = 4
    odd = monday + timedelta(days=2, minutes=120)  # one Wednesday 11:00
    required[odd] = 4
    gaps = {g.slot: g for g in classify_gaps(required, scheduled)}
    assert set(gaps) == set(two_mondays) | set(ten_oclock) | {odd}
    assert all(gaps[s].kind == RECURRING for s in two_mondays)
    assert gaps[monday].same_weekday_slot == (2, 2) and gaps[monday].missing == 2
    assert all(gaps[s].kind == RECURRING for s in ten_oclock)
    assert gaps[ten_oclock[0]].same_slot == (9, 14)
    assert gaps[ten_oclock[0]].suggestion == OPEN_PERMANENT_WINDOW
    assert gaps[odd].kind == ONE_OFF and gaps[odd].suggestion == TEMPORARY_COVER


def test_gaps_count_missing_schedule_as_zero():
    start = datetime(2025, 3, 3, 9, 0)
    (gap,) = classify_gaps({start: 2}, {})
    assert gap.scheduled == 0 and gap.kind == ONE_OFF
