"""A waiting ticket's call time by projecting the hall forward (Monte Carlo).

The queue-length predictor (``estimates.py``) assumes one pool of identical windows,
exponential handling and first come, first served. A real hall has windows that serve
different items, handling times that depend on the item and the clerk and are far from
exponential, priority and appointment tickets that arrive later and still go ahead, citizens
who are not there when called and clerks who pause. This module replays what the call-next
rule will do, from what the hall knows now:

* the tickets ranked ahead (the priority rule already applied), each eligible at the
  windows that serve its item (or the one it was transferred to);
* every window's state: idle, serving since a known moment, or paused;
* history: recent handling times per item, each clerk's speed relative to the others, how
  often a called citizen is absent and how long that takes, the gap between tickets,
  short pauses per call and their length;
* tickets that will arrive later and still go ahead: priority-lane walk-ins at the rate of
  the last hour, and today's appointments not yet checked in, around their slots.

Each of ``runs`` replications draws handling times from the recent ones (a bootstrap, so
no distribution is assumed, each item's mean itself uncertain by its resample), the
remaining time of tickets in service given how long they have been at the window,
absences, pauses and later arrivals, and lets the earliest free window call its first
eligible ticket until every ticket of the queue is called (``project_queue``: one
simulation for the whole hall, plus what-if walk-ins taking a ticket now). The mean of a
ticket's call times is its estimate; their 10th and 90th percentiles are its range.

Nothing here reads the database: ``waits.py`` gathers the inputs, this module only
computes, so it can be checked on hand-made halls.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

RUNS = 64
MAX_JUMPERS = 80  # priority arrivals drawn per replication, at most
LOW_Q, HIGH_Q = 10.0, 90.0


@dataclass(frozen=True)
class Queued:
    """A waiting ticket: its item, its rank relative to now (seconds, negative: earlier),
    and the one window it was transferred to, if any."""

    item: int
    rank_s: float
    window: int | None = None


@dataclass(frozen=True)
class WindowNow:
    id: int
    items: frozenset[int]
    state: str  # idle, serving, paused
    elapsed_s: float = 0.0  # serving: since the call; paused: since the pause began
    item: int | None = None  # serving: the item of the ticket at the window


@dataclass(frozen=True)
class JumpStream:
    """Walk-in tickets ranked ``boost_s`` before their arrival (a priority lane), of the
    items in ``items`` (item → share), arriving as ``observed`` did in the last ``over_s``
    seconds. Each replication draws the rate that count allows (a gamma posterior), so a
    rate known from few tickets widens the range."""

    items: Mapping[int, float]
    observed: int
    over_s: float
    boost_s: float


@dataclass(frozen=True)
class Booked:
    """An appointment booked for today, not yet checked in: on time it gets a ticket ranked
    ``boost_s`` before its check-in. ``show`` is the chance that it still checks in on time,
    at one of ``arrivals`` (seconds from now, from past check-ins around their slots)."""

    item: int
    boost_s: float
    show: float
    arrivals: np.ndarray


@dataclass(frozen=True)
class History:
    # recent handling times (call to finish) per item, each divided by its clerk's factor
    handling: Mapping[int, np.ndarray]
    window_factor: Mapping[int, float] = field(default_factory=dict)
    absent_share: float = 0.0  # calls that ended in a no-show
    absent_s: float = 90.0  # how long such a call kept the window
    gaps: np.ndarray = field(default_factory=lambda: np.array([5.0]))  # finish → next call
    pause_share: float = 0.0  # short pauses per call
    pauses: np.ndarray = field(default_factory=lambda: np.array([600.0]))  # their lengths
    default_handling_s: Mapping[int, float] = field(default_factory=dict)  # promised time


@dataclass(frozen=True)
class Projected:
    expected_s: float
    low_s: float
    high_s: float


def _pool(history: History, item: int) -> np.ndarray:
    samples = history.handling.get(item)
    if samples is not None and samples.size >= 5:
        return samples
    # Too few of its own: the hall's handling times rescaled to the item's promised time.
    pooled = [s for s in history.handling.values() if s.size]
    everything = np.concatenate(pooled) if pooled else np.array([600.0])
    target = history.default_handling_s.get(item)
    if target is None or everything.mean() <= 0:
        return everything
    return everything * (target / float(everything.mean()))


def _residual(rng: np.random.Generator, samples: np.ndarray, elapsed: float, n: int) -> np.ndarray:
    """Remaining time of something that has lasted ``elapsed`` and lasts like ``samples``."""
    longer = samples[samples > elapsed]
    if longer.size >= 3:
        return rng.choice(longer, n) - elapsed
    # Already longer than nearly everything seen: a short, uncertain remainder.
    scale = max(float(np.median(samples)) * 0.25, 30.0)
    return rng.exponential(scale, n)


@dataclass(frozen=True)
class QueueProjection:
    """Call times of every waiting ticket (in the order given) and of every phantom."""

    tickets: tuple[Projected | None, ...]
    phantoms: tuple[Projected | None, ...]


@dataclass
class _Later:
    """Tickets arriving later and ranked ahead of some target, per replication."""

    reps: np.ndarray
    at: np.ndarray
    items: np.ndarray
    boosts: np.ndarray


def _later_arrivals(
    rng: np.random.Generator,
    jumps: Sequence[JumpStream],
    booked: Sequence[Booked],
    last_rank: float,
    runs: int,
) -> _Later:
    """Arrivals ranked ahead of the latest target (arrival − boost < its rank), at most
    ``MAX_JUMPERS`` per replication (the earliest)."""
    rep_parts: list[np.ndarray] = []
    at_parts: list[np.ndarray] = []
    item_parts: list[np.ndarray] = []
    boost_parts: list[np.ndarray] = []
    for stream in jumps:
        horizon = stream.boost_s + last_rank
        if horizon <= 0 or not stream.items:
            continue
        rates = rng.gamma(stream.observed + 0.5, 1.0 / max(stream.over_s, 1.0), runs)
        counts = rng.poisson(rates * horizon)
        total = int(counts.sum())
        if total == 0:
            continue
        items = np.array(list(stream.items), dtype=int)
        mix = np.array(list(stream.items.values()), dtype=float)
        rep_parts.append(np.repeat(np.arange(runs), counts))
        at_parts.append(rng.uniform(0.0, horizon, total))
        item_parts.append(rng.choice(items, total, p=mix / mix.sum()))
        boost_parts.append(np.full(total, stream.boost_s))
    for booking in booked:
        cutoff = booking.boost_s + last_rank
        if booking.arrivals.size == 0 or cutoff <= 0 or booking.arrivals.min() >= cutoff:
            continue
        arrive = rng.choice(booking.arrivals, runs)
        keep = (rng.random(runs) < booking.show) & (arrive < cutoff)
        rep_parts.append(np.flatnonzero(keep))
        at_parts.append(arrive[keep])
        item_parts.append(np.full(int(keep.sum()), booking.item))
        boost_parts.append(np.full(int(keep.sum()), booking.boost_s))
    if not rep_parts:
        empty = np.zeros(0)
        return _Later(empty.astype(int), empty, empty.astype(int), empty)
    reps, ats = np.concatenate(rep_parts), np.concatenate(at_parts)
    items, boosts = np.concatenate(item_parts), np.concatenate(boost_parts)
    order = np.lexsort((ats, reps))  # by replication, then arrival
    reps, ats, items, boosts = reps[order], ats[order], items[order], boosts[order]
    per_run = np.bincount(reps, minlength=runs)
    starts = np.concatenate(([0], np.cumsum(per_run)[:-1]))
    fits = np.arange(reps.size) - starts[reps] < MAX_JUMPERS
    return _Later(reps[fits], ats[fits], items[fits], boosts[fits])


def project_queue(
    *,
    queue: Sequence[Queued],
    phantoms: Sequence[Queued] = (),
    windows: Sequence[WindowNow],
    history: History,
    jumps: Sequence[JumpStream] = (),
    booked: Sequence[Booked] = (),
    opens_in_s: float = 0.0,
    runs: int = RUNS,
    seed: int = 0,
) -> QueueProjection:
    """Call times (seconds from now) of every ticket of ``queue`` and of every phantom, None
    for one that no window will call.

    One replication lets the windows call until every target is called. A window always
    calls its first eligible ticket by rank, so tickets ranked behind a ticket never change
    when it is called, and each ticket's call time has the distribution of its own
    projection. A phantom is a what-if (a walk-in taking a ticket now): the window that
    calls it records the time and calls again at once, so phantoms delay nobody.
    """
    targets = [*queue, *phantoms]
    n_queue = len(queue)
    usable = [w for w in windows if w.state in ("idle", "serving", "paused")]
    if not targets or not usable:
        return QueueProjection((None,) * n_queue, (None,) * len(phantoms))
    rng = np.random.default_rng(seed)
    later = _later_arrivals(rng, jumps, booked, max(t.rank_s for t in targets), runs)

    # Lanes: tickets that are called in their order within the lane, so a window only
    # looks at each lane's first ticket. Targets (all here now) form one lane per item and
    # window transferred to, by rank; later arrivals one lane per item and boost, by
    # arrival, which is also their rank order.
    lanes: dict[tuple[int, int | None, float | None], int] = {}
    members: dict[int, list[int]] = defaultdict(list)
    for i in sorted(range(len(targets)), key=lambda i: targets[i].rank_s):
        lane = lanes.setdefault((targets[i].item, targets[i].window, None), len(lanes))
        members[lane].append(i)
    later_lane = np.array(
        [
            lanes.setdefault((int(i), None, float(b)), len(lanes))
            for i, b in zip(later.items, later.boosts, strict=True)
        ],
        dtype=int,
    )
    n_lanes = len(lanes)
    # Slot of each later arrival within its lane and replication.
    order = np.lexsort((later.at, later.reps, later_lane))
    reps, ats = later.reps[order], later.at[order]
    l_lane, l_item, l_boost = later_lane[order], later.items[order], later.boosts[order]
    group = l_lane * runs + reps
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if group.size else group
    slot = np.arange(group.size) - np.repeat(first, np.diff(np.r_[first, group.size]))
    width = np.array([len(members[lane]) for lane in range(n_lanes)], dtype=int)
    if group.size:
        np.maximum.at(width, l_lane, slot + 1)
    width += 1  # a closing column of infinite rank and arrival ends every lane
    start = np.r_[0, np.cumsum(width)[:-1]]
    n_cols = int(width.sum())

    rank = np.full((runs, n_cols), np.inf)
    avail = np.full((runs, n_cols), np.inf)
    target_of = np.full((runs, n_cols), -1, dtype=int)  # index into targets, −1: arrival
    item_of = np.full((runs, n_cols), -1, dtype=int)
    for lane, idx in members.items():
        cols = start[lane] + np.arange(len(idx))
        rank[:, cols] = [targets[i].rank_s for i in idx]
        avail[:, cols] = 0.0
        target_of[:, cols] = idx
        item_of[:, cols] = [targets[i].item for i in idx]
    cols = start[l_lane] + slot
    rank[reps, cols] = ats - l_boost
    avail[reps, cols] = ats
    item_of[reps, cols] = l_item

    elig = np.zeros((len(usable), n_lanes), dtype=bool)
    for (item, only, _boost), lane in lanes.items():
        for w, window in enumerate(usable):
            elig[w, lane] = item in window.items and only in (None, window.id)

    # What each ticket will keep its window busy for, drawn up front: handling (bootstrap;
    # per replication each item's mean scaled by a resample's, 1 ± CV/√n, since the recent
    # times only pin it down that well), absent instead, the gap after, a pause after.
    handling = np.zeros((runs, n_cols))
    rows_of = np.broadcast_to(np.arange(runs)[:, None], (runs, n_cols))
    for item in np.unique(item_of[item_of >= 0]):
        pool = _pool(history, int(item))
        scale = rng.choice(pool, (runs, pool.size)).mean(axis=1) / max(float(pool.mean()), 1e-9)
        mask = item_of == item
        handling[mask] = rng.choice(pool, int(mask.sum())) * scale[rows_of[mask]]
    absent = rng.random((runs, n_cols)) < history.absent_share
    gaps = history.gaps if history.gaps.size else np.array([5.0])
    after = rng.choice(gaps, (runs, n_cols))
    pausing = rng.random((runs, n_cols)) < history.pause_share
    if pausing.any():
        after[pausing] += rng.choice(history.pauses, int(pausing.sum()))
    factor = np.array([history.window_factor.get(w.id, 1.0) for w in usable])

    free = np.zeros((runs, len(usable)))
    for w, window in enumerate(usable):
        if window.state == "serving":
            samples = _pool(history, window.item) * factor[w] if window.item else gaps
            free[:, w] = _residual(rng, samples, window.elapsed_s, runs) + rng.choice(gaps, runs)
        elif window.state == "paused":
            if opens_in_s > 0:  # a break of the hall: back when it opens
                free[:, w] = opens_in_s + rng.choice(gaps, runs)
            else:
                free[:, w] = _residual(rng, history.pauses, window.elapsed_s, runs)
                free[:, w] += rng.choice(gaps, runs)
        else:
            free[:, w] = max(opens_in_s, 0.0) + rng.choice(gaps, runs)
    if opens_in_s > 0:
        free = np.maximum(free, opens_in_s)

    called = np.full((runs, len(targets)), np.nan)
    left = np.full(runs, len(targets))
    live = np.ones(runs, dtype=bool)
    rows = np.arange(runs)
    pointer = np.zeros((runs, n_lanes), dtype=int)
    head_rank, head_avail = rank[:, start].copy(), avail[:, start].copy()
    for _step in range(4 * n_cols + 4 * len(usable) + 8):
        if not live.any():
            break
        w_star = np.argmin(free, axis=1)
        t_star = free[rows, w_star]
        live &= np.isfinite(t_star)
        eligible = elig[w_star] & live[:, None]
        now_ok = eligible & (head_avail <= t_star[:, None])
        has = now_ok.any(axis=1)
        # A window with nothing it may call now waits for the next arrival it may call.
        waiting = live & ~has
        if waiting.any():
            wait_for = np.where(eligible[waiting], head_avail[waiting], np.inf).min(axis=1)
            free[waiting, w_star[waiting]] = wait_for
        kk = np.flatnonzero(live & has)
        if kk.size == 0:
            continue
        lane = np.argmin(np.where(now_ok[kk], head_rank[kk], np.inf), axis=1)
        col = start[lane] + pointer[kk, lane]
        pointer[kk, lane] += 1
        head_rank[kk, lane] = rank[kk, col + 1]
        head_avail[kk, lane] = avail[kk, col + 1]
        who = target_of[kk, col]
        hit = who >= 0
        called[kk[hit], who[hit]] = t_star[kk[hit]]
        left[kk[hit]] -= 1
        live[kk[hit]] = left[kk[hit]] > 0
        stay = who < n_queue  # a phantom leaves its window free
        kk, col = kk[stay], col[stay]
        ww = w_star[kk]
        busy = np.where(absent[kk, col], history.absent_s, handling[kk, col] * factor[ww])
        free[kk, ww] = t_star[kk] + busy + after[kk, col]

    done = np.isfinite(called)
    enough = done.sum(axis=0) >= max(runs // 2, 1)
    out: list[Projected | None] = [None] * len(targets)
    if enough.any():
        sure = called[:, enough]
        means = np.nanmean(sure, axis=0)
        low, high = np.nanpercentile(sure, [LOW_Q, HIGH_Q], axis=0)
        for k, index in enumerate(np.flatnonzero(enough).tolist()):
            out[index] = Projected(float(means[k]), float(low[k]), float(high[k]))
    return QueueProjection(tuple(out[:n_queue]), tuple(out[n_queue:]))


def project(
    *,
    ahead: Sequence[Queued],
    target: Queued,
    windows: Sequence[WindowNow],
    history: History,
    jumps: Sequence[JumpStream] = (),
    booked: Sequence[Booked] = (),
    opens_in_s: float = 0.0,
    runs: int = RUNS,
    seed: int = 0,
) -> Projected | None:
    """Call time of ``target`` (seconds from now), or None when no window will call it."""
    return project_queue(
        queue=[*ahead, target],
        windows=windows,
        history=history,
        jumps=jumps,
        booked=booked,
        opens_in_s=opens_in_s,
        runs=runs,
        seed=seed,
    ).tickets[-1]
