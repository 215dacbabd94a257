"""Wait-time estimates for a waiting ticket.

The queue-length predictor (QLP) with abandonment of Ibrahim & Whitt (2009): a ticket
with ``m`` tickets ahead that still need a window advances one place at rate
``s·μ + j·θ`` while ``j`` tickets are ahead (service completions plus abandonment of
those ahead), so the wait is a sum of independent exponentials. Its mean and variance
are exact under the M/M/s+M assumptions; the range is the 10th–90th percentile of a
gamma distribution with the same two moments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import gamma

LOW_Q, HIGH_Q = 0.10, 0.90


@dataclass(frozen=True)
class WaitInputs:
    ahead: int  # waiting tickets that will be called before this one
    servers: int  # open windows that serve this ticket's item
    idle: int  # of those, windows free right now
    mean_service_s: float  # recent mean window occupancy per ticket
    abandon_rate: float  # θ, no-shows per second of waiting (exponential patience)


@dataclass(frozen=True)
class WaitEstimate:
    expected_s: float | None
    low_s: float | None
    high_s: float | None
    method: str

    @property
    def known(self) -> bool:
        return self.expected_s is not None


def _unknown(method: str) -> WaitEstimate:
    return WaitEstimate(None, None, None, method)


def queue_length_predictor(inputs: WaitInputs) -> WaitEstimate:
    if inputs.servers <= 0 or inputs.mean_service_s <= 0:
        return _unknown("qlp")
    needed = inputs.ahead - inputs.idle  # tickets ahead still to be served by busy windows
    if needed < 0:
        return WaitEstimate(0.0, 0.0, 0.0, "qlp")
    mu = 1.0 / inputs.mean_service_s
    rates = inputs.servers * mu + np.arange(needed + 1) * max(inputs.abandon_rate, 0.0)
    mean = float(np.sum(1.0 / rates))
    var = float(np.sum(1.0 / rates**2))
    shape = mean * mean / var
    scale = var / mean
    low = float(gamma.ppf(LOW_Q, shape, scale=scale))
    high = float(gamma.ppf(HIGH_Q, shape, scale=scale))
    return WaitEstimate(mean, low, high, "qlp")


def naive_estimate(inputs: WaitInputs) -> WaitEstimate:
    """Plain queue length × mean handling time, the baseline the QLP must beat."""
    if inputs.servers <= 0 or inputs.mean_service_s <= 0:
        return _unknown("naive")
    needed = max(inputs.ahead - inputs.idle + 1, 0)
    mean = needed * inputs.mean_service_s / inputs.servers
    return WaitEstimate(mean, mean, mean, "naive")


def estimate_abandon_rate(no_shows: int, total_wait_s: float) -> float:
    """MLE of θ for exponential patience: abandonments over total time at risk."""
    if total_wait_s <= 0:
        return 0.0
    return no_shows / total_wait_s


def relative_rmse(estimates: list[float], actuals: list[float]) -> float:
    """Relative root mean squared error: RMSE divided by the mean actual."""
    est = np.asarray(estimates, dtype=float)
    act = np.asarray(actuals, dtype=float)
    if est.size == 0 or act.mean() <= 0:
        return float("nan")
    return float(np.sqrt(np.mean((est - act) ** 2)) / act.mean())
