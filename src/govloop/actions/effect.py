"""The effect of an action on an indicator: what changed that the action can be credited with.

Pure computation on daily series (dates → value); no database, no store.

* Daily values of a group of objects (the items or windows an action names, or the
  others of the hall) come from the summed measures: counts and sums add up, so the
  indicator's formula evaluated on the sums is exactly the group's indicator — a rate
  is the ratio of summed numerators and denominators, a mean is weighted by its counts.
  Measures that do not add up (quantiles) fall back to the count-weighted mean of the
  objects' values, and the result says it is an approximation.
* With a comparison group (the other items or windows of the same hall) the effect is a
  difference in differences on the daily values: the mean daily gap between the action's
  objects and the comparison group after the start, minus the same gap before it. What
  moved both (a busy month, a holiday) cancels out.
* Hall-wide, the expectation is seasonal: the weekday profile of the days before the
  start, applied to the weekdays of the days after it.

The confidence interval is a bootstrap over days (before and after days resampled
independently, fixed seed, so the same data always give the same interval), as an
expanded percentile interval that keeps its coverage with two or three weeks of days.
Days are treated as independent; day-to-day correlation would make the true interval
somewhat wider. Too few days on either side raise :class:`NotEnoughData` with the
reason: no number is made up.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from govloop.indicators import formula as fml
from govloop.indicators.measures import MEASURES
from govloop.insight.demand import PATTERNS

BEFORE_DAYS = 28  # calendar days before the start that form the baseline
MIN_DAYS = 5  # open days with a value needed on each side
MAX_AFTER_DAYS = 182  # the after period stops half a year after the start
MIN_WEEKDAY_DAYS = 2  # days of a weekday behind its own seasonal level
REPLICATES = 2000
SEED = 20_240_601
CONFIDENCE = 0.95


class NotEnoughData(Exception):
    """The data cannot carry an honest estimate; ``reason`` says why (zh-CN)."""

    def __init__(self, reason: str, *, code: str, before_days: int = 0, after_days: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.before_days = before_days
        self.after_days = after_days


@dataclass(frozen=True)
class Windows:
    """The before and after periods of an action (calendar days, both ends included)."""

    before_start: date
    before_end: date
    after_start: date
    after_end: date | None  # None: no day after the start has passed yet
    truncated: bool = False  # the after period was cut at MAX_AFTER_DAYS

    def days(self) -> list[date]:
        end = self.after_end or self.before_end
        n = (end - self.before_start).days + 1
        return [self.before_start + timedelta(days=k) for k in range(n)]


def periods(starts_on: date, ends_on: date | None, today: date) -> Windows:
    """Before: the BEFORE_DAYS days before the start. After: from the start to yesterday,
    or to the end of the action if it ended earlier, at most MAX_AFTER_DAYS days."""
    last = today - timedelta(days=1)
    if ends_on is not None:
        last = min(last, ends_on)
    cap = starts_on + timedelta(days=MAX_AFTER_DAYS - 1)
    truncated = last > cap
    last = min(last, cap)
    return Windows(
        before_start=starts_on - timedelta(days=BEFORE_DAYS),
        before_end=starts_on - timedelta(days=1),
        after_start=starts_on,
        after_end=last if last >= starts_on else None,
        truncated=truncated,
    )


# --- daily values of a group of objects ---------------------------------------------------


def open_days(frame: pd.DataFrame) -> set[date]:
    """Days the hall was open: it issued tickets (closed days are absent, not zero).

    ``frame`` is a ``daily_measures`` frame holding the hall's own rows."""
    if frame.empty or "m_tickets" not in frame:
        return set()
    hall_rows = frame[frame["object_kind"] == "hall"]
    tickets = hall_rows.groupby("period_start")["m_tickets"].sum()
    return {d for d, n in tickets.items() if n and n > 0}


def special_days(days: Iterable[date]) -> set[date]:
    """Month ends and the working days next to a public holiday: days with their own
    pattern (see ``govloop.insight.demand``)."""
    return {d for d in days if any(test(d) for test in PATTERNS.values())}


def rows_of(
    frame: pd.DataFrame, kind: str, ids: set[int], slots: set[int] | None = None
) -> pd.DataFrame:
    """The rows of some objects of one kind (and, by slot, of some slots)."""
    if frame.empty:
        return frame
    mask = (frame["object_kind"] == kind) & frame["object_id"].isin(list(ids))
    if slots is not None and "slot" in frame:
        mask &= frame["slot"].isin(list(slots))
    return frame[mask]


def measure_column(ref: fml.MeasureRef) -> str:
    return f"m_{ref.key}"


def daily_values(
    rows: pd.DataFrame,
    tree: fml.Node,
    refs: Sequence[fml.MeasureRef],
    *,
    code: str,
    weight: str | None = None,
) -> tuple[pd.Series, bool]:
    """The indicator per day for the union of the rows' objects (and slots).

    ``rows`` has a ``period_start`` column (the day), the ``m_*`` measure columns and
    the indicator's own column ``code``. Returns the series (days without a value
    left out) and whether it is an approximation (measures that do not add up).
    """
    if rows.empty or not refs:
        return pd.Series(dtype=float), False
    columns = [measure_column(r) for r in refs]
    if all(MEASURES[r.name].additive for r in refs) and all(c in rows for c in columns):
        sums = rows.groupby("period_start")[columns].sum(min_count=1)
        values = fml.evaluate(
            tree, {r.key: sums[measure_column(r)].to_numpy(dtype=float) for r in refs}, len(sums)
        )
        return _finite(pd.Series(values, index=list(sums.index), dtype=float)), False
    if code not in rows:
        return pd.Series(dtype=float), True
    w_col = weight if weight and weight in rows else "_volume"
    part = pd.DataFrame(
        {
            "day": rows["period_start"].to_numpy(),
            "value": rows[code].to_numpy(dtype=float),
            "weight": rows[w_col].to_numpy(dtype=float) if w_col in rows else 1.0,
        }
    )
    part = part[np.isfinite(part["value"]) & np.isfinite(part["weight"]) & (part["weight"] > 0)]
    if part.empty:
        return pd.Series(dtype=float), True
    part["wv"] = part["value"] * part["weight"]
    grouped = part.groupby("day")[["wv", "weight"]].sum()
    return _finite(grouped["wv"] / grouped["weight"]), True


def _finite(series: pd.Series) -> pd.Series:
    series = series.astype(float)
    return series[np.isfinite(series.to_numpy())].sort_index()


# --- estimates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    method: str  # "did" (comparison group) | "seasonal" (weekday profile)
    effect: float  # in the indicator's unit; positive = the indicator went up
    ci_low: float
    ci_high: float
    before_days: int
    after_days: int
    before_mean: float  # the action's objects, mean daily value before the start
    after_mean: float  # … and after it
    expected_after: float  # what the after days would have averaged without the action
    observed: pd.Series  # the action's objects per day, before and after
    expected: pd.Series  # the expectation per after day
    confidence: float = CONFIDENCE
    replicates: int = REPLICATES
    notes: list[str] = field(default_factory=list)

    @property
    def relative_effect(self) -> float | None:
        if not self.expected_after or not math.isfinite(self.expected_after):
            return None
        return self.effect / abs(self.expected_after)


def split(series: pd.Series, starts_on: date) -> tuple[pd.Series, pd.Series]:
    index = np.array([d >= starts_on for d in series.index], dtype=bool)
    return series[~index], series[index]


def _check_days(before: int, after: int) -> None:
    if after < MIN_DAYS:
        raise NotEnoughData(
            f"开始后只有 {after} 个有数据的开放日，至少需要 {MIN_DAYS} 个",
            code="too_few_days_after",
            before_days=before,
            after_days=after,
        )
    if before < MIN_DAYS:
        raise NotEnoughData(
            f"开始前 {BEFORE_DAYS} 天内只有 {before} 个有数据的开放日，至少需要 {MIN_DAYS} 个",
            code="too_few_days_before",
            before_days=before,
            after_days=after,
        )


def _interval(
    replicates: np.ndarray, estimate: float, confidence: float, smallest: int
) -> tuple[float, float]:
    """Expanded percentile interval (Hesterberg 2015): the replicates' spread around the
    estimate is widened by sqrt(n / (n − 1)) · t(n − 1) / z for the smaller side's n.
    Resampling n days underestimates the variance of their mean by (n − 1) / n, and a
    normal quantile is too narrow for the two or three weeks an action is judged on."""
    tail = (1 - confidence) / 2
    dof = max(smallest - 1, 1)
    expand = math.sqrt(smallest / dof) * stats.t.ppf(1 - tail, dof) / stats.norm.ppf(1 - tail)
    spread = estimate + (replicates - estimate) * expand
    low, high = np.percentile(spread, [tail * 100, 100 - tail * 100])
    return float(low), float(high)


def did_point(before_gap: np.ndarray, after_gap: np.ndarray) -> float:
    """Difference in differences from the daily gaps (treated − comparison)."""
    return float(np.mean(after_gap) - np.mean(before_gap))


def bootstrap_did(
    before_gap: np.ndarray, after_gap: np.ndarray, *, replicates: int, seed: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    b = before_gap[rng.integers(0, len(before_gap), (replicates, len(before_gap)))]
    a = after_gap[rng.integers(0, len(after_gap), (replicates, len(after_gap)))]
    return np.asarray(a.mean(axis=1) - b.mean(axis=1))


def difference_in_differences(
    treated: pd.Series,
    control: pd.Series,
    starts_on: date,
    *,
    replicates: int = REPLICATES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Effect on ``treated`` against the comparison group ``control`` (days both have)."""
    both = pd.concat({"t": treated, "c": control}, axis=1).dropna().sort_index()
    gap = both["t"] - both["c"]
    before, after = split(gap, starts_on)
    _check_days(len(before), len(after))
    b, a = before.to_numpy(dtype=float), after.to_numpy(dtype=float)
    effect = did_point(b, a)
    reps = bootstrap_did(b, a, replicates=replicates, seed=seed)
    low, high = _interval(reps, effect, confidence, min(len(b), len(a)))
    t_before, t_after = split(both["t"], starts_on)
    _c_before, c_after = split(both["c"], starts_on)
    expected = c_after + float(np.mean(b))
    return Estimate(
        method="did",
        effect=effect,
        ci_low=low,
        ci_high=high,
        before_days=len(b),
        after_days=len(a),
        before_mean=float(t_before.mean()),
        after_mean=float(t_after.mean()),
        expected_after=float(expected.mean()),
        observed=both["t"],
        expected=expected,
        confidence=confidence,
        replicates=replicates,
    )


def weekday_levels(
    weekdays: np.ndarray, values: np.ndarray, *, min_days: int = MIN_WEEKDAY_DAYS
) -> np.ndarray:
    """The mean value per weekday (0–6); weekdays seen fewer than ``min_days`` times get
    the overall mean."""
    overall = float(np.mean(values))
    levels = np.full(7, overall)
    for wd in range(7):
        mask = weekdays == wd
        if mask.sum() >= min_days:
            levels[wd] = float(values[mask].mean())
    return levels


def bootstrap_seasonal(
    before_wd: np.ndarray,
    before: np.ndarray,
    after_wd: np.ndarray,
    after: np.ndarray,
    *,
    replicates: int,
    seed: int,
) -> np.ndarray:
    """Replicates of mean(after − weekday level). The before days are resampled within
    their weekday (each level is the mean of its own weekday's days), the after days
    as a whole; vectorized over the replicates."""
    rng = np.random.default_rng(seed)
    overall = before[rng.integers(0, len(before), (replicates, len(before)))].mean(axis=1)
    levels = np.repeat(overall[:, None], 7, axis=1)
    for wd in range(7):
        values = before[before_wd == wd]
        if len(values) >= MIN_WEEKDAY_DAYS:
            idx = rng.integers(0, len(values), (replicates, len(values)))
            levels[:, wd] = values[idx].mean(axis=1)
    ai = rng.integers(0, len(after), (replicates, len(after)))
    expected = np.take_along_axis(levels, after_wd[ai], axis=1)
    return np.asarray((after[ai] - expected).mean(axis=1))


def seasonal_expectation(
    series: pd.Series,
    starts_on: date,
    *,
    special: Collection[date] = (),
    replicates: int = REPLICATES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Effect against the weekday profile of the days before the start.

    ``special`` days (month end, around public holidays) follow their own pattern, not
    the weekday's: they are left out on both sides, so a month-end rush before the start
    does not pass for an improvement after it.
    """
    series = series.dropna().sort_index()
    if special:
        skip = set(special)
        series = series[[d not in skip for d in series.index]]
    before, after = split(series, starts_on)
    _check_days(len(before), len(after))
    b, a = before.to_numpy(dtype=float), after.to_numpy(dtype=float)
    bw = np.array([d.weekday() for d in before.index], dtype=int)
    aw = np.array([d.weekday() for d in after.index], dtype=int)
    levels = weekday_levels(bw, b)
    expected = pd.Series(levels[aw], index=after.index, dtype=float)
    effect = float(np.mean(a - levels[aw]))
    reps = bootstrap_seasonal(bw, b, aw, a, replicates=replicates, seed=seed)
    low, high = _interval(reps, effect, confidence, min(len(b), len(a)))
    return Estimate(
        method="seasonal",
        effect=effect,
        ci_low=low,
        ci_high=high,
        before_days=len(b),
        after_days=len(a),
        before_mean=float(b.mean()),
        after_mean=float(a.mean()),
        expected_after=float(expected.mean()),
        observed=series,
        expected=expected,
        confidence=confidence,
        replicates=replicates,
    )


# --- reading an estimate -------------------------------------------------------------------


def is_improvement(effect: float, higher_is_better: bool) -> bool | None:
    """Whether the point estimate moved the indicator the good way (None: no change)."""
    if effect == 0 or not math.isfinite(effect):
        return None
    return (effect > 0) == higher_is_better


def verdict(ci_low: float, ci_high: float, higher_is_better: bool) -> str:
    """``improved`` / ``worsened`` when the interval excludes 0, else ``no_clear_change``."""
    if ci_low > 0:
        return "improved" if higher_is_better else "worsened"
    if ci_high < 0:
        return "worsened" if higher_is_better else "improved"
    return "no_clear_change"


# --- one indicator of an action, as stored on the action ----------------------------------

VERDICTS = ("improved", "worsened", "no_clear_change")


def number(value: float | None, digits: int = 6) -> float | None:
    """A JSON-safe float: rounded, and None for NaN and infinities."""
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def blank_entry(
    code: str, *, name_zh: str, name_en: str, unit: str, higher_is_better: bool | None
) -> dict[str, Any]:
    return {
        "code": code,
        "name_zh": name_zh,
        "name_en": name_en,
        "unit": unit,
        "higher_is_better": higher_is_better,
        "status": "not_measurable",
        "reason": None,
        "reason_code": None,
        "method": None,
        "effect": None,
        "ci_low": None,
        "ci_high": None,
        "before_days": 0,
        "after_days": 0,
        "before_mean": None,
        "after_mean": None,
        "expected_after": None,
        "relative_effect": None,
        "improvement": None,
        "verdict": None,
        "approximate": False,
        "notes": [],
        "series": None,
    }


def series_out(estimate: Estimate) -> dict[str, Any]:
    """Daily values for the chart: observed, the expectation, and expectation + interval."""
    days = sorted(estimate.observed.index)
    expected = estimate.expected

    def shifted(delta: float) -> list[float | None]:
        return [number(expected[d] + delta) if d in expected.index else None for d in days]

    return {
        "days": [d.isoformat() for d in days],
        "observed": [number(estimate.observed[d]) for d in days],
        "expected": shifted(0.0),
        "low": shifted(estimate.ci_low),
        "high": shifted(estimate.ci_high),
    }


def indicator_effect(
    tree: fml.Node,
    refs: Sequence[fml.MeasureRef],
    *,
    code: str,
    weight: str | None,
    higher_is_better: bool,
    treated_rows: pd.DataFrame,
    control_rows: pd.DataFrame | None,
    starts_on: date,
    eligible: Collection[date],
) -> dict[str, Any]:
    """The effect on one indicator, as the fields of its stored entry.

    Against the comparison group when there is one with enough data, else against the
    seasonal expectation (special days left out); ``not_enough_data`` with the reason
    when neither can be estimated honestly.
    """
    days = set(eligible)

    def keep(series: pd.Series) -> pd.Series:
        return series[[d in days for d in series.index]] if len(series) else series

    treated, approximate = daily_values(treated_rows, tree, refs, code=code, weight=weight)
    treated = keep(treated)
    out: dict[str, Any] = {"status": "not_enough_data", "approximate": approximate}
    if treated.empty:
        out.update(reason="这段时间该范围内没有该指标的数据", reason_code="no_data")
        return out
    notes: list[str] = []
    estimate: Estimate | None = None
    try:
        if control_rows is not None:
            control, _ = daily_values(control_rows, tree, refs, code=code, weight=weight)
            try:
                estimate = difference_in_differences(treated, keep(control), starts_on)
            except NotEnoughData:
                notes.append("对照组（本大厅其他对象）的数据不足，改用季节性预期")
        if estimate is None:
            estimate = seasonal_expectation(treated, starts_on, special=special_days(treated.index))
            notes.append("季节性预期：按开始前四周的星期规律推算，不计月末、节假日前后等特殊日")
    except NotEnoughData as exc:
        before, after = split(treated, starts_on)
        out.update(
            reason=exc.reason,
            reason_code=exc.code,
            before_days=len(before),
            after_days=len(after),
            notes=notes,
        )
        return out
    if approximate:
        notes.append("该指标的度量不可加总（如分位数），多个对象按件数加权近似")
    out.update(
        status="measured",
        method=estimate.method,
        effect=number(estimate.effect),
        ci_low=number(estimate.ci_low),
        ci_high=number(estimate.ci_high),
        before_days=estimate.before_days,
        after_days=estimate.after_days,
        before_mean=number(estimate.before_mean),
        after_mean=number(estimate.after_mean),
        expected_after=number(estimate.expected_after),
        relative_effect=number(estimate.relative_effect, 4),
        improvement=is_improvement(estimate.effect, higher_is_better),
        verdict=verdict(estimate.ci_low, estimate.ci_high, higher_is_better),
        notes=notes,
        series=series_out(estimate),
    )
    return out


def summary(entries: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many indicators improved, worsened, … (for lists and the event log)."""
    counts = {key: sum(1 for e in entries if e.get("verdict") == key) for key in VERDICTS}
    for status in ("measured", "not_enough_data", "not_measurable"):
        counts[status] = sum(1 for e in entries if e.get("status") == status)
    return counts
