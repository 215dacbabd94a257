"""The effect statistics on synthetic series: known injected effects are recovered, no
effect gives an interval around zero, the DiD arithmetic by hand, and honest refusals."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from govloop.actions import effect as fx
from govloop.indicators import formula as fml
from govloop.indicators.framework import default_framework

START = date(2026, 11, 9)  # a Monday
WEEKDAY_LEVEL = np.array([14.0, 10.0, 9.0, 9.5, 8.0, 0.0, 0.0])  # Monday rush, minutes


def working_days(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def days_around(start: date = START, before: int = 28, after: int = 21) -> list[date]:
    return working_days(start - timedelta(days=before), start + timedelta(days=after - 1))


def did_pair(effect: float, seed: int, noise: float = 1.0) -> tuple[pd.Series, pd.Series]:
    """Treated and comparison series sharing a weekday pattern and a common daily shock."""
    rng = np.random.default_rng(seed)
    days = days_around()
    shock = rng.normal(0, 3.0, len(days))  # moves both groups (weather, a busy month)
    base = np.array([WEEKDAY_LEVEL[d.weekday()] for d in days]) + shock
    after = np.array([d >= START for d in days])
    treated = base + 2.0 + rng.normal(0, noise, len(days)) + np.where(after, effect, 0.0)
    control = base + rng.normal(0, noise, len(days))
    return pd.Series(treated, index=days), pd.Series(control, index=days)


def seasonal_series(effect: float, seed: int, noise: float = 1.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    days = days_around()
    values = [
        WEEKDAY_LEVEL[d.weekday()] + rng.normal(0, noise) + (effect if d >= START else 0.0)
        for d in days
    ]
    return pd.Series(values, index=days)


# --- periods ------------------------------------------------------------------------------


def test_periods_are_28_days_before_and_the_days_since_the_start():
    w = fx.periods(START, None, today=date(2026, 11, 24))
    assert (w.before_start, w.before_end) == (date(2026, 10, 12), date(2026, 11, 8))
    assert (w.after_start, w.after_end) == (START, date(2026, 11, 23))  # up to yesterday
    assert w.days()[0] == w.before_start and w.days()[-1] == w.after_end
    assert len(w.days()) == 28 + 15

    ended = fx.periods(START, date(2026, 11, 13), today=date(2026, 11, 24))
    assert ended.after_end == date(2026, 11, 13)
    today_start = fx.periods(START, None, today=START)
    assert today_start.after_end is None and today_start.days()[-1] == w.before_end
    long = fx.periods(START, None, today=START + timedelta(days=400))
    assert long.truncated and long.after_end == START + timedelta(days=fx.MAX_AFTER_DAYS - 1)


# --- difference in differences ---------------------------------------------------------------


def test_did_arithmetic_by_hand():
    before = working_days(date(2026, 11, 2), date(2026, 11, 6))  # Mon–Fri
    after = working_days(START, date(2026, 11, 13))
    treated = pd.Series([10, 12, 11, 13, 9, 7, 8, 6, 9, 5], index=before + after, dtype=float)
    control = pd.Series([8, 9, 9, 10, 7, 8, 9, 8, 10, 7], index=before + after, dtype=float)
    est = fx.difference_in_differences(treated, control, START, replicates=200)
    # gaps before: 2 3 2 3 2 → 2.4; after: -1 -1 -2 -1 -2 → -1.4; DiD = -3.8
    assert est.effect == pytest.approx(-3.8)
    assert fx.did_point(np.array([2, 3, 2, 3, 2.0]), np.array([-1, -1, -2, -1, -2.0])) == (
        pytest.approx(-3.8)
    )
    assert est.before_mean == pytest.approx(11.0) and est.after_mean == pytest.approx(7.0)
    # without the action the treated days would have been the comparison + the old gap
    assert est.expected.tolist() == pytest.approx([10.4, 11.4, 10.4, 12.4, 9.4])
    assert est.expected_after == pytest.approx(8.4 + 2.4)
    assert est.method == "did" and (est.before_days, est.after_days) == (5, 5)
    assert est.ci_low <= est.effect <= est.ci_high


def test_did_uses_only_days_both_groups_have():
    treated, control = did_pair(0.0, seed=1)
    control = control.drop(control.index[[0, 3, -1]])
    est = fx.difference_in_differences(treated, control, START)
    assert est.before_days + est.after_days == len(control)


# A 95 % interval misses one time in twenty by design, so single seeds prove little:
# each check runs over twenty synthetic actions and allows the misses chance explains.
SEEDS = range(20)


def test_did_recovers_an_injected_effect():
    covered = clear = 0
    for seed in SEEDS:
        treated, control = did_pair(-3.0, seed=seed)
        est = fx.difference_in_differences(treated, control, START, replicates=500)
        covered += est.ci_low <= -3.0 <= est.ci_high
        clear += est.ci_high < 0
        # the common shock cancels out: a naive before/after comparison is much noisier
        assert est.ci_high - est.ci_low < 3.0
    assert covered >= 17 and clear == len(SEEDS)
    treated, control = did_pair(-3.0, seed=3)
    est = fx.difference_in_differences(treated, control, START)
    assert fx.verdict(est.ci_low, est.ci_high, higher_is_better=False) == "improved"
    assert fx.verdict(est.ci_low, est.ci_high, higher_is_better=True) == "worsened"


def test_did_without_effect_covers_zero():
    covered = 0
    for seed in SEEDS:
        treated, control = did_pair(0.0, seed=100 + seed)
        est = fx.difference_in_differences(treated, control, START, replicates=500)
        covered += est.ci_low <= 0.0 <= est.ci_high
    assert covered >= 17
    treated, control = did_pair(0.0, seed=6)
    est = fx.difference_in_differences(treated, control, START)
    assert fx.verdict(est.ci_low, est.ci_high, higher_is_better=True) == "no_clear_change"


def test_did_interval_is_calibrated():
    """Over many synthetic actions the 95 % interval covers the true effect ~95 % of times."""
    covered = 0
    runs = 200
    for seed in range(runs):
        treated, control = did_pair(1.5, seed=1000 + seed)
        est = fx.difference_in_differences(treated, control, START, replicates=400, seed=seed)
        covered += est.ci_low <= 1.5 <= est.ci_high
    assert 0.88 <= covered / runs <= 0.99


def test_same_data_same_interval():
    treated, control = did_pair(-1.0, seed=9)
    a = fx.difference_in_differences(treated, control, START)
    b = fx.difference_in_differences(treated, control, START)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)


# --- seasonal expectation --------------------------------------------------------------------


def test_weekday_levels_fall_back_to_the_overall_mean():
    weekdays = np.array([0, 0, 1, 1, 2])
    values = np.array([10.0, 12.0, 5.0, 7.0, 100.0])
    levels = fx.weekday_levels(weekdays, values)
    assert levels[0] == 11.0 and levels[1] == 6.0
    assert levels[2] == levels[5] == pytest.approx(values.mean())  # seen once / never


def test_seasonal_recovers_an_injected_effect():
    covered = clear = 0
    for seed in SEEDS:
        est = fx.seasonal_expectation(seasonal_series(-2.5, seed=seed), START, replicates=500)
        assert est.method == "seasonal"
        covered += est.ci_low <= -2.5 <= est.ci_high
        clear += est.ci_high < 0
    assert covered >= 17 and clear == len(SEEDS)
    # the after days are expected at their own weekday's level, Mondays high
    est = fx.seasonal_expectation(seasonal_series(-2.5, seed=1), START)
    mondays = [d for d in est.expected.index if d.weekday() == 0]
    fridays = [d for d in est.expected.index if d.weekday() == 4]
    assert est.expected[mondays[0]] > est.expected[fridays[0]] + 3


def test_seasonal_without_effect_covers_zero():
    covered = 0
    for seed in SEEDS:
        est = fx.seasonal_expectation(seasonal_series(0.0, seed=200 + seed), START, replicates=500)
        covered += est.ci_low <= 0.0 <= est.ci_high
    assert covered >= 17


def test_seasonal_interval_is_calibrated():
    runs = 200
    covered = sum(
        (lambda e: e.ci_low <= 1.0 <= e.ci_high)(
            fx.seasonal_expectation(
                seasonal_series(1.0, seed=3000 + k), START, replicates=400, seed=k
            )
        )
        for k in range(runs)
    )
    assert 0.90 <= covered / runs <= 0.995


def test_seasonal_effect_by_hand():
    before = working_days(date(2026, 10, 26), date(2026, 11, 6))  # two weeks
    after = working_days(START, date(2026, 11, 13))
    values = [10, 6, 6, 6, 6, 12, 8, 8, 8, 8, 8, 5, 5, 5, 5]  # two weeks, then one
    est = fx.seasonal_expectation(
        pd.Series(values, index=before + after, dtype=float), START, replicates=100
    )
    # weekday levels: Monday 11, the other days 7; after: 8 5 5 5 5 → effect (−3 −2 −2 −2 −2)/5
    assert est.expected.tolist() == [11, 7, 7, 7, 7]
    assert est.effect == pytest.approx(-2.2)


def test_special_days_are_left_out_of_the_seasonal_expectation():
    series = seasonal_series(0.0, seed=21)
    rush = [d for d in series.index if d < START][-3:]  # pretend: a month-end rush
    series[rush] += 20
    polluted = fx.seasonal_expectation(series, START)
    clean = fx.seasonal_expectation(series, START, special=rush)
    assert polluted.effect < -3  # the rush before makes ordinary days look like a drop
    assert clean.ci_low <= 0 <= clean.ci_high
    assert clean.before_days == polluted.before_days - 3


def test_special_days_are_month_ends_and_around_holidays():
    special = fx.special_days([date(2026, 10, 30), date(2026, 10, 8), date(2026, 11, 11)])
    assert date(2026, 10, 30) in special  # last working days of October
    assert date(2026, 10, 8) in special  # first working day after National Day
    assert date(2026, 11, 11) not in special


# --- not enough data ----------------------------------------------------------------------------


def test_too_few_days_after_is_refused_with_the_reason():
    series = seasonal_series(0.0, seed=31)
    short = series[series.index <= START + timedelta(days=3)]  # Mon–Thu: 4 open days
    with pytest.raises(fx.NotEnoughData) as info:
        fx.seasonal_expectation(short, START)
    assert info.value.code == "too_few_days_after"
    assert info.value.after_days == 4 and "4" in info.value.reason
    treated, control = did_pair(0.0, seed=31)
    with pytest.raises(fx.NotEnoughData):
        fx.difference_in_differences(treated, control[control.index < START], START)


def test_too_few_days_before_is_refused():
    series = seasonal_series(0.0, seed=32)
    with pytest.raises(fx.NotEnoughData) as info:
        fx.seasonal_expectation(series[series.index >= START - timedelta(days=3)], START)
    assert info.value.code == "too_few_days_before"


def test_improvement_follows_the_indicator_direction():
    assert fx.is_improvement(-2.0, higher_is_better=False) is True
    assert fx.is_improvement(-2.0, higher_is_better=True) is False
    assert fx.is_improvement(0.0, higher_is_better=True) is None
    assert fx.verdict(-1.0, 2.0, True) == "no_clear_change"
    assert fx.verdict(0.5, 2.0, True) == "improved"


# --- daily values of a group ------------------------------------------------------------------


def _node(code: str):
    return default_framework().nodes[code]


def test_a_rate_is_the_ratio_of_summed_counts_not_the_mean_of_ratios():
    node = _node("served_within_20")  # wait_within(20) / called
    day = date(2026, 11, 2)
    rows = pd.DataFrame(
        {
            "period_start": [day, day, day + timedelta(days=1)],
            "m_wait_within__20": [9.0, 1.0, 4.0],
            "m_called": [10.0, 10.0, 5.0],
            "served_within_20": [0.9, 0.1, 0.8],
        }
    )
    values, approximate = fx.daily_values(rows, node.tree, node.measures, code=node.code)
    assert not approximate
    assert values[day] == pytest.approx(0.5)  # 10 / 20, as it happens also the mean here
    rows.loc[1, ["m_wait_within__20", "m_called"]] = [3.0, 30.0]  # a bigger, slower item
    values, _ = fx.daily_values(rows, node.tree, node.measures, code=node.code)
    assert values[day] == pytest.approx(12 / 40)  # not (0.9 + 0.1) / 2


def test_a_mean_is_weighted_by_its_counts():
    node = _node("wait_mean")  # wait_s_sum / called / 60
    day = date(2026, 11, 2)
    rows = pd.DataFrame(
        {
            "period_start": [day, day],
            "m_wait_s_sum": [600.0 * 10, 60.0 * 30],  # 10 tickets × 10 min, 30 × 1 min
            "m_called": [10.0, 30.0],
            "wait_mean": [10.0, 1.0],
        }
    )
    values, _ = fx.daily_values(rows, node.tree, node.measures, code=node.code)
    assert values[day] == pytest.approx((100 + 30) / 40)


def test_a_quantile_is_approximated_and_says_so():
    node = _node("wait_p90")
    day = date(2026, 11, 2)
    rows = pd.DataFrame(
        {
            "period_start": [day, day, day],
            "m_wait_quantile__0_9": [20.0, 10.0, np.nan],
            "wait_p90": [20.0, 10.0, np.nan],
            "_volume": [30.0, 10.0, 5.0],
        }
    )
    values, approximate = fx.daily_values(rows, node.tree, node.measures, code=node.code)
    assert approximate and values[day] == pytest.approx((20 * 30 + 10 * 10) / 40)


def test_days_without_a_denominator_have_no_value():
    node = _node("satisfaction_rate")
    days = [date(2026, 11, 2), date(2026, 11, 3)]
    rows = pd.DataFrame(
        {
            "period_start": days,
            "m_satisfied": [5.0, np.nan],
            "m_ratings": [6.0, np.nan],
            "satisfaction_rate": [5 / 6, np.nan],
        }
    )
    values, _ = fx.daily_values(rows, node.tree, node.measures, code=node.code)
    assert list(values.index) == days[:1]


def test_indicator_effect_falls_back_to_the_seasonal_expectation_without_a_comparison():
    node = _node("wait_mean")
    series = seasonal_series(-3.0, seed=41)
    rows = pd.DataFrame(
        {
            "period_start": list(series.index),
            "m_wait_s_sum": (series.to_numpy() * 60 * 20),
            "m_called": 20.0,
            "wait_mean": series.to_numpy(),
        }
    )
    control = rows.iloc[:3]  # far too little to compare with
    out = fx.indicator_effect(
        node.tree,
        node.measures,
        code="wait_mean",
        weight="m_called",
        higher_is_better=False,
        treated_rows=rows,
        control_rows=control,
        starts_on=START,
        eligible=set(series.index),
    )
    assert out["status"] == "measured" and out["method"] == "seasonal"
    assert out["ci_low"] <= -3.0 <= out["ci_high"] and out["verdict"] == "improved"
    assert out["improvement"] is True
    assert any("对照组" in n for n in out["notes"])
    # special days (month ends, around holidays) are left out of a seasonal comparison
    assert len(out["series"]["days"]) == len(series) - len(fx.special_days(series.index)) < 35
    assert out["series"]["expected"][0] is None and out["series"]["expected"][-1] is not None


def test_formula_evaluation_matches_the_engine_convention():
    tree = fml.parse("a / b")
    out = fml.evaluate(tree, {"a": np.array([1.0, 2.0]), "b": np.array([0.0, 4.0])}, 2)
    assert np.isnan(out[0]) and out[1] == 0.5  # division by zero is "no data"
