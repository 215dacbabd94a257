"""Ranked recommendations, each with its expected effect from the whole-day simulation.

Every candidate change is simulated over the whole day of next week's busiest half-day (the
forecast rates slot by slot, queues carried across slots, ``day_simulation``), against the
same day with the windows usually open, and judged on that half-day's citizens. The
effect is the change in mean wait and in the share called within the target, over the
same replications the staffing plan is checked with; opening windows means the plan's
schedule, so its "after" figure is the staffing page's figure for that half-day.
Candidates are ranked by citizen-minutes of waiting saved per week.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from govloop.insight.planning.service import (
    DAY_REPLICATIONS,
    StaffingResult,
    simulate_schedule,
    staffing,
)
from govloop.insight.queueing_types import ItemLoad, WindowSkill
from govloop.insight.simulation import simulate_hall
from govloop.insight.staffing import RECURRING, classify_gaps

REPLICATIONS = DAY_REPLICATIONS
SELF_SERVICE_SHARE = 0.3  # share of an item's citizens a self-service terminal can take
SELF_SERVICE_MAX_HANDLING = 12.0  # minutes: longer matters rarely suit a terminal
SHIFT_SHARE = 0.15  # share of peak citizens a published "best time" moves to quiet slots
TOP_ITEMS = 3


@dataclass
class Period:
    day: date
    half: str  # am | pm
    slots: list[datetime]
    loads: list[ItemLoad]  # rates averaged over the period
    minutes: float
    usual_windows: int


@dataclass(frozen=True)
class Outcome:
    mean_wait: float  # minutes, served citizens
    service_level: float
    arrivals: float


def _periods(result: StaffingResult) -> list[Period]:
    by_half: dict[tuple[date, str], list[datetime]] = defaultdict(list)
    for start in result.loads:
        by_half[(start.date(), "am" if start.hour < 12 else "pm")].append(start)
    periods = []
    for (day, half), slots in sorted(by_half.items()):
        rates: dict[str, list[float]] = defaultdict(list)
        template: dict[str, ItemLoad] = {}
        for start in slots:
            for load in result.loads[start]:
                rates[load.code].append(load.arrival_rate)
                template[load.code] = load
        loads = [
            ItemLoad(
                code,
                float(np.sum(values)) / len(slots),
                template[code].mean_handling,
                template[code].mean_patience,
                template[code].target,
            )
            for code, values in rates.items()
        ]
        usual = int(np.median([result.scheduled.get(s, 0) for s in slots])) if slots else 0
        periods.append(Period(day, half, sorted(slots), loads, 30.0 * len(slots), usual))
    return periods


def _outcome(
    result: StaffingResult,
    period: Period,
    schedule: dict[datetime, tuple[str, ...]],
    change: Callable[[ItemLoad], ItemLoad] | None = None,
    windows: Sequence[WindowSkill] | None = None,
    only_slots: set[datetime] | None = None,
) -> Outcome:
    """The period's citizens in the simulation of its whole day; ``change`` alters the
    forecast loads (in ``only_slots``, or all day)."""
    loads = result.loads
    if change is not None:
        loads = {
            s: [change(ld) for ld in v] if only_slots is None or s in only_slots else list(v)
            for s, v in loads.items()
            if s.date() == period.day
        }
    sim = simulate_schedule(result, period.day, schedule, loads, windows)
    wait, level, arrivals = sim.outcome(period.slots)
    return Outcome(wait, level, arrivals)


def _scaled(codes: set[str] | None, share: float) -> Callable[[ItemLoad], ItemLoad]:
    """Loads with ``share`` of the citizens of ``codes`` (all items: None) taken away."""

    def change(load: ItemLoad) -> ItemLoad:
        if codes is not None and load.code not in codes:
            return load
        return replace(load, arrival_rate=load.arrival_rate * (1 - share))

    return change


def _usual(windows: Sequence[WindowSkill], count: int) -> list[WindowSkill]:
    """The windows usually open: specialised first, general windows last."""
    ordered = sorted(windows, key=lambda w: (w.is_general, int(w.code) if w.code.isdigit() else 0))
    return ordered[: max(count, 1)]


def _usual_schedule(result: StaffingResult, day: date) -> dict[datetime, tuple[str, ...]]:
    """The windows usually open in each slot of ``day`` (the median count per weekday-slot)."""
    return {
        s: tuple(w.code for w in _usual(result.windows(day), result.scheduled.get(s, 0)))
        for s in result.loads
        if s.date() == day
    }


def _effect(before: Outcome, after: Outcome, weekly_citizens: float) -> dict[str, Any]:
    saved = (before.mean_wait - after.mean_wait) * weekly_citizens
    return {
        "mean_wait_before": round(before.mean_wait, 1),
        "mean_wait_after": round(after.mean_wait, 1),
        "service_level_before": round(before.service_level, 3),
        "service_level_after": round(after.service_level, 3),
        "citizen_minutes_saved_per_week": round(saved, 0),
    }


def recommendations(
    *, session: Session, hall_code: str, today: date | None = None
) -> dict[str, Any]:
    result = staffing(session=session, hall_code=hall_code, today=today)
    model = result.model
    target = model.target
    periods = _periods(result)
    if not periods:
        return {
            "hall": {"code": model.hall.code, "name": model.hall.name},
            "items": [],
            "period": None,
        }
    peak = max(periods, key=lambda p: sum(ld.arrival_rate for ld in p.loads))
    weekly = {p.half: 0.0 for p in periods}
    for p in periods:
        weekly[p.half] += sum(ld.arrival_rate for ld in p.loads) * p.minutes
    peak_citizens = sum(
        sum(ld.arrival_rate for ld in p.loads) * p.minutes for p in periods if p.half == peak.half
    )
    usual = _usual(result.windows(peak.day), peak.usual_windows)
    usual_schedule = _usual_schedule(result, peak.day)
    base = _outcome(result, peak, usual_schedule)
    out: list[dict[str, Any]] = []

    # 1. open windows where the plan needs more than usually open
    gaps = classify_gaps(result.plan.required, result.scheduled)
    peak_gaps = [g for g in gaps if g.slot in set(peak.slots)]
    if peak_gaps:
        extra = max(g.missing for g in peak_gaps)
        # the plan's own schedule, simulated as on the staffing page
        wait, level, arrivals = result.day_simulation(peak.day).outcome(peak.slots)
        after = Outcome(wait, level, arrivals)
        recurring = any(g.kind == RECURRING for g in peak_gaps)
        out.append(
            {
                "kind": "open_windows",
                "title": f"open {extra} more window(s) in the {peak.half} peak",
                "windows": extra,
                "half": peak.half,
                "slots": sorted({g.slot.strftime("%H:%M") for g in peak_gaps}),
                "weekdays": sorted({g.slot.weekday() for g in gaps if g.kind == RECURRING}),
                "permanent": recurring,
                "effect": _effect(base, after, peak_citizens),
                "indicators": ["wait_mean", "served_within_20"],
            }
        )

    # 2. self-service terminals for short, frequent matters
    candidates = sorted(
        (ld for ld in peak.loads if ld.mean_handling <= SELF_SERVICE_MAX_HANDLING),
        key=lambda ld: -ld.arrival_rate,
    )[:TOP_ITEMS]
    for load in candidates:
        after = _outcome(result, peak, usual_schedule, _scaled({load.code}, SELF_SERVICE_SHARE))
        out.append(
            {
                "kind": "self_service",
                "title": f"move {SELF_SERVICE_SHARE:.0%} of {load.code} to self-service",
                "items": [load.code],
                "share": SELF_SERVICE_SHARE,
                "effect": _effect(base, after, peak_citizens),
                "indicators": ["wait_mean", "served_within_20"],
            }
        )

    # 3. publish the best time to come, and 4. appointment quotas for the quiet slots
    peak_slots = set(peak.slots)
    after = _outcome(
        result, peak, usual_schedule, _scaled(None, SHIFT_SHARE), only_slots=peak_slots
    )
    quiet = sorted(periods, key=lambda p: sum(ld.arrival_rate for ld in p.loads))[:3]
    out.append(
        {
            "kind": "best_time",
            "title": f"publish the best time to come ({SHIFT_SHARE:.0%} of peak citizens move)",
            "share": SHIFT_SHARE,
            "quiet_periods": [f"{p.day.isoformat()} {p.half}" for p in quiet],
            "effect": _effect(base, after, peak_citizens),
            "indicators": ["wait_mean", "wait_p90"],
        }
    )
    moved_per_period = sum(ld.arrival_rate for ld in peak.loads) * peak.minutes * SHIFT_SHARE
    out.append(
        {
            "kind": "appointment_quota",
            "title": "appointment quota in the quiet periods for citizens moved from the peak",
            "quota_per_period": round(moved_per_period),
            "quiet_periods": [f"{p.day.isoformat()} {p.half}" for p in quiet],
            "effect": _effect(base, after, peak_citizens),
            "indicators": ["wait_mean", "appointment_punctuality"],
        }
    )

    # 5. cross-training: give the least-busy specialised window the item that waits longest
    sim_base = simulate_hall(peak.loads, usual, minutes=peak.minutes, seed=5, target=target)
    waits = {c: s.mean_wait_served for c, s in sim_base.items.items() if s.served}
    special = [w for w in usual if not w.is_general and w.items is not None]
    if waits and special:
        slow_item = max(waits, key=lambda c: waits[c])
        idle = min(special, key=lambda w: sim_base.utilization.get(w.code, 1.0))
        if idle.items is not None and slow_item not in idle.items:
            retrained = [
                WindowSkill(w.code, w.items | {slow_item}) if w.code == idle.code and w.items else w
                for w in result.windows(peak.day)
            ]
            after = _outcome(result, peak, usual_schedule, windows=retrained)
            out.append(
                {
                    "kind": "cross_train",
                    "title": f"train window {idle.code} staff for {slow_item}",
                    "items": [slow_item],
                    "windows": [idle.code],
                    "effect": _effect(base, after, peak_citizens),
                    "indicators": ["wait_mean", "window_utilization"],
                }
            )

    # a change that does not shorten waits in the simulation is not recommended
    dropped = [r for r in out if r["effect"]["citizen_minutes_saved_per_week"] <= 0]
    out = [r for r in out if r["effect"]["citizen_minutes_saved_per_week"] > 0]
    out.sort(key=lambda r: -r["effect"]["citizen_minutes_saved_per_week"])
    for rank, rec in enumerate(out, 1):
        rec["rank"] = rank
    return {
        "hall": {"code": model.hall.code, "name": model.hall.name},
        "period": {
            "day": peak.day.isoformat(),
            "half": peak.half,
            "minutes": peak.minutes,
            "usual_windows": peak.usual_windows,
            "arrivals_per_hour": round(sum(ld.arrival_rate for ld in peak.loads) * 60, 1),
        },
        "baseline": {
            "mean_wait": round(base.mean_wait, 1),
            "service_level": round(base.service_level, 3),
        },
        "replications": REPLICATIONS,
        "items": out,
        "not_recommended": [r["title"] for r in dropped],
    }
