"""The SimPy hall: determinism, queueing theory, multi-skill calling and abandonment."""

from __future__ import annotations

import math

import pytest

from govloop.insight.queueing_types import ItemLoad, ServiceTarget, WindowSkill
from govloop.insight.simulation import simulate_hall

TARGET = ServiceTarget(0.8, 20.0)


def test_same_seed_same_result_other_seed_other_result():
    items = [ItemLoad("a", 0.2, 8.0, 30.0), ItemLoad("b", 0.1, 15.0, None)]
    windows = [WindowSkill("W1", frozenset({"a"})), WindowSkill("G1")]
    first = simulate_hall(items, windows, 5_000, seed=1, target=TARGET)
    again = simulate_hall(items, windows, 5_000, seed=1, target=TARGET)
    other = simulate_hall(items, windows, 5_000, seed=2, target=TARGET)
    assert first == again
    assert first.overall.arrivals != other.overall.arrivals


def test_single_window_mean_wait_matches_m_m_1():
    # λ = 0.06/min, 10 min handling: ρ = 0.6, E[Wq] = ρ / (μ − λ) = 15 min
    result = simulate_hall(
        [ItemLoad("a", 0.06, 10.0)],
        [WindowSkill("G")],
        300_000,
        seed=5,
        target=TARGET,
        warmup_minutes=1_000,
    )
    stats = result.overall
    assert stats.abandoned == 0 and stats.served == stats.arrivals
    assert stats.mean_wait_served == pytest.approx(15.0, rel=0.08)
    # P(W ≤ t) = 1 − ρ e^{−(μ−λ)t}
    assert stats.service_level == pytest.approx(1 - 0.6 * math.exp(-0.04 * 20), abs=0.015)
    assert result.utilization["G"] == pytest.approx(0.6, abs=0.02)


def test_windows_call_only_their_items():
    items = [ItemLoad("a", 0.05, 10.0), ItemLoad("b", 0.0, 10.0), ItemLoad("c", 0.02, 5.0, 10.0)]
    windows = [WindowSkill("Wb", frozenset({"b"})), WindowSkill("Wa", frozenset({"a"}))]
    result = simulate_hall(items, windows, 20_000, seed=3, target=TARGET)
    assert result.utilization["Wb"] == 0.0  # nobody comes for b
    assert result.utilization["Wa"] > 0.3
    c = result.items["c"]  # no window serves c: everyone leaves unserved
    assert c.arrivals > 0 and c.served == 0 and c.abandoned == c.arrivals
    assert c.service_level == 0.0


def test_specialised_window_is_preferred_when_idle():
    # light load: an a-citizen finding both idle goes to the specialised window
    items = [ItemLoad("a", 0.01, 10.0), ItemLoad("b", 0.001, 10.0)]
    windows = [WindowSkill("G"), WindowSkill("Wa", frozenset({"a"}))]
    result = simulate_hall(items, windows, 50_000, seed=4, target=TARGET)
    # G only takes b (0.01 erlang) and a-citizens arriving while Wa is busy (~0.01)
    assert result.utilization["Wa"] > 3 * result.utilization["G"]


def test_every_counted_arrival_is_served_or_leaves():
    items = [ItemLoad("a", 0.5, 10.0, 10.0), ItemLoad("b", 0.3, 6.0, 25.0)]
    windows = [WindowSkill("W1", frozenset({"a"})), WindowSkill("G1"), WindowSkill("G2")]
    result = simulate_hall(items, windows, 10_000, seed=8, target=TARGET, warmup_minutes=500)
    for stats in result.items.values():
        assert stats.arrivals == stats.served + stats.abandoned
        assert stats.met <= stats.served
    assert result.items["a"].abandoned > 0.3 * result.items["a"].arrivals  # overloaded
    assert result.overall.arrivals == sum(s.arrivals for s in result.items.values())


def test_warmup_is_not_counted():
    items = [ItemLoad("a", 0.1, 5.0)]
    full = simulate_hall(items, [WindowSkill("G")], 10_000, seed=9, target=TARGET)
    late = simulate_hall(
        items, [WindowSkill("G")], 10_000, seed=9, target=TARGET, warmup_minutes=5_000
    )
    assert late.overall.arrivals < 0.6 * full.overall.arrivals


def test_lognormal_handling_keeps_the_mean():
    items = [ItemLoad("a", 0.05, 10.0)]
    windows = [WindowSkill(f"G{k}") for k in range(3)]
    for cv in (0.0, 0.5, 2.0):
        result = simulate_hall(items, windows, 100_000, seed=2, target=TARGET, handling_cv=cv)
        busy = sum(result.utilization.values())
        assert busy == pytest.approx(0.5, rel=0.05)  # λ × mean handling erlangs


def test_item_target_overrides_the_hall_target():
    strict = ServiceTarget(0.8, 0.0)  # called at once
    items = [ItemLoad("a", 0.08, 10.0, target=strict), ItemLoad("b", 0.08, 10.0)]
    result = simulate_hall(items, [WindowSkill("G1"), WindowSkill("G2")], 50_000, 6, TARGET)
    assert result.items["a"].service_level < result.items["b"].service_level - 0.1


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        simulate_hall([], [], 100, seed=1, target=TARGET, warmup_minutes=200)
    with pytest.raises(ValueError):
        ItemLoad("a", -1.0, 10.0)
