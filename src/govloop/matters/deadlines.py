"""A matter's time limits in working days (Chinese holiday calendar), with the clock that
stops while documents are requested (补正).

A limit of *n* working days ends at local midnight of the *n*-th working day after the day
of acceptance (a matter accepted on a rest day counts from the next working day). Each
working day the clock stood still for 补正 moves the end one working day later: the days
from the request up to (not including) the day the documents arrived; a correction asked
for and answered on the same day costs nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from govloop.core.calendar import day_info, is_workday, next_workday
from govloop.core.clock import local_tz
from govloop.matters.models import CLOSED_STATES, DECIDED_STATES, Matter, MatterState


@dataclass(frozen=True)
class Due:
    at: datetime  # UTC
    estimated: bool  # a counted day lies past the official calendar


def local_day(moment: datetime) -> date:
    return moment.astimezone(local_tz()).date()


def due_after(start: datetime, working_days: int) -> Due:
    day = local_day(start)
    estimated = not day_info(day).from_official_calendar
    end_day = day
    for _ in range(working_days):
        end_day = next_workday(end_day)
        estimated = estimated or not day_info(end_day).from_official_calendar
    end = datetime.combine(end_day + timedelta(days=1), time(0), tzinfo=local_tz())
    return Due(end.astimezone(UTC), estimated)


def workdays_between(start: datetime, end: datetime) -> int:
    """Working days from ``start``'s day up to, not including, ``end``'s day."""
    day, last = local_day(start), local_day(end)
    count = 0
    while day < last:
        if is_workday(day):
            count += 1
        day += timedelta(days=1)
    return count


def recompute(matter: Matter) -> None:
    """Set the due moments from the limits, the acceptance and the finished pauses."""
    estimated = False
    for days_attr, due_attr in (
        ("promised_days", "promised_due_at"),
        ("statutory_days", "statutory_due_at"),
    ):
        days = getattr(matter, days_attr)
        if days is None:
            setattr(matter, due_attr, None)
            continue
        due = due_after(matter.accepted_at, days + matter.paused_workdays)
        setattr(matter, due_attr, due.at)
        estimated = estimated or due.estimated
    matter.due_estimated = estimated


class ClockState(enum.StrEnum):
    NO_LIMIT = "no_limit"
    RUNNING = "running"
    WARNING = "warning"  # the due day is today or the next working day
    OVERDUE = "overdue"
    STOPPED = "stopped"  # 补正: waiting for the applicant's documents
    DONE_ON_TIME = "done_on_time"
    DONE_LATE = "done_late"
    WITHDRAWN = "withdrawn"  # returned to the applicant without a decision


@dataclass(frozen=True)
class Clock:
    state: ClockState
    due_at: datetime | None
    # whole working days left (negative: overdue by), from the local day
    workdays_left: int | None

    @property
    def late(self) -> bool:
        return self.state in (ClockState.OVERDUE, ClockState.DONE_LATE)


def clock(matter: Matter, now: datetime) -> Clock:
    """The promised-time clock (承诺时限) of a matter as of ``now``."""
    due = matter.promised_due_at
    if due is None:
        return Clock(ClockState.NO_LIMIT, None, None)
    if matter.state in DECIDED_STATES and matter.decided_at is not None:
        state = ClockState.DONE_ON_TIME if matter.decided_at <= due else ClockState.DONE_LATE
        return Clock(state, due, None)
    if matter.state in CLOSED_STATES:
        return Clock(ClockState.WITHDRAWN, due, None)
    if matter.state == MatterState.CORRECTION:
        return Clock(ClockState.STOPPED, due, None)
    if now >= due:
        return Clock(ClockState.OVERDUE, due, -workdays_between(due, now))
    last_day = local_day(due - timedelta(microseconds=1))
    warning = last_day <= next_workday(local_day(now))
    # working days left, today included when it is one
    return Clock(
        ClockState.WARNING if warning else ClockState.RUNNING, due, workdays_between(now, due)
    )
