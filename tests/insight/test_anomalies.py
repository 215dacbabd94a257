"""Anomaly tail tests and change points on simulated daily series (open days only)."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from govloop.core.calendar import is_workday
from govloop.insight.anomalies import (
    ANOMALY,
    NOT_ASSESSED,
    assess_counts,
    assess_rates,
    day_kind,
    detect_change_points,
    detect_count_anomalies,
    detect_mean_anomalies,
    detect_rate_anomalies,
)

WEEKDAY = np.array([1.3, 1.1, 1.0, 0.95, 0.85, 1.0, 1.0])  # Monday busiest


def open_days(n: int, start: date = date(2024, 1, 2)) -> pd.DatetimeIndex:
    days = (start + timedelta(days=k) for k in range(n))
    return pd.DatetimeIndex([d for d in days if is_workday(d)])


def poisson_counts(seed: int, level: float = 200.0, days: int = 300) -> pd.Series:
    index = open_days(days)
    rng = np.random.default_rng(seed)
    return pd.Series(rng.poisson(level * WEEKDAY[index.weekday]), index=index)


def test_clean_poisson_series_has_no_anomaly():
    for seed in range(3):
        assert detect_count_anomalies(poisson_counts(seed)) == []


def test_injected_spike_and_dip_are_found_on_their_day():
    series = poisson_counts(1)
    spike, dip = series.index[150], series.index[180]
    series[spike] = round(series[spike] * 1.6)
    series[dip] = round(series[dip] * 0.5)
    found = {a.date: a for a in detect_count_anomalies(series)}
    assert set(found) == {spike.date(), dip.date()}
    assert found[spike.date()].direction == "spike" and found[dip.date()].direction == "dip"
    hit = found[spike.date()]
    assert hit.kind == "count" and hit.p_value < 1e-4 and hit.score > 4
    assert hit.expected == pytest.approx(hit.observed / 1.6, rel=0.15)
    assert hit.relative_change > 0.4 and "Poisson" in hit.baseline


def test_overdispersed_series_switches_to_negative_binomial():
    index = open_days(365)
    rng = np.random.default_rng(5)
    mean = 300 * WEEKDAY[index.weekday]
    alpha = 0.03  # day-to-day CV of about 17 % on top of Poisson
    series = pd.Series(rng.poisson(rng.gamma(1 / alpha, mean * alpha)), index=index)
    assessed = assess_counts(series)
    tested = assessed[assessed["status"] != NOT_ASSESSED]
    assert len(tested) > 150
    assert tested["note"].str.contains("negative binomial").mean() > 0.9
    assert (tested["status"] == ANOMALY).sum() <= 1
    # the same data under a Poisson test would alarm on a large share of days
    observed, expected = tested["observed"], tested["expected"]
    poisson_p = 2 * np.minimum(
        stats.poisson.cdf(observed, expected), stats.poisson.sf(observed - 1, expected)
    )
    assert (poisson_p < 2e-4).mean() > 0.1


def test_not_enough_history_is_not_assessed():
    series = poisson_counts(2)
    assessed = assess_counts(series)
    first_weeks = assessed[assessed.index < series.index[0] + pd.Timedelta(days=28)]
    assert (first_weeks["status"] == NOT_ASSESSED).all()
    assert first_weeks["note"].str.contains("4 weeks").all()
    assert np.isnan(first_weeks["expected"]).all()
    # a spike inside the first weeks gets no verdict, rather than a made-up one
    short = series.iloc[:15].copy()
    short.iloc[10] *= 3
    assert detect_count_anomalies(short) == []


def test_degenerate_series_do_not_crash():
    empty = pd.Series([], dtype=float)
    assert detect_count_anomalies(empty) == []
    assert detect_rate_anomalies(empty, empty) == []
    assert detect_mean_anomalies(empty, empty) == []
    assert detect_change_points(empty) == []
    index = open_days(200)
    zeros = pd.Series(0, index=index)
    assert detect_count_anomalies(zeros) == []
    assert detect_change_points(zeros) == []
    assert detect_count_anomalies(pd.Series([5], index=index[:1])) == []
    gaps = poisson_counts(3).astype(float)
    gaps.iloc[::7] = np.nan
    assert detect_count_anomalies(gaps) == []
    assert detect_rate_anomalies(zeros, zeros) == []
    assert detect_mean_anomalies(pd.Series(np.nan, index=index), zeros) == []


def test_rare_events_need_more_than_a_couple():
    """Bad ratings at about one a week: a single bad rating is never an alarm."""
    index = open_days(300)
    rng = np.random.default_rng(4)
    series = pd.Series(rng.poisson(0.2, len(index)), index=index)
    series.iloc[200] = 2
    assert detect_count_anomalies(series) == []


def satisfaction(seed: int, ratings: float, days: int = 300) -> tuple[pd.Series, pd.Series]:
    index = open_days(days)
    rng = np.random.default_rng(seed)
    n = rng.poisson(ratings, len(index))
    k = rng.binomial(n, 0.97)
    return pd.Series(k, index=index), pd.Series(n, index=index)


def test_rates_with_tiny_denominators_do_not_alarm():
    k, n = satisfaction(6, ratings=3)
    k.iloc[150] = 0  # every rating of the day bad: 3 of 3, still only 3 people
    assert detect_rate_anomalies(k, n) == []
    assessed = assess_rates(k, n)
    assert (assessed["status"] == NOT_ASSESSED).all()
    assert assessed["note"].iloc[150].startswith("denominator")


def test_rate_drop_is_found_and_clean_rate_is_quiet():
    k, n = satisfaction(7, ratings=200)
    assert detect_rate_anomalies(k, n) == []
    day = k.index[170]
    k[day] = round(n[day] * 0.85)  # bad ratings from 3 % to 15 %
    found = detect_rate_anomalies(k, n)
    assert [(a.date, a.direction, a.kind) for a in found] == [(day.date(), "dip", "rate")]
    assert found[0].expected == pytest.approx(0.97, abs=0.01)


def test_overdispersed_rate_uses_beta_binomial():
    index = open_days(365)
    rng = np.random.default_rng(8)
    n = rng.poisson(400, len(index))
    p = 1 / (1 + np.exp(-(1.7 + rng.normal(0, 0.25, len(index)))))  # ~85 %, noisy days
    k = pd.Series(rng.binomial(n, p), index=index)
    assessed = assess_rates(k, pd.Series(n, index=index))
    tested = assessed[assessed["status"] != NOT_ASSESSED]
    assert tested["note"].str.contains("beta-binomial").mean() > 0.9
    assert (tested["status"] == ANOMALY).sum() <= 1


def test_mean_wait_spike_is_found():
    index = open_days(300)
    rng = np.random.default_rng(9)
    count = pd.Series(rng.poisson(150 * WEEKDAY[index.weekday]), index=index)
    mean = 12 * WEEKDAY[index.weekday] * np.exp(rng.normal(0, 0.1, len(index)))
    wait = pd.Series(mean, index=index)
    assert detect_mean_anomalies(wait, count) == []
    day = index[160]
    wait[day] *= 2.2
    found = detect_mean_anomalies(wait, count)
    assert [(a.date, a.direction, a.kind) for a in found] == [(day.date(), "spike", "mean")]
    # the same jump on a day of 2 tickets is sampling noise, not an anomaly
    count[day] = 2
    assert detect_mean_anomalies(wait, count) == []


def test_month_end_peaks_are_learnt_not_alarmed():
    """Last three working days of a month +45 %: learnt from past month-ends."""
    index = open_days(365)
    rng = np.random.default_rng(10)
    month_end = np.array([day_kind(d.date()) == "month_end" for d in index])
    mean = 300 * WEEKDAY[index.weekday] * np.where(month_end, 1.45, 1.0)
    series = pd.Series(rng.poisson(mean), index=index)
    assessed = assess_counts(series)
    late = assessed[month_end & (assessed.index > pd.Timestamp("2024-06-01"))]
    assert (late["status"] != NOT_ASSESSED).all() and (late["status"] == ANOMALY).sum() == 0
    assert late["note"].str.contains("month_end").all()


@pytest.mark.parametrize(("shift", "at"), [(1.4, 120), (0.7, 90)])
def test_change_point_at_level_shift(shift, at):
    series = poisson_counts(11).astype(float)
    index = series.index
    rng = np.random.default_rng(12)
    mean = 200 * WEEKDAY[index.weekday] * np.where(np.arange(len(index)) >= at, shift, 1.0)
    series = pd.Series(rng.poisson(mean), index=index)
    found = detect_change_points(series)
    assert len(found) == 1
    cp = found[0]
    assert abs(index.get_loc(pd.Timestamp(cp.date)) - at) <= 2
    assert math.copysign(1, cp.relative_change) == math.copysign(1, shift - 1)
    assert cp.relative_change == pytest.approx(shift - 1, abs=0.08)


def test_no_change_point_in_clean_series():
    assert detect_change_points(poisson_counts(13)) == []


def test_smoothed_baseline_follows_drift_and_shrugs_off_a_spike():
    """Arrivals growing 60 % over the year: the one-step baseline keeps up, and a
    tripled day barely moves the days after it."""
    index = open_days(365)
    rng = np.random.default_rng(13)
    growth = np.exp(np.linspace(0, np.log(1.6), len(index)))
    mean = 400 * WEEKDAY[index.weekday] * growth
    ordinary = np.array([day_kind(d.date()) == "" for d in index])
    series = pd.Series(rng.poisson(mean), index=index)
    clean = assess_counts(series)
    late = (np.arange(len(index)) > 120) & ordinary
    error = np.abs(clean["expected"].to_numpy()[late] / mean[late] - 1)
    assert np.median(error) < 0.03 and error.max() < 0.12
    assert clean["note"][late].str.contains("robust smoothing").all()
    spiked = series.copy()
    spiked.iloc[200] *= 3
    after = assess_counts(spiked)
    assert after["status"].iloc[200] == ANOMALY
    moved = after["expected"].iloc[201:206] / clean["expected"].iloc[201:206] - 1
    assert moved.abs().max() < 0.03


def test_a_rarely_seen_special_day_borrows_the_effect_of_special_days():
    """2024-06-11 follows a holiday; only one such day had a baseline before, so the
    effect of special days of any kind stands in, with their spread as uncertainty."""
    index = open_days(365)
    rng = np.random.default_rng(14)
    special = np.array([day_kind(d.date()) != "" for d in index])
    mean = 300 * WEEKDAY[index.weekday] * np.where(special, 1.3, 1.0)
    series = pd.Series(rng.poisson(mean), index=index)
    day = pd.Timestamp("2024-06-11")
    assert day_kind(day.date()) == "post_holiday"
    quiet = assess_counts(series)
    assert quiet.loc[day, "status"] == "normal"
    assert "special days of any kind" in quiet.loc[day, "note"]
    series[day] = round(series[day] * 0.25)  # the hall's system was down most of the day
    found = {a.date: a for a in detect_count_anomalies(series)}
    assert found[day.date()].direction == "dip"
