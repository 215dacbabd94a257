"""Erlang C and exact Erlang A (M/M/n+M, Palm) service levels.

Service level = share of ALL arrivals whose service begins within ``t`` minutes; a citizen
who abandons before being called does not count as met.

Erlang A, exact (the only approximation is truncating a convergent series at ~1e-15).
With arrival rate λ, μ = 1/mean handling, θ = 1/mean patience and n windows, let
x = nμ/θ and y = λ/θ. The birth-death chain gives

    π_k ∝ (λ/μ)^k / k!            for k ≤ n,
    π_{n+j} = π_n · w_j,  w_j = y^j / Π_{i=1..j} (x + i)   for j ≥ 0 waiting.

By PASTA an arrival sees π. If it finds j ≥ 0 waiting ahead (all windows busy), the queue
ahead drains at rates θ(x+i), i = j..0, so its call time V is a sum of exponentials, and
W = 1 − e^{−θV} ~ Beta(j+1, x). With its own exponential patience P:

    P(V ≤ min(t, P) | j) = E[e^{−θV}; V ≤ t] = x/(x+j+1) · I_{1−e^{−θt}}(j+1, x+1)
    P(abandon | j)       = 1 − E[e^{−θV}]    = (j+1)/(x+j+1)
    E[V; served | j]     = E[V e^{−θV}]      = x/(x+j+1) · Σ_{i=0..j} 1/(θ(x+i+1))

so SL = Σ_{k<n} π_k + π_n Σ_j w_j · x/(x+j+1) · I_{1−e^{−θt}}(j+1, x+1).
Everything is computed in log space and vectorized over j with numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

from govloop.insight.queueing_types import ServiceTarget

Model = Literal["erlang_a", "erlang_c"]

# Patience this many times the handling time behaves like infinite patience; beyond it the
# Erlang A series would need millions of terms under overload, so Erlang C is used.
INFINITE_PATIENCE_RATIO = 1e6
_LOG_NEGLIGIBLE = -36.0  # terms below e^-36 ≈ 2e-16 of the largest one are dropped


@dataclass(frozen=True)
class ErlangA:
    service_level: float  # share of all arrivals called within t
    p_wait: float  # probability that an arrival finds every window busy
    p_abandon: float  # probability that an arrival leaves before being called
    mean_wait_served: float  # minutes, over citizens who are served (nan if nobody is)
    utilization: float  # mean share of time a window is busy


def _check(arrival_rate: float, mean_handling: float, windows: int, within: float) -> None:
    if not (arrival_rate >= 0 and math.isfinite(arrival_rate)):
        raise ValueError("arrival_rate must be finite and >= 0")
    if not mean_handling > 0:
        raise ValueError("mean_handling must be > 0")
    if windows < 0:
        raise ValueError("windows must be >= 0")
    if not within >= 0:
        raise ValueError("within must be >= 0")


def _erlang_c_wait_probability(offered: float, windows: int) -> float:
    """P(wait > 0) in M/M/n for offered load < n, via the stable Erlang B recursion."""
    blocking = 1.0
    for k in range(1, windows + 1):
        blocking = offered * blocking / (k + offered * blocking)
    return windows * blocking / (windows - offered * (1.0 - blocking))


def erlang_c_service_level(
    arrival_rate: float, mean_handling: float, windows: int, within: float
) -> float:
    """Share called within ``within`` minutes in M/M/n (nobody leaves): 1 − C·e^{−(nμ−λ)t}."""
    _check(arrival_rate, mean_handling, windows, within)
    if arrival_rate == 0:
        return 1.0
    offered = arrival_rate * mean_handling
    if offered >= windows:
        return 0.0  # unstable: the queue grows without bound
    p_wait = _erlang_c_wait_probability(offered, windows)
    return 1.0 - p_wait * math.exp(-(windows / mean_handling - arrival_rate) * within)


def _erlang_c_full(
    arrival_rate: float, mean_handling: float, windows: int, within: float
) -> ErlangA:
    offered = arrival_rate * mean_handling
    if offered >= windows:
        return ErlangA(0.0, 1.0, 0.0, math.inf, 1.0)
    p_wait = _erlang_c_wait_probability(offered, windows)
    drain = windows / mean_handling - arrival_rate
    return ErlangA(
        service_level=1.0 - p_wait * math.exp(-drain * within),
        p_wait=p_wait,
        p_abandon=0.0,
        mean_wait_served=p_wait / drain,
        utilization=offered / windows,
    )


def erlang_a(
    arrival_rate: float,
    mean_handling: float,
    mean_patience: float | None,
    windows: int,
    within: float,
) -> ErlangA:
    """Exact M/M/n+M figures; ``mean_patience=None`` (or inf) means Erlang C."""
    _check(arrival_rate, mean_handling, windows, within)
    if mean_patience is not None and not mean_patience > 0:
        raise ValueError("mean_patience must be > 0 or None")
    if arrival_rate == 0:
        return ErlangA(1.0, 0.0, 0.0, 0.0, 0.0)
    if windows == 0:
        return ErlangA(0.0, 1.0, 1.0, math.nan, 0.0)
    if _patience_is_infinite(mean_patience, mean_handling):
        return _erlang_c_full(arrival_rate, mean_handling, windows, within)
    assert mean_patience is not None
    return _erlang_a_cached(
        float(arrival_rate), float(mean_handling), float(mean_patience), int(windows), float(within)
    )


def _patience_is_infinite(mean_patience: float | None, mean_handling: float) -> bool:
    return mean_patience is None or mean_patience >= INFINITE_PATIENCE_RATIO * mean_handling


@lru_cache(maxsize=100_000)
def _erlang_a_cached(
    arrival_rate: float, mean_handling: float, mean_patience: float, windows: int, within: float
) -> ErlangA:
    rows = _erlang_a_rows(
        np.array([arrival_rate]),
        np.array([mean_handling]),
        np.array([mean_patience]),
        np.array([windows]),
        np.array([within]),
    )
    return ErlangA(*(float(column[0]) for column in rows))


def _erlang_a_rows(
    arrival_rate: np.ndarray,
    mean_handling: np.ndarray,
    mean_patience: np.ndarray,
    windows: np.ndarray,
    within: np.ndarray,
    patience_ratio: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Erlang A for many queues at once (λ > 0, n ≥ 1, finite patience), as ErlangA columns.

    ``patience_ratio`` c gives the service level of a tagged class of citizens whose
    abandonment rate is cθ while the queue moves as in the pool (a pool of items with
    different patience): tilting V by e^{−cθV} gives Π_{i≤j} (x+i)/(x+i+c) ·
    I_{1−e^{−θt}}(j+1, x+c), which is the formula above for c = 1.

    Rows are queues, columns the number j already waiting. The incomplete beta
    I_r(j+1, b) comes from its recurrence in j, I_r(j+1, b) = I_r(j, b) − Γ(j+b) r^j
    (1−r)^b / (Γ(j+1) Γ(b)): one cumulative sum instead of a special function per term.
    """
    theta = 1.0 / mean_patience
    offered = arrival_rate * mean_handling
    y = arrival_rate * mean_patience
    x = windows * (mean_patience / mean_handling)
    col = (slice(None), None)  # a per-row value as a column

    k = np.arange(windows.max() + 1, dtype=float)
    log_power = k * np.log(offered)[col] - gammaln(k + 1.0)  # log (a^k / k!)
    log_at_n = np.take_along_axis(log_power, windows[col], axis=1)[:, 0]
    log_low = np.where(k < windows[col], log_power, -np.inf)
    # log w_j, j = 0..J: w_j grows while x + j < y, then falls faster than geometrically
    size = int(max(0.0, float((y - x).max()))) + 48
    while True:
        j = np.arange(1, size, dtype=float)
        log_w = np.zeros((x.size, size))
        np.cumsum(np.log(y[col] / (x[col] + j)), axis=1, out=log_w[:, 1:])
        if (log_w[:, -1] - log_w.max(axis=1)).max() < _LOG_NEGLIGIBLE:
            break
        size *= 2
    log_high = log_at_n[col] + log_w
    top = np.maximum(log_low.max(axis=1), log_high.max(axis=1))
    low_sums = np.exp(log_low - top[col]).sum(axis=1)  # Σ_{k<n} π_k, unnormalized
    high = np.exp(log_high - top[col])
    total = low_sums + high.sum(axis=1)
    p_no_wait = low_sums / total
    p_high = high / total[col]  # P(an arrival finds all busy and j waiting)

    jj = np.arange(size, dtype=float)
    p_served = x[col] / (x[col] + jj + 1.0)
    ratio = np.ones_like(x) if patience_ratio is None else patience_ratio
    stays = np.exp(np.cumsum(np.log((x[col] + jj) / (x[col] + jj + ratio[col])), axis=1))
    b = x + ratio
    decay = theta * within  # θt; inf when within is inf
    with np.errstate(divide="ignore"):
        log_reach = np.log(-np.expm1(-decay))  # log(1 − e^{−θt}), −inf when t = 0
    log_terms = np.empty((x.size, size - 1))
    log_terms[:, 0] = np.log(b) + log_reach - b * decay
    m = jj[1 : size - 1]
    np.cumsum(log_reach[col] + np.log((m + b[col]) / (m + 1.0)), axis=1, out=log_terms[:, 1:])
    log_terms[:, 1:] += log_terms[:, :1]
    first = -np.expm1(-b * decay)  # I(1, b)
    in_time = np.empty_like(p_high)
    in_time[:, 0] = first
    in_time[:, 1:] = first[col] - np.cumsum(np.exp(log_terms), axis=1)
    np.clip(in_time, 0.0, 1.0, out=in_time)

    served = p_no_wait + (p_high * p_served).sum(axis=1)
    wait_if_served = p_served * np.cumsum(1.0 / (x[col] + jj + 1.0), axis=1) / theta[col]
    return (
        np.minimum(1.0, p_no_wait + (p_high * stays * in_time).sum(axis=1)),
        p_high.sum(axis=1),
        np.maximum(0.0, 1.0 - served),
        (p_high * wait_if_served).sum(axis=1) / served,
        np.minimum(1.0, arrival_rate * served * mean_handling / windows),
    )


def service_levels(
    arrival_rate: np.ndarray | Sequence[float],
    mean_handling: np.ndarray | Sequence[float],
    mean_patience: np.ndarray | Sequence[float | None],
    windows: np.ndarray | Sequence[int],
    within: np.ndarray | Sequence[float],
    model: Model = "erlang_a",
    patience_ratio: np.ndarray | Sequence[float] | None = None,
) -> np.ndarray:
    """Service levels of many queues in one vectorized pass (same rules as ``erlang_a``).

    Patience None or inf (or any patience under ``model="erlang_c"``) uses Erlang C.
    ``patience_ratio`` (default 1): see ``_erlang_a_rows``.
    """
    rate = np.asarray(arrival_rate, dtype=float)
    handling = np.asarray(mean_handling, dtype=float)
    patience = np.array([math.inf if p is None else p for p in mean_patience], dtype=float)
    count = np.asarray(windows, dtype=int)
    limit = np.asarray(within, dtype=float)
    levels = np.empty(rate.size)
    exact = (rate > 0) & (count > 0) & (patience < INFINITE_PATIENCE_RATIO * handling)
    if model == "erlang_c":
        exact[:] = False
    if exact.any():
        ratio = np.ones(rate.size) if patience_ratio is None else np.asarray(patience_ratio, float)
        levels[exact] = _erlang_a_rows(
            rate[exact], handling[exact], patience[exact], count[exact], limit[exact], ratio[exact]
        )[0]
    for r in np.flatnonzero(~exact):
        levels[r] = (
            erlang_c_service_level(rate[r], handling[r], int(count[r]), limit[r])
            if rate[r] == 0 or count[r] > 0
            else 0.0
        )
    return levels


def service_level(
    arrival_rate: float,
    mean_handling: float,
    mean_patience: float | None,
    windows: int,
    within: float,
    model: Model = "erlang_a",
) -> float:
    if model == "erlang_c":
        return erlang_c_service_level(arrival_rate, mean_handling, windows, within)
    return erlang_a(arrival_rate, mean_handling, mean_patience, windows, within).service_level


def fewest_windows(
    arrival_rate: float,
    mean_handling: float,
    mean_patience: float | None,
    target: ServiceTarget,
    max_windows: int,
    model: Model = "erlang_a",
) -> int | None:
    """Fewest windows meeting ``target``, or None when even ``max_windows`` do not.

    Lower bound: served citizens are at most nμ/λ of arrivals, so n ≥ share·a (and n > a
    for Erlang C). Erlang C then walks the Erlang B recursion upwards; Erlang A evaluates
    blocks of window counts at once (service level grows with n).
    """
    _check(arrival_rate, mean_handling, max(max_windows, 0), target.within_minutes)
    if arrival_rate == 0:
        return 0
    return _fewest_cached(
        float(arrival_rate),
        float(mean_handling),
        None if mean_patience is None else float(mean_patience),
        target.share,
        float(target.within_minutes),
        int(max_windows),
        model,
    )


@lru_cache(maxsize=100_000)
def _fewest_cached(
    arrival_rate: float,
    mean_handling: float,
    mean_patience: float | None,
    share: float,
    within: float,
    max_windows: int,
    model: Model,
) -> int | None:
    offered = arrival_rate * mean_handling
    n = max(1, math.ceil(share * offered - 1e-9))
    goal = share - 1e-12
    if model == "erlang_c" or _patience_is_infinite(mean_patience, mean_handling):
        n = max(n, math.floor(offered) + 1)
        while n <= max_windows:
            if erlang_c_service_level(arrival_rate, mean_handling, n, within) >= goal:
                return n
            n += 1
        return None
    assert mean_patience is not None
    block = max(4, math.ceil(3.0 * math.sqrt(offered)) + 2)
    while n <= max_windows:
        counts = np.arange(n, min(max_windows, n + block - 1) + 1)
        ones = np.ones(counts.size)
        levels = _erlang_a_rows(
            arrival_rate * ones, mean_handling * ones, mean_patience * ones, counts, within * ones
        )[0]
        meeting = np.flatnonzero(levels >= goal)
        if meeting.size:
            return int(counts[meeting[0]])
        n = int(counts[-1]) + 1
        block *= 2
    return None


def estimate_patience(
    waits_minutes: Sequence[float],
    no_show: Sequence[bool],
    min_observations: int = 20,
) -> float | None:
    """MLE of the mean (exponential) patience from called tickets (current-status data).

    A ticket called after waiting w was absent with probability 1 − e^{−θw}, so the
    log-likelihood is Σ_absent log(1 − e^{−θw}) − θ Σ_present w. Waits ≤ 0 say nothing
    about patience and are ignored. None without both absent and present tickets or with
    fewer than ``min_observations`` usable tickets: the data cannot pin θ down.
    """
    if len(waits_minutes) != len(no_show):
        raise ValueError("waits_minutes and no_show must have the same length")
    waits = np.asarray(waits_minutes, dtype=float)
    absent = np.asarray(no_show, dtype=bool)
    usable = waits > 0
    waits, absent = waits[usable], absent[usable]
    if waits.size < min_observations or not absent.any() or absent.all():
        return None
    absent_waits = waits[absent]
    present_total = float(waits[~absent].sum())

    def negative_log_likelihood(log_theta: float) -> float:
        theta = math.exp(log_theta)
        return -(float(np.log(-np.expm1(-theta * absent_waits)).sum()) - theta * present_total)

    # θ between 1e-7 and 1e3 per minute covers patience from 0.001 min to ~19 years
    result = minimize_scalar(
        negative_log_likelihood,
        bounds=(math.log(1e-7), math.log(1e3)),
        method="bounded",
        options={"xatol": 1e-9},
    )
    return float(math.exp(-result.x))
