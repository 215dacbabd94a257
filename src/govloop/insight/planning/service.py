"""Forecasts and staffing for a hall, from its own history in the analytics store.

The forecast of the whole hall comes from ``forecast.forecast_arrivals``; per item it is
split top-down by each item's recent share of every weekday-slot (shrunk towards the
item's overall share), because a single item's slot counts are too small to model alone.
Handling times and patience are measured from the same visits: mean handling per item
and exponential patience by maximum likelihood from who was absent when called.
"""

from __future__ import annotations

import time as timer
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import local_today
from govloop.core.errors import BadRequest, NotFound
from govloop.hall.overview import HallLayoutInfo
from govloop.insight import demand
from govloop.insight.day_simulation import DaySimResult, simulate_day
from govloop.insight.erlang import estimate_patience
from govloop.insight.forecast import NotEnoughHistory, OpeningHours, forecast_arrivals
from govloop.insight.forecast_eval import backtest
from govloop.insight.models import StaffingTarget
from govloop.insight.queueing_types import ItemLoad, ServiceTarget, WindowSkill
from govloop.insight.service import HISTORY_DAYS, Scope, layout_of, visits_in
from govloop.insight.staffing import WeekPlan, check_with_simulation, classify_gaps
from govloop.insight.time_varying import plan_week_time_varying
from govloop.org import in_force
from govloop.org import service as org_service
from govloop.org.hours import Period
from govloop.org.models import Hall

BACKTEST_ORIGINS = 10
SHARE_WEEKS = 8  # weeks behind each item's share of a weekday-slot
SHARE_PSEUDO_DAYS = 3.0  # shrinkage of a weekday-slot share towards the item's overall share
MIN_HANDLED = 10  # served tickets behind a measured mean handling time
MAX_HORIZON_DAYS = 28
CHECKED_SLOTS = 3  # the busiest feasible slots are checked in the simulation on every plan
CHECK_MINUTES = 6000.0
CORRECTION_REPLICATIONS = 12  # simulated days behind each round of the plan's correction
CORRECTION_ROUNDS = 3  # a page answers in seconds: fewer rounds than the benchmark's
DAY_REPLICATIONS = 24  # simulated days behind the plan's figures (and the recommendations')
CACHED_PLANS = 16  # plans and simulated days are pure functions of their inputs: kept per process
DAY_SEED = 17  # the plan's check runs on other days than its correction


def _slot_bounds(period: Period) -> tuple[time, time]:
    """A period widened to whole 30-minute slots (08:45–17:15 plans 08:30–17:30)."""
    start = time(period.start.hour, period.start.minute - period.start.minute % 30)
    end_minutes = period.end.hour * 60 + period.end.minute
    end_minutes += (-end_minutes) % 30
    return start, time(min(end_minutes // 60, 23), end_minutes % 60)


def _weekly(span: in_force.HoursSpan) -> tuple[tuple[time, ...], ...]:
    weekdays = set(range(5)) | {d - 1 for d in span.weekend_days}
    periods = [_slot_bounds(p) for p in span.periods]
    return OpeningHours.from_periods(periods, weekdays).weekly


def opening_hours(session: Session, hall: Hall) -> OpeningHours:
    """The hall's slots per weekday with the hours in force on each day (a lunch break
    has no slots), its weekend service days, its own closures and extra working days."""
    spans = in_force.hours_spans(session, hall)
    return OpeningHours(
        _weekly(spans[0]),
        closed_dates=frozenset(date.fromisoformat(d) for d in hall.closed_days or []),
        extra_dates=frozenset(date.fromisoformat(d) for d in hall.extra_days or []),
        changes=tuple((s.valid_from, _weekly(s)) for s in spans[1:]),
    )


def slot_series(visits: pd.DataFrame) -> pd.Series:
    """Arrivals per slot, indexed by the slot's local start time."""
    if visits.empty:
        return pd.Series(dtype=float)
    counts = visits.groupby(["day", "slot"]).size()
    index = pd.DatetimeIndex(
        [
            datetime.combine(day, time(0)) + timedelta(minutes=int(slot) * 30)
            for day, slot in counts.index
        ]
    )
    return pd.Series(counts.to_numpy(dtype=float), index=index).sort_index()


def _history(session: Session, hall: Hall, today: date, scope: Scope) -> pd.DataFrame:
    return visits_in(
        session=session,
        hall=hall,
        start=today - timedelta(days=HISTORY_DAYS),
        end=today - timedelta(days=1),
        scope=scope,
    )


# --- forecast ------------------------------------------------------------------------------


def forecast_report(
    *,
    session: Session,
    hall_code: str,
    days: int = 14,
    scope: Scope = Scope(),
    today: date | None = None,
    with_backtest: bool = True,
) -> dict[str, Any]:
    if not 1 <= days <= MAX_HORIZON_DAYS:
        raise BadRequest(f"the forecast horizon must be 1 to {MAX_HORIZON_DAYS} days")
    hall = org_service.get_hall(session=session, code=hall_code)
    today = today or local_today()
    opening = opening_hours(session, hall)
    series = slot_series(_history(session, hall, today, scope))
    try:
        fc = forecast_arrivals(
            series, opening, today, days, observed_until=today - timedelta(days=1)
        )
    except NotEnoughHistory as exc:
        raise BadRequest(f"not enough history to forecast: {exc}") from exc
    result: dict[str, Any] = {
        "hall": {"code": hall.code, "name": hall.name},
        "scope": {"item": scope.item_code, "window": scope.window_number},
        "start": today.isoformat(),
        "days": [
            {
                "day": row.day.isoformat(),
                "open": bool(row.open),
                "reason": row.reason,
                "expected": round(float(row.expected), 1),
            }
            for row in fc.days.itertuples()
        ],
        "slots": {
            "start": [ts.isoformat(timespec="minutes") for ts in fc.frame["slot_start"]],
            "expected": [round(float(v), 2) for v in fc.frame["expected"]],
            "lower": [round(float(v), 2) for v in fc.frame["lower"]],
            "upper": [round(float(v), 2) for v in fc.frame["upper"]],
        },
        "interval": fc.interval,
        "effects": {k: round(v, 4) for k, v in fc.effects.items()},
        "notes": fc.notes,
        "history_days": int(series.index.normalize().nunique()) if len(series) else 0,
        "backtest": None,
    }
    if with_backtest:
        try:
            bt = backtest(series, opening, origins=BACKTEST_ORIGINS)
            result["backtest"] = {
                "origins": bt.origins,
                "slots": bt.slots_evaluated,
                "mase": round(bt.mase, 4),
                "mape": round(bt.mape, 2),
                "snaive_mase": round(bt.snaive_mase, 4),
                "snaive_mape": round(bt.snaive_mape, 2),
                "ratio": round(bt.mase / bt.snaive_mase, 4) if bt.snaive_mase else None,
                "seasonal_naive": bt.seasonal_naive,
            }
        except NotEnoughHistory as exc:
            result["backtest_note"] = str(exc)
    return result


# --- item profiles ---------------------------------------------------------------------------


@dataclass
class ItemProfile:
    code: str
    name: str
    mean_handling: float  # minutes
    handling_source: str  # measured | promised
    patience: float | None  # minutes; None: nobody leaves (not enough no-shows to tell)
    target: ServiceTarget


@dataclass
class HallModel:
    hall: Hall
    layout: HallLayoutInfo
    profiles: dict[int, ItemProfile]
    windows: list[WindowSkill]
    target: ServiceTarget
    notes: list[str] = field(default_factory=list)


def staffing_targets(
    *, session: Session, hall: Hall
) -> tuple[ServiceTarget, dict[int, ServiceTarget]]:
    rows = session.scalars(select(StaffingTarget).where(StaffingTarget.hall_id == hall.id))
    hall_target, per_item = ServiceTarget(), {}
    for row in rows:
        target = ServiceTarget(row.share, row.within_minutes)
        if row.item_id is None:
            hall_target = target
        else:
            per_item[row.item_id] = target
    return hall_target, per_item


def set_staffing_target(
    *,
    session: Session,
    hall_code: str,
    share: float,
    within_minutes: float,
    item_code: str | None = None,
    actor_id: int | None = None,
) -> StaffingTarget:
    if not 0.0 < share <= 1.0:
        raise BadRequest("the target share must be above 0 and at most 1 (e.g. 0.8)")
    if not 0.0 < within_minutes <= 480.0:
        raise BadRequest("the target time must be between 0 and 480 minutes")
    hall = org_service.get_hall(session=session, code=hall_code)
    item_id = None
    if item_code:
        layout = layout_of(session=session, hall=hall)
        item_id = next((i.id for i in layout.items.values() if i.code == item_code), None)
        if item_id is None:
            raise NotFound(f"this hall serves no item {item_code}")
    row = session.scalars(
        select(StaffingTarget).where(
            StaffingTarget.hall_id == hall.id,
            StaffingTarget.item_id.is_(None)
            if item_id is None
            else StaffingTarget.item_id == item_id,
        )
    ).first()
    if row is None:
        row = StaffingTarget(hall_id=hall.id, item_id=item_id)
        session.add(row)
    row.share, row.within_minutes, row.updated_by = share, within_minutes, actor_id
    session.flush()
    return row


def hall_model(*, session: Session, hall: Hall, visits: pd.DataFrame) -> HallModel:
    layout = layout_of(session=session, hall=hall)
    hall_target, item_targets = staffing_targets(session=session, hall=hall)
    notes: list[str] = []
    profiles: dict[int, ItemProfile] = {}
    for item in layout.items.values():
        mine = visits[visits["item_id"] == item.id]
        handled = mine["handle_s"].dropna()
        handled = handled[handled > 0]
        if len(handled) >= MIN_HANDLED:
            mean_handling, source = float(handled.mean()) / 60.0, "measured"
        else:
            mean_handling, source = float(item.promised_minutes), "promised"
        called = mine[mine["wait_s"].notna()]
        patience = estimate_patience(
            (called["wait_s"].astype(float) / 60.0).tolist(),
            called["no_show"].astype(bool).tolist(),
        )
        profiles[item.id] = ItemProfile(
            item.code,
            item.name,
            max(mean_handling, 0.5),
            source,
            patience,
            item_targets.get(item.id, hall_target),
        )
    if any(p.patience is None for p in profiles.values()):
        notes.append("patience_unknown_for_some_items")
    windows = [
        WindowSkill(
            str(w.number),
            None
            if w.is_general
            else frozenset(layout.items[i].code for i in w.item_ids if i in layout.items),
        )
        for w in layout.windows
        if w.active
    ]
    return HallModel(hall, layout, profiles, windows, hall_target, notes)


def item_shares(visits: pd.DataFrame, today: date) -> dict[tuple[int, int], dict[int, float]]:
    """(weekday, slot) → item id → share of the slot's arrivals, over the recent weeks."""
    recent = visits[visits["day"] >= today - timedelta(weeks=SHARE_WEEKS)]
    if recent.empty:
        return {}
    overall = recent.groupby("item_id").size()
    overall = overall / overall.sum()
    frame = recent.assign(weekday=[d.weekday() for d in recent["day"]])
    counts = frame.groupby(["weekday", "slot", "item_id"]).size()
    totals = frame.groupby(["weekday", "slot"]).size()
    out: dict[tuple[int, int], dict[int, float]] = {}
    for (weekday, slot), total in totals.items():
        cell = counts.loc[(weekday, slot)]
        shares = {
            int(i): (float(cell.get(i, 0.0)) + SHARE_PSEUDO_DAYS * float(p))
            / (float(total) + SHARE_PSEUDO_DAYS)
            for i, p in overall.items()
        }
        out[(int(weekday), int(slot))] = shares
    return out


# --- staffing ----------------------------------------------------------------------------------


@dataclass
class StaffingResult:
    model: HallModel
    week_start: date
    loads: dict[datetime, list[ItemLoad]]
    plan: WeekPlan
    scheduled: dict[datetime, int]
    seconds: float
    forecast_notes: list[str]
    windows_on: dict[date, list[WindowSkill]] = field(default_factory=dict)
    _days: dict[date, DaySimResult] = field(default_factory=dict)

    def windows(self, day: date) -> list[WindowSkill]:
        return self.windows_on.get(day, self.model.windows)

    def day_simulation(self, day: date) -> DaySimResult:
        """The whole day simulated with the plan's schedule: the one model behind the plan's
        figures on the staffing page and the recommendations' "after" figures."""
        if day not in self._days:
            self._days[day] = simulate_schedule(self, day, self.plan.schedule)
        return self._days[day]


def simulate_schedule(
    result: StaffingResult,
    day: date,
    schedule: Mapping[datetime, Sequence[str]],
    loads: Mapping[datetime, list[ItemLoad]] | None = None,
    windows: Sequence[WindowSkill] | None = None,
) -> DaySimResult:
    """A day of ``loads`` (the forecast by default) with ``schedule``'s windows open."""
    loads = result.loads if loads is None else loads
    return _simulated_day(
        tuple((s, tuple(loads[s])) for s in sorted(loads) if s.date() == day),
        tuple((s, tuple(schedule.get(s, ()))) for s in sorted(loads) if s.date() == day),
        tuple(result.windows(day) if windows is None else windows),
        result.model.target,
    )


@lru_cache(maxsize=CACHED_PLANS * 8)
def _simulated_day(
    slots: tuple[tuple[datetime, tuple[ItemLoad, ...]], ...],
    schedule: tuple[tuple[datetime, tuple[str, ...]], ...],
    windows: tuple[WindowSkill, ...],
    target: ServiceTarget,
) -> DaySimResult:
    return simulate_day(
        dict(slots), dict(schedule), windows, target, replications=DAY_REPLICATIONS, seed=DAY_SEED
    )


def _settled(load: ItemLoad) -> ItemLoad:
    """The load to 9 significant digits: the measured means are sums in whatever order the
    database returns rows, so their last digits differ between requests, and the cached
    plans and simulated days (keyed by the loads) would never be found again."""
    return replace(
        load,
        arrival_rate=float(f"{load.arrival_rate:.9g}"),
        mean_handling=float(f"{load.mean_handling:.9g}"),
        mean_patience=None if load.mean_patience is None else float(f"{load.mean_patience:.9g}"),
    )


@lru_cache(maxsize=CACHED_PLANS)
def _time_varying_plan(
    loads: tuple[tuple[datetime, tuple[ItemLoad, ...]], ...],
    windows: tuple[WindowSkill, ...],
    target: ServiceTarget,
    windows_on: tuple[tuple[date, tuple[WindowSkill, ...]], ...],
) -> WeekPlan:
    return plan_week_time_varying(
        dict(loads),
        windows,
        target,
        windows_on=dict(windows_on),
        replications=CORRECTION_REPLICATIONS,
        rounds=CORRECTION_ROUNDS,
    )


def windows_in_force(
    session: Session, model: HallModel, days: list[date]
) -> dict[date, list[WindowSkill]]:
    """The windows on each day where they differ from today's: scheduled and past changes
    of a window's type, items or archiving, as recorded in the configuration's versions."""
    spans = in_force.window_spans(session, model.hall.code)
    if not spans:
        return {}
    today_ = {w.code: w for w in model.windows}
    known = {item.code for item in model.layout.items.values()}
    out: dict[date, list[WindowSkill]] = {}
    for day in days:
        skills = dict(today_)
        for key, versions in spans.items():
            code = key.rsplit("/", 1)[1]
            state = in_force.state_on(versions, day)
            if state is None or not state.get("active", True):
                skills.pop(code, None)
            else:
                general = state.get("is_general")
                items = None if general else frozenset(c for c in state["items"] if c in known)
                skills[code] = WindowSkill(code, items)
        windows = [skills[c] for c in sorted(skills, key=_window_order)]
        if set(windows) != set(model.windows):
            out[day] = windows
    return out


def _window_order(code: str) -> tuple[int, str]:
    return (int(code), code) if code.isdigit() else (10**9, code)


def week_loads(
    *, session: Session, hall: Hall, week_start: date, today: date
) -> tuple[HallModel, dict[datetime, list[ItemLoad]], list[str], pd.DataFrame]:
    visits = _history(session, hall, today, Scope())
    model = hall_model(session=session, hall=hall, visits=visits)
    days = (week_start - today).days + 7
    if days > MAX_HORIZON_DAYS:
        raise BadRequest(f"staffing can be planned at most {MAX_HORIZON_DAYS} days ahead")
    try:
        fc = forecast_arrivals(
            slot_series(visits),
            opening_hours(session, hall),
            today,
            days,
            observed_until=today - timedelta(days=1),
        )
    except NotEnoughHistory as exc:
        raise BadRequest(f"not enough history to plan staffing: {exc}") from exc
    shares = item_shares(visits, today)
    loads: dict[datetime, list[ItemLoad]] = {}
    for row in fc.frame.itertuples():
        start = row.slot_start.to_pydatetime()
        if start.date() < week_start or row.expected <= 0:
            continue
        slot = (start.hour * 60 + start.minute) // 30
        cell = shares.get((start.weekday(), slot))
        if not cell:
            continue
        loads[start] = [
            ItemLoad(
                profile.code,
                float(row.expected) * cell.get(item_id, 0.0) / 30.0,
                profile.mean_handling,
                profile.patience,
                profile.target,
            )
            for item_id, profile in model.profiles.items()
            if cell.get(item_id, 0.0) > 0
        ]
    return model, loads, fc.notes, visits


def scheduled_windows(
    visits: pd.DataFrame, slots: list[datetime], today: date
) -> dict[datetime, int]:
    """Windows that usually serve in each weekday-slot: the median over the recent weeks."""
    recent = visits[(visits["day"] >= today - timedelta(weeks=4)) & visits["window_id"].notna()]
    if recent.empty:
        return dict.fromkeys(slots, 0)
    per_day = recent.groupby(["day", "slot"])["window_id"].nunique().reset_index()
    per_day["weekday"] = [d.weekday() for d in per_day["day"]]
    typical = per_day.groupby(["weekday", "slot"])["window_id"].median()
    out = {}
    for start in slots:
        key = (start.weekday(), (start.hour * 60 + start.minute) // 30)
        out[start] = round(float(typical.get(key, 0.0)))
    return out


def staffing(
    *, session: Session, hall_code: str, week_start: date | None = None, today: date | None = None
) -> StaffingResult:
    hall = org_service.get_hall(session=session, code=hall_code)
    today = today or local_today()
    week_start = week_start or today + timedelta(days=(7 - today.weekday()) % 7)
    if week_start < today:
        raise BadRequest("staffing is planned for today or later")
    model, loads, notes, visits = week_loads(
        session=session, hall=hall, week_start=week_start, today=today
    )
    loads = {slot: [_settled(load) for load in items] for slot, items in loads.items()}
    windows_on = windows_in_force(
        session, model, [week_start + timedelta(days=n) for n in range(7)]
    )
    started = timer.perf_counter()
    plan = _time_varying_plan(
        tuple((s, tuple(v)) for s, v in sorted(loads.items())),
        tuple(model.windows),
        model.target,
        tuple((d, tuple(ws)) for d, ws in sorted(windows_on.items())),
    )
    seconds = timer.perf_counter() - started
    scheduled = scheduled_windows(visits, sorted(loads), today)
    return StaffingResult(model, week_start, loads, plan, scheduled, seconds, notes, windows_on)


def staffing_report(result: StaffingResult) -> dict[str, Any]:
    plan = result.plan
    gaps = classify_gaps(plan.required, result.scheduled)
    days: dict[str, list[dict[str, Any]]] = {}
    for start in sorted(plan.slots):
        slot_plan = plan.slots[start]
        days.setdefault(start.date().isoformat(), []).append(
            {
                "slot": start.strftime("%H:%M"),
                "arrivals": round(sum(ld.arrival_rate for ld in result.loads[start]) * 30, 1),
                "required": plan.required[start],
                "scheduled": result.scheduled.get(start, 0),
                "open_windows": list(plan.schedule.get(start, ())),
                "feasible": slot_plan.feasible,
                "explanation": slot_plan.explanation,
                "shortfalls": [
                    {
                        "item": f.item,
                        "service_level": round(float(f.service_level), 3),
                        "share": f.target.share,
                        "within": f.target.within_minutes,
                    }
                    for f in sorted(slot_plan.shortfalls, key=lambda f: f.service_level)
                ],
                "worst_item": _worst(slot_plan),
            }
        )
    return {
        "hall": {"code": result.model.hall.code, "name": result.model.hall.name},
        "week_start": result.week_start.isoformat(),
        "target": {
            "share": result.model.target.share,
            "within_minutes": result.model.target.within_minutes,
        },
        "items": [
            {
                "code": p.code,
                "name": p.name,
                "mean_handling": round(p.mean_handling, 1),
                "handling_source": p.handling_source,
                "patience": None if p.patience is None else round(p.patience, 1),
                "target_share": p.target.share,
                "target_within": p.target.within_minutes,
            }
            for p in result.model.profiles.values()
        ],
        "windows": _skills(result.model.windows),
        # days whose windows differ from today's (a scheduled or recorded change)
        "windows_on": {day.isoformat(): _skills(ws) for day, ws in result.windows_on.items()},
        "days": days,
        "shifts": [
            {
                "window": s.window,
                "start": s.start.isoformat(timespec="minutes"),
                "end": s.end.isoformat(timespec="minutes"),
            }
            for s in plan.shifts
        ],
        "gaps": [
            {
                "slot": g.slot.isoformat(timespec="minutes"),
                "required": g.required,
                "scheduled": g.scheduled,
                "missing": g.missing,
                "kind": g.kind,
                "suggestion": g.suggestion,
            }
            for g in gaps
        ],
        "infeasible": [s.isoformat(timespec="minutes") for s in plan.infeasible],
        "seconds": round(result.seconds, 3),
        "day_simulation": day_simulation_report(result),
        "simulation_checks": simulation_checks(result),
        "notes": result.model.notes + result.forecast_notes,
    }


def day_simulation_report(result: StaffingResult) -> dict[str, Any]:
    """Each half-day of the plan in the whole-day simulation, and the week's share of
    slot-items meeting their target."""
    halves = []
    met = total = 0
    for day in sorted({s.date() for s in result.loads}):
        sim = result.day_simulation(day)
        met += sum(v.met for v in sim.levels.values())
        total += len(sim.levels)
        for half, slots in half_days(result, day).items():
            wait, level, arrivals = sim.outcome(slots)
            halves.append(
                {
                    "day": day.isoformat(),
                    "half": half,
                    "service_level": round(level, 3),
                    "mean_wait": round(wait, 1),
                    "arrivals": round(arrivals, 1),
                }
            )
    return {
        "target_met": round(met / total, 3) if total else None,
        "slot_items": total,
        "replications": DAY_REPLICATIONS,
        "half_days": halves,
    }


def half_days(result: StaffingResult, day: date) -> dict[str, list[datetime]]:
    """A day's slots split into morning (before noon) and afternoon."""
    out: dict[str, list[datetime]] = {}
    for start in sorted(s for s in result.loads if s.date() == day):
        out.setdefault("am" if start.hour < 12 else "pm", []).append(start)
    return out


def simulation_checks(result: StaffingResult) -> list[dict[str, Any]]:
    """The plan of the busiest feasible slots, simulated in SimPy on the same inputs."""
    plan = result.plan
    feasible = [s for s in plan.slots if plan.slots[s].feasible and result.loads.get(s)]
    busiest = sorted(feasible, key=lambda s: -sum(ld.arrival_rate for ld in result.loads[s]))[
        :CHECKED_SLOTS
    ]
    out = []
    for start in sorted(busiest):
        check = check_with_simulation(
            plan.slots[start],
            result.loads[start],
            result.windows(start.date()),
            result.model.target,
            minutes=CHECK_MINUTES,
        )
        worst = min(check.items.values(), key=lambda c: c.simulated - c.target.share)
        out.append(
            {
                "slot": start.isoformat(timespec="minutes"),
                "all_met": check.all_met,
                "worst_item": worst.code,
                "predicted": round(float(worst.predicted), 3),
                "simulated": round(float(worst.simulated), 3),
                "target": worst.target.share,
                "minutes": check.minutes,
            }
        )
    return out


def _skills(windows: list[WindowSkill]) -> list[dict[str, Any]]:
    return [
        {"code": w.code, "items": None if w.items is None else sorted(w.items)} for w in windows
    ]


def _worst(slot_plan: Any) -> dict[str, Any] | None:
    if not slot_plan.items:
        return None
    worst = min(slot_plan.items.values(), key=lambda f: f.service_level - f.target.share)
    return {
        "item": worst.code,
        "erlang_a": round(float(worst.service_level), 3),
        "erlang_c": round(float(worst.service_level_erlang_c), 3),
        "target": worst.target.share,
    }


# --- best time to come (a citizen page) ------------------------------------------------------


def best_times(
    *, session: Session, hall_code: str, today: date | None = None, top: int = 3
) -> dict[str, Any]:
    """Per item and weekday, the slots with the shortest waits of the recent weeks."""
    hall = org_service.get_hall(session=session, code=hall_code)
    today = today or local_today()
    visits = visits_in(
        session=session,
        hall=hall,
        start=today - timedelta(weeks=SHARE_WEEKS),
        end=today - timedelta(days=1),
    )
    layout = layout_of(session=session, hall=hall)
    called = visits[visits["wait_s"].notna()]
    items = []
    for item in sorted(layout.items.values(), key=lambda i: i.code):
        mine = called[called["item_id"] == item.id]
        if len(mine) < 20:
            items.append(
                {
                    "code": item.code,
                    "name": item.name,
                    "department": item.department,
                    "weekdays": [],
                    "enough_data": False,
                }
            )
            continue
        frame = mine.assign(weekday=[d.weekday() for d in mine["day"]])
        stats = frame.groupby(["weekday", "slot"])["wait_s"].agg(["median", "size"]).reset_index()
        stats = stats[stats["size"] >= 3]
        weekdays = []
        for weekday, group in stats.groupby("weekday"):
            best = group.sort_values(["median", "slot"]).head(top)
            busiest = group.sort_values(["median", "slot"], ascending=[False, True]).head(1)
            weekdays.append(
                {
                    "weekday": int(weekday),
                    "best": [
                        {
                            "slot": demand.slot_label(int(r.slot)),
                            "median_wait_min": round(float(r.median) / 60, 0),
                        }
                        for r in best.itertuples()
                    ],
                    "busiest": [
                        {
                            "slot": demand.slot_label(int(r.slot)),
                            "median_wait_min": round(float(r.median) / 60, 0),
                        }
                        for r in busiest.itertuples()
                    ],
                }
            )
        items.append(
            {
                "code": item.code,
                "name": item.name,
                "department": item.department,
                "weekdays": weekdays,
                "enough_data": True,
            }
        )
    return {
        "hall": {"code": hall.code, "name": hall.name},
        "weeks": SHARE_WEEKS,
        "items": items,
        "as_of": (today - timedelta(days=1)).isoformat(),
    }


def median_or_none(values: np.ndarray) -> float | None:
    return float(np.median(values)) if len(values) else None
