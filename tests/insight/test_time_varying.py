"""Time-varying staffing: modified offered load, corrected and checked on whole days."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from govloop.insight.day_simulation import simulate_day
from govloop.insight.queueing_types import ItemLoad, ServiceTarget, WindowSkill
from govloop.insight.staffing import UNREACHABLE, plan_week
from govloop.insight.time_varying import modified_offered_loads, plan_week_time_varying

TARGET = ServiceTarget(0.8, 20.0)
MORNING = datetime(2025, 3, 3, 8, 30)


def _day(rates: list[float], handling: float, patience: float | None = None):
    return {
        MORNING + timedelta(minutes=30 * k): [ItemLoad("a", r, handling, patience)]
        for k, r in enumerate(rates)
    }


def _levels(slots, plan, windows, replications=300):
    opened = {s: plan.slots[s].open_windows for s in slots}
    result = simulate_day(slots, opened, windows, TARGET, replications=replications, seed=3)
    return [result.levels[(s, "a")].service_level for s in sorted(slots)]


def test_modified_offered_load_lags_the_arrivals():
    steady = _day([0.2] * 12, 10.0)
    loads = [ld[0].arrival_rate * 10.0 for ld in modified_offered_loads(steady).values()]
    assert loads[0] < 2.0 * 0.7  # the hall opens empty
    assert loads[-1] == pytest.approx(2.0, rel=1e-3)  # then reaches λh
    peak = _day([0.1, 0.6, 0.05, 0.05], 30.0)
    after = [ld[0].arrival_rate * 30.0 for ld in modified_offered_loads(peak).values()]
    assert after[2] > 3 * 0.05 * 30.0  # the peak's citizens are still being served
    assert after[1] < 0.6 * 30.0  # a half-hour peak never reaches its steady load
    # a lunch break: the load left in the hall runs down over it
    lunch = {
        MORNING: [ItemLoad("a", 0.6, 30.0)],
        MORNING + timedelta(minutes=30): [ItemLoad("a", 0.05, 30.0)],
        MORNING + timedelta(hours=3): [ItemLoad("a", 0.05, 30.0)],
    }
    values = [ld[0].arrival_rate * 30.0 for ld in modified_offered_loads(lunch).values()]
    m_end = 0.05 * 30 + (values[0] * 0 + 0.6 * 30 * (1 - math.exp(-1)) - 1.5) * math.exp(-1)
    assert values[2] < m_end  # decayed over the 2.5 h break, then the slot's own mean


def test_steady_state_staffing_fails_the_day_and_the_time_varying_plan_passes():
    # a morning peak of hour-long matters: per slot, 10:00 looks quiet (load 3), but the
    # peak's citizens still hold the windows it leaves open
    slots = _day([0.1, 0.5, 0.5, 0.05, 0.05, 0.05], 60.0)
    windows = [WindowSkill(f"G{k:02d}") for k in range(40)]
    steady = plan_week(slots, windows)
    mol = plan_week_time_varying(slots, windows, correct=False)
    corrected = plan_week_time_varying(slots, windows, replications=60)
    assert min(_levels(slots, steady, windows)) < TARGET.share
    assert min(_levels(slots, mol, windows)) >= TARGET.share
    assert min(_levels(slots, corrected, windows)) >= TARGET.share
    assert not corrected.infeasible
    # fewer window-slots than the per-slot plan: the short peak never builds its queue
    assert sum(mol.required.values()) < sum(steady.required.values())


def test_the_simulation_correction_adds_windows_after_an_overloaded_peak():
    # 8 windows cannot carry the 09:00-10:00 peak: its queue spills into 10:00 and 10:30
    slots = _day([0.2, 1.0, 1.0, 0.3, 0.2, 0.2], 10.0, patience=60.0)
    windows = [WindowSkill(f"G{k}") for k in range(8)]
    steady = plan_week(slots, windows)
    corrected = plan_week_time_varying(slots, windows, replications=60)
    assert min(_levels(slots, steady, windows)) < TARGET.share
    after = _levels(slots, corrected, windows)
    later = sorted(slots)[3:]
    assert all(level >= TARGET.share for level in after[3:5])  # where the queue spills
    assert corrected.required[later[0]] > steady.required[later[0]]
    assert "whole-day simulation" in corrected.slots[later[0]].explanation


def test_a_slot_is_infeasible_only_when_every_window_open_still_misses():
    slots = _day([0.2, 2.0, 0.2], 10.0, patience=30.0)
    windows = [WindowSkill("G1"), WindowSkill("G2")]
    plan = plan_week_time_varying(slots, windows, replications=30)
    peak = sorted(slots)[1]
    assert peak in plan.infeasible
    assert plan.slots[peak].reason == UNREACHABLE
    assert plan.slots[peak].open_windows == ("G1", "G2")
    assert plan.slots[peak].shortfalls and plan.slots[peak].shortfalls[0].item == "a"
