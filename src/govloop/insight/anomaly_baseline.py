"""One-step-ahead baselines for the anomaly tests: robust exponential smoothing.

A local level with additive weekday effects on the link scale (log μ for counts,
log(1 + x) for means), updated day by day in the manner of robust Holt-Winters smoothing
(Gelper, Fried & Croux 2010): the residual is clipped at a few robust standard deviations
before it moves the level or the weekday effect, so an anomaly barely moves the baseline.

The gains start as running means (1 / days seen, 1 / same weekdays seen) and settle at
LEVEL_GAIN and WEEKDAY_GAIN: early on every day counts fully, later the level follows drift
(about twelve open days of memory) while the weekday effects keep about a year. On the
tuning seed its error on ordinary days is 0.14 of the noise variance for counts and 0.095 for
mean waits, against 0.19 and 0.12 for the window baseline it replaced (trimmed means over
sixteen weeks, level of the last twenty days).

Special days (month-end, around holidays, weekend workdays) neither update the level nor
the weekday effects; their prediction is the ordinary one, to which the detector adds the
effect it learnt for their kind.
"""

from __future__ import annotations

import numpy as np

LEVEL_GAIN = 0.08
WEEKDAY_GAIN = 0.02
CLIP = 2.5  # residuals beyond this many robust standard deviations are clipped
SCALE_GAIN = 0.05  # how fast the robust scale follows the residuals
INIT_TRIM = 0.2  # share cut at each end of the initial means


def _trimmed(values: np.ndarray) -> float:
    k = int(INIT_TRIM * len(values))
    return float(np.sort(values)[k : len(values) - k].mean())


def _start(
    link: np.ndarray, values: np.ndarray, weekday: np.ndarray, counts: bool
) -> tuple[float, np.ndarray]:
    """Level and weekday effects from the first weeks (trimmed means)."""

    def centre(v: np.ndarray) -> float:
        return float(np.log(max(_trimmed(v), 0.5))) if counts else _trimmed(v)

    level = centre(values if counts else link)
    effects = np.zeros(7)
    for d in np.unique(weekday):
        own = weekday == d
        if own.sum() >= 2:
            effects[d] = centre(values[own] if counts else link[own]) - level
    return level, effects


def smoothed_baseline(
    x: np.ndarray,
    weekday: np.ndarray,
    ordinary: np.ndarray,
    init: np.ndarray,
    *,
    counts: bool,
) -> np.ndarray:
    """One-step-ahead predictions on the link scale (NaN where there is no state yet).

    ``x`` is the raw count (``counts=True``, link log μ) or the value on the link scale;
    NaN values are skipped. ``init`` marks the ordinary days whose means start the state
    (the first weeks, which are never assessed).
    """
    out = np.full(len(x), np.nan)
    usable = ordinary & np.isfinite(x)
    start = init & usable
    if start.sum() < 3:
        return out
    link = np.log(np.clip(x, 0.5, None)) if counts else x
    level, effects = _start(link[start], x[start], weekday[start], counts)
    spread = np.abs(link[start] - level - effects[weekday[start]])
    scale = max(float(np.median(spread)) * 1.4826, 1e-3)
    seen = float(start.sum())
    visits = np.bincount(weekday[start], minlength=7).astype(float)
    for t in range(len(x)):
        prediction = level + effects[weekday[t]]
        out[t] = prediction
        if not usable[t]:
            continue
        # counts: the relative error (≈ the log error, and defined at zero)
        residual = x[t] / np.exp(prediction) - 1 if counts else link[t] - prediction
        clipped = min(max(residual, -CLIP * scale), CLIP * scale)
        if not init[t]:
            seen += 1
            visits[weekday[t]] += 1
        gain = max(LEVEL_GAIN, 1 / seen)
        level += gain * clipped
        effects[weekday[t]] += max(WEEKDAY_GAIN, 1 / visits[weekday[t]]) * (1 - gain) * clipped
        scale = float(
            np.sqrt((1 - SCALE_GAIN) * scale**2 + SCALE_GAIN * min(residual**2, 9 * scale**2))
        )
    return out
