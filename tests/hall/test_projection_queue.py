"""One projection of a hall's whole queue, against per-ticket projections and exact models."""

from __future__ import annotations

import numpy as np
import pytest

from govloop.hall.projection import (
    History,
    JumpStream,
    Queued,
    WindowNow,
    project,
    project_queue,
)

MEAN = 300.0


def _history(items: tuple[int, ...] = (1, 2), exponential: bool = False) -> History:
    rng = np.random.default_rng(5)
    if exponential:
        draws = {i: rng.exponential(MEAN, 4000) for i in items}
    else:
        draws = {i: rng.lognormal(np.log(200.0 + 100 * i), 0.6, 4000) for i in items}
    return History(handling=draws, gaps=np.array([0.0]))


def _fixed(seconds: float) -> History:
    """Every ticket takes exactly ``seconds``, nobody is absent, no gaps: deterministic."""
    return History(handling={1: np.full(50, seconds)}, gaps=np.array([0.0]))


def test_every_ticket_matches_its_own_projection() -> None:
    # Specialised windows for each item, a general one, a ticket transferred to window 2,
    # and priority walk-ins that jump ahead of part of the queue.
    windows = [
        WindowNow(1, frozenset({1}), "serving", 100.0, 1),
        WindowNow(2, frozenset({2}), "serving", 0.0, 2),
        WindowNow(3, frozenset({1, 2}), "idle"),
    ]
    queue = [Queued(1 + (k % 3 == 0), -2400.0 + 60.0 * k, 2 if k == 3 else None) for k in range(24)]
    jumps = [JumpStream(items={1: 1.0, 2: 1.0}, observed=4, over_s=3600.0, boost_s=1800.0)]
    history = _history()
    whole = project_queue(queue=queue, windows=windows, history=history, jumps=jumps, runs=2000)
    for k in (0, 3, 9, 15, 23):
        alone = project(
            ahead=queue[:k],
            target=queue[k],
            windows=windows,
            history=history,
            jumps=jumps,
            runs=2000,
            seed=100 + k,
        )
        mine = whole.tickets[k]
        assert alone is not None and mine is not None
        # Two independent estimates of the same mean: within Monte Carlo error (4 % or 20 s).
        assert mine.expected_s == pytest.approx(alone.expected_s, rel=0.04, abs=20.0)
        assert mine.high_s == pytest.approx(alone.high_s, rel=0.06, abs=30.0)
    means = [t.expected_s for t in whole.tickets if t is not None]
    assert len(means) == len(queue)


def test_whole_queue_matches_the_exact_fifo_wait() -> None:
    # Two busy windows, exponential handling, FIFO: the k-th ticket waits (k + 1) · 300 / 2
    # on average (memoryless residuals, the windows together finish one every 150 s).
    windows = [WindowNow(i, frozenset({1}), "serving", 0.0, 1) for i in (1, 2)]
    queue = [Queued(1, -1000.0 + k) for k in range(12)]
    whole = project_queue(
        queue=queue, windows=windows, history=_history((1,), exponential=True), runs=3000
    )
    for k, est in enumerate(whole.tickets):
        assert est is not None
        assert est.expected_s == pytest.approx((k + 1) * MEAN / 2, rel=0.06)


def test_phantoms_delay_nobody_and_are_called_where_they_rank() -> None:
    windows = [WindowNow(i, frozenset({1}), "idle") for i in (1, 2)]
    queue = [Queued(1, -600.0 + k) for k in range(6)]
    history = _fixed(300.0)
    plain = project_queue(queue=queue, windows=windows, history=history, runs=8)
    with_phantoms = project_queue(
        queue=queue,
        phantoms=[Queued(1, 0.0), Queued(1, -3600.0), Queued(1, -300.0)],
        windows=windows,
        history=history,
        runs=8,
    )
    called = [t.expected_s for t in plain.tickets if t is not None]
    assert called == [0.0, 0.0, 300.0, 300.0, 600.0, 600.0]
    assert [t.expected_s for t in with_phantoms.tickets if t is not None] == called
    # Behind everyone: when a window frees after the last ticket; ahead of everyone: now;
    # between the 2nd and 3rd ticket... ranked after all six (−300 > −595): at 900 too.
    assert [p.expected_s for p in with_phantoms.phantoms if p is not None] == [900.0, 0.0, 900.0]


def test_a_phantom_waits_like_a_ticket_taken_at_its_rank() -> None:
    windows = [
        WindowNow(1, frozenset({1}), "serving", 60.0, 1),
        WindowNow(2, frozenset({1, 2}), "serving", 0.0, 2),
    ]
    queue = [Queued(1 + (k % 2), -900.0 + 30.0 * k) for k in range(8)]
    history = _history()
    whole = project_queue(
        queue=queue, phantoms=[Queued(1, 0.0)], windows=windows, history=history, runs=2000
    )
    real = project(
        ahead=queue, target=Queued(1, 0.0), windows=windows, history=history, runs=2000, seed=9
    )
    phantom = whole.phantoms[0]
    assert phantom is not None and real is not None
    assert phantom.expected_s == pytest.approx(real.expected_s, rel=0.04)


def test_tickets_no_window_serves_have_no_projection() -> None:
    windows = [WindowNow(1, frozenset({1}), "idle")]
    whole = project_queue(
        queue=[Queued(1, -10.0), Queued(2, -5.0), Queued(1, -1.0, window=7)],
        phantoms=[Queued(2, 0.0), Queued(1, 0.0)],
        windows=windows,
        history=_fixed(120.0),
        runs=4,
    )
    assert [t is not None for t in whole.tickets] == [True, False, False]
    assert whole.phantoms[0] is None
    assert whole.phantoms[1] is not None and whole.phantoms[1].expected_s == 120.0
    empty = project_queue(queue=[], windows=windows, history=_fixed(120.0))
    assert empty.tickets == () and empty.phantoms == ()
