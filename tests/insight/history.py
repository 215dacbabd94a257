"""A demo hall with some weeks of history, exported and refreshed into the analytics store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.demo.hall import seed as demo
from govloop.indicators import service as indicator_service
from govloop.indicators.periods import MATERIALIZED_GRAINS


def build_demo_history(
    now: datetime, days: int, seed: int, grains: Sequence[str] = MATERIALIZED_GRAINS
) -> None:
    """Seed the demo hall, generate ``days`` of history before ``now`` and refresh the
    indicators (set GOVLOOP_DATA_DIR to a temporary folder first)."""
    with frozen(now), unit_of_work() as s:
        world = demo.seed_catalogue(session=s)
        demo.generate_history(session=s, world=world, days=days, seed=seed)
    with frozen(now), unit_of_work() as s:
        indicator_service.refresh(session=s, grains=grains)
