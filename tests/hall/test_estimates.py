from __future__ import annotations

import numpy as np
import pytest

from govloop.hall.estimates import (
    WaitInputs,
    estimate_abandon_rate,
    naive_estimate,
    queue_length_predictor,
    relative_rmse,
)


def test_without_abandonment_qlp_mean_is_queue_length_over_capacity():
    inputs = WaitInputs(ahead=9, servers=2, idle=0, mean_service_s=300, abandon_rate=0.0)
    est = queue_length_predictor(inputs)
    assert est.expected_s == pytest.approx(10 * 300 / 2)
    assert est.low_s < est.expected_s < est.high_s
    assert naive_estimate(inputs).expected_s == pytest.approx(est.expected_s)


def test_abandonment_shortens_the_expected_wait():
    base = WaitInputs(ahead=20, servers=2, idle=0, mean_service_s=300, abandon_rate=0.0)
    patient = queue_length_predictor(base).expected_s
    impatient = queue_length_predictor(
        WaitInputs(**{**base.__dict__, "abandon_rate": 1 / 1800})
    ).expected_s
    assert impatient < patient


def test_idle_window_means_no_wait_and_no_window_means_unknown():
    assert queue_length_predictor(WaitInputs(1, 3, 2, 300, 0.0)).expected_s == 0.0
    unknown = queue_length_predictor(WaitInputs(4, 0, 0, 300, 0.0))
    assert not unknown.known and unknown.low_s is None


def test_qlp_matches_simulated_mms_plus_m_waits():
    """Monte Carlo of the exact model: exponential services and patience."""
    rng = np.random.default_rng(7)
    servers, mean_service, theta, ahead = 3, 240.0, 1 / 1200, 12
    waits = []
    for _ in range(4000):
        t, queue = 0.0, ahead - 0  # all servers busy, `ahead` waiting in front
        while True:
            rate = servers / mean_service + queue * theta
            t += rng.exponential(1 / rate)
            if queue == 0:
                break
            queue -= 1
        waits.append(t)
    est = queue_length_predictor(WaitInputs(ahead, servers, 0, mean_service, theta))
    assert est.expected_s == pytest.approx(np.mean(waits), rel=0.05)
    inside = np.mean([(est.low_s <= w <= est.high_s) for w in waits])
    assert 0.7 <= inside <= 0.9  # a 10–90 % range covers about 80 %


def test_abandon_rate_and_relative_rmse():
    assert estimate_abandon_rate(3, 3600) == pytest.approx(3 / 3600)
    assert estimate_abandon_rate(0, 0) == 0.0
    assert relative_rmse([10, 20], [10, 20]) == 0.0
    assert relative_rmse([0, 0], [10, 30]) == pytest.approx(np.sqrt((100 + 900) / 2) / 20)
