"""Scoring the wait estimates of `govloop bench eta`.

Every predictor is scored on the same tickets: those of the scored days that were served
(finished at a window), for which the kiosk showed an estimate. The realized wait is the
time from issue to the ticket's first call (what the slip predicts: when the number comes
up on the board).

* RRASE (root relative average squared error) = sqrt(mean((pred − real)²)) / mean(real).
* ``rrase_ratio`` = the shown estimate's RRASE over the better of the two references:
  queue length × mean handling (``baseline``) and the delay of the last ticket of the same
  item to enter service (``les``, Ibrahim & Whitt).
* ``coverage_10_90`` = share of realized waits inside the shown range (low ≤ real ≤ high).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from govloop.bench.eta.simulate import DayRecord, TicketRecord

RRASE_RATIO_GOAL = 0.85
COVERAGE_GOAL = (0.75, 0.85)


def rrase(predicted: Sequence[float], realized: Sequence[float]) -> float:
    pred = np.asarray(predicted, dtype=float)
    real = np.asarray(realized, dtype=float)
    if real.size == 0 or real.mean() <= 0:
        return math.nan
    return float(np.sqrt(np.mean((pred - real) ** 2)) / real.mean())


def coverage(low: Sequence[float], high: Sequence[float], realized: Sequence[float]) -> float:
    real = np.asarray(realized, dtype=float)
    if real.size == 0:
        return math.nan
    inside = (np.asarray(low, dtype=float) <= real) & (real <= np.asarray(high, dtype=float))
    return float(inside.mean())


def _r(value: float, digits: int = 4) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


def score(records: Iterable[TicketRecord]) -> dict[str, Any]:
    """The figures over the served tickets that carry a shown estimate."""
    rows = []
    excluded: dict[str, int] = defaultdict(int)
    for r in records:
        if not r.served:
            excluded["not_served"] += 1
        elif r.eta is None or r.low is None or r.high is None:
            excluded["no_estimate_shown"] += 1
        elif r.baseline is None:
            excluded["no_baseline"] += 1
        elif r.waited is not None:
            rows.append(r)
    real = [r.waited or 0.0 for r in rows]
    shown = [r.eta or 0.0 for r in rows]
    base = [r.baseline or 0.0 for r in rows]
    les = [r.les for r in rows]
    ours, theirs, last = rrase(shown, real), rrase(base, real), rrase(les, real)
    best = min(theirs, last)
    ratio = ours / best if math.isfinite(ours) and best > 0 else math.nan
    figures: dict[str, Any] = {
        "n_tickets": len(rows),
        "mean_realized_wait_s": _r(float(np.mean(real)), 1) if rows else None,
        "p90_realized_wait_s": _r(float(np.percentile(real, 90)), 1) if rows else None,
        "rrase": _r(ours),
        "baseline_rrase": _r(theirs),
        "les_rrase": _r(last),
        "rrase_ratio": _r(ratio),
        "coverage_10_90": _r(
            coverage([r.low or 0.0 for r in rows], [r.high or 0.0 for r in rows], real)
        ),
        "mean_shown_s": _r(float(np.mean(shown)), 1) if rows else None,
        "mean_baseline_s": _r(float(np.mean(base)), 1) if rows else None,
        "mean_les_s": _r(float(np.mean(les)), 1) if rows else None,
        "excluded": dict(excluded),
    }
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({r.kind for r in rows}):
        part = [r for r in rows if r.kind == kind]
        real_k = [r.waited or 0.0 for r in part]
        by_kind[kind] = {
            "n": len(part),
            "mean_realized_wait_s": _r(float(np.mean(real_k)), 1),
            "mean_shown_s": _r(float(np.mean([r.eta or 0.0 for r in part])), 1),
            "rrase": _r(rrase([r.eta or 0.0 for r in part], real_k)),
            "coverage_10_90": _r(
                coverage([r.low or 0.0 for r in part], [r.high or 0.0 for r in part], real_k)
            ),
        }
    figures["by_kind"] = by_kind
    return figures


def goals(figures: dict[str, Any]) -> dict[str, bool]:
    ratio, cover = figures.get("rrase_ratio"), figures.get("coverage_10_90")
    low, high = COVERAGE_GOAL
    return {
        "rrase_ratio": ratio is not None and ratio <= RRASE_RATIO_GOAL,
        "coverage_10_90": cover is not None and low <= cover <= high,
    }


def _overlap(a: float, b: float, c: float, d: float) -> float:
    return max(0.0, min(b, d) - max(a, c))


def _inside(spans: Sequence[tuple[float, float]], opened: Sequence[tuple[float, float]]) -> float:
    return sum(_overlap(s, e, a, b) for s, e in spans for a, b in opened)


def _load(
    scored: Sequence[DayRecord], records: Sequence[TicketRecord], a: float, b: float
) -> tuple[float, float, float]:
    """(work of the tickets issued in [a, b), open window time, busy window time) there."""
    work = sum(r.occupied_s for r in records if a <= r.issued_s < b)
    capacity = busy = 0.0
    for d in scored:
        opened = [(max(a, s), min(b, e)) for s, e in d.periods if min(b, e) > max(a, s)]
        for w in d.windows:
            capacity += max(sum(e - s for s, e in opened) - _inside(w.paused, opened), 0.0)
            busy += _inside(w.busy, opened)
    return work, capacity, busy


def utilisation(
    days: Sequence[DayRecord],
    records: Iterable[TicketRecord],
    peaks: Sequence[tuple[float, float]] = (),
) -> dict[str, Any]:
    """How loaded the hall was over the scored days.

    The utilisation of a span of the day is the window time that the tickets issued in it
    took (handling, walk-up and waiting for absent citizens) over the window time open in
    it (opening periods, less pauses): the offered load ρ, as it was realized.

    * ``peak_utilisation``: of the busiest of ``peaks`` (the scenario's arrival periods
      of an hour or more; every clock hour without them), with its ``peak_busy_share``,
      the share of open window time spent with a ticket.
    * ``utilisation_by_hour``: per clock hour (noisier: an hour of three days holds a few
      hundred tickets at most).
    """
    scored = [d for d in days if d.scored]
    indexes = {d.index for d in scored}
    mine = [r for r in records if r.day in indexes]
    if not scored or not mine:
        return {}
    hours = {}
    for hour in range(24):
        work, capacity, _busy = _load(scored, mine, hour * 3600.0, (hour + 1) * 3600.0)
        if capacity > 0:
            hours[hour] = (work / capacity, capacity)
    full = max(c for _rho, c in hours.values())
    by_hour = {h: rho for h, (rho, c) in hours.items() if c >= 0.5 * full}
    spans = [(a, b) for a, b in peaks if b - a >= 3600.0] or [
        (h * 3600.0, (h + 1) * 3600.0) for h in by_hour
    ]
    loads = {span: _load(scored, mine, *span) for span in spans}
    peak = max(spans, key=lambda span: loads[span][0] / max(loads[span][1], 1e-9))
    work, capacity, busy = loads[peak]
    open_total = _load(scored, mine, 0.0, 86400.0)[1]
    return {
        "peak_utilisation": _r(work / capacity, 3),
        "peak_period": f"{_clock(peak[0])}-{_clock(peak[1])}",
        "peak_busy_share": _r(busy / capacity, 3),
        "day_utilisation": _r(sum(r.occupied_s for r in mine) / max(open_total, 1e-9), 3),
        "utilisation_by_hour": {f"{h:02d}": _r(rho, 3) for h, rho in sorted(by_hour.items())},
    }


def _clock(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
