"""The end of a hall's day: waiting tickets closed with a reason, or carried over (顺延) to the
front of the next working day's queue."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from govloop.core import calendar
from govloop.core.clock import local_tz, now
from govloop.core.errors import BadRequest
from govloop.core.models import User
from govloop.hall import repository as repo
from govloop.hall import service
from govloop.hall.models import (
    EventKind,
    PriorityCategory,
    ServiceItem,
    Ticket,
    TicketStatus,
)
from govloop.org.models import Hall


def close_day(
    *,
    session: Session,
    hall: Hall,
    actor: User | None,
    day: date | None = None,
    reason: str = "营业结束",
    carry_over_codes: list[str] | None = None,
    carry_over_all: bool = False,
) -> dict[str, Any]:
    """Close every ticket still waiting, with a reason; carry some to the next working day.

    ``actor`` is None when the closing-time job closes the queue.
    """
    day = day or service.service_day(hall)
    wanted = {service.parse_ticket_code(c) for c in (carry_over_codes or [])}
    waiting = repo.waiting_tickets(session, hall_id=hall.id, service_date=day)
    unknown = wanted - {t.code for t in waiting}
    if unknown:
        raise BadRequest(
            f"这些号不在等候中：{', '.join(sorted(unknown))}",
            code="not_waiting",
            codes=sorted(unknown),
        )
    to_carry = [t.code for t in waiting if carry_over_all or t.code in wanted]
    carried = carry_over(session=session, hall=hall, actor=actor, day=day, codes=to_carry)
    closed = []
    for ticket in waiting:
        if ticket.code in to_carry:
            continue
        ticket.status = TicketStatus.CLOSED
        ticket.closed_reason = reason
        service.record_event(
            session,
            hall_id=hall.id,
            kind=EventKind.CLOSED,
            ticket=ticket,
            staff_id=actor.id if actor else None,
            detail={"reason": reason},
        )
        closed.append(ticket.code)
    # the phones left at the kiosk (到号提醒, the rating invitation) served that day only
    session.execute(
        update(Ticket)
        .where(
            Ticket.hall_id == hall.id,
            Ticket.service_date == day,
            Ticket.notify_phone.is_not(None),
            # a ticket still at a window keeps it for its rating invitation
            Ticket.status.not_in([TicketStatus.CALLED, TicketStatus.SERVING]),
        )
        .values(notify_phone=None)
    )
    return {"day": day.isoformat(), "closed": closed, "carried_over": carried}


def carry_over(
    *, session: Session, hall: Hall, actor: User | None, day: date, codes: list[str]
) -> list[dict[str, str]]:
    """顺延: move waiting or closed tickets of ``day`` to the front of the next working day."""
    wanted = {service.parse_ticket_code(c) for c in codes}
    tickets = [
        t
        for t in session.scalars(
            select(Ticket).where(
                Ticket.hall_id == hall.id,
                Ticket.service_date == day,
                Ticket.code.in_(wanted),
                Ticket.status.in_([TicketStatus.WAITING, TicketStatus.CLOSED]),
            )
        )
    ]
    missing = wanted - {t.code for t in tickets}
    if missing:
        raise BadRequest(
            f"这些号不能顺延（不存在、已办理或已顺延）：{', '.join(sorted(missing))}",
            code="not_carriable",
            codes=sorted(missing),
        )
    next_day = calendar.next_workday(day)
    opens = datetime.combine(next_day, hall.opens_at, tzinfo=local_tz())
    carried = []
    for ticket in sorted(tickets, key=lambda t: (t.rank_at, t.id)):
        new = _carry_over(session, hall=hall, ticket=ticket, next_day=next_day, opens=opens)
        carried.append({"from": ticket.code, "to": new.code, "day": next_day.isoformat()})
    return carried


def _carry_over(
    session: Session, *, hall: Hall, ticket: Ticket, next_day: date, opens: datetime
) -> Ticket:
    item = session.get(ServiceItem, ticket.item_id)
    assert item is not None
    number = service.next_number(session, hall_id=hall.id, day=next_day, prefix=item.ticket_prefix)
    category = PriorityCategory.CARRIED_OVER
    new = Ticket(
        hall_id=hall.id,
        service_date=next_day,
        code=f"{item.ticket_prefix}{number:03d}",
        public_id=secrets.token_urlsafe(12),
        item_id=item.id,
        status=TicketStatus.WAITING,
        priority=category,
        channel="carry_over",
        arrived_at=opens,
        rank_at=opens - service.priority_boost(hall, category),
        issued_at=now(),
        carried_from_id=ticket.id,
        recall_count=0,
        no_show_count=0,
    )
    session.add(new)
    session.flush()
    ticket.status = TicketStatus.CARRIED_OVER
    ticket.closed_reason = f"顺延至 {next_day.isoformat()} {new.code}"
    service.record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.CARRIED_OVER,
        ticket=ticket,
        detail={"to_code": new.code, "to_day": next_day.isoformat(), "to_ticket_id": new.id},
    )
    service.record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.ISSUED,
        ticket=new,
        detail={
            "code": new.code,
            "priority": category.value,
            "channel": "carry_over",
            "from_code": ticket.code,
        },
    )
    return new
