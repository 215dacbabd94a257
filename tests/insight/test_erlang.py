"""Erlang C and exact Erlang A against independent computations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.linalg import expm
from scipy.special import gammainc

from govloop.insight.erlang import (
    erlang_a,
    erlang_c_service_level,
    estimate_patience,
    fewest_windows,
    service_levels,
)
from govloop.insight.queueing_types import ItemLoad, ServiceTarget, WindowSkill
from govloop.insight.simulation import simulate_hall


def birth_death(rate: float, handling: float, patience: float | None, n: int, size: int):
    """Stationary distribution of the truncated M/M/n+M chain, by brute force."""
    mu, theta = 1.0 / handling, 0.0 if patience is None else 1.0 / patience
    weights = [1.0]
    for k in range(1, size):
        death = min(k, n) * mu + max(0, k - n) * theta
        weights.append(weights[-1] * rate / death)
    pi = np.array(weights)
    return pi / pi.sum()


def tagged_call_probability(
    n: int, handling: float, theta: float, tagged: float, t: float, size: int
):
    """P(called by t | j waiting ahead) for j < size, by a matrix exponential.

    Transient states: j waiting ahead of the tagged citizen; absorbing: called, left.
    Ahead of it the queue drains at nμ + jθ; it leaves itself at ``tagged``.
    """
    mu = 1.0 / handling
    called, left = size, size + 1
    q = np.zeros((size + 2, size + 2))
    for j in range(size):
        drain = n * mu + j * theta
        q[j, j - 1 if j else called] += drain
        q[j, left] += tagged
        q[j, j] = -(drain + tagged)
    return expm(q * t)[:size, called]


def exact_by_ctmc(rate, handling, patience, n, t, tagged_ratio=1.0, size=400):
    pi = birth_death(rate, handling, patience, n, size)
    theta = 1.0 / patience
    call = tagged_call_probability(n, handling, theta, tagged_ratio * theta, t, size - n)
    return pi[:n].sum() + pi[n:] @ call


def test_erlang_c_textbook_value_and_brute_force():
    # λ = 2/min, 3 min handling: a = 6 erlangs on 8 windows
    a, n = 6.0, 8
    terms = [a**k / math.factorial(k) for k in range(n + 1)]
    blocking = terms[-1] / sum(terms)
    p_wait = n * blocking / (n - a * (1 - blocking))
    assert p_wait == pytest.approx(0.3570, abs=5e-4)
    for t in (0.0, 1.0, 5.0):
        sl = erlang_c_service_level(2.0, 3.0, 8, t)
        assert sl == pytest.approx(1 - p_wait * math.exp(-(n / 3.0 - 2.0) * t), abs=1e-12)
        # brute force: the wait of an arrival finding k ≥ n is Erlang(k − n + 1, nμ)
        pi = birth_death(2.0, 3.0, None, n, 600)
        k = np.arange(n, 600)
        brute = pi[:n].sum() + pi[n:] @ gammainc(k - n + 1, n / 3.0 * t)
        assert sl == pytest.approx(brute, abs=1e-9)
    assert erlang_a(2.0, 3.0, None, 8, 1.0).p_wait == pytest.approx(p_wait, abs=1e-12)


def test_erlang_c_unstable_and_trivial_cases():
    assert erlang_c_service_level(2.0, 3.0, 6, 20.0) == 0.0  # a = n
    assert erlang_c_service_level(0.0, 3.0, 0, 20.0) == 1.0


@pytest.mark.parametrize(
    "rate, handling, patience, n, t",
    [
        (2.0, 3.0, 30.0, 8, 1.0),
        (0.5, 10.0, 45.0, 3, 20.0),
        (0.45, 10.0, 20.0, 4, 20.0),  # overloaded: a = 4.5 on 4 windows
        (0.11, 10.0, 15.0, 1, 20.0),
    ],
)
def test_erlang_a_matches_ctmc_with_matrix_exponential(rate, handling, patience, n, t):
    result = erlang_a(rate, handling, patience, n, t)
    assert result.service_level == pytest.approx(
        exact_by_ctmc(rate, handling, patience, n, t), abs=1e-8
    )
    pi = birth_death(rate, handling, patience, n, 400)
    queue = np.arange(400) - n
    assert result.p_wait == pytest.approx(pi[n:].sum(), abs=1e-10)
    # rate balance: abandonments per minute = θ · E[waiting]
    abandon_rate = (pi[n:] @ queue[n:]) / patience
    assert result.p_abandon == pytest.approx(abandon_rate / rate, abs=1e-10)
    served_load = rate * (1 - result.p_abandon) * handling
    assert result.utilization == pytest.approx(served_load / n, abs=1e-10)


def test_tagged_patience_ratio_matches_ctmc():
    # a class of citizens twice as impatient as the pool it waits in
    levels = service_levels([0.5], [10.0], [45.0], [5], [20.0], patience_ratio=[2.0])
    assert levels[0] == pytest.approx(exact_by_ctmc(0.5, 10.0, 45.0, 5, 20.0, 2.0), abs=1e-8)


def test_vectorized_levels_equal_single_calls():
    rows = [(2.0, 3.0, 30.0, 8, 1.0), (0.5, 10.0, 45.0, 3, 20.0), (0.3, 12.0, None, 5, 20.0)]
    levels = service_levels(*zip(*rows, strict=True))
    for level, row in zip(levels, rows, strict=True):
        assert level == pytest.approx(erlang_a(*row).service_level, abs=1e-12)


def test_erlang_a_tends_to_erlang_c_as_patience_grows():
    c = erlang_c_service_level(0.5, 10.0, 6, 20.0)
    far = erlang_a(0.5, 10.0, 1e5 * 10.0, 6, 20.0)  # still the Erlang A series
    assert far.service_level == pytest.approx(c, abs=1e-4)
    assert far.p_abandon < 1e-4
    assert erlang_a(0.5, 10.0, None, 6, 20.0).service_level == c


def test_erlang_a_edge_cases():
    assert erlang_a(0.0, 10.0, 30.0, 0, 20.0).service_level == 1.0
    nobody = erlang_a(0.5, 10.0, 30.0, 0, 20.0)
    assert nobody.service_level == 0.0 and nobody.p_abandon == 1.0
    some = erlang_a(0.5, 10.0, 30.0, 4, 20.0)
    assert erlang_a(0.5, 10.0, 30.0, 4, 0.0).service_level == pytest.approx(1 - some.p_wait)
    assert erlang_a(0.5, 10.0, 30.0, 4, math.inf).service_level == pytest.approx(1 - some.p_abandon)
    overload = erlang_a(5.0, 10.0, 30.0, 10, 20.0)  # a = 50 on 10 windows: stable with patience
    assert 0.0 < overload.service_level < 0.3 and overload.utilization > 0.99


def test_service_level_grows_with_windows():
    for patience in (15.0, 60.0, None):
        levels = [erlang_a(0.8, 12.0, patience, n, 20.0).service_level for n in range(1, 25)]
        assert all(b >= a - 1e-12 for a, b in itertools.pairwise(levels))
        assert levels[-1] > 0.99


def test_erlang_a_agrees_with_simulation():
    rate, handling, patience, n = 0.27, 10.0, 30.0, 3  # ρ = 0.9
    sim = simulate_hall(
        [ItemLoad("x", rate, handling, patience)],
        [WindowSkill(f"G{k}") for k in range(n)],
        minutes=120_000,
        seed=3,
        target=ServiceTarget(),
        warmup_minutes=500,
    ).overall
    exact = erlang_a(rate, handling, patience, n, 20.0)
    assert abs(sim.service_level - exact.service_level) < 3 * sim.service_level_se + 0.005
    assert sim.abandoned / sim.arrivals == pytest.approx(exact.p_abandon, abs=0.01)
    assert sim.mean_wait_served == pytest.approx(exact.mean_wait_served, rel=0.08)


def test_fewest_windows():
    target = ServiceTarget(0.8, 20.0)
    n = fewest_windows(0.5, 10.0, 45.0, target, 50)
    assert n is not None
    assert erlang_a(0.5, 10.0, 45.0, n, 20.0).service_level >= 0.8
    assert erlang_a(0.5, 10.0, 45.0, n - 1, 20.0).service_level < 0.8
    c = fewest_windows(0.5, 10.0, 45.0, target, 50, model="erlang_c")
    assert c is not None and c >= n  # abandonment never costs windows here
    assert fewest_windows(0.0, 10.0, 45.0, target, 5) == 0
    # a target nobody can reach: everyone called at once needs more than 3 windows
    assert fewest_windows(2.0, 10.0, 45.0, ServiceTarget(0.99, 0.0), 3) is None
    assert fewest_windows(2.0, 10.0, 45.0, target, 10) is None  # a = 20 erlangs


def test_patience_mle_recovers_a_known_mean():
    rng = np.random.default_rng(11)
    waits = rng.exponential(15.0, 5000)
    no_show = rng.exponential(40.0, 5000) < waits  # left before being called
    estimate = estimate_patience(waits.tolist(), no_show.tolist())
    assert estimate == pytest.approx(40.0, rel=0.1)


def test_patience_mle_refuses_to_guess():
    assert estimate_patience([5.0] * 50, [False] * 50) is None  # nobody left
    assert estimate_patience([5.0, 8.0, 3.0], [True, False, False]) is None  # too few
    with pytest.raises(ValueError):
        estimate_patience([1.0], [True, False])
