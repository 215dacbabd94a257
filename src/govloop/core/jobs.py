"""Timed duties: what a domain runs in the background, and how often."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    """One timed duty. ``interval_s`` and ``first_delay_s`` are read when the jobs start, so a
    duty whose interval is a setting follows the settings of the process that runs it."""

    name: str
    run: Callable[[], None]
    interval_s: Callable[[], float]
    first_delay_s: Callable[[], float]


def every(seconds: float) -> Callable[[], float]:
    return lambda: seconds
