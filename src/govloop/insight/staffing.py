"""Fewest windows per 30-minute slot meeting a service-level target, with multi-skill windows.

Method (``plan_slot``)
----------------------
Windows with the same skill set form a *class*; windows in a class are interchangeable,
so a plan is a count per class. Items are pooled into Erlang A queues (summed arrival
rate, arrival-weighted mean handling and abandonment rate). Each item's own patience is
kept against its pool's queue (impatient items miss the target first), and the target
time is shrunk by 2/(1+CV²) of the pool's handling-time mixture (Allen-Cunneen).

1. Requirements. For a fixed family of item sets T with the window classes U that can
   serve them (each item's classes; each department, i.e. items linked by specialised
   windows; unions of departments, the ones leaning hardest on general windows first;
   everything but one department), r(T) = fewest windows of U meeting every member's
   target with T pooled on them. All sets are evaluated in one vectorized pass.
2. Cover. Greedily open the window that helps the most sets still short of r(T)
   (specialised first on ties), then drop windows every set can spare, general first.
3. Verification on the open windows (``_Slot.evaluate``): each group of items is pooled
   on its own open windows, and each department's overflow (arrivals finding all its
   specialised windows busy, Erlang B) shares the general windows (综合窗口) with the
   other departments' overflow and the general-only items. A pool that misses a target
   becomes a new set for step 2 (cutting planes); windows are added one by one only if
   that does not settle it. A max-flow check makes sure the open windows can carry every
   item's offered load at all.

This is a heuristic, fast enough for a week in about a second, and it does not prove the
count minimal. The shared-window model was chosen against the SimPy simulation
(``bench_queueing`` reports how often the plans meet the targets there); it is
conservative when general windows are nearly saturated. When even every window of the
hall cannot meet a target, the plan says which items fall short and by how much (reason
code + data) and keeps every window open; it never invents a number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

from govloop.insight.erlang import Model, service_levels
from govloop.insight.queueing_types import DEFAULT_TARGET, ItemLoad, ServiceTarget, WindowSkill
from govloop.insight.simulation import simulate_hall

NO_WINDOW = "no_window_serves_item"
UNREACHABLE = "target_unreachable_with_all_windows"
_FLOW_SCALE = 1000  # max-flow works on integers: loads in thousandths of an erlang
_BLOCK = 6  # window counts tried per set and pass when looking for r(T)
# A pool: own items (bit mask) and overflow streams of other items (bit mask, share of rate)
Pool = tuple[int, tuple[tuple[int, float], ...]]
_ROUNDS = 8  # cutting-plane rounds before falling back to adding windows one by one
_SHARED_CAP = 0.9  # most external load shared windows are assumed to carry, per window
# The search aims this far above each target share: the multi-skill approximation is a few
# thousandths optimistic for the most impatient items (measured in bench_queueing).
PLANNING_MARGIN = 0.01


@dataclass(frozen=True)
class ItemForecast:
    code: str
    arrival_rate: float
    service_level: float  # Erlang A, pooled as described above
    service_level_erlang_c: float  # same pools, nobody leaves (for comparison)
    target: ServiceTarget
    met: bool
    windows_serving: int  # open windows that can serve the item


@dataclass(frozen=True)
class Shortfall:
    item: str
    service_level: float  # with every window of the hall open (0 when none serves it)
    target: ServiceTarget


@dataclass(frozen=True)
class SlotPlan:
    open_windows: tuple[str, ...]
    items: dict[str, ItemForecast]  # items with demand only
    feasible: bool
    reason: str | None  # NO_WINDOW or UNREACHABLE when not feasible
    explanation: str
    shortfalls: tuple[Shortfall, ...]
    slot_minutes: float
    model: str

    @property
    def window_count(self) -> int:
        return len(self.open_windows)


@lru_cache(maxsize=65_536)
def _bits(mask: int) -> tuple[int, ...]:
    """Positions of the set bits (item or class indexes)."""
    return tuple(k for k in range(mask.bit_length()) if mask >> k & 1)


class _Slot:
    """One slot's demand on the hall's window classes; item sets are bit masks of items.

    A pool's level for an item uses the item's own patience against the pool's queue
    (``patience_ratio``): impatient items miss the target first. While searching, a pool
    is judged by its most impatient member per target (``goals``).
    """

    def __init__(
        self,
        items: Sequence[ItemLoad],
        classes: Sequence[Sequence[WindowSkill]],
        target: ServiceTarget,
        model: Model,
        margin: float = 0.0,
    ) -> None:
        self.items = list(items)
        self.model = model
        self.sizes = [len(members) for members in classes]
        self.general = [members[0].is_general for members in classes]
        self.reported = [item.target_or(target) for item in self.items]
        self.targets = [  # what the search aims at
            ServiceTarget(min(1.0, t.share + margin), t.within_minutes) for t in self.reported
        ]
        self.masks = [  # classes serving each item
            sum(1 << k for k, members in enumerate(classes) if members[0].serves(item.code))
            for item in self.items
        ]
        # pools are interned as ids: hashing a long tuple once instead of at every lookup
        self._ids: dict[Pool, int] = {}
        self._item_sums: dict[int, tuple[float, float, float, float]] = {}
        self.pools: list[Pool] = []
        self._profiles: list[tuple[float, float, float | None, float]] = []
        self._levels: dict[tuple[int, int, float, float], float] = {}
        self._goals: dict[tuple[int, int], dict[tuple[float, float], float]] = {}
        self._evaluations: dict[tuple[tuple[int, ...], bool], tuple[list[float], list[int]]] = {}

    def intern(self, pool: Pool) -> int:
        if pool not in self._ids:
            self._ids[pool] = len(self.pools)
            self.pools.append(pool)
            self._profiles.append(self._profile(pool))
        return self._ids[pool]

    def params(self, pid: int) -> tuple[float, float, float | None]:
        """Pooled (arrival rate, mean handling, mean patience) of a pool's streams."""
        rate, handling, patience, _ = self._profiles[pid]
        return rate, handling, patience

    def _profile(self, pool: Pool) -> tuple[float, float, float | None, float]:
        """Pooled rate, handling, patience and stretch = 2 / (1 + CV²) of the handling time.

        Handling is a mixture of exponentials; waits grow about like (1 + CV²)/2 with its
        variability (Kingman, Allen-Cunneen) while Erlang A assumes CV = 1, so the target
        time is shrunk by the stretch instead.
        """
        members, extra = pool
        rate = work = second = abandonment = 0.0
        for items, share in ((members, 1.0), *extra):
            sums = self._sums(items)
            rate += share * sums[0]
            work += share * sums[1]
            second += share * sums[2]
            abandonment += share * sums[3]
        handling = work / rate
        patience = rate / abandonment if abandonment > 0 else None
        stretch = min(1.0, 2.0 * handling**2 / (second / rate))
        return rate, handling, patience, stretch

    def _sums(self, items: int) -> tuple[float, float, float, float]:
        """Σλ, Σλh, Σλ·2h² (exponential second moment) and Σλ/patience over ``items``."""
        if items not in self._item_sums:
            sums = [0.0, 0.0, 0.0, 0.0]
            for i in _bits(items):
                item = self.items[i]
                sums[0] += item.arrival_rate
                sums[1] += item.arrival_rate * item.mean_handling
                sums[2] += item.arrival_rate * 2.0 * item.mean_handling**2
                if item.mean_patience is not None:
                    sums[3] += item.arrival_rate / item.mean_patience
            self._item_sums[items] = (sums[0], sums[1], sums[2], sums[3])
        return self._item_sums[items]

    def ratio(self, patience: float | None, i: int) -> float:
        """Item i's abandonment rate relative to a pool's (of mean ``patience``)."""
        own = self.items[i].mean_patience
        return 1.0 if patience is None else (0.0 if own is None else patience / own)

    def goals(self, pid: int, members: int) -> dict[tuple[float, float], float]:
        """(within, share) targets of ``members`` → the largest patience ratio among them."""
        key = (pid, members)
        if key not in self._goals:
            goals: dict[tuple[float, float], float] = {}
            patience = self._profiles[pid][2]
            for i in _bits(members):
                goal = (self.targets[i].within_minutes, self.targets[i].share)
                goals[goal] = max(goals.get(goal, 0.0), self.ratio(patience, i))
            self._goals[key] = goals
        return self._goals[key]

    def keys(self, pid: int, n: int, members: int) -> list[tuple[int, int, float, float]]:
        return [(pid, n, within, c) for (within, _), c in self.goals(pid, members).items()]

    def compute(self, keys: Sequence[tuple[int, int, float, float]]) -> None:
        """Levels of (pool, windows, within, patience ratio) keys, in one vectorized pass."""
        missing = list({key for key in keys if key not in self._levels})
        if not missing:
            return
        columns = [
            (*self.params(pid), n, within * self._profiles[pid][3], c)
            for pid, n, within, c in missing
        ]
        rate, handling, patience, windows, within, ratio = zip(*columns, strict=True)
        levels = service_levels(rate, handling, patience, windows, within, self.model, ratio)
        self._levels.update(zip(missing, levels.tolist(), strict=True))

    def meets_goals(self, pid: int, n: int, members: int) -> bool:
        return all(
            self._levels[pid, n, within, c] >= share - 1e-12
            for (within, share), c in self.goals(pid, members).items()
        )

    def requirements(self, sets: Sequence[tuple[int, int]]) -> list[int]:
        """Fewest pooled windows r(T) for (servers U, pool of T) sets; cap + 1 if unreachable."""
        caps = [sum(self.sizes[k] for k in _bits(servers)) for servers, _ in sets]
        starts = []
        for _, pid in sets:
            rate, handling, _ = self.params(pid)
            share = min(share for _, share in self.goals(pid, self.pools[pid][0]))
            starts.append(max(1, math.ceil(share * rate * handling - 1e-9)))
        found: list[int | None] = [None] * len(sets)
        while True:
            pending = [s for s in range(len(sets)) if found[s] is None and starts[s] <= caps[s]]
            if not pending:
                break
            blocks = {
                s: range(starts[s], min(caps[s], starts[s] + _BLOCK - 1) + 1) for s in pending
            }
            self.compute(
                [
                    key
                    for s in pending
                    for n in blocks[s]
                    for key in self.keys(sets[s][1], n, self.pools[sets[s][1]][0])
                ]
            )
            for s in pending:
                pid = sets[s][1]
                members = self.pools[pid][0]
                found[s] = next((n for n in blocks[s] if self.meets_goals(pid, n, members)), None)
                starts[s] = blocks[s][-1] + 1
        return [cap + 1 if f is None else f for f, cap in zip(found, caps, strict=True)]

    def family(self) -> list[tuple[int, int]]:
        """The fixed sets (servers U, members T) whose requirements drive the cover."""
        masks = sorted(set(self.masks) - {0})
        special = [sum(1 << k for k in _bits(m) if not self.general[k]) for m in masks]
        components: list[tuple[int, int]] = []  # (servers, specialised classes) per department
        for mask, own in zip(masks, special, strict=True):
            linked = [c for c in components if c[1] & own]
            for c in linked:
                components.remove(c)
                mask, own = mask | c[0], own | c[1]
            components.append((mask, own))

        def members(servers: int) -> int:
            return sum(1 << i for i, m in enumerate(self.masks) if m and m & ~servers == 0)

        def overflow(component: tuple[int, int]) -> float:  # load left for general windows
            rate, handling, _ = self.params(self.intern((members(component[0]), ())))
            return rate * handling - sum(self.sizes[k] for k in _bits(component[1]))

        sets = {mask: members(mask) for mask in masks}
        union = 0
        for servers, _ in sorted(components, key=overflow, reverse=True):
            union |= servers
            sets.setdefault(servers, members(servers))
            sets.setdefault(union, members(union))
        for _, own in components if len(components) > 1 else ():  # all but one department
            sets.setdefault(union & ~own, members(union & ~own))
        sets.pop(0, None)
        return [(servers, self.intern((t, ()))) for servers, t in sets.items() if t]

    def evaluate(self, counts: Sequence[int], exact: bool = False) -> tuple[list[float], list[int]]:
        key = (tuple(counts), exact)
        if key not in self._evaluations:
            self._evaluations[key] = self._evaluate(counts, exact)
        levels, failing = self._evaluations[key]
        return list(levels), list(failing)

    def _evaluate(self, counts: Sequence[int], exact: bool) -> tuple[list[float], list[int]]:
        """Each item's predicted level with ``counts`` windows open per class, and the
        pools that miss a member's target (``exact``: each item with its own patience,
        else with the most impatient member's per target).

        Groups are items with the same open classes; departments are groups linked by
        open specialised windows; general windows (综合窗口) are shared by everyone.

        (a) Own windows: per group with open classes M, the department's items whose open
        windows all lie in M, pooled on M (general-only items: on the general windows).
        (b) Shared general windows: a department's arrivals that find all its specialised
        windows busy (Erlang B) share the general windows with the other departments'
        overflow and the general-only items, overflow being capped at what the general
        windows can carry. A department's citizen is called in time when a specialised
        window is free, or else as in that shared pool.
        """
        open_mask = sum(1 << k for k, c in enumerate(counts) if c)
        general = sum(1 << k for k, g in enumerate(self.general) if g) & open_mask
        groups: dict[int, int] = {}  # open classes → items served by exactly those
        for i, mask in enumerate(self.masks):
            groups[mask & open_mask] = groups.get(mask & open_mask, 0) | 1 << i
        unserved = groups.pop(0, 0)
        levels = [0.0 if unserved >> i & 1 else 1.0 for i in range(len(self.items))]
        checks: list[tuple[int, int, int, float]] = []  # pool, windows, members, blocked
        cuts: dict[int, int] = {}  # a check's pool → the set the cover should then satisfy

        for mask in groups:  # (a)
            members = sum(
                g
                for m, g in groups.items()
                if m & ~mask == 0 and (bool(m & ~general) or not mask & ~general)
            )
            windows = sum(counts[k] for k in _bits(mask))
            checks.append((self.intern((members, ())), windows, members, 1.0))

        departments: list[tuple[int, int]] = []  # (specialised classes, items)
        for mask, g in groups.items():
            own = mask & ~general
            for d in [d for d in departments if d[0] & own] if own else []:
                departments.remove(d)
                own, g = own | d[0], g | d[1]
            departments.append((own, g))
        spills = []  # (items, share of their arrivals finding their specialised windows busy)
        for special, members in departments:
            busy = _erlang_b(sum(counts[k] for k in _bits(special)), self.load(members))
            spills.append((members, round(busy, 3) if special else 1.0))
        n_general = sum(counts[k] for k in _bits(general))
        total = sum(b * self.load(members) for members, b in spills)
        for members, blocked in spills if n_general else ():  # (b)
            others = total - blocked * self.load(members)
            scale = min(1.0, _SHARED_CAP * n_general / others) if others > 0 else 1.0
            extra = tuple((other, round(b * scale, 3)) for other, b in spills if other != members)
            pool = self.intern((0, ((members, blocked), *extra)))
            cuts[pool] = self.intern((members, extra))
            checks.append((pool, n_general, members, blocked))

        own_keys = {  # per check and item: the item's own patience ratio
            (c, i): (pool, n, self.targets[i].within_minutes, self.ratio(patience, i))
            for c, (pool, n, members, _) in enumerate(checks if exact else ())
            for patience in [self._profiles[pool][2]]
            for i in _bits(members)
        }
        self.compute(
            list(own_keys.values())
            if exact
            else [key for pool, n, members, _ in checks for key in self.keys(pool, n, members)]
        )
        failing: list[int] = []
        for c, (pool, n, members, blocked) in enumerate(checks):
            by_goal = {
                goal: self._levels[pool, n, goal[0], ratio]
                for goal, ratio in self.goals(pool, members).items()
            }
            margin = math.inf
            for i in _bits(members):
                goal = (self.targets[i].within_minutes, self.targets[i].share)
                pooled = self._levels[own_keys[c, i]] if exact else by_goal[goal]
                level = 1.0 - blocked + blocked * pooled
                levels[i] = min(levels[i], level)
                margin = min(margin, level - goal[1])
            if margin < -1e-12:
                failing.append(cuts.get(pool, pool))
        return levels, failing

    def load(self, items: int) -> float:
        """Offered load (erlangs) of the items in a bit mask."""
        return self._sums(items)[1]

    def meets(self, levels: Sequence[float]) -> list[bool]:
        return [lv >= t.share - 1e-12 for lv, t in zip(levels, self.targets, strict=True)]

    def carries_load(self, counts: Sequence[int]) -> bool:
        """Max-flow: can the open windows (1 erlang each) carry the load each item must at
        least have served to meet its target (target share × offered load)?"""
        first_class = 1 + len(self.items)
        sink = first_class + len(counts)
        edges: list[tuple[int, int, int]] = []
        demand = 0
        for i, item in enumerate(self.items):
            load = math.ceil(item.offered_load * self.reported[i].share * _FLOW_SCALE)
            demand += load
            edges.append((0, 1 + i, load))
            edges.extend(
                (1 + i, first_class + k, load)
                for k, c in enumerate(counts)
                if c and self.masks[i] >> k & 1
            )
        edges.extend((first_class + k, sink, c * _FLOW_SCALE) for k, c in enumerate(counts) if c)
        rows, cols, caps = zip(*edges, strict=True)
        graph = csr_matrix(
            (np.array(caps, dtype=np.int32), (rows, cols)), shape=(sink + 1, sink + 1)
        )
        return bool(maximum_flow(graph, 0, sink).flow_value >= demand)


def window_classes(windows: Sequence[WindowSkill]) -> list[list[WindowSkill]]:
    """Windows grouped by skill set, specialised classes first, members sorted by code."""
    by_skill: dict[frozenset[str] | None, list[WindowSkill]] = {}
    for window in windows:
        by_skill.setdefault(window.items, []).append(window)
    classes = [sorted(members, key=lambda w: w.code) for members in by_skill.values()]
    return sorted(classes, key=lambda c: (c[0].is_general, c[0].code))


def _servers(slot: _Slot, pid: int) -> int:
    """Classes that can serve any of the pool's own items."""
    servers = 0
    for i in _bits(slot.pools[pid][0]):
        servers |= slot.masks[i]
    return servers


def _erlang_b(windows: int, offered: float) -> float:
    """Share of arrivals finding all ``windows`` busy in a loss system (Erlang B)."""
    blocking = 1.0
    for k in range(1, windows + 1):
        blocking = offered * blocking / (k + offered * blocking)
    return blocking


def _cover(slot: _Slot, sets: Sequence[tuple[int, int]], needs: Sequence[int]) -> list[int] | None:
    """Greedy integer cover: Σ_{k in U} counts[k] ≥ r(T) for every set (None: impossible).

    Open the window that helps the most uncovered sets (specialised first on ties), then
    drop windows every set can spare, general ones first.
    """
    classes = range(len(slot.sizes))
    containing = [[s for s, (u, _) in enumerate(sets) if u >> k & 1] for k in classes]
    short = list(needs)  # r(T) minus open windows in U, per set
    unmet = [sum(1 for s in containing[k] if short[s] > 0) for k in classes]
    counts = [0] * len(slot.sizes)

    def change(k: int, delta: int) -> None:
        counts[k] += delta
        for s in containing[k]:
            was_short = short[s] > 0
            short[s] -= delta
            if was_short != (short[s] > 0):
                for other in _bits(sets[s][0]):
                    unmet[other] += -1 if was_short else 1

    while any(gap > 0 for gap in short):
        helped = [(unmet[k], not slot.general[k], -k) for k in classes if counts[k] < slot.sizes[k]]
        if not helped or max(helped)[0] == 0:
            return None
        change(-max(helped)[2], +1)
    for k in sorted(classes, key=lambda k: not slot.general[k]):
        while counts[k] and all(short[s] < 0 for s in containing[k]):
            change(k, -1)
    return counts


def plan_slot(
    items: Sequence[ItemLoad],
    windows: Sequence[WindowSkill],
    target: ServiceTarget = DEFAULT_TARGET,
    slot_minutes: float = 30.0,
    model: Model = "erlang_a",
    margin: float = PLANNING_MARGIN,
) -> SlotPlan:
    """Fewest of the hall's windows to open so every item meets its target (steady state).

    The search aims ``margin`` above each target share to absorb the error of the
    multi-skill approximation; if only every window reaches the targets themselves, the
    plan opens every window and is still feasible.
    """
    demand = [item for item in items if item.arrival_rate > 0]
    if not demand:
        return SlotPlan((), {}, True, None, "no demand in this slot", (), slot_minutes, model)
    classes = window_classes(windows)
    slot = _Slot(demand, classes, target, model, margin)
    full = list(slot.sizes)
    unserved = [item.code for item, mask in zip(demand, slot.masks, strict=True) if not mask]
    if unserved:
        return _infeasible_plan(slot, classes, full, unserved, slot_minutes)
    counts = _search(slot) or full
    forecasts = _forecasts(slot, classes, counts)
    if not all(f.met for f in forecasts.values()) or not slot.carries_load(counts):
        return _infeasible_plan(slot, classes, full, [], slot_minutes)
    return SlotPlan(
        open_windows=_open_codes(classes, counts),
        items=forecasts,
        feasible=True,
        reason=None,
        explanation=f"{sum(counts)} of {len(windows)} windows meet every item's target",
        shortfalls=(),
        slot_minutes=slot_minutes,
        model=model,
    )


def _search(slot: _Slot) -> list[int] | None:
    """Open-window counts per class meeting the (planning) targets, or None."""
    sets = slot.family()
    needs = slot.requirements(sets)
    counts = _cover(slot, sets, needs)
    for _ in range(_ROUNDS):  # cutting planes: a pool failing on the open windows joins
        if counts is None:
            return None  # the pooled bounds say no staffing of the hall is enough
        _, failing = slot.evaluate(counts)
        known = {pool for _, pool in sets}
        cuts = [(_servers(slot, t), t) for t in dict.fromkeys(failing) if t not in known]
        if not cuts:
            break
        sets += cuts
        needs += slot.requirements(cuts)
        counts = _cover(slot, sets, needs)
    if counts is None:
        return None
    while True:  # last resort: add windows where an item still falls short
        levels, _ = slot.evaluate(counts)
        missing = [i for i, ok in enumerate(slot.meets(levels)) if not ok]
        if not missing and slot.carries_load(counts):
            return counts
        needy = missing or range(len(slot.items))
        options = [
            (
                sum(slot.items[i].arrival_rate for i in needy if slot.masks[i] >> k & 1),
                not slot.general[k],
                -k,
            )
            for k in range(len(counts))
            if counts[k] < slot.sizes[k]
        ]
        if not options or max(options)[0] == 0:
            return None
        counts[-max(options)[2]] += 1


def _open_codes(classes: Sequence[Sequence[WindowSkill]], counts: Sequence[int]) -> tuple[str, ...]:
    return tuple(
        sorted(w.code for members, c in zip(classes, counts, strict=True) for w in members[:c])
    )


def _forecasts(
    slot: _Slot,
    classes: Sequence[Sequence[WindowSkill]],
    counts: Sequence[int],
) -> dict[str, ItemForecast]:
    """Per-item predictions of a plan, each item with its own patience."""
    levels, _ = slot.evaluate(counts, exact=True)
    other: Model = "erlang_c" if slot.model == "erlang_a" else "erlang_a"
    compare = _Slot(slot.items, classes, DEFAULT_TARGET, other)
    compare.targets = slot.targets
    other_levels, _ = compare.evaluate(counts, exact=other == "erlang_a")
    a_levels, c_levels = (levels, other_levels) if other == "erlang_c" else (other_levels, levels)
    return {
        item.code: ItemForecast(
            code=item.code,
            arrival_rate=item.arrival_rate,
            service_level=a_levels[i],
            service_level_erlang_c=c_levels[i],
            target=slot.reported[i],
            met=levels[i] >= slot.reported[i].share - 1e-12,
            windows_serving=sum(c for k, c in enumerate(counts) if slot.masks[i] >> k & 1),
        )
        for i, item in enumerate(slot.items)
    }


def _infeasible_plan(
    slot: _Slot,
    classes: Sequence[Sequence[WindowSkill]],
    full: Sequence[int],
    unserved: list[str],
    slot_minutes: float,
) -> SlotPlan:
    forecasts = _forecasts(slot, classes, full)
    short = tuple(
        Shortfall(f.code, f.service_level, f.target) for f in forecasts.values() if not f.met
    )
    if unserved:
        reason = NO_WINDOW
        explanation = f"no window of the hall serves: {', '.join(unserved)}"
    elif short:
        reason = UNREACHABLE
        explanation = f"even with all {sum(full)} windows open, " + "; ".join(
            f"{s.item} reaches {s.service_level:.1%} < {s.target.share:.0%} "
            f"within {s.target.within_minutes:g} min"
            for s in short
        )
    else:
        reason = UNREACHABLE
        explanation = f"all {sum(full)} windows open cannot carry the offered load"
    return SlotPlan(
        open_windows=_open_codes(classes, full),
        items=forecasts,
        feasible=False,
        reason=reason,
        explanation=explanation,
        shortfalls=short,
        slot_minutes=slot_minutes,
        model=slot.model,
    )


# --- a week ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Shift:
    window: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class WeekPlan:
    slots: dict[datetime, SlotPlan]
    required: dict[datetime, int]  # windows the slot plans need
    schedule: dict[datetime, tuple[str, ...]]  # windows to open, shifts made contiguous
    shifts: tuple[Shift, ...]
    infeasible: tuple[datetime, ...]  # slots whose target no staffing of the hall meets


def plan_week(
    slots: Mapping[datetime, Sequence[ItemLoad]],
    windows: Sequence[WindowSkill],
    target: ServiceTarget = DEFAULT_TARGET,
    slot_minutes: float = 30.0,
    model: Model = "erlang_a",
    fill_gaps_up_to: int = 1,
    margin: float = PLANNING_MARGIN,
    windows_on: Mapping[date, Sequence[WindowSkill]] | None = None,
) -> WeekPlan:
    """Plan every slot, then turn the plans into a window schedule of contiguous shifts.

    ``windows_on`` gives the windows in force on a day where they differ from ``windows``
    (a window opened from Wednesday, one that serves new items from the 1st).

    Within a class of identical windows, the k-th window (by code) opens whenever the
    slot needs more than k of them, so each window works one block per busy period.
    A window closed for at most ``fill_gaps_up_to`` slots between two open slots of the
    same day stays open: nobody can usefully leave a window for half an hour, while a
    longer dip (the lunch break, 午休) splits the day into two shifts.
    """
    on_day = windows_on or {}
    plans = {
        start: plan_slot(
            loads, on_day.get(start.date(), windows), target, slot_minutes, model, margin
        )
        for start, loads in sorted(slots.items())
    }
    return week_schedule(plans, windows, slot_minutes, fill_gaps_up_to, on_day)


def week_schedule(
    plans: Mapping[datetime, SlotPlan],
    windows: Sequence[WindowSkill],
    slot_minutes: float = 30.0,
    fill_gaps_up_to: int = 1,
    windows_on: Mapping[date, Sequence[WindowSkill]] | None = None,
) -> WeekPlan:
    """Slot plans → a week's schedule of contiguous shifts (see ``plan_week``)."""
    on_day = windows_on or {}
    plans = dict(sorted(plans.items()))
    codes = sorted({w.code for w in windows} | {w.code for ws in on_day.values() for w in ws})
    step = timedelta(minutes=slot_minutes)
    schedule: dict[datetime, set[str]] = {
        start: set(plan.open_windows) for start, plan in plans.items()
    }
    shifts: list[Shift] = []
    for day in sorted({start.date() for start in plans}):
        starts = [start for start in plans if start.date() == day]
        for code in codes:
            runs = _runs(starts, [code in schedule[start] for start in starts], step)
            merged: list[tuple[int, int]] = []
            for first, last in runs:
                if merged and _short_break(starts, merged[-1][1], first, step, fill_gaps_up_to):
                    merged[-1] = (merged[-1][0], last)
                else:
                    merged.append((first, last))
            for first, last in merged:
                for start in starts[first : last + 1]:
                    schedule[start].add(code)
                shifts.append(Shift(code, starts[first], starts[last] + step))
    return WeekPlan(
        slots=plans,
        required={start: plan.window_count for start, plan in plans.items()},
        schedule={start: tuple(sorted(codes)) for start, codes in schedule.items()},
        shifts=tuple(shifts),
        infeasible=tuple(start for start, plan in plans.items() if not plan.feasible),
    )


def _short_break(
    starts: Sequence[datetime], end: int, begin: int, step: timedelta, most: int
) -> bool:
    """Closed for at most ``most`` slots, back to back, between positions end and begin."""
    closed = begin - end - 1
    return closed <= most and starts[begin] - starts[end] == step * (closed + 1)


def _runs(
    starts: Sequence[datetime], opened: Sequence[bool], step: timedelta
) -> list[tuple[int, int]]:
    """Index ranges of open slots that follow each other without a break in time."""
    runs: list[tuple[int, int]] = []
    for pos, is_open in enumerate(opened):
        if not is_open:
            continue
        if runs and runs[-1][1] == pos - 1 and starts[pos] - starts[pos - 1] == step:
            runs[-1] = (runs[-1][0], pos)
        else:
            runs.append((pos, pos))
    return runs


# --- gaps between what is needed and what is scheduled ----------------------------------

RECURRING = "recurring"
ONE_OFF = "one_off"
OPEN_PERMANENT_WINDOW = "open_permanent_window"
TEMPORARY_COVER = "temporary_window_appointment_quota_or_overtime"


@dataclass(frozen=True)
class Gap:
    slot: datetime
    required: int
    scheduled: int
    kind: str  # RECURRING or ONE_OFF
    suggestion: str  # OPEN_PERMANENT_WINDOW or TEMPORARY_COVER
    same_weekday_slot: tuple[int, int]  # (days with a gap, days observed) at this weekday+time
    same_slot: tuple[int, int]  # (days with a gap, days observed) at this time of day

    @property
    def missing(self) -> int:
        return self.required - self.scheduled


def classify_gaps(
    required: Mapping[datetime, int],
    scheduled: Mapping[datetime, int],
    min_occurrences: int = 2,
) -> list[Gap]:
    """Slots short of windows, each marked recurring or one-off.

    Rule: a gap is recurring when, at the same weekday and time of day or at the same time
    of day on any day, gaps occur on more than half of the observed days and at least
    ``min_occurrences`` times. A recurring gap asks for a permanent window; a one-off gap
    for a temporary window, an appointment quota (预约号源) or overtime. Slots missing from
    ``scheduled`` count as 0 windows scheduled.
    """
    short = {start for start, need in required.items() if need > scheduled.get(start, 0)}

    def tally(key: object, key_of: object) -> tuple[int, int]:
        observed = {start.date() for start in required if key_of(start) == key}  # type: ignore[operator]
        gaps = {start.date() for start in short if key_of(start) == key}  # type: ignore[operator]
        return len(gaps), len(observed)

    def recurring(count: tuple[int, int]) -> bool:
        return count[0] >= min_occurrences and count[0] * 2 > count[1]

    result = []
    for start in sorted(short):
        weekday = tally((start.weekday(), start.time()), lambda s: (s.weekday(), s.time()))
        same_time = tally(start.time(), lambda s: s.time())
        kind = RECURRING if recurring(weekday) or recurring(same_time) else ONE_OFF
        result.append(
            Gap(
                slot=start,
                required=required[start],
                scheduled=scheduled.get(start, 0),
                kind=kind,
                suggestion=OPEN_PERMANENT_WINDOW if kind == RECURRING else TEMPORARY_COVER,
                same_weekday_slot=weekday,
                same_slot=same_time,
            )
        )
    return result


# --- checking a plan in the simulation ---------------------------------------------------


@dataclass(frozen=True)
class ItemCheck:
    code: str
    predicted: float  # Erlang A pooled prediction
    simulated: float
    simulated_se: float  # batch-means standard error
    target: ServiceTarget
    met: bool  # simulated >= target share


@dataclass(frozen=True)
class SimulationCheck:
    items: dict[str, ItemCheck]
    all_met: bool
    minutes: float
    seed: int


def check_with_simulation(
    plan: SlotPlan,
    items: Sequence[ItemLoad],
    windows: Sequence[WindowSkill],
    target: ServiceTarget = DEFAULT_TARGET,
    minutes: float = 20_000.0,
    seed: int = 7,
    warmup_minutes: float | None = None,
) -> SimulationCheck:
    """Simulate the plan's open windows at the slot's rates held steady for ``minutes``."""
    opened = set(plan.open_windows)
    demand = [item for item in items if item.arrival_rate > 0]
    warmup = min(minutes / 10.0, 600.0) if warmup_minutes is None else warmup_minutes
    result = simulate_hall(
        demand, [w for w in windows if w.code in opened], minutes, seed, target, warmup
    )
    checks = {}
    for item in demand:
        stats = result.items[item.code]
        item_target = item.target_or(target)
        forecast = plan.items.get(item.code)
        checks[item.code] = ItemCheck(
            code=item.code,
            predicted=forecast.service_level if forecast else math.nan,
            simulated=stats.service_level,
            simulated_se=stats.service_level_se,
            target=item_target,
            met=stats.arrivals == 0 or stats.service_level >= item_target.share,
        )
    return SimulationCheck(checks, all(c.met for c in checks.values()), minutes, seed)
