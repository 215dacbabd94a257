"""Appointment pages (预约): booking a slot and cancelling it by its code."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from govloop.core import calendar
from govloop.core.clock import local_tz, now
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, public, secret_link
from govloop.core.errors import BadRequest, GovloopError
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.hall import appointments, overview, service
from govloop.hall.models import ServiceItem
from govloop.hall.pages import hall_by_code, page
from govloop.org.models import Hall
from govloop.web.kit import page_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def _booking_days(hall: Hall) -> list[dict[str, Any]]:
    today = service.service_day(hall)
    days = []
    for offset in range(appointments.BOOKING_HORIZON_DAYS + 1):
        day = today + timedelta(days=offset)
        days.append(
            {
                "date": day,
                "value": day.isoformat(),
                "weekday": str(day.weekday()),
                "workday": calendar.is_workday(day),
                "today": offset == 0,
            }
        )
    return days


def _slots(session: Session, hall: Hall, item: ServiceItem, day: date) -> list[dict[str, Any]]:
    moment = now()
    return [
        {
            "start": f"{s.slot_start:%H:%M}",
            "end": f"{s.slot_end:%H:%M}",
            "capacity": s.capacity,
            "remaining": s.remaining,
            "passed": datetime.combine(day, s.slot_end, tzinfo=local_tz()) <= moment,
        }
        for s in appointments.available_slots(session=session, hall=hall, item=item, day=day)
    ]


def _appointments_page(
    request: Request,
    session: Session,
    hall: Hall,
    *,
    item_code: str | None,
    day: date | None,
    error: str | None = None,
    cancel_error: str | None = None,
    cancelled: Any = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    days = _booking_days(hall)
    item = None
    slots: list[dict[str, Any]] | None = None
    if item_code:
        try:
            item = service.get_item(session=session, code=item_code)
        except GovloopError as exc:
            error, status_code = error or exc.message, max(status_code, exc.status_code)
    if day is not None and not days[0]["date"] <= day <= days[-1]["date"]:
        error = error or _("Appointments can be booked for the next %(n)s days only") % {
            "n": appointments.BOOKING_HORIZON_DAYS
        }
        status_code = max(status_code, 422)
        day = None
    if item is not None and day is not None:
        slots = _slots(session, hall, item, day)
    return page(
        request,
        "hall/appointments.html",
        hall,
        status_code=status_code,
        catalogue=overview.item_catalogue(session=session, hall=hall),
        days=days,
        item=overview.item_out(item) if item else None,
        day=day,
        slots=slots,
        error=error,
        cancel_error=cancel_error,
        cancelled=cancelled,
        form=form or {},
    )


@router.get(
    "/halls/{hall_code}/appointments", response_class=HTMLResponse, dependencies=[Depends(public)]
)
def appointments_page(
    request: Request,
    hall_code: str,
    item: str | None = Query(None, max_length=32),
    day: date | None = Query(None),
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    return _appointments_page(request, session, hall, item_code=item, day=day)


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(_("Please choose a date"), code="bad_date") from None


def _parse_slot(value: str) -> time:
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(_("Please choose a time slot"), code="bad_slot") from None


@router.post(
    "/halls/{hall_code}/appointments", response_class=HTMLResponse, dependencies=[Depends(public)]
)
def book_appointment(
    request: Request,
    hall_code: str,
    item_code: str = Form("", max_length=32),
    day: str = Form("", max_length=10),
    slot_start: str = Form("", max_length=8),
    # generous bounds: the booking's own rules refuse too long a name or phone with the form
    # shown again, instead of a bare validation page that loses what was typed
    name: str = Form("", max_length=2000),
    phone: str = Form("", max_length=200),
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    form = {"name": name, "phone": phone, "slot_start": slot_start}
    try:
        booking_day = _parse_day(day)
        item = service.get_item(session=session, code=item_code.strip())
        appointment = appointments.book(
            session=session,
            hall=hall,
            item=item,
            day=booking_day,
            slot_start=_parse_slot(slot_start),
            citizen_name=name,
            citizen_phone=phone,
        )
    except GovloopError as exc:
        session.rollback()  # the form is shown again; nothing of the attempt is kept
        parsed_day = None
        with contextlib.suppress(ValueError):
            parsed_day = date.fromisoformat(day.strip())
        return _appointments_page(
            request,
            session,
            hall,
            item_code=item_code.strip() or None,
            day=parsed_day,
            error=exc.message,
            form=form,
            status_code=exc.status_code,
        )
    return page(
        request,
        "hall/appointment_booked.html",
        hall,
        appointment=appointment,
        item=overview.item_out(item),
        weekday=str(appointment.service_date.weekday()),
    )


@router.post(
    "/halls/{hall_code}/appointments/cancel",
    response_class=HTMLResponse,
    dependencies=[Depends(secret_link)],
)
def cancel_appointment(
    request: Request,
    hall_code: str,
    code: str = Form("", max_length=32),
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    try:
        if not code.strip():
            raise BadRequest(_("Please enter your appointment code"), code="code_missing")
        found = appointments.get_appointment(session=session, code=code)
        if found.hall_id != hall.id:
            raise BadRequest(_("This appointment is for another hall"), code="other_hall")
        cancelled = appointments.cancel(session=session, code=code)
    except GovloopError as exc:
        session.rollback()
        return _appointments_page(
            request,
            session,
            hall,
            item_code=None,
            day=None,
            cancel_error=exc.message,
            status_code=exc.status_code,
        )
    return _appointments_page(request, session, hall, item_code=None, day=None, cancelled=cancelled)
