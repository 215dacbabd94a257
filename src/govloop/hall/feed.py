"""The hall's event feed and dimensions, as the analytics store copies them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from govloop.core.feeds import EventFeed
from govloop.hall.models import Appointment, HallEvent, ServiceItem, Ticket, Window, window_items
from govloop.org import in_force
from govloop.org.models import Hall


def _events() -> Select[Any]:
    return (
        select(
            HallEvent.id,
            HallEvent.hall_id,
            HallEvent.kind,
            HallEvent.at,
            HallEvent.ticket_id,
            HallEvent.appointment_id,
            HallEvent.item_id,
            HallEvent.window_id,
            HallEvent.staff_id,
            HallEvent.detail,
            Ticket.service_date,
            Ticket.arrived_at,
            Ticket.priority,
            Appointment.service_date.label("appointment_day"),
        )
        .outerjoin(Ticket, Ticket.id == HallEvent.ticket_id)
        .outerjoin(Appointment, Appointment.id == HallEvent.appointment_id)
    )


EVENTS = EventFeed("hall_events", HallEvent.id, HallEvent.at, _events)


def halls(session: Session) -> list[Any]:
    return list(session.execute(select(Hall.id, Hall.code, Hall.opens_at, Hall.closes_at)))


def hall_periods(session: Session) -> list[tuple[int, Any, Any, int, int]]:
    """Opening periods of every hall with the days they were in force:
    (hall id, valid from, valid to (exclusive), start second, end second)."""
    out = []
    for hall in session.scalars(select(Hall)):
        for span in in_force.hours_spans(session, hall):
            for p in span.periods:
                out.append(
                    (
                        hall.id,
                        span.valid_from,
                        span.valid_to,
                        p.start.hour * 3600 + p.start.minute * 60,
                        p.end.hour * 3600 + p.end.minute * 60,
                    )
                )
    return out


def items(session: Session) -> list[Any]:
    return list(
        session.execute(
            select(ServiceItem.id, ServiceItem.department_id, ServiceItem.promised_minutes)
        )
    )


def windows(session: Session) -> list[Any]:
    return list(session.execute(select(Window.id, Window.hall_id, Window.number)))


def hall_departments(session: Session) -> list[tuple[int, int]]:
    """Which departments offer items at each hall's windows (general windows: all active
    items), so a hall sees the city-wide hotline figures of its own departments only."""
    active = dict(
        session.execute(
            select(ServiceItem.id, ServiceItem.department_id).where(ServiceItem.active)
        ).all()
    )
    served = defaultdict(set)
    for window_id, item_id in session.execute(
        select(window_items.c.window_id, window_items.c.item_id)
    ):
        served[window_id].add(item_id)
    pairs: set[tuple[int, int]] = set()
    for window_id, hall_id, general in session.execute(
        select(Window.id, Window.hall_id, Window.is_general)
    ):
        offered = active.keys() if general else served[window_id] & active.keys()
        pairs.update((hall_id, active[i]) for i in offered)
    return sorted(pairs)
