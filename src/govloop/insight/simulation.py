"""Discrete-event simulation of a service hall with SimPy.

Citizens of each item arrive as a Poisson stream and take a ticket. A free window calls the
longest-waiting ticket among the items it serves (FCFS across its items); an arriving
citizen who finds eligible windows idle goes to the most specialised one, so general
windows (综合窗口) stay free for items nobody else serves. A waiting citizen leaves after an
exponential patience. Handling times are exponential (``handling_cv == 1``) or lognormal
with the given coefficient of variation (0 = constant).

Abandonment is handled lazily: a ticket keeps its deadline and is dropped when a window
would call it after that deadline. Nobody else's fate depends on when exactly an
impatient citizen left, so this is exact and saves one event per citizen.

Arrivals stop at ``minutes``; the hall then drains so that every counted citizen's outcome
is known (later arrivals never delay earlier ones under this calling rule). Only arrivals
in [warmup_minutes, minutes) are counted; utilization is measured over the same span.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import simpy

from govloop.insight.queueing_types import ItemLoad, ServiceTarget, WindowSkill

BATCHES = 20  # batch means (by arrival time) for the standard error of a service level


@dataclass(frozen=True)
class QueueStats:
    arrivals: int
    served: int
    abandoned: int
    met: int  # called within the target time
    service_level: float  # met / arrivals (nan without arrivals)
    service_level_se: float  # batch-means standard error (nan when too few arrivals)
    mean_wait_served: float  # minutes (nan when nobody was served)


@dataclass(frozen=True)
class SimResult:
    items: dict[str, QueueStats]
    overall: QueueStats
    utilization: dict[str, float]  # per window code
    minutes: float
    warmup_minutes: float
    seed: int


@dataclass
class _Ticket:
    item: int
    arrived: float
    deadline: float


@dataclass
class _Counter:
    arrivals: list[int] = field(default_factory=lambda: [0] * BATCHES)
    met: list[int] = field(default_factory=lambda: [0] * BATCHES)
    served: int = 0
    abandoned: int = 0
    wait_total: float = 0.0

    def stats(self) -> QueueStats:
        arrivals, met = sum(self.arrivals), sum(self.met)
        level = met / arrivals if arrivals else math.nan
        return QueueStats(
            arrivals=arrivals,
            served=self.served,
            abandoned=self.abandoned,
            met=met,
            service_level=level,
            service_level_se=_batch_se(self.arrivals, self.met),
            mean_wait_served=self.wait_total / self.served if self.served else math.nan,
        )


def _batch_se(arrivals: list[int], met: list[int]) -> float:
    levels = [m / a for a, m in zip(arrivals, met, strict=True) if a >= 5]
    if len(levels) < 5:
        return math.nan
    mean = sum(levels) / len(levels)
    variance = sum((level - mean) ** 2 for level in levels) / (len(levels) - 1)
    return math.sqrt(variance / len(levels))


def _handling_sampler(rng: random.Random, mean: float, cv: float) -> Callable[[], float]:
    if cv == 1.0:
        return lambda: rng.expovariate(1.0 / mean)
    if cv == 0.0:
        return lambda: mean
    sigma = math.sqrt(math.log1p(cv * cv))
    mu = math.log(mean) - sigma * sigma / 2.0  # keeps the mean at `mean`
    return lambda: rng.lognormvariate(mu, sigma)


def simulate_hall(
    items: Sequence[ItemLoad],
    windows: Sequence[WindowSkill],
    minutes: float,
    seed: int,
    target: ServiceTarget,
    warmup_minutes: float = 0.0,
    handling_cv: float = 1.0,
) -> SimResult:
    """Simulate the hall for ``minutes`` of arrivals; deterministic for a given seed."""
    if not 0 <= warmup_minutes < minutes:
        raise ValueError("need 0 <= warmup_minutes < minutes")
    if handling_cv < 0:
        raise ValueError("handling_cv must be >= 0")
    rng = random.Random(seed)
    env = simpy.Environment()
    codes = [item.code for item in items]
    within = [item.target_or(target).within_minutes for item in items]
    handling = [_handling_sampler(rng, item.mean_handling, handling_cv) for item in items]
    counters = [_Counter() for _ in items]
    queues: list[deque[_Ticket]] = [deque() for _ in items]
    span = minutes - warmup_minutes
    # each window's items, and for each item its windows, most specialised first
    serves = [[i for i, code in enumerate(codes) if w.serves(code)] for w in windows]
    order = sorted(range(len(windows)), key=lambda k: (len(serves[k]), windows[k].code))
    eligible = [[k for k in order if i in serves[k]] for i in range(len(items))]
    wake: list[simpy.Event | None] = [None] * len(windows)  # set while a window is idle
    busy = [0.0] * len(windows)

    def counted(ticket: _Ticket) -> _Counter | None:
        return counters[ticket.item] if warmup_minutes <= ticket.arrived < minutes else None

    def batch(ticket: _Ticket) -> int:
        return min(BATCHES - 1, int((ticket.arrived - warmup_minutes) / span * BATCHES))

    def next_ticket(k: int) -> _Ticket | None:
        best: _Ticket | None = None
        for i in serves[k]:
            queue = queues[i]
            while queue and queue[0].deadline <= env.now:  # left before being called
                gone = queue.popleft()
                if (counter := counted(gone)) is not None:
                    counter.abandoned += 1
            if queue and (best is None or queue[0].arrived < best.arrived):
                best = queue[0]
        if best is not None:
            queues[best.item].popleft()
        return best

    def window(k: int) -> Generator[simpy.Event, Any, None]:
        while True:
            ticket = next_ticket(k)
            if ticket is None:
                event = wake[k] = env.event()
                ticket = yield event
            assert ticket is not None
            wait = env.now - ticket.arrived
            if (counter := counted(ticket)) is not None:
                counter.served += 1
                counter.wait_total += wait
                if wait <= within[ticket.item]:
                    counter.met[batch(ticket)] += 1
            start = env.now
            yield env.timeout(handling[ticket.item]())
            busy[k] += max(0.0, min(env.now, minutes) - max(start, warmup_minutes))

    def arrivals() -> Generator[simpy.Event, Any, None]:
        # one merged Poisson stream, each arrival's item drawn by its share of the rate
        cumulative = list(itertools.accumulate(item.arrival_rate for item in items))
        total = cumulative[-1] if cumulative else 0.0
        if total <= 0:
            return
        last = len(items) - 1
        patience = [item.mean_patience for item in items]
        while True:
            yield env.timeout(rng.expovariate(total))
            if env.now >= minutes:
                return
            i = min(last, bisect.bisect_right(cumulative, rng.random() * total))
            mean_patience = patience[i]
            stay = math.inf if mean_patience is None else rng.expovariate(1.0 / mean_patience)
            deadline = env.now + stay
            ticket = _Ticket(i, env.now, deadline)
            if (counter := counted(ticket)) is not None:
                counter.arrivals[batch(ticket)] += 1
            idle = next((k for k in eligible[i] if wake[k] is not None), None)
            if idle is None:
                queues[i].append(ticket)
                continue
            event = wake[idle]
            wake[idle] = None
            assert event is not None
            event.succeed(ticket)

    for k in range(len(windows)):
        env.process(window(k))
    env.process(arrivals())
    env.run()  # ends once arrivals stop and every queue has drained
    for queue in queues:  # left unserved: expired, or no window serves the item
        for ticket in queue:
            if (counter := counted(ticket)) is not None:
                counter.abandoned += 1
        queue.clear()

    total = _Counter()
    for counter in counters:
        for b in range(BATCHES):
            total.arrivals[b] += counter.arrivals[b]
            total.met[b] += counter.met[b]
        total.served += counter.served
        total.abandoned += counter.abandoned
        total.wait_total += counter.wait_total
    return SimResult(
        items={code: counter.stats() for code, counter in zip(codes, counters, strict=True)},
        overall=total.stats(),
        utilization={w.code: busy[k] / span for k, w in enumerate(windows)},
        minutes=minutes,
        warmup_minutes=warmup_minutes,
        seed=seed,
    )
