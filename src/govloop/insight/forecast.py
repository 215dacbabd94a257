"""Arrival forecasts per 30-minute slot for the next days, from the hall's own history.

Multiplicative model: expected arrivals in a slot = the day's volume × the slot's share of
the day in the intraday profile.

* Daily volume: a local-level state-space model (statsmodels ``UnobservedComponents``) on
  log(1 + daily total) with weekday effects and calendar effects learned from the history:
  first and second open day after a break (a public holiday or any closure of a normally
  open day), last open day before a break, first and last open day of a month, make-up
  working days (调休). The level follows recent weeks; the effects use all history.
* Intraday profile: slot shares per weekday, recent weeks weighted more and shrunk towards
  the all-days profile, so a weekday with little history borrows the common shape.
* Intervals: negative-binomial quantiles around the mean. The dispersion is the day-level
  error of one-step-ahead predictions (growing with the level's uncertainty over the
  horizon) plus the slot-level excess over Poisson noise.

A day is closed when the weekly hours have no slot that weekday, on Chinese public
holidays (if the hall follows the calendar) and on declared closures. In the history, a
day without arrivals is a closure unless the series is so small that an empty day is
plausible. ``bench_forecast`` has the backtests behind these choices.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from govloop.core.calendar import day_info

SLOT_MINUTES = 30
LOCAL_TZ = "Asia/Shanghai"
MIN_OPEN_DAYS = 10  # two working weeks
MIN_EVENT_DAYS = 2  # a weekday or calendar effect is learned from at least this many days
EMPTY_DAY_IS_CLOSURE = 10.0  # median daily arrivals from which a day without any is a closure
EFFECT_LABELS = {
    "post_break": "first open day after a break",
    "post_break_2": "second open day after a break",
    "pre_break": "last open day before a break",
    "month_start": "first open day of a month",
    "month_end": "last open day of a month",
    "makeup_day": "make-up working day (调休)",
}
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class NotEnoughHistory(ValueError):
    """The history is too short to learn weekly patterns."""


def slot_starts(start: str | time, end: str | time) -> tuple[time, ...]:
    """Slot start times from ``start`` up to (not including) ``end``."""
    moment, last = (datetime.combine(date.min, _as_time(t)) for t in (start, end))
    out = []
    while moment < last:
        out.append(moment.time())
        moment += timedelta(minutes=SLOT_MINUTES)
    return tuple(out)


def _as_time(value: str | time) -> time:
    return value if isinstance(value, time) else time.fromisoformat(value)


@dataclass(frozen=True)
class OpeningHours:
    """Open slot start times per weekday (Monday first).

    With ``follows_chinese_calendar`` the hall is closed on public holidays and open on
    official make-up working days, which keep the hours of ``makeup_weekday``.
    ``closed_dates`` are other closures known in advance (a local holiday, a move), and
    ``extra_dates`` the hall's own extra working days (with the hours of ``makeup_weekday``).
    ``changes`` are later weekly hours, each in force from its day (new hours from next
    month): a day uses the last change on or before it, else ``weekly``.
    """

    weekly: tuple[tuple[time, ...], ...]
    follows_chinese_calendar: bool = True
    makeup_weekday: int = 0
    closed_dates: frozenset[date] = frozenset()
    slot_minutes: int = SLOT_MINUTES
    extra_dates: frozenset[date] = frozenset()
    changes: tuple[tuple[date, tuple[tuple[time, ...], ...]], ...] = ()

    def __post_init__(self) -> None:
        weeklies = [self.weekly, *(weekly for _day, weekly in self.changes)]
        if any(len(weekly) != 7 for weekly in weeklies):
            raise ValueError("weekly hours need one entry per weekday, Monday first")
        if not any(self.weekly):
            raise ValueError("the hall needs at least one open slot in the week")
        if self.slot_minutes != SLOT_MINUTES:
            raise ValueError(f"only {SLOT_MINUTES}-minute slots are supported")
        for t in (t for weekly in weeklies for slots in weekly for t in slots):
            if t.second or t.microsecond or t.minute % SLOT_MINUTES:
                raise ValueError(f"slot {t} does not start on a {SLOT_MINUTES}-minute mark")

    @classmethod
    def from_periods(
        cls,
        periods: Sequence[tuple[str | time, str | time]],
        weekdays: Iterable[int] = range(5),
        **options: Any,
    ) -> OpeningHours:
        """The same periods, e.g. ``[("09:00", "12:00"), ("13:30", "17:30")]``, each weekday."""
        slots = tuple(sorted({s for a, b in periods for s in slot_starts(a, b)}))
        days = set(weekdays)
        return cls(tuple(slots if wd in days else () for wd in range(7)), **options)

    @property
    def all_slots(self) -> tuple[time, ...]:
        weeklies = [self.weekly, *(weekly for _day, weekly in self.changes)]
        return tuple(sorted({t for weekly in weeklies for slots in weekly for t in slots}))

    def weekly_on(self, day: date) -> tuple[tuple[time, ...], ...]:
        """The weekly hours in force on ``day``."""
        weekly = self.weekly
        for since, later in self.changes:
            if since <= day:
                weekly = later
        return weekly

    def day(self, day: date) -> DayPlan:
        return _day_plan(self, day)


@dataclass(frozen=True)
class DayPlan:
    day: date
    slots: tuple[time, ...]
    reason: str | None  # why the day is closed, or what is special about it
    makeup: bool
    calendar_known: bool  # False: the holiday calendar does not know this year yet

    @property
    def open(self) -> bool:
        return bool(self.slots)


@lru_cache(maxsize=65536)
def _day_plan(opening: OpeningHours, day: date) -> DayPlan:
    hours = opening.weekly_on(day)
    regular = hours[day.weekday()]
    weekly = DayPlan(day, regular, None if regular else "closed weekday", False, True)
    if day in opening.closed_dates:
        return DayPlan(day, (), "declared closure", False, True)
    if day in opening.extra_dates and not regular:
        return DayPlan(day, hours[opening.makeup_weekday], "extra working day", True, True)
    if not opening.follows_chinese_calendar:
        return weekly
    info = day_info(day)
    known = _calendar_knows(day.year)
    if not info.is_workday and info.holiday_name is not None:
        return DayPlan(day, (), f"public holiday ({info.holiday_name})", False, known)
    if info.is_workday and not regular:
        slots = hours[opening.makeup_weekday]
        return DayPlan(day, slots, "make-up working day (调休)", True, known)
    return DayPlan(day, regular, weekly.reason, False, known)


@lru_cache(maxsize=64)
def _calendar_knows(year: int) -> bool:
    # New Year's week always holds official holidays, so an official answer there means
    # the State Council's arrangement for the year is in the calendar.
    return any(day_info(date(year, 1, d)).from_official_calendar for d in range(1, 8))


@dataclass(frozen=True)
class ModelOptions:
    calendar_effects: tuple[str, ...] = tuple(EFFECT_LABELS)
    profile_half_life_weeks: float = 8.0
    profile_shrinkage_days: float = 2.0  # pseudo-days of the all-days profile per weekday
    interval: float = 0.9  # central prediction interval
    max_history_days: int = 3 * 365


@dataclass
class Forecast:
    """``frame``: slot_start, expected, lower, upper for every slot of the hall's grid on
    every day (0 when closed); ``days``: day, open, reason, expected."""

    frame: pd.DataFrame
    days: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    effects: dict[str, float] = field(default_factory=dict)  # +0.2 = 20 % more arrivals
    interval: float = 0.9


def slot_table(history: pd.Series) -> pd.DataFrame:
    """Arrivals per day (rows, midnight timestamps) × slot start time (columns)."""
    if not isinstance(history.index, pd.DatetimeIndex):
        raise TypeError("history must be indexed by slot start timestamps")
    index = history.index
    if index.tz is not None:
        index = index.tz_convert(LOCAL_TZ).tz_localize(None)
    values = pd.to_numeric(history, errors="raise").to_numpy(dtype=float)
    keep = ~np.isnan(values)
    if (values[keep] < 0).any():
        raise ValueError("arrival counts cannot be negative")
    starts = index[keep].floor(f"{SLOT_MINUTES}min")
    frame = pd.DataFrame({"day": starts.normalize(), "slot": starts.time, "n": values[keep]})
    table = frame.pivot_table(index="day", columns="slot", values="n", aggfunc="sum")
    return table.fillna(0.0).sort_index().sort_index(axis=1)


def forecast_arrivals(
    history: pd.Series,
    opening: OpeningHours,
    start: date,
    days: int = 14,
    *,
    options: ModelOptions | None = None,
    observed_until: date | None = None,
) -> Forecast:
    """Forecast arrivals per slot for ``days`` days from ``start``.

    ``observed_until`` is the last day the history is complete for (default: its last
    day); a day up to then without arrivals was closed. Days after it are taken from the
    opening hours.
    """
    if days < 1:
        raise ValueError("the horizon needs at least one day")
    opts = options or ModelOptions()
    notes: list[str] = []
    start_ts = pd.Timestamp(start)
    table = slot_table(history)
    if len(table) and table.index[-1] >= start_ts:
        notes.append(f"History from {start} on was ignored: the forecast uses earlier days only.")
        table = table[table.index < start_ts]
    last_seen = table.index[-1] if len(table) else start_ts - pd.Timedelta(days=1)
    until = min(pd.Timestamp(observed_until or last_seen), start_ts - pd.Timedelta(days=1))
    first = until - pd.Timedelta(days=opts.max_history_days)
    table = table[(table.index <= until) & (table.index >= first)]
    horizon = pd.date_range(start_ts, periods=days, freq="D")
    if until < start_ts - pd.Timedelta(days=1):
        notes.append(
            f"The history ends on {until.date()}: the days up to {start} are not in it and "
            "are taken as planned by the opening hours."
        )

    cal = _calendar(opening, table, table.index[0] if len(table) else until, until, horizon[-1])
    train = cal[cal["observed"] & cal["open"]]
    if len(train) < MIN_OPEN_DAYS:
        raise NotEnoughHistory(
            f"The forecast needs at least {MIN_OPEN_DAYS} open days (two working weeks) of "
            f"history; got {len(train)}."
        )
    if len(train) < 4 * MIN_OPEN_DAYS:
        notes.append(f"Short history ({len(train)} open days): effects are rough estimates.")
    future = cal[~cal["observed"] & cal["open"]]
    volume = _daily_volume(train, future, future[future.index >= start_ts], opts)
    notes.extend(volume.notes)
    counts = table.reindex(train.index, fill_value=0.0)
    weekdays = train["weekday"].to_numpy()
    profiles = _profiles(counts, weekdays, until, opts)
    alpha_slot = _slot_dispersion(counts, weekdays, opts)

    rows: list[tuple[datetime, float, float]] = []
    for ts in horizon:
        plan = opening.day(ts.date())
        means = dict.fromkeys(opening.all_slots, 0.0)
        alpha = 0.0
        if plan.open:
            alpha = float(volume.alpha.loc[ts]) + alpha_slot
            total = float(volume.expected.loc[ts])
            means.update(_slot_means(plan, int(cal.at[ts, "weekday"]), total, profiles, notes))
        rows.extend((datetime.combine(ts.date(), s), m, alpha) for s, m in means.items())
    frame = pd.DataFrame(rows, columns=["slot_start", "expected", "alpha"])
    mean, alpha = frame["expected"].to_numpy(), frame["alpha"].to_numpy()
    frame["lower"], frame["upper"] = _interval(mean, alpha, opts.interval)
    frame = frame[["slot_start", "expected", "lower", "upper"]]
    plans = [opening.day(ts.date()) for ts in horizon]
    day_frame = pd.DataFrame(
        {
            "day": [p.day for p in plans],
            "open": [p.open for p in plans],
            "reason": [p.reason for p in plans],
            "expected": frame.groupby(frame["slot_start"].dt.normalize())["expected"]
            .sum()
            .to_numpy(),
        }
    )
    notes.extend(_day_notes(opening, plans))
    return Forecast(frame, day_frame, list(dict.fromkeys(notes)), volume.effects, opts.interval)


# --- calendar ----------------------------------------------------------------------------


def _calendar(
    opening: OpeningHours,
    table: pd.DataFrame,
    first: pd.Timestamp,
    until: pd.Timestamp,
    last: pd.Timestamp,
) -> pd.DataFrame:
    """One row per day from the first day of history to the end of the horizon: whether
    it is (or was) open, its weekday for the weekly pattern, its calendar effects."""
    # A few days past the horizon tell whether its last days precede a break or month end.
    index = pd.date_range(first, max(last, until) + pd.Timedelta(days=10), freq="D")
    totals = table.sum(axis=1).reindex(index, fill_value=0.0).to_numpy()
    observed = index <= until
    plans = [opening.day(ts.date()) for ts in index]
    planned = np.array([p.open for p in plans])
    seen = totals[observed & (totals > 0)]
    empty_is_closure = len(seen) == 0 or float(np.median(seen)) >= EMPTY_DAY_IS_CLOSURE
    was_open = (totals > 0) | (planned & (not empty_is_closure))
    makeup = np.array([p.makeup for p in plans])
    cal = pd.DataFrame(
        {
            "observed": observed,
            "open": np.where(observed, was_open, planned),
            "normal": [bool(opening.weekly_on(ts.date())[ts.weekday()]) for ts in index],
            "makeup_day": makeup.astype(float),
            "weekday": np.where(makeup, opening.makeup_weekday, index.weekday),
            "total": totals,
        },
        index=index,
    )
    return cal.join(_break_and_month_effects(cal))


def _break_and_month_effects(cal: pd.DataFrame) -> pd.DataFrame:
    """A break's size counts the missed days that are normally open, on a log scale: a
    week-long holiday matters more than one day, but not five times more."""
    is_open = cal["open"].to_numpy(dtype=bool)
    missed = ~is_open & cal["normal"].to_numpy(dtype=bool)
    n = len(cal)
    post, post2, pre = np.zeros(n), np.zeros(n), np.zeros(n)
    run = last_run = 0
    for i in range(n):
        if is_open[i]:
            post[i], post2[i] = np.log1p(run), np.log1p(last_run)
            last_run, run = run, 0
        else:
            run += int(missed[i])
    run = 0
    for i in range(n - 1, -1, -1):
        if is_open[i]:
            pre[i], run = np.log1p(run), 0
        else:
            run += int(missed[i])
    month_start, month_end = np.zeros(n), np.zeros(n)
    positions = np.flatnonzero(is_open)
    if len(positions) > 1:
        month = cal.index[positions].to_period("M")
        change = np.asarray(month[1:] != month[:-1])
        # The span's own first and last open days are not known to start or end a month.
        month_start[positions[1:][change]] = 1.0
        month_end[positions[:-1][change]] = 1.0
    return pd.DataFrame(
        {
            "post_break": post,
            "post_break_2": post2,
            "pre_break": pre,
            "month_start": month_start,
            "month_end": month_end,
        },
        index=cal.index,
    )


def _day_notes(opening: OpeningHours, plans: list[DayPlan]) -> list[str]:
    notes = []
    runs: list[list[DayPlan]] = []  # consecutive closures that are not regular closed weekdays
    for p in plans:
        if p.open or p.reason == "closed weekday":
            continue
        if runs and runs[-1][-1].day == p.day - timedelta(days=1):
            runs[-1].append(p)
        else:
            runs.append([p])
    for run in runs:
        span = f"{run[0].day}" if len(run) == 1 else f"{run[0].day} to {run[-1].day}"
        reasons = ", ".join(dict.fromkeys(str(p.reason) for p in run))
        notes.append(f"Closed {span}: {reasons}; forecast 0.")
    notes.extend(f"{p.day} is a make-up working day (调休) and open." for p in plans if p.makeup)
    unknown = [p.day for p in plans if opening.follows_chinese_calendar and not p.calendar_known]
    if unknown:
        notes.append(
            f"The holiday calendar does not know {unknown[0].year} yet (holidays after "
            f"{unknown[0].year - 1} are unknown): from {unknown[0]} days are treated as normal "
            "working days except weekends and holidays declared in settings."
        )
    return notes


# --- daily volume ------------------------------------------------------------------------


@dataclass
class _Volume:
    expected: pd.Series  # arrivals per future open day
    alpha: pd.Series  # day-level negative-binomial dispersion per future open day
    effects: dict[str, float]
    notes: list[str]


def _design(rows: pd.DataFrame, weekdays: list[int], effects: list[str]) -> np.ndarray | None:
    """Weekday effects in deviation coding (the level is the average open day, so a
    weekday without history is forecast as an average day), then calendar effects."""
    wd = rows["weekday"].to_numpy()
    cols = [(wd == k) - (wd == weekdays[-1]).astype(float) for k in weekdays[:-1]]
    cols.extend(rows[e].to_numpy(dtype=float) for e in effects)
    return np.column_stack(cols) if cols else None


def _daily_volume(
    train: pd.DataFrame, future: pd.DataFrame, horizon: pd.DataFrame, opts: ModelOptions
) -> _Volume:
    notes = []
    counts = train["weekday"].value_counts()
    weekdays = sorted(int(wd) for wd, n in counts.items() if n >= MIN_EVENT_DAYS)
    effects = [e for e in opts.calendar_effects if (train[e] != 0).sum() >= MIN_EVENT_DAYS]
    for e in opts.calendar_effects:
        hit = horizon.index[horizon[e] != 0]
        if e not in effects and len(hit):
            notes.append(
                f"The history has too few days like {hit[0].date()} ({EFFECT_LABELS[e]}): "
                "that effect is not modelled."
            )
    for wd in sorted(set(horizon["weekday"]) - set(weekdays)):
        notes.append(f"No history for {WEEKDAY_NAMES[wd]}s: forecast as an average open day.")
    if future.empty:
        return _Volume(pd.Series(dtype=float), pd.Series(dtype=float), {}, notes)

    exog = _design(train, weekdays, effects)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optimizer chatter; the result is checked below
            # Effects as constant states (estimated by the Kalman filter, i.e. GLS): only
            # the two variances are left to the optimizer, which makes fitting fast.
            model = sm.tsa.UnobservedComponents(
                np.log1p(train["total"].to_numpy(dtype=float)),
                level="llevel",
                exog=exog,
                mle_regression=False,
            )
            result = model.fit(disp=False)
            prediction = result.get_forecast(len(future), exog=_design(future, weekdays, effects))
        mean_log = np.asarray(prediction.predicted_mean, dtype=float)
        var_log = np.asarray(prediction.var_pred_mean, dtype=float)
        if not (np.isfinite(mean_log).all() and np.isfinite(var_log).all()):
            raise ValueError("non-finite forecast")
    except (ValueError, np.linalg.LinAlgError) as exc:
        recent = train["total"].iloc[-MIN_OPEN_DAYS:]
        notes.append(
            f"The daily model could not be fitted ({exc}); each open day is forecast as the "
            f"mean of the last {len(recent)} open days."
        )
        spread = float(np.var(np.log1p(recent.to_numpy(dtype=float))))
        return _Volume(
            pd.Series(float(recent.mean()), index=future.index),
            pd.Series(spread, index=future.index),
            {},
            notes,
        )

    # One-step-ahead errors over the history give the day-level dispersion beyond Poisson
    # noise; the level's growing uncertainty widens later days.
    burn = int(result.loglikelihood_burn) + 5
    fitted = np.expm1(np.asarray(result.fittedvalues, dtype=float)[burn:][-60:])
    actual = train["total"].to_numpy(dtype=float)[burn:][-60:]
    alpha = _excess_dispersion(actual, fitted) + np.maximum(var_log - var_log[0], 0.0)
    expected = np.expm1(mean_log + var_log / 2)  # the log-normal's mean, not its median

    names = [WEEKDAY_NAMES[wd] for wd in weekdays[:-1]] + effects
    final = np.asarray(result.smoothed_state, dtype=float)[:, -1]
    params = final[len(final) - len(names) :]
    coef = dict(zip(names, params, strict=True))
    if weekdays:
        coef[WEEKDAY_NAMES[weekdays[-1]]] = -float(params[: len(weekdays) - 1].sum())
    # A break's effect is reported for a one-day break (the feature is log(1 + days)).
    scale = {"post_break": np.log(2.0), "post_break_2": np.log(2.0), "pre_break": np.log(2.0)}
    found = {k: float(np.expm1(v * scale.get(k, 1.0))) for k, v in coef.items()}
    return _Volume(
        pd.Series(expected, index=future.index), pd.Series(alpha, index=future.index), found, notes
    )


def _excess_dispersion(actual: np.ndarray, mean: np.ndarray) -> float:
    """Method-of-moments negative-binomial dispersion: var = mean + alpha * mean²."""
    ok = np.isfinite(mean) & (mean > 0)
    if not ok.any():
        return 0.0
    a, m = actual[ok], mean[ok]
    return max(0.0, float(((a - m) ** 2 - m).sum() / (m**2).sum()))


# --- intraday profile --------------------------------------------------------------------


@dataclass
class _Profiles:
    slots: list[time]
    overall: np.ndarray  # shares over slots, all weekdays
    by_weekday: dict[int, np.ndarray]
    seen: np.ndarray  # slots with any arrival in the history


def _profiles(
    counts: pd.DataFrame, weekdays: np.ndarray, ref: pd.Timestamp, opts: ModelOptions
) -> _Profiles:
    ages = np.asarray((ref - counts.index).days, dtype=float)
    weights = 0.5 ** (ages / (7 * opts.profile_half_life_weeks))
    weighted = counts.to_numpy(dtype=float) * weights[:, None]
    pooled = weighted.sum(axis=0)
    total = pooled.sum()
    overall = pooled / total if total > 0 else np.full(len(pooled), 1 / max(len(pooled), 1))
    # Shrinkage counted in arrivals: a few average days' worth of the overall shape.
    kappa = opts.profile_shrinkage_days * total / max(weights.sum(), 1e-12)
    by_weekday = {}
    for wd in np.unique(weekdays):
        shrunk = weighted[weekdays == wd].sum(axis=0) + kappa * overall
        by_weekday[int(wd)] = shrunk / shrunk.sum() if shrunk.sum() > 0 else overall
    return _Profiles(list(counts.columns), overall, by_weekday, pooled > 0)


def _slot_dispersion(counts: pd.DataFrame, weekdays: np.ndarray, opts: ModelOptions) -> float:
    """Excess slot-level dispersion given the day's total, measured on the last open days
    with profiles from the days before each of them only."""
    values = counts.to_numpy(dtype=float)
    actual, mean = [], []
    for i in range(max(MIN_OPEN_DAYS // 2, len(counts) - 20), len(counts)):
        prof = _profiles(counts.iloc[:i], weekdays[:i], counts.index[i], opts)
        actual.append(values[i])
        mean.append(values[i].sum() * prof.by_weekday.get(int(weekdays[i]), prof.overall))
    return _excess_dispersion(np.concatenate(actual), np.concatenate(mean)) if actual else 0.0


def _slot_means(
    plan: DayPlan, weekday: int, total: float, profiles: _Profiles, notes: list[str]
) -> dict[time, float]:
    shares = profiles.by_weekday.get(weekday)
    if shares is None:
        notes.append(f"No history for {WEEKDAY_NAMES[weekday]}s: the all-days profile is used.")
        shares = profiles.overall
    share_of = dict(zip(profiles.slots, shares, strict=True))
    seen_of = dict(zip(profiles.slots, profiles.seen, strict=True))
    seen = [s for s in plan.slots if seen_of.get(s, False)]
    unseen = [s for s in plan.slots if not seen_of.get(s, False)]
    # The day's volume goes to its open slots; demand that fell in slots closed today
    # (early arrivals, changed hours) moves to the open ones.
    open_share = sum(share_of[s] for s in seen)
    means = {s: total * share_of[s] / open_share for s in seen} if open_share > 0 else {}
    for s in unseen:
        means[s] = total / len(seen) if seen else total / len(unseen)
        notes.append(
            f"Slot {s:%H:%M} has no history (newly opened?): it is forecast as the average "
            "open slot of its day, not from data."
        )
    return means


def _interval(mean: np.ndarray, alpha: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Central negative-binomial interval (Poisson where there is no excess dispersion)."""
    q = (1 - level) / 2
    lower, upper = np.zeros_like(mean), np.zeros_like(mean)
    pois = (mean > 0) & (alpha < 1e-9)
    lower[pois] = stats.poisson.ppf(q, mean[pois])
    upper[pois] = stats.poisson.ppf(1 - q, mean[pois])
    nb = (mean > 0) & ~pois
    size = 1 / alpha[nb]
    prob = size / (size + mean[nb])
    lower[nb] = stats.nbinom.ppf(q, size, prob)
    upper[nb] = stats.nbinom.ppf(1 - q, size, prob)
    return lower, upper
