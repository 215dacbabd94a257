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
eligible ticket until the ticket in question is called. The mean of the call times is the
estimate; their 10th and 90th percentiles are the projection's range.

Nothing here reads the database: ``waits.py`` gathers the inputs, this module only
computes, so it can be checked on hand-made halls.
"""

from __future__ import annotations

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
    usable = [w for w in windows if w.state in ("idle", "serving", "paused")]
    serving_target = [w for w in usable if target.item in w.items and target.window in (None, w.id)]
    if not serving_target:
        return None
    rng = np.random.default_rng(seed)
    n_windows = len(usable)
    # Ticket classes: (item, window it must go to); eligibility per window and class.
    # (Classes of later arrivals are added below, before eligibility is tabulated.)
    classes: dict[tuple[int, int | None], int] = {}

    def cls(item: int, window: int | None) -> int:
        return classes.setdefault((item, window), len(classes))

    fixed = [*ahead, target]
    fixed_cls = np.array([cls(t.item, t.window) for t in fixed], dtype=int)
    fixed_rank = np.array([t.rank_s for t in fixed], dtype=float)
    target_col = len(fixed) - 1

    # Tickets arriving later and ranked ahead of the target: arrival − boost < its rank.
    rep_parts: list[np.ndarray] = []
    at_parts: list[np.ndarray] = []
    item_parts: list[np.ndarray] = []
    boost_parts: list[np.ndarray] = []
    for stream in jumps:
        horizon = stream.boost_s + target.rank_s
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
        cutoff = booking.boost_s + target.rank_s
        if booking.arrivals.size == 0 or cutoff <= 0 or booking.arrivals.min() >= cutoff:
            continue
        arrive = rng.choice(booking.arrivals, runs)
        keep = (rng.random(runs) < booking.show) & (arrive < cutoff)
        rep_parts.append(np.flatnonzero(keep))
        at_parts.append(arrive[keep])
        item_parts.append(np.full(int(keep.sum()), booking.item))
        boost_parts.append(np.full(int(keep.sum()), booking.boost_s))
    reps = np.concatenate(rep_parts) if rep_parts else np.zeros(0, dtype=int)
    per_run = np.bincount(reps, minlength=runs)
    n_jump = int(min(per_run.max(initial=0), MAX_JUMPERS))
    n_cols = len(fixed) + n_jump
    rank = np.full((runs, n_cols), np.inf)
    avail = np.zeros((runs, n_cols))
    col_cls = np.zeros((runs, n_cols), dtype=int)
    rank[:, : len(fixed)] = fixed_rank
    col_cls[:, : len(fixed)] = fixed_cls
    if n_jump:
        ats = np.concatenate(at_parts)
        jump_items = np.concatenate(item_parts)
        boosts = np.concatenate(boost_parts)
        order = np.lexsort((ats, reps))  # by replication, then arrival
        reps, ats, jump_items, boosts = reps[order], ats[order], jump_items[order], boosts[order]
        starts = np.concatenate(([0], np.cumsum(per_run)[:-1]))
        slot = np.arange(reps.size) - starts[reps]
        fits = slot < n_jump
        reps, slot = reps[fits], slot[fits] + len(fixed)
        avail[reps, slot] = ats[fits]
        rank[reps, slot] = ats[fits] - boosts[fits]
        col_cls[reps, slot] = [cls(int(i), None) for i in jump_items[fits]]
    remaining = np.isfinite(rank)
    elig = np.zeros((n_windows, len(classes)), dtype=bool)
    for (item, only), c in classes.items():
        for w, window in enumerate(usable):
            elig[w, c] = item in window.items and only in (None, window.id)

    pools = {item: _pool(history, item) for item, _ in classes}
    cls_item = np.array([item for (item, _w) in classes], dtype=int)
    # How well the recent handling times pin down each item's mean: per replication, the
    # mean of a bootstrap resample over the mean (1 ± CV/√n) scales that item's times.
    scale = {
        item: rng.choice(pool, (runs, pool.size)).mean(axis=1) / max(float(pool.mean()), 1e-9)
        for item, pool in pools.items()
    }
    factor = np.array([history.window_factor.get(w.id, 1.0) for w in usable])
    gaps = history.gaps if history.gaps.size else np.array([5.0])

    def gap(n: int) -> np.ndarray:
        return rng.choice(gaps, n)

    free = np.zeros((runs, n_windows))
    for w, window in enumerate(usable):
        if window.state == "serving":
            samples = _pool(history, window.item) * factor[w] if window.item else gaps
            free[:, w] = _residual(rng, samples, window.elapsed_s, runs) + gap(runs)
        elif window.state == "paused":
            if opens_in_s > 0:  # a break of the hall: back when it opens
                free[:, w] = opens_in_s + gap(runs)
            else:
                free[:, w] = _residual(rng, history.pauses, window.elapsed_s, runs) + gap(runs)
        else:
            free[:, w] = max(opens_in_s, 0.0) + gap(runs)
    if opens_in_s > 0:
        free = np.maximum(free, opens_in_s)

    called = np.full(runs, np.nan)
    live = np.ones(runs, dtype=bool)
    rows = np.arange(runs)
    for _step in range(4 * n_cols + 4 * n_windows + 8):
        if not live.any():
            break
        w_star = np.argmin(free, axis=1)
        t_star = free[rows, w_star]
        stuck = live & ~np.isfinite(t_star)
        live &= ~stuck
        eligible = elig[w_star[:, None], col_cls] & remaining & live[:, None]
        now_ok = eligible & (avail <= t_star[:, None])
        has = now_ok.any(axis=1)
        # A window with nothing it may call now waits for the next arrival it may call.
        waiting = live & ~has
        if waiting.any():
            later = np.where(eligible, avail, np.inf).min(axis=1)
            free[waiting, w_star[waiting]] = later[waiting]
        take = live & has
        if not take.any():
            continue
        picked = np.argmin(np.where(now_ok, rank, np.inf), axis=1)
        kk = rows[take]
        cols = picked[take]
        remaining[kk, cols] = False
        hit = cols == target_col
        called[kk[hit]] = t_star[kk[hit]]
        live[kk[hit]] = False
        kk, cols = kk[~hit], cols[~hit]
        if kk.size == 0:
            continue
        ww = w_star[kk]
        busy = np.empty(kk.size)
        cls_taken = col_cls[kk, cols]
        for c in np.unique(cls_taken):
            sel = cls_taken == c
            item = int(cls_item[c])
            draws = rng.choice(pools[item], int(sel.sum())) * scale[item][kk[sel]]
            busy[sel] = draws * factor[ww[sel]]
        absent = rng.random(kk.size) < history.absent_share
        busy[absent] = history.absent_s
        busy += gap(kk.size)
        pausing = rng.random(kk.size) < history.pause_share
        if pausing.any():
            busy[pausing] += rng.choice(history.pauses, int(pausing.sum()))
        free[kk, ww] = t_star[kk] + busy
    done = called[np.isfinite(called)]
    if done.size < runs // 2:
        return None
    return Projected(
        expected_s=float(done.mean()),
        low_s=float(np.percentile(done, LOW_Q)),
        high_s=float(np.percentile(done, HIGH_Q)),
    )
