"""Working-day calendar for mainland China.

``chinese-calendar`` knows a year only after the State Council publishes its holiday
arrangement. Past the known years we fall back to weekends plus holidays declared in
settings, and report that the answer is a fallback so callers can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar

from govloop.core.settings import get_settings


@dataclass(frozen=True)
class DayInfo:
    day: date
    is_workday: bool
    holiday_name: str | None
    from_official_calendar: bool


@lru_cache
def _declared() -> tuple[frozenset[date], frozenset[date]]:
    s = get_settings()
    return (
        frozenset(date.fromisoformat(d) for d in s.extra_holidays),
        frozenset(date.fromisoformat(d) for d in s.extra_workdays),
    )


@lru_cache(maxsize=8192)
def day_info(day: date) -> DayInfo:
    """Cached: deadlines and simulations ask about the same days many times, and both the
    package's calendar and the declared days are fixed for the life of the process."""
    holidays, workdays = _declared()
    if day in holidays:
        return DayInfo(day, False, "declared", False)
    if day in workdays:
        return DayInfo(day, True, None, False)
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        return DayInfo(day, not on_holiday, name if on_holiday else None, True)
    except NotImplementedError:
        return DayInfo(day, day.weekday() < 5, None, False)


def is_workday(day: date) -> bool:
    return day_info(day).is_workday


def next_workday(day: date) -> date:
    nxt = day + timedelta(days=1)
    while not is_workday(nxt):
        nxt += timedelta(days=1)
    return nxt


def add_workdays(day: date, count: int) -> date:
    current = day
    for _ in range(count):
        current = next_workday(current)
    return current
