"""Staffing for a hall whose arrivals change through the day, checked on the whole day.

Per-slot Erlang formulas assume each half hour is a steady state. A short peak never
reaches that state (its queue has no time to build), and the load of the 09:00 peak is
still in the hall at 09:30. Two steps:

1. Modified offered load (Feldman, Mandelbaum, Massey & Whitt 2008, "Staffing of
   time-varying queues to achieve time-stable performance"): the load in service in an
   infinite-server hall, m(t) = ∫ λ(u) P(S > t − u) du. With exponential handling of mean h
   it solves dm/dt = λ(t) − m/h, so with slot rates held constant
   m(t₀ + s) = λh + (m(t₀) − λh)·e^(−s/h). Each slot is then staffed by the steady-state
   search (``staffing.plan_slot``, Erlang A or C with multi-skill pools) on the slot's mean
   m(t) per item, i.e. at the effective rate m̄/h. A day starts with m = 0, and m decays
   over the lunch break (no arrivals, nobody served).
2. Simulation-based correction (``correct``): the whole day is simulated with the plan
   (``day_simulation.simulate_day``); in a slot where an item falls short of its target by
   more than ``tolerance`` standard errors, one window serving the missing items is added
   (in the slot before when all are already open there, since the queue was built then),
   until no slot-item is short or ``rounds`` is spent. Then, once, one window is removed
   from every slot with clear room to spare (every item above target by two standard
   errors and ``SPARE``); a removal after which any slot-item of that slot or the next
   falls short at all (no tolerance) is put back, and the adding rounds run again.

Measured in ``bench_queueing`` (``day_sim_methods``): the modified offered load does most
of the work; the correction buys a little more at a few per cent more window-slots, and
with no tolerance it chased its own simulation noise.

A slot is infeasible only when the whole-day simulation still misses a target there (with
every window of the hall open: ``UNREACHABLE``) — not because a steady-state formula says so.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from govloop.insight.day_simulation import DaySimResult, SlotItemLevel, simulate_day
from govloop.insight.erlang import Model
from govloop.insight.queueing_types import DEFAULT_TARGET, ItemLoad, ServiceTarget, WindowSkill
from govloop.insight.staffing import (
    PLANNING_MARGIN,
    UNREACHABLE,
    Shortfall,
    SlotPlan,
    WeekPlan,
    plan_slot,
    week_schedule,
)

ROUNDS = 12  # correction rounds per day
TOLERANCE = 1.0  # standard errors a simulated level may fall short before a window is added
REPLICATIONS = 60  # simulated days behind each correction round
MISSED_IN_DAY_SIMULATION = "missed_in_day_simulation"  # correction rounds ran out
SPARE = 0.05  # a slot gives up a window only if every item beats its target by this much


def modified_offered_loads(
    slots: Mapping[datetime, Sequence[ItemLoad]], slot_minutes: float = 30.0
) -> dict[datetime, list[ItemLoad]]:
    """Each slot's items at the effective rate m̄/h: the slot's mean modified offered load."""
    out: dict[datetime, list[ItemLoad]] = {}
    handling = {item.code: item.mean_handling for loads in slots.values() for item in loads}
    load: dict[str, float] = {}  # m(t) per item at the end of the previous slot
    previous: datetime | None = None
    for start in sorted(slots):
        if previous is None or previous.date() != start.date():
            load = {}  # the hall opens empty
        else:
            closed = (start - previous).total_seconds() / 60.0 - slot_minutes
            if closed > 0:  # a break: no arrivals, the load in the hall runs down
                load = {c: m * math.exp(-closed / handling[c]) for c, m in load.items()}
        items = []
        for item in slots[start]:
            h = item.mean_handling
            steady = item.arrival_rate * h
            m0 = load.get(item.code, 0.0)
            decay = math.exp(-slot_minutes / h)
            mean = steady + (m0 - steady) * h / slot_minutes * (1.0 - decay)
            load[item.code] = steady + (m0 - steady) * decay
            items.append(replace(item, arrival_rate=max(0.0, mean) / h))
        seen = {item.code for item in slots[start]}
        for code in [c for c in load if c not in seen]:  # items with no demand this slot
            load[code] = load[code] * math.exp(-slot_minutes / handling[code])
        out[start] = items
        previous = start
    return out


def plan_week_time_varying(
    slots: Mapping[datetime, Sequence[ItemLoad]],
    windows: Sequence[WindowSkill],
    target: ServiceTarget = DEFAULT_TARGET,
    slot_minutes: float = 30.0,
    model: Model = "erlang_a",
    fill_gaps_up_to: int = 1,
    margin: float = PLANNING_MARGIN,
    windows_on: Mapping[date, Sequence[WindowSkill]] | None = None,
    correct: bool = True,
    replications: int = REPLICATIONS,
    seed: int = 2024,
    rounds: int = ROUNDS,
    tolerance: float = TOLERANCE,
) -> WeekPlan:
    """MOL staffing per slot, corrected by whole-day simulation (see the module docs)."""
    on_day = windows_on or {}
    mol = modified_offered_loads(slots, slot_minutes)
    plans = {
        start: plan_slot(
            mol[start], on_day.get(start.date(), windows), target, slot_minutes, model, margin
        )
        for start in sorted(slots)
    }
    if correct:
        by_day: dict[date, list[datetime]] = defaultdict(list)
        for start in plans:
            by_day[start.date()].append(start)
        for day, starts in sorted(by_day.items()):
            day_windows = on_day.get(day, windows)
            day_slots = {s: slots[s] for s in starts}
            fixed = correct_day(
                {s: plans[s] for s in starts},
                day_slots,
                day_windows,
                target,
                slot_minutes,
                replications,
                seed + day.toordinal() % 100_000,
                rounds,
                tolerance,
            )
            plans.update(fixed)
    return week_schedule(plans, windows, slot_minutes, fill_gaps_up_to, on_day)


def correct_day(
    plans: Mapping[datetime, SlotPlan],
    slots: Mapping[datetime, Sequence[ItemLoad]],
    windows: Sequence[WindowSkill],
    target: ServiceTarget,
    slot_minutes: float = 30.0,
    replications: int = REPLICATIONS,
    seed: int = 2024,
    rounds: int = ROUNDS,
    tolerance: float = TOLERANCE,
) -> dict[datetime, SlotPlan]:
    """One day's slot plans with windows added where the whole-day simulation misses a
    target and removed where it has room to spare; feasibility from the simulation."""
    starts = sorted(plans)
    opened = {s: set(plans[s].open_windows) for s in starts}
    added = dict.fromkeys(starts, 0)

    def run() -> DaySimResult:
        return simulate_day(slots, opened, windows, target, slot_minutes, replications, seed)

    def add_windows(result: DaySimResult, rounds: int) -> DaySimResult:
        for _ in range(rounds):
            missing = _missing(result, tolerance)
            changed = False
            for start in sorted({m.slot for m in missing}):
                codes = {m.item for m in missing if m.slot == start}
                for candidate in _earlier(starts, start, slot_minutes):
                    window = _window_to_add(windows, opened[candidate], codes)
                    if window is not None:
                        opened[candidate].add(window)
                        added[candidate] += 1
                        changed = True
                        break
            if not changed:
                break  # nothing missing, or every window serving it is already open
            result = run()
        return result

    result = add_windows(run(), rounds)
    before = {m.slot for m in _missing(result, 0.0)}
    removed = _trim(starts, opened, slots, windows, result)
    if removed:
        trimmed = run()
        # a removal must not make any slot-item fall short, even within the noise
        late = {m.slot for m in _missing(trimmed, 0.0)} - before
        for start, window in removed.items():
            following = start + timedelta(minutes=slot_minutes)
            if start in late or following in late:
                opened[start].add(window)  # the window was needed after all
            else:
                added[start] -= 1
        result = add_windows(run() if late else trimmed, rounds)
    short = _missing(result, tolerance)
    return {s: _updated(plans[s], opened[s], added[s], short, windows, s) for s in starts}


def _missing(result: DaySimResult, tolerance: float) -> list[SlotItemLevel]:
    """Slot-items short of target by more than ``tolerance`` standard errors."""
    return [
        v
        for v in result.levels.values()
        if v.service_level + tolerance * _se(v.service_level_se) < v.target.share - 1e-12
    ]


def _earlier(starts: Sequence[datetime], start: datetime, slot_minutes: float) -> list[datetime]:
    """The slot itself, then the slot just before it if back to back."""
    out = [start]
    before = start - timedelta(minutes=slot_minutes)
    if before in starts:
        out.append(before)
    return out


def _window_to_add(windows: Sequence[WindowSkill], opened: set[str], codes: set[str]) -> str | None:
    """The closed window serving the most of the missing items, specialised first."""
    options = [
        (sum(w.serves(c) for c in codes), not w.is_general, w.code)
        for w in windows
        if w.code not in opened
    ]
    options = [o for o in options if o[0] > 0]
    if not options:
        return None
    best = max(options, key=lambda o: (o[0], o[1]))
    return best[2]


def _trim(
    starts: Sequence[datetime],
    opened: dict[datetime, set[str]],
    slots: Mapping[datetime, Sequence[ItemLoad]],
    windows: Sequence[WindowSkill],
    result: DaySimResult,
) -> dict[datetime, str]:
    """Remove one window from each slot with room to spare; returns what was removed."""
    removed = {}
    by_code = {w.code: w for w in windows}
    for start in starts:
        levels = [v for (s, _), v in result.levels.items() if s == start]
        if not levels or not opened[start]:
            continue
        if not all(
            v.service_level - 2 * _se(v.service_level_se) >= v.target.share + SPARE for v in levels
        ):
            continue
        demand = [ld.code for ld in slots[start] if ld.arrival_rate > 0]
        # the window whose items need it least: general last, then fewest items served
        for code in sorted(
            opened[start],
            key=lambda c: (by_code[c].is_general, -len(by_code[c].items or ()), c),
            reverse=True,
        ):
            rest = opened[start] - {code}
            if all(any(by_code[o].serves(item) for o in rest) for item in demand):
                opened[start] = rest
                removed[start] = code
                break
    return removed


def _se(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def _updated(
    plan: SlotPlan,
    opened: set[str],
    added: int,
    missing: Sequence[SlotItemLevel],
    windows: Sequence[WindowSkill],
    start: datetime,
) -> SlotPlan:
    short = [v for v in missing if v.slot == start]
    every = {w.code for w in windows} <= opened
    codes = tuple(sorted(opened))
    if short:
        opening = (
            f"even with all {len(codes)} windows open"
            if every
            else f"with {len(codes)} windows open"
        )
        return replace(
            plan,
            open_windows=codes,
            feasible=False,
            reason=UNREACHABLE if every else MISSED_IN_DAY_SIMULATION,
            explanation=f"{opening}, the whole-day simulation "
            + "; ".join(
                f"gives {v.item} {v.service_level:.1%} < {v.target.share:.0%} "
                f"within {v.target.within_minutes:g} min"
                for v in short
            ),
            shortfalls=tuple(Shortfall(v.item, v.service_level, v.target) for v in short),
        )
    note = (
        f"{len(codes)} of {len(windows)} windows (modified offered load"
        + (f", {added:+d} from the whole-day simulation" if added else "")
        + ")"
    )
    return replace(
        plan, open_windows=codes, feasible=True, reason=None, explanation=note, shortfalls=()
    )
