"""The whole-day simulation: queues carried across slots, the lunch break, the day's end."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from govloop.insight.day_simulation import simulate_day
from govloop.insight.erlang import erlang_c_service_level
from govloop.insight.queueing_types import ItemLoad, ServiceTarget, WindowSkill

TARGET = ServiceTarget(0.8, 20.0)
MONDAY = datetime(2025, 3, 3, 9, 0)


def _slots(rates: list[float], handling: float = 10.0, patience: float | None = None):
    return {
        MONDAY + timedelta(minutes=30 * k): [ItemLoad("a", r, handling, patience)]
        for k, r in enumerate(rates)
    }


def test_same_seed_same_result_and_standard_errors():
    slots = _slots([0.3, 0.2])
    windows = [WindowSkill("G1"), WindowSkill("G2"), WindowSkill("G3")]
    opened = dict.fromkeys(slots, ("G1", "G2", "G3"))
    first = simulate_day(slots, opened, windows, TARGET, replications=30, seed=1)
    again = simulate_day(slots, opened, windows, TARGET, replications=30, seed=1)
    assert first.levels == again.levels
    level = first.levels[(MONDAY, "a")]
    assert level.arrivals == pytest.approx(9.0, rel=0.2)  # 0.3/min for 30 min
    assert 0 < level.service_level_se < 0.1
    single = simulate_day(slots, opened, windows, TARGET, replications=1, seed=1)
    assert math.isnan(single.levels[(MONDAY, "a")].service_level_se)
    with pytest.raises(ValueError):
        simulate_day(slots, opened, windows, TARGET, replications=0)


def test_the_queue_of_a_peak_is_carried_into_the_next_slot():
    # 09:00: 0.7/min on 2 windows of 10 min (load 7 on 2): a queue of ~15 builds, which
    # takes over an hour to clear. 09:30 alone would be easy: 0.05/min on 2 windows.
    slots = _slots([0.7, 0.05])
    windows = [WindowSkill("G1"), WindowSkill("G2")]
    opened = dict.fromkeys(slots, ("G1", "G2"))
    result = simulate_day(slots, opened, windows, TARGET, replications=100, seed=3)
    steady = erlang_c_service_level(0.05, 10.0, 2, 20.0)
    later = result.levels[(MONDAY + timedelta(minutes=30), "a")]
    assert steady > 0.95
    assert later.service_level < 0.2  # they wait behind the 09:00 queue
    assert result.served_after_close > 5 and result.overtime_minutes > 60


def test_nobody_is_served_during_the_lunch_break():
    windows = [WindowSkill("G1")]
    noon = datetime(2025, 3, 3, 11, 30)
    # 0.15/min on one 10-minute window: a queue builds before lunch
    with_break = {noon: [ItemLoad("a", 0.15, 10.0)], noon.replace(hour=13, minute=30): []}
    back_to_back = {noon: [ItemLoad("a", 0.15, 10.0)], noon.replace(hour=12, minute=0): []}
    broke = simulate_day(
        with_break, dict.fromkeys(with_break, ("G1",)), windows, TARGET, replications=80, seed=5
    )
    straight = simulate_day(
        back_to_back,
        dict.fromkeys(back_to_back, ("G1",)),
        windows,
        TARGET,
        replications=80,
        seed=5,
    )
    wait_break, level_break, _ = broke.outcome([noon])
    wait_straight, level_straight, _ = straight.outcome([noon])
    # whoever was still waiting at 12:00 is called after 13:30 at the earliest
    assert wait_break > wait_straight + 30
    assert level_break < level_straight


def test_the_days_end_without_service_after_closing_counts_the_queue_as_missed():
    slots = _slots([0.5])
    windows = [WindowSkill("G1")]
    opened = dict.fromkeys(slots, ("G1",))
    drained = simulate_day(slots, opened, windows, TARGET, replications=40, seed=2)
    closed = simulate_day(
        slots, opened, windows, TARGET, replications=40, seed=2, serve_after_close=False
    )
    # without service after closing only the citizen at the window is finished
    assert drained.overtime_minutes > closed.overtime_minutes + 60
    assert closed.served_after_close == 0
    # the same citizens; the cut-off only changes what happens after closing
    assert closed.levels[(MONDAY, "a")].service_level <= drained.levels[(MONDAY, "a")].service_level


def test_multi_skill_windows_only_serve_their_items():
    slots = {MONDAY: [ItemLoad("a", 0.2, 10.0), ItemLoad("b", 0.2, 10.0)]}
    windows = [WindowSkill("A", frozenset({"a"})), WindowSkill("B", frozenset({"b"}))]
    only_a = simulate_day(slots, {MONDAY: ("A",)}, windows, TARGET, replications=20, seed=1)
    assert only_a.levels[(MONDAY, "b")].service_level == 0.0
    assert only_a.levels[(MONDAY, "a")].service_level > 0.3
