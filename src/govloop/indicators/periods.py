"""Periods: day, ISO week, month or a custom range of local days (inclusive)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from govloop.core.errors import BadRequest

GRAINS = ("day", "week", "month")
MATERIALIZED_GRAINS = ("day", "week", "month")


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # inclusive
    kind: str

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.start.year:04d}-{self.start.month:02d}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def days(self) -> Iterable[date]:
        d = self.start
        while d <= self.end:
            yield d
            d += timedelta(days=1)


def month_end(day: date) -> date:
    nxt = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    return nxt - timedelta(days=1)


def period_of(kind: str, day: date) -> Period:
    if kind == "day":
        return Period(day, day, "day")
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period(start, start + timedelta(days=6), "week")
    if kind == "month":
        start = day.replace(day=1)
        return Period(start, month_end(start), "month")
    raise BadRequest(f"未知的周期类型：{kind}", code="unknown_period_kind")


def periods_between(kind: str, start: date, end: date) -> list[Period]:
    out: list[Period] = []
    day = start
    while day <= end:
        period = period_of(kind, day)
        out.append(period)
        day = period.end + timedelta(days=1)
    return out


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


def parse_period(text: str) -> Period:
    """``2026-11`` (month), ``2026-W48`` (ISO week), ``2026-11-23`` (day),
    ``2026-11-01..2026-11-15`` (custom, inclusive)."""
    value = text.strip()
    try:
        if m := _MONTH.match(value):
            return period_of("month", date(int(m[1]), int(m[2]), 1))
        if m := _WEEK.match(value):
            start = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return Period(start, start + timedelta(days=6), "week")
        if m := _RANGE.match(value):
            start, end = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if end < start:
                raise ValueError("end before start")
            if (end - start).days > 366 * 3:
                raise ValueError("range too long")
            return Period(start, end, "custom")
        return period_of("day", date.fromisoformat(value))
    except ValueError:
        raise BadRequest(
            f"周期格式不正确：{text!r}（例如 2026-11、2026-W48、2026-11-23、"
            "2026-11-01..2026-11-15）",
            code="invalid_period",
        ) from None
