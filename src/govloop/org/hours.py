"""A hall's opening hours: periods of a working day (a lunch break splits the day), the
weekend days it serves, and its own closures and extra working days on top of the national
holiday calendar."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, time

from govloop.core import calendar
from govloop.core.errors import BadRequest
from govloop.org.models import Hall

WEEKDAY_NAMES = {1: "周一", 2: "周二", 3: "周三", 4: "周四", 5: "周五", 6: "周六", 7: "周日"}
_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–—~至]\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Period:
    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _time(hours: str, minutes: str) -> time:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise BadRequest(f"时间 {hours}:{minutes} 不存在", code="bad_time")
    return time(h, m)


def parse_period(text: str) -> Period:
    """``09:00-09:30`` as a period; refused when malformed or empty."""
    match = _PERIOD.match(text or "")
    if not match:
        raise BadRequest(f"时段“{text}”格式不正确，应为 09:00-12:00", code="bad_period")
    start, end = _time(*match.group(1, 2)), _time(*match.group(3, 4))
    if end <= start:
        raise BadRequest(f"时段“{text}”的结束时间不晚于开始时间", code="bad_period")
    return Period(start, end)


def parse_periods(text: str) -> list[Period]:
    """``09:00-12:00,13:30-17:00``: periods in order, none overlapping."""
    parts = [p for p in re.split(r"[,，、;；]", text or "") if p.strip()]
    if not parts:
        raise BadRequest("开放时间不能为空，例如 09:00-12:00,13:30-17:00", code="bad_period")
    periods = sorted((parse_period(p) for p in parts), key=lambda p: p.start)
    for before, after in itertools.pairwise(periods):
        if after.start < before.end:
            raise BadRequest(f"开放时段 {before} 与 {after} 重叠", code="overlapping_periods")
    return periods


def parse_weekend(text: str) -> list[int]:
    """``否`` / ``周六`` / ``周六,周日`` as ISO weekdays."""
    value = (text or "").strip()
    if value in ("", "否", "无", "不开放"):
        return []
    days = []
    by_name = {name: number for number, name in WEEKDAY_NAMES.items()}
    by_name |= {"星期六": 6, "星期日": 7, "周天": 7, "星期天": 7}
    for part in re.split(r"[,，、;；\s]+", value):
        if part not in by_name or by_name[part] < 6:
            raise BadRequest(f"周末开放“{text}”应为 否、周六 或 周六,周日", code="bad_weekend")
        days.append(by_name[part])
    return sorted(set(days))


def periods_of(hall: Hall) -> list[Period]:
    if hall.sessions:
        return [parse_period(f"{a}-{b}") for a, b in hall.sessions]
    return [Period(hall.opens_at, hall.closes_at)]


def describe(hall: Hall) -> str:
    return ",".join(str(p) for p in periods_of(hall))


def describe_weekend(hall: Hall) -> str:
    return ",".join(WEEKDAY_NAMES[d] for d in hall.weekend_days or []) or "否"


def set_hours(hall: Hall, periods: list[Period], weekend_days: list[int]) -> None:
    """Store the periods; ``opens_at``/``closes_at`` follow (first opening, last closing)."""
    hall.sessions = [[f"{p.start:%H:%M}", f"{p.end:%H:%M}"] for p in periods]
    hall.opens_at, hall.closes_at = periods[0].start, periods[-1].end
    hall.weekend_days = list(weekend_days)


def serves_on(hall: Hall, day: date) -> bool:
    """The hall's own calendar first, then the weekend days it serves, then the nation's."""
    iso = day.isoformat()
    if iso in (hall.closed_days or []):
        return False
    if iso in (hall.extra_days or []):
        return True
    info = calendar.day_info(day)
    if info.is_workday:
        return True
    # a weekend day the hall serves, unless it is part of a public holiday
    return day.isoweekday() in (hall.weekend_days or []) and info.holiday_name is None


def period_at(hall: Hall, moment: time) -> Period | None:
    """The opening period ``moment`` falls in, or None (before, after, or in a break)."""
    for period in periods_of(hall):
        if period.start <= moment < period.end:
            return period
    return None
