"""Timed hall duties: missed appointments, reminders of tomorrow's appointments, and closing
the queue at closing time.

Run by the web application's background loop every ``JOB_INTERVAL_S`` and by
`govloop hall run-jobs` (for cron on installations that prefer it).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import now, to_local
from govloop.core.models import User
from govloop.hall import appointments
from govloop.hall import day_close as hall_day_close
from govloop.hall import notifications as hall_notifications
from govloop.hall.models import Ticket, TicketStatus
from govloop.org.models import Hall

log = logging.getLogger(__name__)
JOB_INTERVAL_S = 30.0
CLOSING_REASON = "营业时间结束，未能办理"


def _days_with_waiting(session: Session, hall: Hall) -> list[Any]:
    return list(
        session.scalars(
            select(Ticket.service_date)
            .where(Ticket.hall_id == hall.id, Ticket.status == TicketStatus.WAITING)
            .distinct()
            .order_by(Ticket.service_date)
        )
    )


def run_due_jobs(
    *, session: Session, hall: Hall, at: datetime | None = None, system_user: User | None = None
) -> dict[str, Any]:
    """Sweep missed appointments; close queues of past days and, after closing time, of today.

    Halls that do not keep opening hours (``enforce_hours`` off) close only past days.
    Waiting tickets are closed with a reason, never dropped; a manager can still carry
    them over (see :func:`govloop.hall.service.carry_over`).
    """
    moment = at or now()
    local = to_local(moment)
    report: dict[str, Any] = {"hall": hall.code, "missed": [], "closed": {}}
    report["missed"] = appointments.sweep_missed(session=session, hall=hall, at=moment)
    report["reminded"] = hall_notifications.remind_tomorrow(session=session, hall=hall, at=moment)
    for day in _days_with_waiting(session, hall):
        past = day < local.date()
        after_hours = day == local.date() and hall.enforce_hours and local.time() >= hall.closes_at
        if past or after_hours:
            result = hall_day_close.close_day(
                session=session, hall=hall, actor=system_user, day=day, reason=CLOSING_REASON
            )
            report["closed"][day.isoformat()] = result["closed"]
    return report


def run_all_halls(*, session: Session, at: datetime | None = None) -> list[dict[str, Any]]:
    return [
        run_due_jobs(session=session, hall=hall, at=at)
        for hall in session.scalars(select(Hall).order_by(Hall.id))
    ]
