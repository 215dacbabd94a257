"""The hall manager's console (大厅管理): the live overview, closing the day, sweeping missed
appointments, and the panels other domains register."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core.db import get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import BadRequest
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.hall import appointments, manage_panels, overview
from govloop.hall import day_close as hall_day_close
from govloop.hall.pages import hall_by_code, manager_page, page
from govloop.org.models import Hall
from govloop.web.kit import is_htmx

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def _manage_context(session: Session, hall: Hall) -> dict[str, Any]:
    return {
        "view": overview.manager_view(session=session, hall=hall),
        "snapshot": overview.display_snapshot(session=session, hall=hall),
        "arrivals": overview.arrivals_by_slot(session=session, hall=hall),
    }


@router.get("/halls/{hall_code}/manage", response_class=HTMLResponse)
def manage(
    request: Request,
    hall_code: str,
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    return page(
        request,
        "hall/manage.html",
        hall,
        **manage_panels.context(session, hall),
        **_manage_context(session, hall),
    )


@router.get("/halls/{hall_code}/manage/live", response_class=HTMLResponse)
def manage_live(
    request: Request,
    hall_code: str,
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    return page(request, "hall/_manage_live.html", hall, **_manage_context(session, hall))


@router.post("/halls/{hall_code}/manage/close-day", response_class=HTMLResponse)
def manage_close_day(
    request: Request,
    hall_code: str,
    reason: str = Form("", max_length=200),
    carry_over: list[str] = Form(default_factory=list),
    carry_over_all: bool = Form(False),
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    if not reason.strip():
        raise BadRequest(_("Please give a reason for closing"), code="reason_missing")
    result = hall_day_close.close_day(
        session=session,
        hall=hall,
        actor=user,
        reason=reason.strip(),
        carry_over_codes=[c for c in carry_over if c.strip()],
        carry_over_all=carry_over_all,
    )
    if not is_htmx(request):
        return RedirectResponse(f"/halls/{hall.code}/manage", status_code=303)
    return page(request, "hall/_close_day_result.html", hall, result=result)


@router.post("/halls/{hall_code}/manage/sweep-appointments", response_class=HTMLResponse)
def manage_sweep(
    request: Request,
    hall_code: str,
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    missed = appointments.sweep_missed(session=session, hall=hall)
    if not is_htmx(request):
        return RedirectResponse(f"/halls/{hall.code}/manage", status_code=303)
    return page(request, "hall/_sweep_result.html", hall, missed=missed)
