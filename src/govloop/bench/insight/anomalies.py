"""How well the anomaly detectors work on simulated hall histories with known anomalies.

Each simulated series is one indicator of one hall over ``days`` calendar days, open on
the official working days (``govloop.core.calendar``): Monday busiest, Friday quietest,
peaks on the last three working days of a month and around public holidays, a slowly
drifting level and a yearly wave, and day-to-day noise beyond Poisson / binomial.
Series rotate through three kinds:

- count: daily arrivals, 80-1500 a day (county to city hall), negative binomial with
  extra day-to-day CV of 7-14 %;
- rate: share served within 20 min (~85 %), no-show rate (~7 %) or satisfaction (~97 %),
  binomial on a realistic denominator with day-level logit noise (overdispersion);
- mean: mean wait (6-25 min) of the day's tickets, log-normal day noise plus the
  sampling noise of a mean of n tickets.

Injected anomalies (four per series, at least a week apart, never in the first ten weeks),
sizes a hall manager acts on:

- count and mean: spikes of +40-60 %, +60-100 %, +100-150 % or dips of -40-55 %, -55-70 %
  of the day's expected value (the day is then drawn around the changed value);
- rate: a logit shift of 0.8-1.2 or 1.2-2.0, three times in four in the bad direction
  (e.g. within-20-min share 85 % → 72 % or → 55 %; satisfaction 97 % → 93 % or → 85 %).

Figures: recall on the right day and direction, false alarms per 1000 assessed clean
points, per kind and per size band, next to an oracle's recall (a test at the same alpha
that knows the true expected value and noise: the ceiling for counts and means); and for
change points, level shifts of 25-50 % found within ±2 open days, and spurious change
points on unshifted series (slow drift and the yearly wave can produce some).

Thresholds (alpha, windows, penalty) were chosen on seed 11; report seed 7.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from govloop.core.calendar import is_workday
from govloop.insight.anomalies import (
    ALPHA,
    ANOMALY,
    NOT_ASSESSED,
    assess_counts,
    assess_means,
    assess_rates,
    day_kind,
    detect_change_points,
)

START = date(2024, 1, 2)
KINDS = ("count", "rate", "mean")
PER_SERIES = 4
FIRST_INJECTION_DAY = 70  # calendar days after the start
MIN_GAP = 7  # open days between two injected anomalies
WEEKDAY_FACTOR = np.array([1.3, 1.1, 1.0, 0.95, 0.85, 1.0, 1.0])  # Saturday = 调休 workday
COUNT_BANDS = {
    "spike +40-60%": (0.4, 0.6),
    "spike +60-100%": (0.6, 1.0),
    "spike +100-150%": (1.0, 1.5),
    "dip -40-55%": (-0.55, -0.4),
    "dip -55-70%": (-0.7, -0.55),
}
RATE_BANDS = {"logit 0.8-1.2": (0.8, 1.2), "logit 1.2-2.0": (1.2, 2.0)}
RATES = {  # name: (typical rate range, logit response to busier days, bad direction)
    "within_20_min": ((0.75, 0.92), -1.0, -1),
    "no_show": ((0.04, 0.10), 0.5, 1),
    "satisfaction": ((0.95, 0.99), -0.5, -1),
}
SHIFT_TOLERANCE = 2  # open days


@dataclass
class _Series:
    kind: str
    frame: pd.DataFrame  # observed columns per kind, indexed by day
    injected: dict[int, tuple[str, int]]  # position → (band, +1 spike / -1 dip)
    # the oracle: each point's two-sided p-value under the true expected value and noise
    # (as if no anomaly had been injected), and on which side of that value it fell
    oracle_p: np.ndarray
    oracle_side: np.ndarray  # +1 above the true expected value, -1 below
    truth: np.ndarray  # the true expected value (count, logit before day noise, mean)
    noise: float  # day-level noise: NB α (count), logit sd (rate), log sd (mean)


def _open_days(days: int) -> pd.DatetimeIndex:
    every = (START + timedelta(days=k) for k in range(days))
    return pd.DatetimeIndex([d for d in every if is_workday(d)])


def _volume(rng: np.random.Generator, index: pd.DatetimeIndex) -> np.ndarray:
    """Expected daily volume relative to the hall's level: weekday, calendar, drift."""
    factors = WEEKDAY_FACTOR * rng.normal(1, 0.04, 7)
    peak = {
        "month_end": rng.uniform(1.1, 1.3),
        "pre_holiday": rng.uniform(1.2, 1.5),
        "post_holiday": rng.uniform(1.15, 1.4),
    }
    n = len(index)
    day_number = np.asarray((index - index[0]).days, dtype=float)
    drift = np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    wave = 1 + rng.uniform(0.03, 0.1) * np.sin(2 * np.pi * day_number / 365 + rng.uniform(0, 6))
    calendar = np.array([peak.get(day_kind(d.date()), 1.0) for d in index])
    return np.asarray(factors[index.weekday] * calendar * drift * wave)


def _nb(rng: np.random.Generator, mean: np.ndarray, alpha: float) -> np.ndarray:
    return rng.poisson(rng.gamma(1 / alpha, mean * alpha))


def _positions(rng: np.random.Generator, index: pd.DatetimeIndex) -> list[int]:
    first = int(np.searchsorted(index, pd.Timestamp(START + timedelta(FIRST_INJECTION_DAY))))
    chosen: list[int] = []
    candidates = rng.permutation(np.arange(first, len(index)))
    for position in candidates:
        if all(abs(position - c) >= MIN_GAP for c in chosen):
            chosen.append(int(position))
        if len(chosen) == PER_SERIES:
            break
    return sorted(chosen)


def _pick(rng: np.random.Generator, bands: dict[str, tuple[float, float]]) -> tuple[str, float]:
    band = list(bands)[rng.integers(len(bands))]
    return band, float(rng.uniform(*bands[band]))


def _count_series(rng: np.random.Generator, index: pd.DatetimeIndex) -> _Series:
    mean = math.exp(rng.uniform(math.log(80), math.log(1500))) * _volume(rng, index)
    alpha = rng.uniform(0.005, 0.02)
    y = _nb(rng, mean, alpha)
    injected = {}
    for position in _positions(rng, index):
        band, size = _pick(rng, COUNT_BANDS)
        y[position] = _nb(rng, mean[position : position + 1] * (1 + size), alpha)[0]
        injected[position] = (band, 1 if size > 0 else -1)
    truth = stats.nbinom(1 / alpha, 1 / (1 + alpha * mean))
    p = np.minimum(1.0, 2 * np.minimum(truth.cdf(y), truth.sf(y - 1)))
    frame = pd.DataFrame({"y": y}, index=index)
    return _Series("count", frame, injected, p, np.sign(y - mean), mean, alpha)


def _rate_series(rng: np.random.Generator, index: pd.DatetimeIndex) -> _Series:
    name = list(RATES)[rng.integers(len(RATES))]
    (low, high), response, bad = RATES[name]
    volume = _volume(rng, index)
    share = rng.uniform(0.2, 0.5) if name == "satisfaction" else 1.0  # not everyone rates
    n = _nb(rng, math.exp(rng.uniform(math.log(80), math.log(1500))) * volume * share, 0.01)
    noise = rng.uniform(0.05, 0.2)  # day-level logit noise: overdispersion
    typical = rng.uniform(low, high)
    base = math.log(typical / (1 - typical))
    drift = np.cumsum(rng.normal(0, 0.01, len(index)))
    truth = base + response * np.log(volume) + drift  # before the day-level noise
    eta = truth + rng.normal(0, noise, len(index))
    injected = {}
    for position in _positions(rng, index):
        band, size = _pick(rng, RATE_BANDS)
        sign = bad if rng.random() < 0.75 else -bad
        eta[position] += sign * size
        injected[position] = (band, sign)
    k = rng.binomial(n, 1 / (1 + np.exp(-eta)))
    p, side = _logit_normal_binomial_p(k, n, truth, noise)
    frame = pd.DataFrame({"k": k, "n": n}, index=index)
    return _Series("rate", frame, injected, p, side, truth, noise)


def _logit_normal_binomial_p(
    k: np.ndarray, n: np.ndarray, eta: np.ndarray, sd: float
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p of k ~ Binomial(n, expit(eta + N(0, sd²))) (Gauss-Hermite, 40 nodes)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    weights = weights / weights.sum()
    share = 1 / (1 + np.exp(-(eta[:, None] + sd * nodes[None, :])))
    low = (stats.binom.cdf(k[:, None], n[:, None], share) * weights).sum(axis=1)
    high = (stats.binom.sf(k[:, None] - 1, n[:, None], share) * weights).sum(axis=1)
    expected = (n[:, None] * share * weights).sum(axis=1)
    p = np.minimum(1.0, 2 * np.minimum(low, high))
    return np.where(n > 0, p, np.nan), np.sign(k - expected)


def _mean_series(rng: np.random.Generator, index: pd.DatetimeIndex) -> _Series:
    volume = _volume(rng, index)
    n = _nb(rng, math.exp(rng.uniform(math.log(80), math.log(1500))) * volume, 0.01)
    typical = rng.uniform(6, 25) * volume  # busier days wait longer
    day_sd = rng.uniform(0.08, 0.2)
    day = np.exp(rng.normal(0, day_sd, len(index)))
    within_sd = 0.8 / np.sqrt(np.maximum(n, 1))  # CV 0.8 per ticket
    m = np.where(n > 0, typical * day * np.exp(rng.normal(0, within_sd)), np.nan)
    injected = {}
    for position in _positions(rng, index):
        band, size = _pick(rng, COUNT_BANDS)
        m[position] *= 1 + size
        injected[position] = (band, 1 if size > 0 else -1)
    z = np.log(m / typical) / np.hypot(day_sd, within_sd)  # NaN on days without tickets
    frame = pd.DataFrame({"m": m, "n": n}, index=index)
    p = 2 * stats.norm.sf(np.abs(z))
    return _Series("mean", frame, injected, p, np.sign(z), typical, day_sd)


def _assess(series: _Series) -> pd.DataFrame:
    f = series.frame
    if series.kind == "count":
        return assess_counts(f["y"])
    if series.kind == "rate":
        return assess_rates(f["k"], f["n"])
    return assess_means(f["m"], f["n"])


def _change_points(rng: np.random.Generator, index: pd.DatetimeIndex, halls: int) -> dict:
    """Level shifts of 25-50 % in arrivals: found within ±2 open days? Spurious ones?"""
    found = spurious = 0
    for _ in range(halls):
        mean = math.exp(rng.uniform(math.log(80), math.log(1500))) * _volume(rng, index)
        alpha = rng.uniform(0.005, 0.02)
        clean = pd.Series(_nb(rng, mean, alpha), index=index)
        spurious += len(detect_change_points(clean))
        at = int(rng.integers(len(index) // 4, 3 * len(index) // 4))
        shift = rng.choice([-1, 1]) * rng.uniform(0.25, 0.5)
        shifted_mean = mean * np.where(np.arange(len(index)) >= at, 1 + shift, 1.0)
        shifted = pd.Series(_nb(rng, shifted_mean, alpha), index=index)
        days = [index.get_loc(pd.Timestamp(cp.date)) for cp in detect_change_points(shifted)]
        found += any(abs(d - at) <= SHIFT_TOLERANCE for d in days)
    return {
        "change_point_series": halls,
        "change_point_recall": round(found / halls, 3) if halls else None,
        "change_point_spurious_per_series": round(spurious / halls, 3) if halls else None,
    }


def _ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    return round(float(scale * numerator / denominator), 3) if denominator else None


def _summary(points: pd.DataFrame, injections: pd.DataFrame) -> dict[str, Any]:
    """Recall and false alarms per 1000 clean assessed points, the detector's and the
    oracle's (at the false-alarm rate the detector realised), and their ratio."""
    recall = _ratio(injections["hit"].sum(), len(injections))
    oracle = _ratio(injections["oracle_hit"].sum(), len(injections))
    return {
        "recall": recall,
        "false_per_1000": _ratio(points["false"].sum(), points["assessed_clean"].sum(), 1000),
        "points_assessed": int(points["assessed"].sum()),
        "injected": len(injections),
        "oracle_recall": oracle,
        "oracle_false_per_1000": _ratio(
            points["oracle_false"].sum(), points["assessed_clean"].sum(), 1000
        ),
        "recall_ratio": _ratio(recall, oracle) if recall is not None and oracle else None,
    }


def anomaly_figures(seed: int = 7, series: int = 60, days: int = 365) -> dict[str, Any]:
    """Recall and false alarms of the tail tests (and change points) on simulated halls.

    The oracle knows each point's true expected value and noise. Its threshold is the
    false-alarm rate the detector realised on the same clean assessed points (an exact
    test's false-alarm rate is its alpha), so both are compared at the same rate.
    """
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    index = _open_days(days)
    makers = {"count": _count_series, "rate": _rate_series, "mean": _mean_series}
    points, injections, clean_oracle_p = [], [], []
    for i in range(series):
        simulated = makers[KINDS[i % len(KINDS)]](rng, index)
        assessed = _assess(simulated)
        status = assessed["status"].to_numpy()
        direction = assessed["direction"].to_numpy()
        clean = np.ones(len(status), dtype=bool)
        clean[list(simulated.injected)] = False
        assessed_clean = (status != NOT_ASSESSED) & clean
        clean_oracle_p.append(simulated.oracle_p[assessed_clean])
        points.append(
            {
                "kind": simulated.kind,
                "assessed": int((status != NOT_ASSESSED).sum()),
                "assessed_clean": int(assessed_clean.sum()),
                "false": int(((status == ANOMALY) & clean).sum()),
            }
        )
        for position, (band, sign) in simulated.injected.items():
            right = "spike" if sign > 0 else "dip"
            injections.append(
                {
                    "kind": simulated.kind,
                    "band": f"{simulated.kind} {band}",
                    "hit": status[position] == ANOMALY and direction[position] == right,
                    "not_assessed": status[position] == NOT_ASSESSED,
                    "oracle_p": simulated.oracle_p[position],
                    "oracle_right_side": simulated.oracle_side[position] == sign,
                }
            )
    point_frame, injected = pd.DataFrame(points), pd.DataFrame(injections)
    realised = point_frame["false"].sum() / max(point_frame["assessed_clean"].sum(), 1)
    oracle_alpha = float(realised) if realised > 0 else ALPHA  # no false alarm: the nominal
    point_frame["oracle_false"] = [int((p < oracle_alpha).sum()) for p in clean_oracle_p]
    below = injected["oracle_p"].fillna(1.0) < oracle_alpha
    injected["oracle_hit"] = below & injected["oracle_right_side"]
    at_nominal = (injected["oracle_p"].fillna(1.0) < ALPHA) & injected["oracle_right_side"]
    overall = _summary(point_frame, injected)
    figures: dict[str, Any] = {
        "seed": seed,
        "series": series,
        "days": days,
        "open_days": len(index),
        "alpha": ALPHA,
        "anomaly_recall": overall["recall"],
        "anomaly_false_per_1000": overall["false_per_1000"],
        "anomaly_oracle_recall": overall["oracle_recall"],
        "anomaly_oracle_false_per_1000": overall["oracle_false_per_1000"],
        "anomaly_recall_ratio": overall["recall_ratio"],
        "oracle_alpha": round(oracle_alpha, 6),
        "oracle_recall_at_nominal_alpha": _ratio(at_nominal.sum(), len(injected)),
        "points_assessed": overall["points_assessed"],
        "points_assessed_clean": int(point_frame["assessed_clean"].sum()),
        "injected": overall["injected"],
        "detected": int(injected["hit"].sum()),
        "oracle_detected": int(injected["oracle_hit"].sum()),
        "false_alarms": int(point_frame["false"].sum()),
        "oracle_false_alarms": int(point_frame["oracle_false"].sum()),
        "injected_not_assessed": int(injected["not_assessed"].sum()),
        "by_kind": {
            kind: _summary(point_frame[point_frame["kind"] == kind], part)
            for kind, part in injected.groupby("kind")
        },
        "recall_by_band": {
            band: {
                "recall": _ratio(part["hit"].sum(), len(part)),
                "injected": len(part),
                "oracle_recall": _ratio(part["oracle_hit"].sum(), len(part)),
            }
            for band, part in injected.groupby("band")
        },
    }
    # the names the issue asks for, beside the prefixed ones the CLI lifts to the top
    figures["oracle_recall"] = figures["anomaly_oracle_recall"]
    figures["oracle_false_per_1000"] = figures["anomaly_oracle_false_per_1000"]
    figures["recall_ratio"] = figures["anomaly_recall_ratio"]
    figures.update(_change_points(rng, index, max(1, series // 3)))
    figures["seconds"] = round(time.perf_counter() - started, 2)
    return figures
