"""Injectable clock: services ask ``now()`` here so simulations and tests control time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from govloop.core.settings import get_settings

_lock = threading.Lock()
_source: Callable[[], datetime] | None = None


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    src = _source
    return src() if src else datetime.now(UTC)


def set_clock(source: Callable[[], datetime] | None) -> None:
    global _source
    with _lock:
        _source = source


class FrozenClock:
    """A manual clock for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware start")
        self.current = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> datetime:
        self.current += timedelta(**kwargs)
        return self.current


@contextmanager
def frozen(start: datetime) -> Iterator[FrozenClock]:
    clock = FrozenClock(start)
    previous = _source
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


def local_tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def to_local(moment: datetime) -> datetime:
    return moment.astimezone(local_tz())


def local_today() -> date:
    return to_local(now()).date()
