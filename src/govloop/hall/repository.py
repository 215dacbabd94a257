"""Hall queries. No rules here: services decide, this module fetches.

The queries every hall operation runs are built once, with bind parameters: building a
statement costs about as much as the ORM's execution of it (``docs/benchmarks.md``,
bench requests).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from govloop.hall.models import (
    Appointment,
    AppointmentStatus,
    HallEvent,
    ServiceItem,
    Ticket,
    TicketStatus,
    Window,
    window_items,
)

_ITEM_BY_CODE = select(ServiceItem).where(ServiceItem.code == bindparam("code"))
_WINDOW_BY_NUMBER = select(Window).where(
    Window.hall_id == bindparam("hall_id"), Window.number == bindparam("number")
)
_WINDOW_BY_NUMBER_LOCKED = _WINDOW_BY_NUMBER.with_for_update()


def item_by_code(session: Session, code: str) -> ServiceItem | None:
    return session.scalar(_ITEM_BY_CODE, {"code": code})


def window_by_number(
    session: Session, hall_id: int, number: int, *, lock: bool = False
) -> Window | None:
    stmt = _WINDOW_BY_NUMBER_LOCKED if lock else _WINDOW_BY_NUMBER
    return session.scalar(stmt, {"hall_id": hall_id, "number": number})


def active_items(session: Session) -> Sequence[ServiceItem]:
    return session.scalars(
        select(ServiceItem).where(ServiceItem.active).order_by(ServiceItem.code)
    ).all()


def windows_of_hall(session: Session, hall_id: int) -> Sequence[Window]:
    return session.scalars(
        select(Window).where(Window.hall_id == hall_id).order_by(Window.number)
    ).all()


_ACTIVE_ITEM_IDS = select(ServiceItem.id).where(ServiceItem.active)
_ITEM_IDS_OF_WINDOW = (
    select(window_items.c.item_id)
    .join(ServiceItem, ServiceItem.id == window_items.c.item_id)
    .where(window_items.c.window_id == bindparam("window_id"), ServiceItem.active)
)


def item_ids_of_window(session: Session, window: Window) -> list[int]:
    if window.is_general:
        return list(session.scalars(_ACTIVE_ITEM_IDS))
    return list(session.scalars(_ITEM_IDS_OF_WINDOW, {"window_id": window.id}))


def item_map_of_hall(session: Session, hall_id: int) -> dict[int, set[int]]:
    """window id → ids of the items it serves (general windows: every active item)."""
    return windows_and_items_of_hall(session, hall_id)[0]


def windows_and_items_of_hall(
    session: Session, hall_id: int
) -> tuple[dict[int, set[int]], dict[int, str]]:
    """(window id → ids of the items it serves, window id → state), in two plain queries.

    Column queries, not ORM entities: this runs for every wait estimate and display poll.
    """
    all_items = set(session.scalars(select(ServiceItem.id).where(ServiceItem.active)))
    items: dict[int, set[int]] = {}
    states: dict[int, str] = {}
    rows = session.execute(
        select(Window.id, Window.is_general, Window.state, window_items.c.item_id)
        .outerjoin(window_items, window_items.c.window_id == Window.id)
        .where(Window.hall_id == hall_id, Window.active)
    )
    for window_id, is_general, state, item_id in rows:
        if window_id not in items:
            items[window_id] = set(all_items) if is_general else set()
            states[window_id] = state
        if item_id is not None and item_id in all_items:
            items[window_id].add(item_id)
    return items, states


def next_waiting_ticket(
    session: Session,
    *,
    hall_id: int,
    service_date: date,
    window_id: int,
    item_ids: list[int],
    skip_locked: bool,
) -> Ticket | None:
    """The first eligible waiting ticket by queue rank, locked for update."""
    stmt = _NEXT_WAITING_SKIP_LOCKED if skip_locked else _NEXT_WAITING
    params = {
        "hall_id": hall_id,
        "service_date": service_date,
        "item_ids": item_ids,
        "window_id": window_id,
    }
    return session.scalar(stmt, params)


_NEXT_WAITING_QUERY = (
    select(Ticket)
    .where(
        Ticket.hall_id == bindparam("hall_id"),
        Ticket.service_date == bindparam("service_date"),
        Ticket.status == TicketStatus.WAITING,
        Ticket.item_id.in_(bindparam("item_ids", expanding=True)),
        or_(Ticket.target_window_id.is_(None), Ticket.target_window_id == bindparam("window_id")),
    )
    .order_by(Ticket.rank_at, Ticket.id)
    .limit(1)
)
_NEXT_WAITING = _NEXT_WAITING_QUERY.with_for_update()
_NEXT_WAITING_SKIP_LOCKED = _NEXT_WAITING_QUERY.with_for_update(skip_locked=True)
_TICKET_BY_CODE = select(Ticket).where(
    Ticket.hall_id == bindparam("hall_id"),
    Ticket.service_date == bindparam("service_date"),
    Ticket.code == bindparam("code"),
)
_TICKET_BY_CODE_LOCKED = _TICKET_BY_CODE.with_for_update()
_TICKET_BY_PUBLIC_ID = select(Ticket).where(Ticket.public_id == bindparam("public_id"))
_TICKET_BY_PUBLIC_ID_LOCKED = _TICKET_BY_PUBLIC_ID.with_for_update()
_ACTIVE_TICKET_OF_WINDOW = select(Ticket).where(
    Ticket.window_id == bindparam("window_id"),
    Ticket.status.in_([TicketStatus.CALLED, TicketStatus.SERVING]),
)
_ACTIVE_TICKET_OF_WINDOW_LOCKED = _ACTIVE_TICKET_OF_WINDOW.with_for_update()


def ticket_by_code(
    session: Session, hall_id: int, service_date: date, code: str, *, lock: bool = False
) -> Ticket | None:
    stmt = _TICKET_BY_CODE_LOCKED if lock else _TICKET_BY_CODE
    return session.scalar(stmt, {"hall_id": hall_id, "service_date": service_date, "code": code})


def ticket_by_public_id(session: Session, public_id: str, *, lock: bool = False) -> Ticket | None:
    stmt = _TICKET_BY_PUBLIC_ID_LOCKED if lock else _TICKET_BY_PUBLIC_ID
    return session.scalar(stmt, {"public_id": public_id})


def active_ticket_of_window(
    session: Session, window_id: int, *, lock: bool = False
) -> Ticket | None:
    stmt = _ACTIVE_TICKET_OF_WINDOW_LOCKED if lock else _ACTIVE_TICKET_OF_WINDOW
    return session.scalar(stmt, {"window_id": window_id})


def count_ahead(
    session: Session,
    *,
    ticket: Ticket,
    item_ids: set[int],
    window_ids: set[int],
) -> int:
    """Waiting tickets ranked before ``ticket`` that compete for the same windows."""
    return (
        session.scalar(
            select(func.count(Ticket.id)).where(
                Ticket.hall_id == ticket.hall_id,
                Ticket.service_date == ticket.service_date,
                Ticket.status == TicketStatus.WAITING,
                Ticket.item_id.in_(item_ids),
                or_(Ticket.target_window_id.is_(None), Ticket.target_window_id.in_(window_ids)),
                # Implied by the next condition; stated so the queue index bounds the scan.
                Ticket.rank_at <= ticket.rank_at,
                or_(
                    Ticket.rank_at < ticket.rank_at,
                    and_(Ticket.rank_at == ticket.rank_at, Ticket.id < ticket.id),
                ),
            )
        )
        or 0
    )


_AHEAD_UP_TO = select(func.count()).select_from(
    select(Ticket.id)
    .where(
        Ticket.hall_id == bindparam("hall_id"),
        Ticket.service_date == bindparam("service_date"),
        Ticket.status == TicketStatus.WAITING,
        Ticket.item_id.in_(bindparam("item_ids", expanding=True)),
        or_(
            Ticket.target_window_id.is_(None),
            Ticket.target_window_id.in_(bindparam("window_ids", expanding=True)),
        ),
        Ticket.rank_at <= bindparam("rank_at"),
        or_(
            Ticket.rank_at < bindparam("rank_at"),
            and_(Ticket.rank_at == bindparam("rank_at"), Ticket.id < bindparam("ticket_id")),
        ),
    )
    .limit(bindparam("up_to"))
    .subquery()
)


def count_ahead_up_to(
    session: Session, *, ticket: Ticket, item_ids: set[int], window_ids: set[int], up_to: int
) -> int:
    """``count_ahead``, counting no further than ``up_to`` (the scan stops there): enough to
    tell whether at most so many are ahead."""
    return int(
        session.scalar(
            _AHEAD_UP_TO,
            {
                "hall_id": ticket.hall_id,
                "service_date": ticket.service_date,
                "item_ids": sorted(item_ids),
                "window_ids": sorted(window_ids),
                "rank_at": ticket.rank_at,
                "ticket_id": ticket.id,
                "up_to": up_to,
            },
        )
        or 0
    )


def recent_occupancies(session: Session, *, item_ids: set[int], limit: int = 50) -> list[float]:
    """Seconds from call to finish of the latest finished tickets of these items."""
    rows = session.execute(
        select(Ticket.called_at, Ticket.finished_at)
        .where(Ticket.item_id.in_(item_ids), Ticket.status == TicketStatus.FINISHED)
        .order_by(Ticket.finished_at.desc())
        .limit(limit)
    ).all()
    return [(f - c).total_seconds() for c, f in rows if c and f and f >= c]


def recent_waits(
    session: Session, *, hall_id: int, since: datetime, limit: int = 2000
) -> list[tuple[float, bool]]:
    """(seconds waited until called, was a no-show) for recently called tickets."""
    rows = session.execute(
        select(Ticket.arrived_at, Ticket.called_at, Ticket.no_show_count)
        .where(Ticket.hall_id == hall_id, Ticket.called_at.is_not(None), Ticket.called_at >= since)
        .order_by(Ticket.called_at.desc())
        .limit(limit)
    ).all()
    return [((c - a).total_seconds(), n > 0) for a, c, n in rows if c is not None and c >= a]


def waiting_counts(session: Session, *, hall_id: int, service_date: date) -> dict[int, int]:
    rows = session.execute(
        select(Ticket.item_id, func.count(Ticket.id))
        .where(
            Ticket.hall_id == hall_id,
            Ticket.service_date == service_date,
            Ticket.status == TicketStatus.WAITING,
        )
        .group_by(Ticket.item_id)
    )
    return {item_id: count for item_id, count in rows}


def waiting_by_item_and_target(
    session: Session, *, hall_id: int, service_date: date
) -> list[tuple[int, int | None, int]]:
    """(item id, window the ticket was transferred to or None, count) of waiting tickets."""
    rows = session.execute(
        select(Ticket.item_id, Ticket.target_window_id, func.count(Ticket.id))
        .where(
            Ticket.hall_id == hall_id,
            Ticket.service_date == service_date,
            Ticket.status == TicketStatus.WAITING,
        )
        .group_by(Ticket.item_id, Ticket.target_window_id)
    )
    return [(item_id, target, count) for item_id, target, count in rows]


def waiting_tickets(session: Session, *, hall_id: int, service_date: date) -> Sequence[Ticket]:
    return session.scalars(
        select(Ticket)
        .where(
            Ticket.hall_id == hall_id,
            Ticket.service_date == service_date,
            Ticket.status == TicketStatus.WAITING,
        )
        .order_by(Ticket.rank_at, Ticket.id)
    ).all()


def events_after(
    session: Session, *, hall_id: int, after_id: int, limit: int = 500
) -> Sequence[HallEvent]:
    return session.scalars(
        select(HallEvent)
        .where(HallEvent.hall_id == hall_id, HallEvent.id > after_id)
        .order_by(HallEvent.id)
        .limit(limit)
    ).all()


def events_by_ids(session: Session, *, hall_id: int, ids: list[int]) -> Sequence[HallEvent]:
    return session.scalars(
        select(HallEvent)
        .where(HallEvent.hall_id == hall_id, HallEvent.id.in_(ids))
        .order_by(HallEvent.id)
    ).all()


def event_ids_between(session: Session, *, hall_id: int, low: int, high: int) -> set[int]:
    """Ids of the hall's events committed so far in (low, high]."""
    return set(
        session.scalars(
            select(HallEvent.id).where(
                HallEvent.hall_id == hall_id, HallEvent.id > low, HallEvent.id <= high
            )
        )
    )


_LAST_EVENT_ID = select(func.max(HallEvent.id)).where(HallEvent.hall_id == bindparam("hall_id"))


def last_event_id(session: Session, *, hall_id: int) -> int:
    return session.scalar(_LAST_EVENT_ID, {"hall_id": hall_id}) or 0


def recent_calls(
    session: Session, *, hall_id: int, since: datetime, limit: int = 8
) -> Sequence[HallEvent]:
    return session.scalars(
        select(HallEvent)
        .where(
            HallEvent.hall_id == hall_id,
            HallEvent.kind.in_(["ticket.called", "ticket.recalled"]),
            HallEvent.at >= since,
        )
        .order_by(HallEvent.id.desc())
        .limit(limit)
    ).all()


def window_events(
    session: Session, *, hall_id: int, since: datetime, kinds: Sequence[str], limit: int = 4000
) -> list[tuple[str, int | None, int | None, int | None, datetime]]:
    """(kind, window id, item id, ticket id, at) of the hall's latest events of these kinds,
    oldest first."""
    rows = session.execute(
        select(
            HallEvent.kind,
            HallEvent.window_id,
            HallEvent.item_id,
            HallEvent.ticket_id,
            HallEvent.at,
        )
        .where(HallEvent.hall_id == hall_id, HallEvent.at >= since, HallEvent.kind.in_(kinds))
        .order_by(HallEvent.id.desc())
        .limit(limit)
    ).all()
    return [(k, w, i, t, at) for k, w, i, t, at in reversed(rows)]


def shown_estimates(
    session: Session, *, ticket_ids: Sequence[int]
) -> dict[int, tuple[datetime, float]]:
    """Ticket id → (issued at, the estimate printed on its slip), for tickets that had one."""
    if not ticket_ids:
        return {}
    rows = session.execute(
        select(Ticket.id, Ticket.issued_at, Ticket.eta_seconds).where(
            Ticket.id.in_(ticket_ids), Ticket.eta_seconds.is_not(None)
        )
    ).all()
    return {i: (issued, float(eta)) for i, issued, eta in rows if eta is not None}


def issued_counts(
    session: Session, *, hall_id: int, service_date: date, since: datetime | None = None
) -> list[tuple[int, str | None, int]]:
    """(item id, priority, count) of the tickets issued on the day (since ``since``)."""
    stmt = (
        select(Ticket.item_id, Ticket.priority, func.count(Ticket.id))
        .where(Ticket.hall_id == hall_id, Ticket.service_date == service_date)
        .group_by(Ticket.item_id, Ticket.priority)
    )
    if since is not None:
        stmt = stmt.where(Ticket.issued_at >= since)
    return [(item_id, priority, count) for item_id, priority, count in session.execute(stmt)]


def booked_today(
    session: Session, *, hall_id: int, service_date: date
) -> list[tuple[int, time, time]]:
    """(item id, slot start, slot end) of the day's appointments not checked in yet."""
    rows = session.execute(
        select(Appointment.item_id, Appointment.slot_start, Appointment.slot_end).where(
            Appointment.hall_id == hall_id,
            Appointment.service_date == service_date,
            Appointment.status == AppointmentStatus.BOOKED,
        )
    ).all()
    return [(item_id, start, end) for item_id, start, end in rows]


def past_appointments(
    session: Session, *, hall_id: int, since: date, before: date, limit: int = 2000
) -> list[tuple[date, time, time, str, datetime | None]]:
    """(day, slot start, slot end, status, checked in at) of appointments on past days."""
    rows = session.execute(
        select(
            Appointment.service_date,
            Appointment.slot_start,
            Appointment.slot_end,
            Appointment.status,
            Appointment.checked_in_at,
        )
        .where(
            Appointment.hall_id == hall_id,
            Appointment.service_date >= since,
            Appointment.service_date < before,
            Appointment.status != AppointmentStatus.CANCELLED,
        )
        .order_by(Appointment.service_date.desc())
        .limit(limit)
    ).all()
    return [(d, a, b, status, at) for d, a, b, status, at in rows]


def waiting_queue(
    session: Session, *, hall_id: int, service_date: date
) -> list[tuple[int, int, datetime, int | None]]:
    """(ticket id, item id, rank, window transferred to) of the hall's waiting tickets, in
    queue order: what the wait projection simulates."""
    rows = session.execute(
        select(Ticket.id, Ticket.item_id, Ticket.rank_at, Ticket.target_window_id)
        .where(
            Ticket.hall_id == hall_id,
            Ticket.service_date == service_date,
            Ticket.status == TicketStatus.WAITING,
        )
        .order_by(Ticket.rank_at, Ticket.id)
    ).all()
    return [(ticket_id, item, rank, target) for ticket_id, item, rank, target in rows]


def window_activity(
    session: Session, *, hall_id: int, service_date: date
) -> tuple[dict[int, datetime], dict[int, tuple[int, datetime | None]]]:
    """(window id → state since, window id → (item id, called at) of the ticket it holds)."""
    since = dict(
        session.execute(
            select(Window.id, Window.state_since).where(Window.hall_id == hall_id, Window.active)
        ).all()
    )
    held = session.execute(
        select(Ticket.window_id, Ticket.item_id, Ticket.called_at).where(
            Ticket.hall_id == hall_id,
            Ticket.service_date == service_date,
            Ticket.status.in_([TicketStatus.CALLED, TicketStatus.SERVING]),
            Ticket.window_id.is_not(None),
        )
    ).all()
    return since, {w: (item, called) for w, item, called in held if w is not None}
