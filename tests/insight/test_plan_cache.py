"""Loads measured twice in another row order give the same cache key, so a staffing plan is
computed once per week and hall, not on every page view."""

from __future__ import annotations

from govloop.insight.planning.service import _settled
from govloop.insight.queueing_types import ItemLoad


def test_summation_noise_does_not_change_the_load():
    first = ItemLoad("BDC01", 0.1 + 0.2, 31.788613132449495, 320.7475129744818)
    again = ItemLoad("BDC01", 0.3, 31.7886131324495, 320.7475129744818)
    assert first != again
    assert _settled(first) == _settled(again)
    assert hash(_settled(first)) == hash(_settled(again))


def test_real_differences_stay():
    assert _settled(ItemLoad("A", 0.3, 31.78, None)) != _settled(ItemLoad("A", 0.3, 31.79, None))
    assert _settled(ItemLoad("A", 0.3, 31.78, None)).mean_patience is None
