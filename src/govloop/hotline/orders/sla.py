"""Time limits (办理时限) on working days, and the clock of an order.

Defaults, overridable per order type and urgency (and per category) in
``hotline_time_limits``:

==============  ===========================  =============================
order type      sign for (签收)               answer and close (办结)
==============  ===========================  =============================
enquiry 咨询     1 working day                 3 working days
help 求助        1 working day                 5 working days
complaint 投诉   1 working day                 13 working days
report 举报      1 working day                 13 working days
suggestion 建议  1 working day                 13 working days
praise 表扬      1 working day                 3 working days
any, urgent     the same day (0)             1 working day
==============  ===========================  =============================

A limit of *n* working days ends at midnight (Asia/Shanghai) of the *n*-th working day
after the day the clock starts; 0 means the end of that day, or of the next working day
when the order arrives on a rest day. Signing is timed from each dispatch; handling from
the first dispatch, so time lost by a wrong dispatch counts against the center.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.calendar import day_info, is_workday, next_workday
from govloop.core.clock import local_tz
from govloop.hotline.models import OrderType, TimeLimit, Urgency, WorkOrder


@dataclass(frozen=True)
class Limit:
    sign_working_days: int
    handle_working_days: int
    warn_hours: int


DEFAULT_HANDLE_DAYS = {
    OrderType.ENQUIRY: 3,
    OrderType.HELP: 5,
    OrderType.COMPLAINT: 13,
    OrderType.REPORT: 13,
    OrderType.SUGGESTION: 13,
    OrderType.PRAISE: 3,
}
DEFAULT_SIGN_DAYS = 1
URGENT = Limit(sign_working_days=0, handle_working_days=1, warn_hours=4)
DEFAULT_WARN_HOURS = 24


def default_limit(order_type: str, urgency: str) -> Limit:
    if urgency == Urgency.URGENT:
        return URGENT
    return Limit(DEFAULT_SIGN_DAYS, DEFAULT_HANDLE_DAYS[OrderType(order_type)], DEFAULT_WARN_HOURS)


def limit_for(*, session: Session, order_type: str, urgency: str, category_id: int | None) -> Limit:
    """The most specific configured limit: category, then type and urgency, then default."""
    rows = session.scalars(
        select(TimeLimit).where(TimeLimit.order_type == order_type, TimeLimit.urgency == urgency)
    ).all()
    chosen = next((r for r in rows if r.category_id == category_id and category_id), None)
    chosen = chosen or next((r for r in rows if r.category_id is None), None)
    if chosen is None:
        return default_limit(order_type, urgency)
    return Limit(chosen.sign_working_days, chosen.handle_working_days, chosen.warn_hours)


@dataclass(frozen=True)
class Deadline:
    at: datetime  # UTC
    estimated: bool  # a day counted lies past the official holiday calendar


def deadline(start: datetime, working_days: int) -> Deadline:
    """End (local midnight) of the ``working_days``-th working day after ``start``."""
    tz = local_tz()
    day = start.astimezone(tz).date()
    estimated = not day_info(day).from_official_calendar
    if working_days == 0:
        end_day = day if is_workday(day) else next_workday(day)
    else:
        end_day = day
        for _ in range(working_days):
            end_day = next_workday(end_day)
    estimated = estimated or not day_info(end_day).from_official_calendar
    end = datetime.combine(end_day + timedelta(days=1), time(0), tzinfo=tz)
    return Deadline(at=end.astimezone(UTC), estimated=estimated)


class ClockState(enum.StrEnum):
    NOT_STARTED = "not_started"  # not dispatched yet
    RUNNING = "running"
    WARNING = "warning"  # less than warn_hours left
    OVERDUE = "overdue"
    DONE_ON_TIME = "done_on_time"
    DONE_LATE = "done_late"


@dataclass(frozen=True)
class Clock:
    state: ClockState
    due_at: datetime | None
    remaining: timedelta | None  # negative when overdue

    @property
    def overdue(self) -> bool:
        return self.state in (ClockState.OVERDUE, ClockState.DONE_LATE)


def _clock(due: datetime | None, done: datetime | None, now: datetime, warn: timedelta) -> Clock:
    if due is None:
        return Clock(ClockState.NOT_STARTED, None, None)
    if done is not None:
        state = ClockState.DONE_ON_TIME if done <= due else ClockState.DONE_LATE
        return Clock(state, due, due - done)
    remaining = due - now
    if remaining < timedelta(0):
        return Clock(ClockState.OVERDUE, due, remaining)
    if remaining <= warn:
        return Clock(ClockState.WARNING, due, remaining)
    return Clock(ClockState.RUNNING, due, remaining)


def handling_clock(order: WorkOrder, now: datetime, warn_hours: int = DEFAULT_WARN_HOURS) -> Clock:
    """The answer-and-close clock: stops when the order is closed (办结)."""
    return _clock(order.due_at, order.closed_at, now, timedelta(hours=warn_hours))


def signing_clock(order: WorkOrder, now: datetime, warn_hours: int = 4) -> Clock:
    return _clock(order.sign_due_at, order.signed_at, now, timedelta(hours=warn_hours))


def local_day(moment: datetime) -> date:
    return moment.astimezone(local_tz()).date()
