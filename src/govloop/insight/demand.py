"""Demand analysis: arrivals by weekday × 30-minute slot, peaks, calendar patterns.

Everything here works on the visit facts (one row per ticket: service day, slot of
arrival, item, window) and counts only days the hall was open (a day with at least one
arrival), so a closed Monday does not dilute the Monday average.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from govloop.core.calendar import day_info, is_workday

WEEKDAYS = 7
SLOT_MINUTES = 30
MONTH_END_WORKDAYS = 3  # the last three working days of a month
MIN_DAYS_FOR_PATTERN = 2


def slot_label(slot: int) -> str:
    minutes = slot * SLOT_MINUTES
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass
class Heatmap:
    """Mean arrivals per open day, weekday (0 = Monday) × slot."""

    slots: list[int]
    weekdays: list[int]
    values: list[list[float]]  # [weekday][slot]
    open_days: dict[int, int]  # weekday → number of open days behind the mean
    total: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "slots": [slot_label(s) for s in self.slots],
            "weekdays": self.weekdays,
            "values": self.values,
            "open_days": self.open_days,
            "total": self.total,
        }


@dataclass(frozen=True)
class Peak:
    weekday: int
    slot: int
    mean_arrivals: float
    share_of_day: float  # of that weekday's mean daily arrivals

    @property
    def label(self) -> str:
        return slot_label(self.slot)


@dataclass(frozen=True)
class DayPattern:
    """How much busier one kind of day is than an ordinary day of the same weekday."""

    kind: str  # month_end | pre_holiday | post_holiday
    days: int
    mean_arrivals: float | None
    ordinary_mean: float | None
    ratio: float | None  # None: fewer than MIN_DAYS_FOR_PATTERN such days
    ratio_low: float | None
    ratio_high: float | None
    sample_days: list[date] = field(default_factory=list)


def open_days(visits: pd.DataFrame) -> list[date]:
    return sorted(set(visits["day"])) if len(visits) else []


def daily_arrivals(visits: pd.DataFrame) -> pd.Series:
    """Arrivals per open day (index: date)."""
    if visits.empty:
        return pd.Series(dtype=float)
    return visits.groupby("day").size().astype(float).sort_index()


def heatmap(visits: pd.DataFrame, slots: list[int] | None = None) -> Heatmap:
    days = open_days(visits)
    per_weekday = {w: sum(1 for d in days if d.weekday() == w) for w in range(WEEKDAYS)}
    weekdays = [w for w in range(WEEKDAYS) if per_weekday[w]] or list(range(5))
    if slots is None:
        slots = sorted(int(s) for s in set(visits["slot"])) if len(visits) else []
    values = [[0.0] * len(slots) for _ in weekdays]
    if len(visits):
        weekday_of = {d: d.weekday() for d in days}
        counts = (
            visits.assign(weekday=visits["day"].map(weekday_of)).groupby(["weekday", "slot"]).size()
        )
        index = {s: i for i, s in enumerate(slots)}
        for (weekday, slot), count in counts.items():
            if int(slot) in index and weekday in weekdays:
                row = weekdays.index(weekday)
                values[row][index[int(slot)]] = round(count / per_weekday[weekday], 2)
    return Heatmap(
        slots,
        weekdays,
        values,
        {w: per_weekday[w] for w in weekdays},
        len(visits),
    )


def peaks(grid: Heatmap, top: int = 5) -> list[Peak]:
    """The busiest weekday-slots, each with its share of that weekday's arrivals."""
    out: list[Peak] = []
    for row, weekday in enumerate(grid.weekdays):
        day_total = sum(grid.values[row])
        for col, slot in enumerate(grid.slots):
            mean = grid.values[row][col]
            if mean > 0 and day_total > 0:
                out.append(Peak(weekday, slot, mean, mean / day_total))
    out.sort(key=lambda p: (-p.mean_arrivals, p.weekday, p.slot))
    return out[:top]


def slot_shares(grid: Heatmap) -> list[float]:
    """Share of an average open day's arrivals in each slot (all weekdays pooled)."""
    totals = np.array(
        [
            sum(grid.values[r][c] * grid.open_days[w] for r, w in enumerate(grid.weekdays))
            for c in range(len(grid.slots))
        ]
    )
    whole = totals.sum()
    return [float(v / whole) if whole else 0.0 for v in totals]


# --- calendar patterns --------------------------------------------------------------------


def is_month_end(day: date) -> bool:
    """Among the last MONTH_END_WORKDAYS working days of its month."""
    following, probe = 0, day + timedelta(days=1)
    while probe.month == day.month:
        if is_workday(probe):
            following += 1
        probe += timedelta(days=1)
    return is_workday(day) and following < MONTH_END_WORKDAYS


def _is_holiday(day: date) -> bool:
    info = day_info(day)
    return not info.is_workday and info.holiday_name is not None


def is_pre_holiday(day: date) -> bool:
    """The last working day before a public holiday (weekends in between allowed)."""
    probe = day + timedelta(days=1)
    while not is_workday(probe):
        if _is_holiday(probe):
            return True
        probe += timedelta(days=1)
    return False


def is_post_holiday(day: date) -> bool:
    """The first working day after a public holiday."""
    probe = day - timedelta(days=1)
    while not is_workday(probe):
        if _is_holiday(probe):
            return True
        probe -= timedelta(days=1)
    return False


PATTERNS = {
    "month_end": is_month_end,
    "pre_holiday": is_pre_holiday,
    "post_holiday": is_post_holiday,
}


def day_patterns(daily: pd.Series, seed: int = 0) -> list[DayPattern]:
    """Each special kind of day against ordinary days, weekday mix matched.

    The ratio compares each special day with the mean of ordinary days of its own
    weekday (Mondays are busy anyway); the interval is a bootstrap over the special days.
    """
    days = list(daily.index)
    kinds = {d: [k for k, test in PATTERNS.items() if test(d)] for d in days}
    ordinary = [d for d in days if not kinds[d]]
    by_weekday: dict[int, list[float]] = {}
    for d in ordinary:
        by_weekday.setdefault(d.weekday(), []).append(float(daily[d]))
    weekday_mean = {w: float(np.mean(v)) for w, v in by_weekday.items()}
    rng = np.random.default_rng(seed)
    out = []
    for kind in PATTERNS:
        special = [d for d in days if kind in kinds[d] and d.weekday() in weekday_mean]
        if len(special) < MIN_DAYS_FOR_PATTERN:
            out.append(DayPattern(kind, len(special), None, None, None, None, None, special))
            continue
        ratios = np.array([daily[d] / weekday_mean[d.weekday()] for d in special])
        boot = rng.choice(ratios, size=(2000, len(ratios)), replace=True).mean(axis=1)
        out.append(
            DayPattern(
                kind,
                len(special),
                float(np.mean([daily[d] for d in special])),
                float(np.mean([weekday_mean[d.weekday()] for d in special])),
                float(ratios.mean()),
                float(np.quantile(boot, 0.025)),
                float(np.quantile(boot, 0.975)),
                special,
            )
        )
    return out


@dataclass
class PeriodComparison:
    a: Heatmap
    b: Heatmap
    slots: list[int]
    difference: list[list[float]]  # b − a, per weekday × slot (weekdays of both)
    weekdays: list[int]
    daily_mean_a: float | None
    daily_mean_b: float | None
    change: float | None  # relative change of the mean open-day arrivals


def compare_periods(visits_a: pd.DataFrame, visits_b: pd.DataFrame) -> PeriodComparison:
    slots = sorted(
        {int(s) for s in visits_a.get("slot", [])} | {int(s) for s in visits_b.get("slot", [])}
    )
    a, b = heatmap(visits_a, slots), heatmap(visits_b, slots)
    weekdays = sorted(set(a.weekdays) | set(b.weekdays))

    def row(grid: Heatmap, weekday: int) -> list[float]:
        return grid.values[grid.weekdays.index(weekday)] if weekday in grid.weekdays else []

    difference = []
    for w in weekdays:
        ra, rb = row(a, w), row(b, w)
        difference.append(
            [round((rb[i] if rb else 0.0) - (ra[i] if ra else 0.0), 2) for i in range(len(slots))]
        )
    mean_a = float(daily_arrivals(visits_a).mean()) if len(visits_a) else None
    mean_b = float(daily_arrivals(visits_b).mean()) if len(visits_b) else None
    change = (mean_b - mean_a) / mean_a if mean_a and mean_b is not None else None
    return PeriodComparison(a, b, slots, difference, weekdays, mean_a, mean_b, change)
