"""Pages of purpose-bound access: the field policy for review, the auditor's console (log
verification, alerts, break-glass reviews, staff activity), break-glass approvals for hall
managers and auditors, the window workbench's case data and emergency access, and the
citizen's data tracker."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.access import activity, audit_labels, breakglass, cases, service
from govloop.access.api import approver
from govloop.access.models import ApprovalStatus, Grant, GrantStatus
from govloop.access.policy import policy, policy_text
from govloop.audit import anchor as anchoring
from govloop.audit import log as audit
from govloop.core.auth import Permission
from govloop.core.clock import now
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, public, require
from govloop.core.errors import BadRequest, GovloopError
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.core.ratelimit import client_ip
from govloop.notify import labels as notify_labels
from govloop.subjects.feedback import FIELD_LABELS
from govloop.subjects.pages import KIND_LABELS, SEX_LABELS
from govloop.web.kit import page_renderer, page_user, refuse

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
ALERT_LABELS = {
    "break_glass": N_("Break-glass opened"),
    "approval_requested": N_("Break-glass awaiting approval"),
    "limit_reached": N_("Hourly break-glass limit reached"),
    "role_refused": N_("Break-glass by a role that may not"),
}
ROLE_LABELS = {
    "admin": N_("Administrator"),
    "hall_manager": N_("Hall manager"),
    "window_staff": N_("Window staff"),
    "hotline_agent": N_("Hotline agent"),
    "department_handler": N_("Department handler"),
    "data_steward": N_("Data steward"),
    "auditor": N_("Auditor"),
    "field_staff": N_("Field staff"),
}
DECISION_NOTICES = {
    "approved": N_("Approved: the requester can see the data for the break-glass time limit."),
    "refused": N_("Refused: no data is served."),
}


def request_state(grant: Grant) -> str:
    """What a break-glass request's requester and approvers see of it."""
    if grant.status == GrantStatus.PENDING:
        return "expired" if grant.expires_at <= now() else "pending"
    if grant.status == GrantStatus.ACTIVE:
        return "open" if grant.expires_at > now() else "expired"
    if grant.approval_status == ApprovalStatus.REFUSED:
        return "refused"
    return "ended"


page = page_renderer(
    {
        "field_labels": FIELD_LABELS,
        "case_labels": CASE_LABELS,
        "flag_labels": FLAG_LABELS,
        "kind_labels": KIND_LABELS,
        "sex_labels": SEX_LABELS,
        "alert_labels": ALERT_LABELS,
        "role_labels": ROLE_LABELS,
        "request_state": request_state,
        "action_label": audit_labels.action_label,
        "outcome_label": audit_labels.outcome_label,
        "detail_text": audit_labels.detail_text,
        "notify_labels": {
            "status": notify_labels.STATUS_LABELS,
            "reason": notify_labels.REASON_LABELS,
            "channel": notify_labels.CHANNEL_LABELS,
            "template": notify_labels.TEMPLATE_LABELS,
        },
    }
)


@router.get("/access/policy", response_class=HTMLResponse, dependencies=[Depends(public)])
def policy_page(
    request: Request, session: Session = Depends(get_readonly_session, scope="function")
) -> Response:
    """最小必要: public, so applicants and staff alike can see what a handler may see."""
    rules = policy()
    key_labels = {
        case_type: cases.policy_key_labels(
            session=session, case_type=case_type, keys=list(spec.get("items") or {})
        )
        for case_type, spec in rules.cases.items()
    }
    return page(
        request,
        "access/policy.html",
        rules=rules,
        key_labels=key_labels,
        source=policy_text(),
        masking_examples={
            "id_number": rules.mask("id_number", "11010519491231002X"),
            "phone": rules.mask("phone", "13800138000"),
            "name": rules.mask("name", "张三"),
            "address": rules.mask("address", "北京市朝阳区建国路88号"),
            "bank_card": rules.mask("bank_card", "6222020200112233445"),
        },
    )


TRUST_LABELS = {
    "key_dir": N_("Key folder"),
    "anchor": N_("Auditor's anchor"),
    "endorsed": N_("Endorsed at rotation"),
}
ANCHOR_MAX_BYTES = 10 * 1024 * 1024


def _console(
    request: Request, session: Session, anchor: anchoring.Anchor | None = None, **extra: Any
) -> HTMLResponse:
    """The console checks against the given anchor, else the server's configured one."""
    return page(
        request,
        "access/audit.html",
        report=audit.verify(session=session, anchor=anchor),
        trust_labels=TRUST_LABELS,
        pending=activity.pending_break_glass(session=session),
        alerts=breakglass.alerts(session=session),
        approvals=breakglass.pending_requests(session=session),
        staff=activity.staff_activity(session=session),
        entries=activity.recent_entries(session=session, limit=50),
        done=request.query_params.get("done"),
        **extra,
    )


@router.get("/access/audit", response_class=HTMLResponse)
def audit_console(
    request: Request,
    user: User = Depends(auditor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    return _console(request, session)


@router.post("/access/audit/anchor", response_class=HTMLResponse)
def audit_console_with_anchor(
    request: Request,
    anchor_text: str = Form("", max_length=ANCHOR_MAX_BYTES),
    anchor_file: UploadFile | None = File(None),
    user: User = Depends(auditor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    """Verify against the auditor's own copy of the anchor (pasted or uploaded)."""
    text, source = anchor_text, "粘贴的锚定内容"
    if anchor_file is not None and anchor_file.filename:
        raw = anchor_file.file.read(ANCHOR_MAX_BYTES + 1)
        if len(raw) > ANCHOR_MAX_BYTES:
            raise BadRequest("锚定文件过大", code="anchor_too_large")
        text, source = raw.decode("utf-8", errors="replace"), f"上传的 {anchor_file.filename}"
    if not text.strip():
        raise BadRequest("请粘贴或上传锚定文件（heads.jsonl）", code="anchor_missing")
    return _console(request, session, anchoring.parse(text, source), uploaded=True)


@router.post("/access/alerts/{alert_id}/acknowledge")
def acknowledge_form(
    alert_id: int,
    note: str = Form("", max_length=500),
    user: User = Depends(auditor),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    breakglass.acknowledge(session=session, alert_id=alert_id, auditor=user, note=note)
    return RedirectResponse("/access/audit?done=acknowledged#alerts", status_code=303)


def _approvals_page(
    request: Request,
    session: Session,
    user: User,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    response = page(
        request,
        "access/approvals.html",
        viewer_id=user.id,
        requests=breakglass.pending_requests(session=session),
        decided=breakglass.recent_decisions(session=session),
        rules=breakglass.rules(),
        notice=notice,
        error=error,
    )
    response.status_code = status_code
    return response


@router.get("/access/break-glass/approvals", response_class=HTMLResponse)
def approvals(
    request: Request,
    done: str = "",
    user: User = Depends(approver),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    """Break-glass requests beyond the threshold, waiting for a second person."""
    notice = _(DECISION_NOTICES[done]) if done in DECISION_NOTICES else None
    return _approvals_page(request, session, user, notice=notice)


@router.post("/access/break-glass/{grant_id}/approval", response_class=HTMLResponse)
def decide_form(
    request: Request,
    grant_id: int,
    decision: str = Form(..., max_length=8),
    note: str = Form("", max_length=500),
    user: User = Depends(approver),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    if decision not in ("approve", "refuse"):
        return _approvals_page(
            request, session, user, error=_("Choose approve or refuse."), status_code=400
        )
    try:
        breakglass.decide(
            session=session,
            grant_id=grant_id,
            approver=user,
            approve=decision == "approve",
            note=note,
        )
    except GovloopError as exc:
        return refuse(
            session, exc, lambda **shown: _approvals_page(request, session, user, **shown)
        )
    done = "approved" if decision == "approve" else "refused"
    return RedirectResponse(f"/access/break-glass/approvals?done={done}", status_code=303)


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


@router.get("/my-data", response_class=HTMLResponse, dependencies=[Depends(public)])
def tracker_form(request: Request) -> Response:
    return page(request, "access/my_data.html", lines=None, error=None, form={})


def _tracker_page(
    request: Request,
    session: Session,
    who: activity.Verified,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    messages, choices = activity.citizen_messages(session=session, who=who)
    return page(
        request,
        "access/my_data.html",
        status_code=status_code,
        lines=activity.accesses_of(session=session, person_id=who.person_id),
        messages=messages,
        choices=choices,
        token=who.token,
        notice=notice,
        error=error,
        form={"name": who.name},
    )


@router.post("/my-data", response_class=HTMLResponse, dependencies=[Depends(public)])
def tracker(
    request: Request,
    id_number: str = Form(..., max_length=30),
    name: str = Form(..., max_length=50),
    phone: str = Form(..., max_length=30),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    """Who accessed my data, for which matter (like Estonia's data tracker), and the
    messages sent to me with my choice of channels."""
    client = client_ip(request)
    form = {"id_number": id_number, "name": name, "phone": phone}
    try:
        who = activity.verify_citizen(
            session=session, id_number=id_number, name=name, phone=phone, client=client
        )
    except GovloopError as exc:
        response = page(request, "access/my_data.html", lines=None, error=exc.message, form=form)
        response.status_code = exc.status_code
        response.headers.update(exc.headers)
        return response
    return _tracker_page(request, session, who)


@router.post("/my-data/notifications", response_class=HTMLResponse, dependencies=[Depends(public)])
def tracker_opt_out(
    request: Request,
    token: str = Form("", max_length=500),
    channel: str = Form("", max_length=16),
    choice: str = Form("", max_length=8),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """The citizen opts out of (or back into) text messages or e-mail, for the phone and
    address on record; the page's token stands for the verification just done."""
    try:
        who = activity.verified_by_token(session=session, token=token)
    except GovloopError as exc:
        response = page(request, "access/my_data.html", lines=None, error=exc.message, form={})
        response.status_code = exc.status_code
        return response
    try:
        notice = activity.set_citizen_opt_out(
            session=session, who=who, channel=channel, choice=choice
        )
    except GovloopError as exc:
        return refuse(session, exc, lambda **kw: _tracker_page(request, session, who, **kw))
    return _tracker_page(request, session, who, notice=notice)


# --- the window workbench's case data (最小必要, while the ticket is at the window) ---------


def break_glass_context(session: Session, user: User) -> dict[str, Any]:
    """The workbench's emergency-access block: shown to the roles that may break glass
    (with what is left of their limits and their recent requests), and to approvers (with
    the requests waiting for them)."""
    allowed = breakglass.may_break_glass(user)
    approves = breakglass.may_approve(user)
    if not (allowed or approves):
        return {"bg": None}
    waiting = (
        sum(1 for v in breakglass.pending_requests(session=session) if v.grant.staff_id != user.id)
        if approves
        else 0
    )
    return {
        "bg": {
            "allowed": allowed,
            "usage": breakglass.usage(session=session, user=user) if allowed else None,
            "requests": breakglass.my_requests(session=session, user=user) if allowed else [],
            "approves": approves,
            "waiting": waiting,
        }
    }
