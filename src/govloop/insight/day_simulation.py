"""A whole day of the hall in SimPy: the plan's windows slot by slot, the queue carried over.

Slot-by-slot checks treat each half hour as a steady state; a real hall is not one. A queue
built in the 09:00 peak is still there at 09:30, and a short peak does not have time to
build the queue a steady state would have. This module simulates the day as it happens:

* arrivals are Poisson at each slot's forecast rates (piecewise constant), per item;
* a window serves during the slots that open it; when its slot ends it finishes the citizen
  at the window and then closes. Time between two slots that are not back to back (the
  lunch break, 午休) has no open window and no arrivals: whoever waits, waits through it,
  and may leave;
* routing is the same as ``simulation.simulate_hall``: a free window calls the
  longest-waiting ticket among its items, an arriving citizen goes to the most specialised
  idle window; abandonment after an exponential patience (lazily, at call time);
* the day's end: with ``serve_after_close`` (the default, what halls do with tickets already
  drawn) the windows open in the last slot keep serving the waiting queue, still subject to
  patience, and the overtime is reported; without it, everyone still waiting at closing
  counts as not called in time.

Each (slot, item) gets the share of its arrivals called within the target, over
independent replications of the day (ratio estimator, standard error across replications).
Priority tickets are not modelled, as in ``simulate_hall``.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections import deque
from collections.abc import Collection, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import simpy

from govloop.insight.queueing_types import ItemLoad, ServiceTarget, WindowSkill

_SERVED, _MET, _ABANDONED, _ARRIVED, _WAIT = range(5)  # counters per (slot, item)


@dataclass(frozen=True)
class SlotItemLevel:
    slot: datetime
    item: str
    arrivals: float  # mean per day
    service_level: float  # pooled over replications: met / arrivals (nan without arrivals)
    service_level_se: float  # ratio-estimator standard error across replications
    target: ServiceTarget

    @property
    def met(self) -> bool:
        return math.isnan(self.service_level) or self.service_level >= self.target.share - 1e-12

    @property
    def met_within_noise(self) -> bool:
        se = 0.0 if math.isnan(self.service_level_se) else self.service_level_se
        return self.met or self.service_level + 2 * se >= self.target.share


@dataclass(frozen=True)
class DaySimResult:
    levels: dict[tuple[datetime, str], SlotItemLevel]  # slot-items with arrivals
    replications: int
    seed: int
    # per replication and slot: arrivals, met, served, total wait of the served (minutes)
    slot_totals: np.ndarray  # shape (replications, slots, 4)
    slots: tuple[datetime, ...]
    overtime_minutes: float  # mean per day: window-minutes of service after closing
    served_after_close: float  # mean per day

    def target_met_share(self) -> float:
        """Share of slot-items (with arrivals) whose level meets their target."""
        return sum(v.met for v in self.levels.values()) / len(self.levels) if self.levels else 1.0

    def missing(self) -> list[SlotItemLevel]:
        return [v for v in self.levels.values() if not v.met]

    def outcome(self, slots: Sequence[datetime] | None = None) -> tuple[float, float, float]:
        """(mean wait of the served, share called within target, arrivals per day) over
        ``slots`` (all by default), from the same replications."""
        chosen = [k for k, s in enumerate(self.slots) if slots is None or s in set(slots)]
        totals = self.slot_totals[:, chosen, :].sum(axis=(0, 1))
        arrivals, met, served, wait = (float(v) for v in totals)
        return (
            wait / served if served else 0.0,
            met / arrivals if arrivals else 1.0,
            arrivals / self.replications,
        )


def simulate_day(
    slots: Mapping[datetime, Sequence[ItemLoad]],
    open_windows: Mapping[datetime, Collection[str]],
    windows: Sequence[WindowSkill],
    target: ServiceTarget,
    slot_minutes: float = 30.0,
    replications: int = 20,
    seed: int = 7,
    serve_after_close: bool = True,
) -> DaySimResult:
    """Simulate one day of ``slots`` (all on the same day) with ``open_windows`` per slot."""
    if replications < 1:
        raise ValueError("replications must be >= 1")
    starts = tuple(sorted(slots))
    if starts and len({s.date() for s in starts}) != 1:
        raise ValueError("simulate_day takes the slots of one day")
    codes = sorted({ld.code for s in starts for ld in slots[s]})
    loads = {ld.code: ld for s in starts for ld in slots[s]}  # handling/patience/target
    index = {c: i for i, c in enumerate(codes)}
    rates = np.zeros((len(starts), len(codes)))
    for k, s in enumerate(starts):
        for ld in slots[s]:
            rates[k, index[ld.code]] += ld.arrival_rate
    used = [w for w in windows if any(w.code in open_windows.get(s, ()) for s in starts)]
    begin = [(s - starts[0]).total_seconds() / 60.0 for s in starts] if starts else []
    counts = np.zeros((replications, len(starts), len(codes), 5))
    overtime = after_close = 0.0
    for rep in range(replications):
        extra = _one_day(
            starts,
            begin,
            rates,
            [loads[c] for c in codes],
            used,
            open_windows,
            target,
            slot_minutes,
            random.Random(seed * 1_000_003 + rep),
            counts[rep],
            serve_after_close,
        )
        overtime += extra[0]
        after_close += extra[1]
    levels = {}
    for k, s in enumerate(starts):
        for i, code in enumerate(codes):
            arrived = counts[:, k, i, _ARRIVED]
            if arrived.sum() == 0:
                continue
            met = counts[:, k, i, _MET]
            level = float(met.sum() / arrived.sum())
            levels[(s, code)] = SlotItemLevel(
                s,
                code,
                float(arrived.mean()),
                level,
                _ratio_se(met, arrived, level),
                loads[code].target_or(target),
            )
    totals = np.stack(
        [
            counts[:, :, :, _ARRIVED].sum(axis=2),
            counts[:, :, :, _MET].sum(axis=2),
            counts[:, :, :, _SERVED].sum(axis=2),
            counts[:, :, :, _WAIT].sum(axis=2),
        ],
        axis=-1,
    )
    return DaySimResult(
        levels,
        replications,
        seed,
        totals,
        starts,
        overtime / replications,
        after_close / replications,
    )


def _ratio_se(met: np.ndarray, arrived: np.ndarray, level: float) -> float:
    n = len(met)
    if n < 2 or arrived.mean() == 0:
        return math.nan
    residual = met - level * arrived
    return float(math.sqrt(float((residual**2).sum()) / (n * (n - 1))) / arrived.mean())


def _one_day(
    starts: Sequence[datetime],
    begin: Sequence[float],
    rates: np.ndarray,
    items: Sequence[ItemLoad],
    windows: Sequence[WindowSkill],
    open_windows: Mapping[datetime, Collection[str]],
    target: ServiceTarget,
    slot_minutes: float,
    rng: random.Random,
    counts: np.ndarray,
    serve_after_close: bool,
) -> tuple[float, float]:
    """One replication; fills ``counts[slot, item, counter]``; returns (overtime, served
    after closing)."""
    env = simpy.Environment()
    closing = begin[-1] + slot_minutes if begin else 0.0
    within = [item.target_or(target).within_minutes for item in items]
    patience = [item.mean_patience for item in items]
    queues: list[deque[tuple[float, float, int]]] = [
        deque() for _ in items
    ]  # arrived, deadline, slot
    serves = [[i for i, item in enumerate(items) if w.serves(item.code)] for w in windows]
    order = sorted(range(len(windows)), key=lambda k: (len(serves[k]), windows[k].code))
    eligible = [[k for k in order if i in serves[k]] for i in range(len(items))]
    wake: list[simpy.Event | None] = [None] * len(windows)
    # each window's open runs [from, to) in minutes; back-to-back slots join into one run
    runs: list[list[list[float]]] = [[] for _ in windows]
    for k, w in enumerate(windows):
        for s, t0 in zip(starts, begin, strict=True):
            if w.code in open_windows.get(s, ()):
                if runs[k] and abs(runs[k][-1][1] - t0) < 1e-9:
                    runs[k][-1][1] = t0 + slot_minutes
                else:
                    runs[k].append([t0, t0 + slot_minutes])
    last_runs = {k for k in range(len(windows)) if runs[k] and runs[k][-1][1] >= closing - 1e-9}
    state = {"overtime": 0.0, "after": 0.0}

    def next_ticket(k: int) -> tuple[int, float, float, int] | None:
        best: tuple[int, float, float, int] | None = None
        for i in serves[k]:
            queue = queues[i]
            while queue and queue[0][1] <= env.now:  # left before being called
                _, _, slot = queue.popleft()
                counts[slot, i, _ABANDONED] += 1
            if queue and (best is None or queue[0][0] < best[1]):
                best = (i, *queue[0])
        if best is not None:
            queues[best[0]].popleft()
        return best

    def serve(ticket: tuple[int, float, float, int]) -> float:
        i, arrived, _, slot = ticket
        wait = env.now - arrived
        counts[slot, i, _SERVED] += 1
        counts[slot, i, _WAIT] += wait
        if wait <= within[i]:
            counts[slot, i, _MET] += 1
        if env.now >= closing:
            state["after"] += 1
        return rng.expovariate(1.0 / items[i].mean_handling)

    def window(k: int) -> Generator[simpy.Event, Any, None]:
        for run, (start, end) in enumerate(runs[k]):
            if env.now < start:
                yield env.timeout(start - env.now)
            drain = serve_after_close and k in last_runs and run == len(runs[k]) - 1
            while env.now < end or drain:
                ticket = next_ticket(k)
                if ticket is None:
                    if env.now >= end:  # after closing: nobody left to serve
                        break
                    event = wake[k] = env.event()
                    yield event | env.timeout(end - env.now)
                    wake[k] = None
                    if not event.triggered:
                        continue  # the run ended while idle
                    ticket = event.value
                assert ticket is not None
                began = env.now
                yield env.timeout(serve(ticket))
                if end >= closing - 1e-9:  # work after the hall's closing time
                    state["overtime"] += max(0.0, env.now - max(began, closing))

    def arrivals() -> Generator[simpy.Event, Any, None]:
        for slot, t0 in enumerate(begin):
            if env.now < t0:
                yield env.timeout(t0 - env.now)
            cumulative = list(itertools.accumulate(rates[slot]))
            total = cumulative[-1] if cumulative else 0.0
            end = t0 + slot_minutes
            while total > 0:
                gap = rng.expovariate(total)
                if env.now + gap >= end:
                    break  # memoryless: the next slot starts afresh
                yield env.timeout(gap)
                i = min(len(items) - 1, bisect.bisect_right(cumulative, rng.random() * total))
                mean = patience[i]
                deadline = env.now + (math.inf if mean is None else rng.expovariate(1.0 / mean))
                counts[slot, i, _ARRIVED] += 1
                ticket = (i, env.now, deadline, slot)
                idle = next((k for k in eligible[i] if wake[k] is not None), None)
                if idle is None:
                    queues[i].append(ticket[1:])
                    continue
                event = wake[idle]
                wake[idle] = None
                assert event is not None
                event.succeed(ticket)

    for k in range(len(windows)):
        env.process(window(k))
    env.process(arrivals())
    env.run()
    for i, queue in enumerate(queues):  # never called: left, or still waiting at closing
        for _, _, slot in queue:
            counts[slot, i, _ABANDONED] += 1
    return state["overtime"], state["after"]
