"""Anomalies in daily indicator series: tail tests against a seasonal baseline, change points.

Each point is compared with a baseline built from the series' own past only (no
look-ahead): for counts and means a level and weekday effects followed by robust
exponential smoothing (``anomaly_baseline``); for rates the pooled rate of the recent weeks
with the weekday's effect over sixteen weeks; then the effect of special days (month-end,
before and after a public holiday, a weekend made a workday) learnt from past days of the
same kind, or while a kind is still rare, from special days of any kind with their spread
as uncertainty. The test then fits what the series is:

- counts: Poisson, or negative binomial when past residuals are overdispersed;
- rates (numerator / denominator): binomial, or beta-binomial when overdispersed;
- means (e.g. mean wait with its ticket count): a z-test on the log scale whose variance
  is the day-to-day noise plus the sampling noise of a mean of ``count`` tickets.

The noise model is estimated from the one-step-ahead residuals of earlier ordinary days, so
the uncertainty of the baseline itself is part of it (a special day adds the uncertainty
of its effect). A point that cannot be tested honestly
(too little history, a special day never seen before, a tiny denominator) is reported as
``not_assessed`` with the reason, never given a verdict.

Pass open days only: closed days (weekends, holidays) are absent from the series, not zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import ruptures as rpt
from scipy import stats
from scipy.special import expit, logit
from statsmodels.robust.scale import mad, scale_tau

from govloop.core.calendar import is_workday
from govloop.insight.anomaly_baseline import smoothed_baseline
from govloop.insight.demand import PATTERNS

# Two-sided per-point alpha. On the simulated halls (tuning seed 11) it keeps false alarms
# under 1 per 1000 assessed points; see bench_anomalies.py.
ALPHA = 2e-4
WINDOW_DAYS = 112  # weekday pattern from the last sixteen weeks
MIN_HISTORY_DAYS = 28  # four weeks of history before the first baseline
MIN_SAME_WEEKDAY = 3  # past days of the point's weekday inside the window
RATE_LEVEL_POINTS = 40  # rates: eight weeks, as a day holds fewer events than a count
SPECIAL_POINTS = 12  # past special days of a kind behind its effect
MIN_SPECIAL = 3  # a special kind of day has its own effect once seen this often
MIN_SPECIAL_POOLED = 6  # before that, special days of any kind stand in for it
NOISE_POINTS = 120  # one-step residuals behind the noise model
MIN_NOISE_POINTS = 20
OVERDISPERSION = 0.1  # extra variance share that switches to NB / beta-binomial
# Practical significance: a manager does not care about 2 more bad ratings or +5 %.
MIN_COUNT_DIFFERENCE = 3.0
MIN_RELATIVE_CHANGE = 0.1
MIN_DENOMINATOR = 10
WEEKDAY_PRIOR_SD = 0.3  # shrinks a rate's weekday effect (logit) when data are thin
MEAN_WITHIN_CV2 = 1.0  # squared CV of single durations (exponential-like waits)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NORMAL, ANOMALY, NOT_ASSESSED = "normal", "anomaly", "not_assessed"


@dataclass(frozen=True)
class Anomaly:
    date: date
    kind: str  # count | rate | mean
    direction: str  # spike | dip
    observed: float  # the count, the rate, or the mean
    expected: float
    p_value: float
    score: float  # -log10 p: the severity
    baseline: str  # how the expected value was obtained
    relative_change: float  # observed / expected - 1


@dataclass(frozen=True)
class ChangePoint:
    date: date  # first day of the new level
    mean_before: float
    mean_after: float
    relative_change: float  # mean_after / mean_before - 1 (NaN when mean_before is 0)


# --- calendar -------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def day_kind(day: date) -> str:
    """'' for an ordinary day, else the special kind whose effect the baseline learns."""
    if day.weekday() >= 5 and is_workday(day):  # 调休: a Saturday or Sunday made a workday
        return "weekend_workday"
    for kind in ("pre_holiday", "post_holiday", "month_end"):  # first match wins
        if PATTERNS[kind](day):
            return kind
    return ""


def _index(index: pd.Index) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(index)).normalize()


# --- the three models -----------------------------------------------------------------------


@dataclass
class _Verdict:
    expected: float  # natural units
    p_value: float
    noise: str  # e.g. "negative binomial α=0.012"
    relevant: bool  # large enough to matter (see MIN_* constants)


def _robust_var(values: np.ndarray) -> float:
    """Tau scale (robust to the anomalies among past residuals, ~80 % efficient)."""
    values = values[np.isfinite(values)]
    if len(values) < 3 or mad(values) == 0:
        return float(np.var(values)) if len(values) else 0.0
    return float(scale_tau(values)[1] ** 2)


def _median_effect(differences: np.ndarray) -> tuple[float, float]:
    """Median of per-day differences and its variance (π/2 · σ² / n for a median)."""
    return float(np.median(differences)), math.pi / 2 * _robust_var(differences) / len(differences)


def _two_sided(low_tail: float, high_tail: float) -> float:
    return float(min(1.0, 2.0 * min(low_tail, high_tail)))


class _Counts:
    """Counts: log μ from robust smoothing, noise Poisson or negative binomial."""

    def __init__(self, values: np.ndarray, weekday: np.ndarray) -> None:
        self.observed = np.clip(values, 0, None)
        self.weekday = weekday

    def unusable(self, t: int) -> str | None:
        return None

    def smoothed(self, ordinary: np.ndarray, init: np.ndarray) -> np.ndarray:
        return smoothed_baseline(self.observed, self.weekday, ordinary, init, counts=True)

    def special_effect(self, past: np.ndarray, raw: np.ndarray) -> tuple[float, float]:
        return _median_effect(np.log(self.observed[past] + 1) - np.log(np.exp(raw[past]) + 1))

    def test(
        self, t: int, link: float, extra: float, past: np.ndarray, fitted: np.ndarray
    ) -> _Verdict:
        mu, y = math.exp(link), round(self.observed[t])
        past_mu = np.exp(fitted[past])
        relative = (self.observed[past] - past_mu) / past_mu
        # relative variance 1/μ + α; an uncertain special-day effect adds to α
        alpha = max(0.0, _robust_var(relative) - float(np.mean(1 / past_mu))) + extra
        if alpha * mu > OVERDISPERSION:  # variance μ + αμ² clearly above Poisson's μ
            dist = stats.nbinom(1 / alpha, 1 / (1 + alpha * mu))
            noise = f"negative binomial α={alpha:.3g}"
        else:
            dist, noise = stats.poisson(mu), "Poisson"
        p = _two_sided(dist.cdf(y), dist.sf(y - 1))
        difference = abs(y - mu)
        relevant = difference >= MIN_COUNT_DIFFERENCE and difference >= MIN_RELATIVE_CHANGE * mu
        return _Verdict(mu, p, noise, relevant)


class _Rates:
    """Baseline rate pooled over the window (outlier days dropped), weekday effect in logit."""

    def __init__(self, numerator: np.ndarray, denominator: np.ndarray, weekday: np.ndarray) -> None:
        self.n = np.clip(denominator, 0, None)
        self.k = np.clip(numerator, 0, self.n)
        self.observed = np.divide(
            self.k, self.n, out=np.full(len(self.n), np.nan), where=self.n > 0
        )
        self.weekday = weekday

    def unusable(self, t: int) -> str | None:
        if self.n[t] < MIN_DENOMINATOR:
            return f"denominator {self.n[t]:g} < {MIN_DENOMINATOR}"
        return None

    @staticmethod
    def _pooled(k: np.ndarray, n: np.ndarray) -> float:
        return float(logit((k.sum() + 0.5) / (n.sum() + 1)))

    def baseline(self, t: int, window: np.ndarray) -> float | None:
        window = window[self.n[window] > 0]
        if self.n[window].sum() < MIN_DENOMINATOR:
            return None
        k, n, wd = self.k[window], self.n[window], self.weekday[window]
        p0 = k.sum() / n.sum()
        z = (k - n * p0) / np.sqrt(n * max(p0 * (1 - p0), 1e-6))
        keep = np.abs(z) <= 4 * max(1.0, math.sqrt(_robust_var(z)))  # drop earlier anomalies
        k, n, wd = k[keep], n[keep], wd[keep]
        overall = self._pooled(k, n)
        p = float(expit(overall))
        effect = {}
        for d in np.unique(wd):
            raw = self._pooled(k[wd == d], n[wd == d]) - overall
            variance = 1 / (n[wd == d].sum() * p * (1 - p) + 1)
            effect[d] = raw * WEEKDAY_PRIOR_SD**2 / (WEEKDAY_PRIOR_SD**2 + variance)
        recent = slice(-RATE_LEVEL_POINTS, None)
        k, n, wd = k[recent], n[recent], wd[recent]
        mix = sum(effect[d] * n[wd == d].sum() for d in effect) / max(n.sum(), 1)
        return self._pooled(k, n) - mix + effect.get(self.weekday[t], 0.0)

    def special_effect(self, past: np.ndarray, raw: np.ndarray) -> tuple[float, float]:
        past = past[self.n[past] > 0]
        if len(past) == 0:
            return 0.0, 0.0
        n = self.n[past]
        expected = float((n * expit(raw[past])).sum() / n.sum())
        effect = self._pooled(self.k[past], n) - float(logit(np.clip(expected, 1e-6, 1 - 1e-6)))
        daily = logit((self.k[past] + 0.5) / (n + 1)) - raw[past]
        return effect, _robust_var(daily) / len(past)

    def test(
        self, t: int, link: float, extra: float, past: np.ndarray, fitted: np.ndarray
    ) -> _Verdict:
        p, n, k = float(expit(link)), int(self.n[t]), int(self.k[t])
        past = past[self.n[past] > 0]
        pp, nn = expit(fitted[past]), self.n[past]
        z = (self.k[past] - nn * pp) / np.sqrt(nn * pp * (1 - pp))
        rho = max(0.0, (_robust_var(z) - 1) / max(float(np.mean(nn - 1)), 1.0))
        rho = min(rho + p * (1 - p) * extra, 0.5)  # logit variance → intra-day correlation
        if rho * (n - 1) > OVERDISPERSION:
            a, b = p * (1 - rho) / rho, (1 - p) * (1 - rho) / rho
            dist = stats.betabinom(n, a, b)
            noise = f"beta-binomial ρ={rho:.3g}"
        else:
            dist, noise = stats.binom(n, p), "binomial"
        p_value = _two_sided(dist.cdf(k), dist.sf(k - 1))
        return _Verdict(p, p_value, noise, abs(k - n * p) >= MIN_COUNT_DIFFERENCE)


class _Means:
    """log(1 + mean) from robust smoothing, noise log-normal plus sampling noise."""

    def __init__(self, mean: np.ndarray, count: np.ndarray, weekday: np.ndarray) -> None:
        self.observed = mean
        self.count = np.nan_to_num(count, nan=0.0)
        self.x = np.log1p(np.clip(mean, 0, None))
        self.weekday = weekday

    def unusable(self, t: int) -> str | None:
        if self.count[t] < 1 or not np.isfinite(self.x[t]):
            return "no observations behind the mean"
        return None

    def smoothed(self, ordinary: np.ndarray, init: np.ndarray) -> np.ndarray:
        x = np.where(self.count >= 1, self.x, np.nan)
        return smoothed_baseline(x, self.weekday, ordinary, init, counts=False)

    def special_effect(self, past: np.ndarray, raw: np.ndarray) -> tuple[float, float]:
        return _median_effect(self.x[past] - raw[past])

    def test(
        self, t: int, link: float, extra: float, past: np.ndarray, fitted: np.ndarray
    ) -> _Verdict:
        past = past[self.count[past] >= 1]
        within = MEAN_WITHIN_CV2 / self.count[past]
        total = _robust_var(self.x[past] - fitted[past])
        between = max(total - float(np.mean(within)), 0.2 * total)
        sd = math.sqrt(between + extra + MEAN_WITHIN_CV2 / self.count[t])
        z = (self.x[t] - link) / sd
        expected = math.expm1(link)
        relevant = abs(self.observed[t] - expected) >= MIN_RELATIVE_CHANGE * expected
        return _Verdict(
            expected, float(2 * stats.norm.sf(abs(z))), f"log-normal sd={sd:.3g}", relevant
        )


# --- the common walk ------------------------------------------------------------------------


def _assess(
    model: _Counts | _Rates | _Means, index: pd.DatetimeIndex, alpha: float
) -> pd.DataFrame:
    days = [d.date() for d in index]
    ordinal = np.array([d.toordinal() for d in days], dtype=int)
    weekday = np.array([d.weekday() for d in days], dtype=int)
    kinds = [day_kind(d) for d in days]
    ordinary = np.array([not k for k in kinds], dtype=bool)
    raw = np.full(len(days), np.nan)  # baseline before the special-day effect (link scale)
    fitted = np.full(len(days), np.nan)  # the full baseline (link scale)
    scored: list[int] = []  # points with a baseline, in order: the noise model's residuals
    seen: dict[str, list[int]] = {}  # special points with a raw baseline, per kind
    rows: list[dict[str, Any]] = []
    first_weeks = ordinary & (ordinal - (ordinal[0] if len(ordinal) else 0) < MIN_HISTORY_DAYS)
    rates = isinstance(model, _Rates)  # rates keep their pooled window baseline
    smoothed = (
        np.full(len(days), np.nan)
        if isinstance(model, _Rates)
        else model.smoothed(ordinary, first_weeks)
    )
    for t in range(len(days)):
        row: dict[str, Any] = {"observed": float(model.observed[t]), "expected": np.nan}
        row.update(p_value=np.nan, score=np.nan, direction="", status=NOT_ASSESSED, note="")
        rows.append(row)
        if (reason := model.unusable(t)) is not None:
            row["note"] = reason
            continue
        if ordinal[t] - ordinal[0] < MIN_HISTORY_DAYS:
            row["note"] = "less than 4 weeks of history"
            continue
        start = int(np.searchsorted(ordinal, ordinal[t] - WINDOW_DAYS))
        window = np.arange(start, t)[ordinary[start:t]]
        same_weekday = (weekday[window] == weekday[t]).sum()
        if kinds[t] != "weekend_workday" and same_weekday < MIN_SAME_WEEKDAY:
            row["note"] = f"fewer than {MIN_SAME_WEEKDAY} past {WEEKDAYS[weekday[t]]} in the window"
            continue
        base = model.baseline(t, window) if isinstance(model, _Rates) else float(smoothed[t])
        if base is None or not math.isfinite(base):
            row["note"] = "no usable baseline in the window"
            continue
        raw[t] = link = base
        extra = 0.0  # variance of the special-day effect, added to the noise
        if rates:
            description = f"{WEEKDAYS[weekday[t]]} of {WINDOW_DAYS // 7} weeks × recent level"
        else:
            description = f"{WEEKDAYS[weekday[t]]} effect + level (robust smoothing)"
        if kinds[t]:
            past = np.array(seen.setdefault(kinds[t], [])[-SPECIAL_POINTS:], dtype=int)
            others = sorted(i for kind in seen for i in seen[kind][-SPECIAL_POINTS:])
            seen[kinds[t]].append(t)
            if len(past) >= MIN_SPECIAL:
                effect, variance = model.special_effect(past, raw)
                shrink = len(past) / (len(past) + 2)
                link += shrink * effect
                extra = shrink**2 * variance
                description += f" × {kinds[t]} effect"
            elif len(others) >= MIN_SPECIAL_POOLED:
                # a kind seen too rarely: the effect of special days of any kind, with the
                # spread of single special days as its uncertainty (only big changes pass)
                pooled = np.array(others, dtype=int)
                effect, variance = model.special_effect(pooled, raw)
                link += effect
                extra = variance * len(pooled)
                description += f" × effect of {len(pooled)} special days of any kind"
            else:
                row["note"] = f"fewer than {MIN_SPECIAL} past {kinds[t]} days"
                continue
        past = np.array(scored[-NOISE_POINTS:], dtype=int)
        fitted[t] = link
        if not kinds[t]:  # special days' residuals carry their effect's error too
            scored.append(t)
        if len(past) < MIN_NOISE_POINTS:
            row["note"] = f"noise model needs {MIN_NOISE_POINTS} days with a baseline"
            continue
        result = model.test(t, link, extra, past, fitted)
        hit = result.p_value < alpha and result.relevant
        row.update(expected=result.expected, p_value=result.p_value)
        row.update(score=-math.log10(max(result.p_value, 1e-300)))
        row["direction"] = "spike" if row["observed"] > result.expected else "dip"
        row["status"] = ANOMALY if hit else NORMAL
        row["note"] = f"{description}; {result.noise}"
    columns = ["observed", "expected", "p_value", "score", "direction", "status", "note"]
    return pd.DataFrame(rows, index=index, columns=columns)


def _clean(series: pd.Series) -> pd.Series:
    series = pd.to_numeric(series, errors="coerce").astype(float)
    series.index = _index(series.index)
    return series.groupby(level=0).sum(min_count=1).sort_index()


def assess_counts(series: pd.Series, *, alpha: float = ALPHA) -> pd.DataFrame:
    """Every point of a daily count series with its expected value, p-value and status."""
    series = _clean(series).dropna()
    weekday = np.array([d.weekday() for d in series.index], dtype=int)
    return _assess(_Counts(series.to_numpy(), weekday), series.index, alpha)


def assess_rates(
    numerator: pd.Series, denominator: pd.Series, *, alpha: float = ALPHA
) -> pd.DataFrame:
    frame = pd.concat({"k": _clean(numerator), "n": _clean(denominator)}, axis=1).dropna()
    weekday = np.array([d.weekday() for d in frame.index], dtype=int)
    model = _Rates(frame["k"].to_numpy(), frame["n"].to_numpy(), weekday)
    return _assess(model, pd.DatetimeIndex(frame.index), alpha)


def assess_means(mean: pd.Series, count: pd.Series, *, alpha: float = ALPHA) -> pd.DataFrame:
    mean = pd.to_numeric(mean, errors="coerce").astype(float)
    count = pd.to_numeric(count, errors="coerce").astype(float).reindex(mean.index)
    frame = pd.DataFrame({"m": mean.to_numpy(), "n": count.fillna(0.0).to_numpy()})
    frame.index = _index(mean.index)
    frame = frame.dropna().assign(total=lambda f: f["m"] * f["n"]).groupby(level=0).sum()
    total, n = frame["total"].to_numpy(), frame["n"].to_numpy()
    m = np.divide(total, n, out=np.full(len(n), np.nan), where=n > 0)  # count-weighted
    weekday = np.array([d.weekday() for d in frame.index], dtype=int)
    model = _Means(m, n, weekday)
    return _assess(model, pd.DatetimeIndex(frame.index), alpha)


def _anomalies(assessed: pd.DataFrame, kind: str) -> list[Anomaly]:
    hits = assessed[assessed["status"] == ANOMALY]
    return [
        Anomaly(
            date=when.date(),
            kind=kind,
            direction=row.direction,
            observed=row.observed,
            expected=row.expected,
            p_value=row.p_value,
            score=row.score,
            baseline=row.note,
            relative_change=row.observed / row.expected - 1 if row.expected else math.nan,
        )
        for when, row in zip(hits.index, hits.itertuples(), strict=True)
    ]


def detect_count_anomalies(series: pd.Series, *, alpha: float = ALPHA) -> list[Anomaly]:
    """Days whose count is improbable under the seasonal baseline (Poisson / NB)."""
    return _anomalies(assess_counts(series, alpha=alpha), "count")


def detect_rate_anomalies(
    numerator: pd.Series, denominator: pd.Series, *, alpha: float = ALPHA
) -> list[Anomaly]:
    """Days whose rate numerator/denominator is improbable (binomial / beta-binomial)."""
    return _anomalies(assess_rates(numerator, denominator, alpha=alpha), "rate")


def detect_mean_anomalies(
    mean: pd.Series, count: pd.Series, *, alpha: float = ALPHA
) -> list[Anomaly]:
    """Days whose mean (of ``count`` observations, e.g. waits) is improbable (log z-test)."""
    return _anomalies(assess_means(mean, count, alpha=alpha), "mean")


# --- change points --------------------------------------------------------------------------

MIN_SEGMENT_DAYS = 5  # a week of open days: a lasting change, not a spike
PENALTY_FACTOR = 5.0  # × σ² log n, stricter than BIC: slow drift is not a change
MIN_LEVEL_CHANGE = 0.15


def _adjusted(series: pd.Series) -> np.ndarray:
    """log(1 + value) without weekday and special-day effects, spikes clipped."""
    values = series.to_numpy(dtype=float)
    x = np.log1p(np.clip(values, 0, None)) if (values >= 0).all() else values.copy()
    frame = pd.DataFrame({"x": x, "weekday": series.index.weekday})
    frame["kind"] = [day_kind(d.date()) for d in series.index]
    ordinary = frame["kind"] == ""
    weekday_median = frame[ordinary].groupby("weekday")["x"].median()
    frame["x"] -= frame["weekday"].map(weekday_median).fillna(frame["x"].median())
    frame["x"] -= frame.groupby("kind")["x"].transform("median").where(~ordinary, 0.0)
    smooth = frame["x"].rolling(9, center=True, min_periods=1).median()
    spread = math.sqrt(_robust_var((frame["x"] - smooth).to_numpy()))
    return (smooth + (frame["x"] - smooth).clip(-3 * spread, 3 * spread)).to_numpy()


def detect_change_points(
    series: pd.Series, *, min_change: float = MIN_LEVEL_CHANGE
) -> list[ChangePoint]:
    """Lasting level shifts (PELT on the seasonally adjusted log series).

    Retrospective: the whole series is segmented, so a change is found once a week or
    so of the new level exists. Mean before / after are of the raw values per segment.
    """
    series = _clean(series).dropna()
    if len(series) < 2 * MIN_SEGMENT_DAYS:
        return []
    x = _adjusted(series)
    sigma2 = _robust_var(np.diff(x)) / 2  # differences cancel the level
    if sigma2 <= 0:
        return []
    # the linear kernel's cost is the l2 cost; KernelCPD runs PELT in C
    algo = rpt.KernelCPD(kernel="linear", min_size=MIN_SEGMENT_DAYS, jump=1).fit(x.reshape(-1, 1))
    ends = algo.predict(pen=PENALTY_FACTOR * sigma2 * math.log(len(x)))
    bounds = [0, *ends]
    values = series.to_numpy()
    out = []
    for i in range(1, len(bounds) - 1):
        before = float(values[bounds[i - 1] : bounds[i]].mean())
        after = float(values[bounds[i] : bounds[i + 1]].mean())
        change = after / before - 1 if before else math.nan
        if not math.isnan(change) and abs(change) < min_change:
            continue
        out.append(ChangePoint(series.index[bounds[i]].date(), before, after, change))
    return out
