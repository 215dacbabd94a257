"""JSON API of the service hall (``/api/v1/halls``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.orm import Session

from govloop.core import ratelimit
from govloop.core.access_rules import declares, perm
from govloop.core.auth import Permission, has_permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, optional_user, public, require, secret_link
from govloop.core.errors import NotAuthenticated, PermissionDenied
from govloop.core.idempotency import Idempotency, idempotency
from govloop.core.models import User
from govloop.hall import appointments, overview, service
from govloop.hall import day_close as hall_day_close
from govloop.hall import waits as hall_waits
from govloop.hall import windows as hall_windows
from govloop.hall.models import Ticket, TicketStatus
from govloop.hall.schemas import (
    BookIn,
    CarryOverIn,
    CheckInIn,
    CloseDayIn,
    FinishIn,
    IssueTicketIn,
    PauseIn,
    TransferIn,
    ticket_out,
    ticket_public_out,
)
from govloop.org import service as org_service

router = APIRouter(prefix="/api/v1/halls", tags=["hall"], dependencies=[Depends(csrf_protect)])
# The citizen's own ticket, reached by its secret link (the QR code on the slip).
citizen_router = APIRouter(
    prefix="/api/v1/tickets",
    tags=["hall"],
    dependencies=[Depends(csrf_protect), Depends(secret_link)],
)
operator = require(Permission.WINDOW_OPERATE)
manager = require(Permission.HALL_MANAGE)
PublicId = Path(min_length=1, max_length=32)


@declares(perm(Permission.WINDOW_OPERATE))
def ticket_staff(user: User | None = Depends(optional_user)) -> User:
    """Acting on a ticket by its printed number is for hall staff; the citizen uses the link."""
    if user is None:
        raise NotAuthenticated(
            "按号码操作号票需工作人员登录；取号人请使用号票上二维码的链接",
            code="not_authenticated",
        )
    if not has_permission(user, Permission.WINDOW_OPERATE):
        raise PermissionDenied("您没有操作号票的权限", code="permission_denied")
    return user


def _hall(session: Session, code: str) -> Any:
    return org_service.get_hall(session=session, code=code)


def ticket_limit(request: Request, user: User | None = Depends(optional_user)) -> None:
    """Tickets taken anonymously are limited per client address; staff (and kiosks signed
    in as window staff) issue on citizens' behalf and are not."""
    if user is None or not has_permission(user, Permission.WINDOW_OPERATE):
        ratelimit.consume(ratelimit.TICKETS, ratelimit.client_ip(request))


@router.get("/{hall_code}", dependencies=[Depends(public)])
def hall_overview(
    hall_code: str, session: Session = Depends(get_readonly_session, scope="function")
) -> dict[str, Any]:
    return overview.display_snapshot(session=session, hall=_hall(session, hall_code))


@router.get("/{hall_code}/items", dependencies=[Depends(public)])
def hall_items(
    hall_code: str, session: Session = Depends(get_readonly_session, scope="function")
) -> list[dict[str, Any]]:
    return overview.item_catalogue(session=session, hall=_hall(session, hall_code))


# --- tickets -------------------------------------------------------------------------


@router.post("/{hall_code}/tickets", status_code=201, dependencies=[Depends(public)])
def issue_ticket(
    hall_code: str,
    body: IssueTicketIn,
    _limit: None = Depends(ticket_limit),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    idem.claim(session)
    hall = _hall(session, hall_code)
    item = service.get_item(session=session, code=body.item_code)
    ticket = service.issue_ticket(
        session=session,
        hall=hall,
        item=item,
        priority=body.priority,
        channel="api",
        notify_phone=body.notify_phone,
        notify_ahead=body.notify_ahead,
    )
    # The caller took the ticket: the reply carries its secret link.
    return idem.remember(
        session,
        ticket_out(hall_waits.estimate_wait(session=session, ticket=ticket), holder=True),
        201,
    )


def _position(session: Session, ticket: Ticket) -> hall_waits.TicketPosition | None:
    if ticket.status != TicketStatus.WAITING:
        return None
    return hall_waits.estimate_wait(session=session, ticket=ticket)


@router.get("/{hall_code}/tickets/{code}", dependencies=[Depends(public)])
def ticket_status(
    hall_code: str,
    code: str,
    viewer: User | None = Depends(optional_user),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """Where a ticket stands, by its printed number: status, position and wait for anyone;
    the visit's details for staff. Never the ticket's secret link."""
    ticket = service.get_ticket(session=session, hall=_hall(session, hall_code), code=code)
    position = _position(session, ticket)
    if viewer is not None and has_permission(viewer, Permission.HALL_VIEW):
        return ticket_out(position, ticket=ticket)
    return ticket_public_out(position, ticket=ticket)


@router.post("/{hall_code}/tickets/{code}/cancel")
def cancel_ticket(
    hall_code: str,
    code: str,
    user: User = Depends(ticket_staff),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """Staff cancel a waiting ticket on the citizen's behalf (recorded with who did it)."""
    idem.claim(session)
    hall = _hall(session, hall_code)
    ticket = service.get_ticket(session=session, hall=hall, code=code, lock=True)
    return idem.remember(
        session,
        ticket_out(ticket=service.cancel_ticket(session=session, ticket=ticket, actor=user)),
    )


@citizen_router.get("/{public_id}")
def my_ticket(
    public_id: str = PublicId,
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """The citizen's own ticket by its secret link."""
    ticket = service.get_ticket_by_public_id(session=session, public_id=public_id)
    return ticket_out(_position(session, ticket), ticket=ticket, holder=True)


@citizen_router.post("/{public_id}/cancel")
def cancel_my_ticket(
    public_id: str = PublicId,
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """The citizen gives up a waiting ticket, by its secret link."""
    ticket = service.get_ticket_by_public_id(session=session, public_id=public_id, lock=True)
    return ticket_out(ticket=service.cancel_ticket(session=session, ticket=ticket), holder=True)


@router.post("/{hall_code}/close-day")
def close_day(
    hall_code: str,
    body: CloseDayIn,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    hall = _hall(session, hall_code)
    return hall_day_close.close_day(
        session=session,
        hall=hall,
        actor=user,
        reason=body.reason,
        carry_over_codes=body.carry_over,
        carry_over_all=body.carry_over_all,
    )


@router.post("/{hall_code}/carry-over")
def carry_over(
    hall_code: str,
    body: CarryOverIn,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """顺延 tickets of a day (waiting, or closed at closing time) to the next working day."""
    hall = _hall(session, hall_code)
    carried = hall_day_close.carry_over(
        session=session, hall=hall, actor=user, day=body.day, codes=body.codes
    )
    return {"carried_over": carried}


# --- windows -------------------------------------------------------------------------


def _window_out(window: Any) -> dict[str, Any]:
    return {
        "number": window.number,
        "name": window.name,
        "state": window.state,
        "staff_id": window.staff_id,
    }


@router.post("/{hall_code}/windows/{number}/sign-in")
def sign_in(
    hall_code: str,
    number: int,
    user: User = Depends(operator),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    idem.claim(session)
    return idem.remember(
        session,
        _window_out(
            hall_windows.sign_in(
                session=session, hall=_hall(session, hall_code), window_number=number, actor=user
            )
        ),
    )


@router.post("/{hall_code}/windows/{number}/sign-out")
def sign_out(
    hall_code: str,
    number: int,
    user: User = Depends(operator),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    idem.claim(session)
    return idem.remember(
        session,
        _window_out(
            hall_windows.sign_out(
                session=session, hall=_hall(session, hall_code), window_number=number, actor=user
            )
        ),
    )


@router.post("/{hall_code}/windows/{number}/pause")
def pause(
    hall_code: str,
    number: int,
    body: PauseIn | None = None,
    user: User = Depends(operator),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    idem.claim(session)
    hall = _hall(session, hall_code)
    reason = body.reason if body else ""
    return idem.remember(
        session,
        _window_out(
            hall_windows.pause(
                session=session, hall=hall, window_number=number, actor=user, reason=reason
            )
        ),
    )


@router.post("/{hall_code}/windows/{number}/resume")
def resume(
    hall_code: str,
    number: int,
    user: User = Depends(operator),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    idem.claim(session)
    return idem.remember(
        session,
        _window_out(
            hall_windows.resume(
                session=session, hall=_hall(session, hall_code), window_number=number, actor=user
            )
        ),
    )


@router.post("/{hall_code}/windows/{number}/call-next")
def call_next(
    hall_code: str,
    number: int,
    user: User = Depends(operator),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    idem.claim(session)
    ticket = hall_windows.call_next(
        session=session, hall=_hall(session, hall_code), window_number=number, actor=user
    )
    return idem.remember(
        session, ticket_out(ticket=ticket) | {"text": overview.call_text(ticket.code, number)}
    )


@router.post("/{hall_code}/windows/{number}/recall")
def recall(
    hall_code: str,
    number: int,
    user: User = Depends(operator),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    idem.claim(session)
    ticket = hall_windows.recall(
        session=session, hall=_hall(session, hall_code), window_number=number, actor=user
    )
    return idem.remember(session, ticket_out(ticket=ticket) | {"recall_count": ticket.recall_count})


@router.post("/{hall_code}/windows/{number}/start")
def start(
    hall_code: str,
    number: int,
    user: User = Depends(operator),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    idem.claim(session)
    ticket = hall_windows.start_service(
        session=session, hall=_hall(session, hall_code), window_number=number, actor=user
    )
    return idem.remember(session, ticket_out(ticket=ticket))


@router.post("/{hall_code}/windows/{number}/finish")
def finish(
    hall_code: str,
    number: int,
    body: FinishIn | None = None,
    user: User = Depends(operator),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    idem.claim(session)
    outcome = body.outcome if body else FinishIn().outcome
    ticket = hall_windows.finish_service(
        session=session,
        hall=_hall(session, hall_code),
        window_number=number,
        actor=user,
        outcome=outcome,
    )
    return idem.remember(session, ticket_out(ticket=ticket))


@router.post("/{hall_code}/windows/{number}/no-show")
def no_show(
    hall_code: str,
    number: int,
    user: User = Depends(operator),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    idem.claim(session)
    ticket = hall_windows.mark_no_show(
        session=session, hall=_hall(session, hall_code), window_number=number, actor=user
    )
    return idem.remember(session, ticket_out(ticket=ticket))


@router.post("/{hall_code}/windows/{number}/transfer")
def transfer(
    hall_code: str,
    number: int,
    body: TransferIn,
    user: User = Depends(operator),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    idem.claim(session)
    ticket = hall_windows.transfer(
        session=session,
        hall=_hall(session, hall_code),
        window_number=number,
        actor=user,
        to_item_code=body.to_item_code,
        to_window_number=body.to_window,
    )
    return idem.remember(session, ticket_out(ticket=ticket))


# --- appointments --------------------------------------------------------------------


@router.get("/{hall_code}/appointment-slots", dependencies=[Depends(public)])
def appointment_slots(
    hall_code: str,
    item_code: str = Query(max_length=32),
    day: date = Query(),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    hall = _hall(session, hall_code)
    item = service.get_item(session=session, code=item_code)
    return [
        {
            "slot_start": f"{s.slot_start:%H:%M}",
            "slot_end": f"{s.slot_end:%H:%M}",
            "capacity": s.capacity,
            "booked": s.booked,
            "remaining": s.remaining,
        }
        for s in appointments.available_slots(session=session, hall=hall, item=item, day=day)
    ]


def _appointment_out(a: Any) -> dict[str, Any]:
    return {
        "code": a.code,
        "status": a.status,
        "day": a.service_date.isoformat(),
        "slot_start": f"{a.slot_start:%H:%M}",
        "slot_end": f"{a.slot_end:%H:%M}",
        "item_id": a.item_id,
    }


@router.post("/{hall_code}/appointments", status_code=201, dependencies=[Depends(public)])
def book_appointment(
    hall_code: str, body: BookIn, session: Session = Depends(get_session, scope="function")
) -> dict[str, Any]:
    hall = _hall(session, hall_code)
    item = service.get_item(session=session, code=body.item_code)
    appointment = appointments.book(
        session=session,
        hall=hall,
        item=item,
        day=body.day,
        slot_start=body.slot_start,
        citizen_name=body.name,
        citizen_phone=body.phone,
    )
    return _appointment_out(appointment)


@router.post(
    "/{hall_code}/appointments/check-in", status_code=201, dependencies=[Depends(secret_link)]
)
def check_in(
    hall_code: str, body: CheckInIn, session: Session = Depends(get_session, scope="function")
) -> dict[str, Any]:
    hall = _hall(session, hall_code)
    appointment, ticket, late = appointments.check_in(session=session, hall=hall, code=body.code)
    position = hall_waits.estimate_wait(session=session, ticket=ticket)
    return {
        "appointment": _appointment_out(appointment),
        "late": late,
        # The appointment code's holder checked in: the new ticket is theirs, with its link.
        "ticket": ticket_out(position, holder=True),
    }


@router.post("/{hall_code}/appointments/{code}/cancel", dependencies=[Depends(secret_link)])
def cancel_appointment(
    hall_code: str, code: str, session: Session = Depends(get_session, scope="function")
) -> dict[str, Any]:
    hall = _hall(session, hall_code)
    return _appointment_out(appointments.cancel(session=session, code=code, hall=hall))
