"""The queueing benchmark in its quick form: every figure is there and plausible."""

from __future__ import annotations

from govloop.bench.insight.queueing import benchmark_hall, benchmark_week, queueing_figures


def test_benchmark_hall_is_multi_skill_and_deterministic():
    windows, items = benchmark_hall(7)
    assert len(items) == 30 and 12 <= len(windows) <= 16
    assert 2 <= sum(w.is_general for w in windows) <= 3
    for window in windows:
        assert window.items is None or 1 <= len(window.items) <= 5
    assert benchmark_week(7, days=1) == benchmark_week(7, days=1)
    assert len(benchmark_week(7, days=2)) == 40


def test_quick_figures():
    figures = queueing_figures(seed=7, quick=True)
    assert figures["seed"] == 7 and figures["sizes"]["slots"] == 20
    assert 0 < figures["staffing_seconds"] < 5
    assert 0 < figures["staffing_seconds_erlang_c"] < 5
    assert 0 <= figures["erlang_a_agree"] < 0.1  # short runs: loose
    assert figures["erlang_a_grid"]["points"] == 4
    assert 0 <= figures["sim_target_met"] <= 1 and figures["sim_slots"] == 4
    assert figures["windows_planned"] > 0
    # whole days: the time-varying plan beside per-slot Erlang A and C, same simulated days
    assert 0 <= figures["day_sim_target_met"] <= 1 and figures["day_sim_target_met_goal"] == 0.95
    methods = figures["day_sim_methods"]
    assert set(methods) == {
        "time_varying",
        "time_varying_without_correction",
        "erlang_a",
        "erlang_c",
    }
    assert figures["day_sim_target_met"] == methods["time_varying"]["day_sim_target_met"]
    assert methods["erlang_a"]["windows"] == figures["windows_planned"]
    for method in methods.values():
        assert method["windows"] > 0 and 0 <= method["day_sim_target_met"] <= 1
        assert method["day_sim_target_met_within_noise"] >= method["day_sim_target_met"]
    assert figures["day_sim_slot_items"] > 0
    assert "available" in figures["pyworkforce"]
    if figures["pyworkforce"]["available"]:
        assert figures["pyworkforce"]["largest_erlang_c_difference"] < 1e-9
