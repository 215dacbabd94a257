"""Pages of purpose-bound access: the field policy for review, the auditor's console (log
verification, break-glass reviews, staff activity), and the citizen's data tracker."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.access import activity, audit, service
from govloop.access.policy import policy, policy_text
from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.errors import GovloopError, PermissionDenied
from govloop.core.i18n import N_
from govloop.core.models import User
from govloop.core.ratelimit import client_ip
from govloop.subjects.feedback import FIELD_LABELS
from govloop.subjects.pages import KIND_LABELS
from govloop.web.pages import page_user
from govloop.web.templating import render

# page_user puts the viewer in the header
router = APIRouter(
    include_in_schema=False, dependencies=[Depends(csrf_protect), Depends(page_user)]
)
auditor = require(Permission.AUDIT_READ)

CASE_LABELS = {
    "ticket": N_("Hall visit (ticket)"),
    "work_order": N_("Hotline work order"),
    "field_task": N_("Field task"),
}
FLAG_LABELS = {
    "bulk": N_("Bulk lookups"),
    "off_hours": N_("Access outside office hours"),
    "outside_case": N_("Subjects outside any case"),
    "repeated_break_glass": N_("Repeated break-glass"),
}


def page(request: Request, name: str, **context: Any) -> HTMLResponse:
    return render(
        request,
        name,
        {
            "field_labels": FIELD_LABELS,
            "case_labels": CASE_LABELS,
            "flag_labels": FLAG_LABELS,
            "kind_labels": KIND_LABELS,
            **context,
        },
    )


@router.get("/access/policy", response_class=HTMLResponse)
def policy_page(request: Request) -> Response:
    """最小必要: public, so applicants and staff alike can see what a handler may see."""
    rules = policy()
    return page(
        request,
        "access/policy.html",
        rules=rules,
        source=policy_text(),
        masking_examples={
            "id_number": rules.mask("id_number", "11010519491231002X"),
            "phone": rules.mask("phone", "13800138000"),
            "name": rules.mask("name", "张三"),
            "address": rules.mask("address", "北京市朝阳区建国路88号"),
            "bank_card": rules.mask("bank_card", "6222020200112233445"),
        },
    )


@router.get("/access/audit", response_class=HTMLResponse)
def audit_console(
    request: Request,
    user: User = Depends(auditor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    return page(
        request,
        "access/audit.html",
        report=audit.verify(session=session),
        pending=activity.pending_break_glass(session=session),
        staff=activity.staff_activity(session=session),
        entries=activity.recent_entries(session=session, limit=50),
        done=request.query_params.get("done"),
    )


@router.post("/access/break-glass/{grant_id}/review")
def review_form(
    grant_id: int,
    verdict: str = Form(..., max_length=16),
    note: str = Form("", max_length=500),
    user: User = Depends(auditor),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    service.review_break_glass(
        session=session, grant_id=grant_id, reviewer=user, verdict=verdict, note=note
    )
    return RedirectResponse("/access/audit?done=reviewed", status_code=303)


@router.get("/my-data", response_class=HTMLResponse)
def tracker_form(request: Request) -> Response:
    return page(request, "access/my_data.html", lines=None, error=None, form={})


@router.post("/my-data", response_class=HTMLResponse)
def tracker(
    request: Request,
    id_number: str = Form(..., max_length=30),
    name: str = Form(..., max_length=50),
    phone: str = Form(..., max_length=30),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    """Who accessed my data, for which matter (like Estonia's data tracker)."""
    client = client_ip(request)
    form = {"id_number": id_number, "name": name, "phone": phone}
    try:
        lines = activity.citizen_accesses(
            session=session, id_number=id_number, name=name, phone=phone, client=client
        )
    except GovloopError as exc:
        response = page(request, "access/my_data.html", lines=None, error=exc.message, form=form)
        response.status_code = exc.status_code
        response.headers.update(exc.headers)
        return response
    return page(request, "access/my_data.html", lines=lines, error=None, form={"name": name})


# --- the window workbench's case data (最小必要, while the ticket is at the window) ---------


def _case_data(
    request: Request, session: Session, hall_code: str, number: int, user: User, **extra: Any
) -> HTMLResponse:
    from govloop.hall import service as hall_service

    hall = hall_service.get_hall(session=session, code=hall_code)
    context: dict[str, Any] = {"hall_code": hall.code, "number": number, "ticket_id": None}
    try:
        ticket_id = hall_service.current_ticket_id(
            session=session, hall=hall, window_number=number, actor=user
        )
    except PermissionDenied:  # not signed in to this window (yet): nothing to show
        return page(request, "access/_case_data.html", **context, signed_out=True, **extra)
    context["ticket_id"] = ticket_id
    if ticket_id is not None:
        result = service.open_grant(
            session=session, user=user, case_type="ticket", case_id=ticket_id
        )
        if result.denial:
            context["denial"] = result.denial
        else:
            assert result.grant is not None
            context["grant"] = result.grant
            fetched = service.fetch(session=session, user=user, token=result.token)
            context["views"] = fetched.subjects
            context["denial"] = fetched.denial
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
    from govloop.access import cases
    from govloop.hall import service as hall_service
    from govloop.subjects import identifiers as ids
    from govloop.subjects import service as subjects

    hall = hall_service.get_hall(session=session, code=hall_code)
    ticket_id = hall_service.current_ticket_id(
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
