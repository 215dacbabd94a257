"""The window's case data: what a clerk may see of the applicant of the ticket being served,
only while it is open (purpose-bound access), and break-glass access with a reason."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from govloop.access import breakglass, cases, service
from govloop.access.models import Grant, GrantStatus
from govloop.access.pages import break_glass_context, page
from govloop.core.auth import Permission
from govloop.core.db import get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.errors import GovloopError, PermissionDenied, RecordedRefusal
from govloop.core.models import User
from govloop.hall import windows as hall_windows
from govloop.org import service as org_service
from govloop.subjects import identifiers as ids
from govloop.subjects import service as subjects

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def _case_data(
    request: Request, session: Session, hall_code: str, number: int, user: User, **extra: Any
) -> HTMLResponse:

    hall = org_service.get_hall(session=session, code=hall_code)
    context: dict[str, Any] = {"hall_code": hall.code, "number": number, "ticket_id": None}
    try:
        ticket_id = hall_windows.current_ticket_id(
            session=session, hall=hall, window_number=number, actor=user
        )
    except PermissionDenied:  # not signed in to this window (yet): nothing to show
        context |= break_glass_context(session, user)
        return page(request, "access/_case_data.html", **context, signed_out=True, **extra)
    context["ticket_id"] = ticket_id
    if ticket_id is not None:
        try:
            result = service.open_grant(
                session=session, user=user, case_type="ticket", case_id=ticket_id
            )
            context["grant"] = result.grant
            context["views"] = service.fetch(session=session, user=user, token=result.token)
        except RecordedRefusal as refusal:  # recorded; its entry commits with the page
            context["denial"] = refusal
    context |= break_glass_context(session, user)
    return page(request, "access/_case_data.html", **context, **extra)


@router.get("/halls/{hall_code}/windows/{number}/case-data", response_class=HTMLResponse)
def window_case_data(
    request: Request,
    hall_code: str,
    number: int,
    user: User = Depends(require(Permission.WINDOW_OPERATE)),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """The current ticket's subjects as the policy allows; every view is logged."""
    return _case_data(request, session, hall_code, number, user)


@router.post("/halls/{hall_code}/windows/{number}/case-data/applicant", response_class=HTMLResponse)
def window_identify_applicant(
    request: Request,
    hall_code: str,
    number: int,
    id_number: str = Form(..., max_length=30),
    user: User = Depends(require(Permission.WINDOW_OPERATE)),
    session: Session = Depends(get_session, scope="function"),
) -> Response:

    hall = org_service.get_hall(session=session, code=hall_code)
    ticket_id = hall_windows.current_ticket_id(
        session=session, hall=hall, window_number=number, actor=user
    )
    error = None
    check = ids.check_resident_id(id_number)
    person = subjects.find_person(session=session, id_number=check.value) if check.valid else None
    if ticket_id is None:
        error = "窗口当前没有叫到的号"
    elif not check.valid:
        error = check.reason
    elif person is None:
        error = "主题库中没有该身份证号码对应的人员"
    else:
        cases.attach_subject(
            session=session, case_type="ticket", case_id=ticket_id, master_id=person.id
        )
    return _case_data(request, session, hall_code, number, user, error=error)


@router.post(
    "/halls/{hall_code}/windows/{number}/case-data/break-glass", response_class=HTMLResponse
)
def window_break_glass(
    request: Request,
    hall_code: str,
    number: int,
    id_number: str = Form(..., max_length=30),
    reason: str = Form("", max_length=500),
    user: User = Depends(require(Permission.WINDOW_OPERATE)),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """紧急查看 of a person by resident ID, outside any case. The policy decides (role,
    hourly limit, second-person approval) and every refusal is recorded."""

    extra: dict[str, Any] = {"bg_form": {"reason": reason}}
    check = ids.check_resident_id(id_number)
    person = subjects.find_person(session=session, id_number=check.value) if check.valid else None
    if not check.valid:
        extra["bg_error"] = check.reason
    elif person is None:
        extra["bg_error"] = "主题库中没有该身份证号码对应的人员"
    else:
        try:
            result = breakglass.request(
                session=session, user=user, master_id=person.id, reason=reason
            )
        except RecordedRefusal as refusal:  # recorded; its entry commits with the page
            extra["bg_error"] = refusal.message
        except GovloopError as exc:  # bad input (no reason, unknown record): nothing kept
            session.rollback()
            extra["bg_error"] = exc.message
        else:
            if result.grant.status == GrantStatus.PENDING:
                extra["bg_pending"] = result.grant
                extra["bg_form"] = {}
            else:
                views = service.fetch(session=session, user=user, token=result.token)
                extra |= {"bg_grant": result.grant, "bg_views": views, "bg_form": {}}
    return _case_data(request, session, hall_code, number, user, **extra)


@router.get(
    "/halls/{hall_code}/windows/{number}/case-data/break-glass/{grant_id}",
    response_class=HTMLResponse,
)
def window_break_glass_view(
    request: Request,
    hall_code: str,
    number: int,
    grant_id: int,
    user: User = Depends(require(Permission.WINDOW_OPERATE)),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """The subject of one's own open (or approved) break-glass request; each view is
    logged, and a waiting or ended one is refused with the reason."""
    extra: dict[str, Any]
    try:
        views = breakglass.view(session=session, user=user, grant_id=grant_id)
    except RecordedRefusal as refusal:  # recorded; its entry commits with the page
        extra = {"bg_error": refusal.message}
    else:
        extra = {"bg_grant": session.get(Grant, grant_id), "bg_views": views}
    return _case_data(request, session, hall_code, number, user, **extra)
