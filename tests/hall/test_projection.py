"""The Monte Carlo projection of a ticket's call time, on hand-made halls."""

from __future__ import annotations

import numpy as np
import pytest

from govloop.hall.projection import Booked, History, JumpStream, Queued, WindowNow, project

MEAN = 300.0


def _history(cv: float | None = 1.0, items: tuple[int, ...] = (1, 2), **kw: object) -> History:
    """Handling times of mean 300 s: log-normal with this CV, or exponential (None)."""
    rng = np.random.default_rng(1)
    if cv is None:
        draws = {i: rng.exponential(MEAN, 4000) for i in items}
    else:
        sigma2 = np.log1p(cv * cv)
        mu = np.log(MEAN) - sigma2 / 2
        draws = {i: rng.lognormal(mu, np.sqrt(sigma2), 4000) for i in items}
    return History(handling=draws, gaps=np.array([0.0]), **kw)  # type: ignore[arg-type]


def _busy(n: int, items: frozenset[int] = frozenset({1})) -> list[WindowNow]:
    return [WindowNow(i + 1, items, "serving", 0.0, next(iter(items))) for i in range(n)]


def _queue(n: int, item: int = 1) -> list[Queued]:
    return [Queued(item, -1000.0 + i) for i in range(n)]


def _simulate_fifo(windows: int, ahead: int, rng: np.random.Generator) -> float:
    """The exact model with exponential handling: busy windows, FIFO, no gaps."""
    free = rng.exponential(MEAN, windows)
    for _ in range(ahead):
        w = int(np.argmin(free))
        free[w] += rng.exponential(MEAN)
    return float(free.min())


def test_single_pool_with_exponential_handling_matches_the_exact_wait() -> None:
    history = _history(cv=None)
    est = project(
        ahead=_queue(5), target=Queued(1, 0.0), windows=_busy(2), history=history, runs=1000
    )
    assert est is not None
    rng = np.random.default_rng(3)
    waits = np.array([_simulate_fifo(2, 5, rng) for _ in range(4000)])
    assert est.expected_s == pytest.approx(waits.mean(), rel=0.06)  # (5 + 1) · 300 / 2 = 900
    inside = np.mean((est.low_s <= waits) & (waits <= est.high_s))
    assert 0.75 <= inside <= 0.85
    assert est.low_s < est.expected_s < est.high_s


def test_tickets_only_other_windows_take_do_not_delay_the_ticket() -> None:
    """Who is really ahead: a long queue for item 2, served at a window of its own."""
    history = _history()
    windows = [*_busy(2), WindowNow(9, frozenset({2}), "serving", 0.0, 2)]
    alone = project(
        ahead=_queue(4), target=Queued(1, 0.0), windows=windows, history=history, runs=1000
    )
    crowded = project(
        ahead=_queue(30, item=2) + _queue(4),
        target=Queued(1, 0.0),
        windows=windows,
        history=history,
        runs=1000,
    )
    assert alone is not None and crowded is not None
    assert crowded.expected_s == pytest.approx(alone.expected_s, rel=0.06)
    # … but a general window serving both shares its time between the queues.
    shared = [WindowNow(1, frozenset({1, 2}), "serving", 0.0, 1)]
    slow = project(ahead=_queue(30, 2), target=Queued(1, 0.0), windows=shared, history=history)
    assert slow is not None and slow.expected_s > 25 * MEAN


def test_priority_arrivals_and_bookings_jump_ahead_of_a_regular_ticket() -> None:
    history = _history()
    base = project(ahead=_queue(6), target=Queued(1, 0.0), windows=_busy(2), history=history)
    lane = JumpStream(items={1: 1.0}, observed=12, over_s=3600.0, boost_s=3600.0)
    jumped = project(
        ahead=_queue(6), target=Queued(1, 0.0), windows=_busy(2), history=history, jumps=[lane]
    )
    # A priority ticket ranked an hour back is not overtaken by later priority arrivals.
    first = project(
        ahead=[], target=Queued(1, -3600.0), windows=_busy(2), history=history, jumps=[lane]
    )
    assert base is not None and jumped is not None and first is not None
    assert jumped.expected_s > 1.3 * base.expected_s
    assert first.expected_s < base.expected_s / 3
    booked = [Booked(item=1, boost_s=2700.0, show=1.0, arrivals=np.array([60.0])) for _ in range(4)]
    with_bookings = project(
        ahead=_queue(6), target=Queued(1, 0.0), windows=_busy(2), history=history, booked=booked
    )
    assert with_bookings is not None
    assert with_bookings.expected_s == pytest.approx(base.expected_s + 4 * MEAN / 2, rel=0.15)


def test_windows_state_absences_and_clerk_speed() -> None:
    history = _history(cv=0.5)
    idle = [WindowNow(1, frozenset({1}), "idle")]
    same = project(ahead=_queue(3), target=Queued(1, 0.0), windows=idle, history=history, seed=7)
    assert same == project(
        ahead=_queue(3), target=Queued(1, 0.0), windows=idle, history=history, seed=7
    )  # the same inputs, the same estimate
    now = project(ahead=[], target=Queued(1, 0.0), windows=idle, history=history)
    assert now is not None and now.expected_s == 0.0
    # A paused window comes back after the rest of a typical pause; in a break, at opening.
    paused = [WindowNow(1, frozenset({1}), "paused", 60.0)]
    pauses = History(handling=history.handling, pauses=np.full(5, 600.0), gaps=np.array([0.0]))
    back = project(ahead=[], target=Queued(1, 0.0), windows=paused, history=pauses)
    lunch = project(
        ahead=[], target=Queued(1, 0.0), windows=paused, history=pauses, opens_in_s=3000.0
    )
    assert back is not None and back.expected_s == pytest.approx(540.0)
    assert lunch is not None and lunch.expected_s == pytest.approx(3000.0)
    # Absent citizens keep a window only for the call time-out.
    absent = _history(cv=0.5, absent_share=1.0, absent_s=30.0)
    quick = project(ahead=_queue(10), target=Queued(1, 0.0), windows=idle, history=absent)
    assert quick is not None and quick.expected_s == pytest.approx(300.0, rel=0.01)
    # A clerk twice as slow as the others doubles the wait at that window.
    slow = _history(cv=0.5, window_factor={1: 2.0})
    normal = project(ahead=_queue(10), target=Queued(1, 0.0), windows=idle, history=history)
    doubled = project(ahead=_queue(10), target=Queued(1, 0.0), windows=idle, history=slow)
    assert normal is not None and doubled is not None
    assert doubled.expected_s == pytest.approx(2 * normal.expected_s, rel=0.1)


def test_no_window_for_the_item_means_no_estimate() -> None:
    history = _history()
    other = [WindowNow(1, frozenset({2}), "idle")]
    assert project(ahead=[], target=Queued(1, 0.0), windows=other, history=history) is None
    out = [WindowNow(1, frozenset({1}), "logged_out")]
    assert project(ahead=[], target=Queued(1, 0.0), windows=out, history=history) is None
    # Transferred to window 2: window 1 does not call it.
    both = [WindowNow(1, frozenset({1}), "idle"), WindowNow(2, frozenset({1}), "serving", 0, 1)]
    est = project(ahead=[], target=Queued(1, 0.0, window=2), windows=both, history=history)
    assert est is not None and est.expected_s > 0.5 * MEAN
