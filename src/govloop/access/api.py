"""JSON API of purpose-bound access (``/api/v1/access``).

Staff open a grant for the case they hold and read its subjects with the grant token in the
``X-Grant-Token`` header; auditors verify the log, see and acknowledge alerts and review
break-glass uses; hall managers and auditors approve break-glass requests beyond the
policy's threshold. Refusals are answered after their audit entry is committed (a refused
request leaves its trace).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govloop.access import activity, breakglass, cases, reads, service
from govloop.access.models import CaseType
from govloop.access.policy import policy
from govloop.audit import log as audit
from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, current_user, public, require
from govloop.core.errors import NotFound, PermissionDenied, RuleViolation
from govloop.core.models import User
from govloop.subjects import identifiers as ids
from govloop.subjects import service as subjects

router = APIRouter(prefix="/api/v1/access", tags=["access"], dependencies=[Depends(csrf_protect)])
auditor = require(Permission.AUDIT_READ)


def approver(user: User = Depends(current_user)) -> User:
    """Break-glass approvers: the roles the policy names (hall managers and auditors)."""
    if not breakglass.may_approve(user):
        raise PermissionDenied(breakglass.approver_refusal(), code="not_an_approver")
    return user


class GrantIn(BaseModel):
    case_type: CaseType
    case_id: int = Field(ge=1)
    purpose: str = Field(default="", max_length=200)


class ApplicantIn(BaseModel):
    id_number: str = Field(min_length=15, max_length=30)
    role: str = Field(default="applicant", max_length=32)


class BreakGlassIn(BaseModel):
    master_id: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=500)


class DecisionIn(BaseModel):
    decision: str = Field(pattern="^(approve|refuse)$")
    note: str = Field(default="", max_length=500)


class AcknowledgeIn(BaseModel):
    note: str = Field(default="", max_length=500)


class ReviewIn(BaseModel):
    verdict: str = Field(pattern="^(accepted|misuse)$")
    note: str = Field(default="", max_length=500)


def _grant_out(result: service.GrantResult) -> dict[str, Any]:
    grant = result.grant
    return {
        "grant_id": grant.id,
        "token": result.token,
        "case_type": grant.case_type,
        "case_id": grant.case_id,
        "case": grant.case_label,
        "policy": grant.policy_key,
        "fields": grant.fields,
        "subjects": grant.subject_ids,
        "expires_at": grant.expires_at.isoformat(),
        "break_glass": grant.break_glass,
        "status": grant.status,
        "approval": grant.approval_status,
    }


def _request_out(view: breakglass.RequestView) -> dict[str, Any]:
    g = view.grant
    return {
        "grant_id": g.id,
        "staff_id": g.staff_id,
        "staff": view.staff,
        "role": view.staff_role,
        "reason": g.reason,
        "subject_id": g.subject_ids[0] if g.subject_ids else None,
        "requested_at": g.opened_at.isoformat(),
        "expires_at": g.expires_at.isoformat(),
        "status": g.status,
        "approval": g.approval_status,
        "requests_in_window": view.requests_in_window,
        "decided_by": g.decided_by,
        "decided_at": g.decided_at.isoformat() if g.decided_at else None,
    }


def _alert_out(view: breakglass.AlertView) -> dict[str, Any]:
    a = view.alert
    return {
        "id": a.id,
        "kind": a.kind,
        "staff_id": a.staff_id,
        "staff": view.staff,
        "role": view.staff_role,
        "grant_id": a.grant_id,
        "subject_id": a.subject_id,
        "detail": a.detail,
        "count": a.count,
        "created_at": a.created_at.isoformat(),
        "last_at": a.last_at.isoformat(),
        "acknowledged_by": view.acknowledged_by,
        "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
        "note": a.acknowledgement,
    }


@router.post("/grants", response_model=None)
def open_grant(
    body: GrantIn,
    user: User = Depends(current_user),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any] | JSONResponse:
    result = service.open_grant(
        session=session,
        user=user,
        case_type=body.case_type,
        case_id=body.case_id,
        purpose=body.purpose,
    )
    return _grant_out(result)


@router.get("/data", response_model=None)
def case_data(
    subject_id: int | None = Query(default=None, ge=1),
    fields: str | None = Query(default=None, max_length=500),
    grant_token: str | None = Header(default=None, alias="X-Grant-Token", max_length=200),
    user: User = Depends(current_user),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any] | JSONResponse:
    """The case's subjects as the grant allows: only granted fields, masked as declared.
    Each read is logged (committed) before the data is returned, see ``reads``."""
    wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    result = reads.served(
        session,
        lambda s: service.fetch(
            session=s, user=user, token=grant_token, subject_id=subject_id, fields=wanted
        ),
    )
    return {"subjects": [asdict(v) for v in result]}


@router.get("/key", response_model=None)
def device_key(
    grant_token: str | None = Header(default=None, alias="X-Grant-Token", max_length=200),
    user: User = Depends(current_user),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any] | JSONResponse:
    key = reads.served(
        session, lambda s: service.device_key(session=s, user=user, token=grant_token)
    )
    return {"key": key}


@router.post("/cases/{case_type}/{case_id}/applicant", response_model=None)
def identify_applicant(
    case_type: CaseType,
    case_id: int,
    body: ApplicantIn,
    user: User = Depends(current_user),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any] | JSONResponse:
    """The handler identifies the applicant by resident ID: the case then covers them."""
    info = service.held_case(session=session, user=user, case_type=case_type, case_id=case_id)
    check = ids.check_resident_id(body.id_number)
    if not check.valid:
        raise RuleViolation(check.reason or "身份证号码无效", code=check.reason_code or "bad_id")
    person = subjects.find_person(session=session, id_number=check.value)
    if person is None:
        raise NotFound("主题库中没有该身份证号码对应的人员", code="unknown_person")
    cases.attach_subject(
        session=session, case_type=case_type, case_id=case_id, master_id=person.id, role=body.role
    )
    return {"master_id": person.id, "case": info.label}


@router.post("/break-glass", response_model=None)
def break_glass(
    body: BreakGlassIn,
    user: User = Depends(current_user),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any] | JSONResponse:
    """Emergency access. 200: served now; 202: waits for a second person's approval (the
    token works once approved); 403: the role may not; 429: the hourly limit is reached.
    The policy (roles, limits) decides, in the service, so every refusal is recorded."""
    result = breakglass.request(
        session=session, user=user, master_id=body.master_id, reason=body.reason
    )
    out = _grant_out(result)
    return JSONResponse(out, status_code=202) if out["status"] == "pending" else out


@router.get("/break-glass/mine")
def my_break_glass(
    user: User = Depends(current_user),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """The caller's own requests in the approval window and what is left of the limits."""
    used = breakglass.usage(session=session, user=user)
    return {
        "allowed": breakglass.may_break_glass(user),
        "last_hour": used.last_hour,
        "remaining_this_hour": used.remaining_this_hour,
        "in_window": used.in_window,
        "next_needs_approval": used.next_needs_approval,
        "requests": [
            {
                "grant_id": g.id,
                "requested_at": g.opened_at.isoformat(),
                "expires_at": g.expires_at.isoformat(),
                "status": g.status,
                "approval": g.approval_status,
                "decision_note": g.decision_note,
            }
            for g in breakglass.my_requests(session=session, user=user)
        ],
    }


@router.get("/break-glass/requests")
def break_glass_requests(
    user: User = Depends(approver),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """Requests waiting for a second person's approval (the caller's own are marked)."""
    return {
        "pending": [
            _request_out(v) | {"own": v.grant.staff_id == user.id}
            for v in breakglass.pending_requests(session=session)
        ]
    }


@router.post("/break-glass/{grant_id}/approval", response_model=None)
def decide(
    grant_id: int,
    body: DecisionIn,
    user: User = Depends(approver),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    decided = breakglass.decide(
        session=session,
        grant_id=grant_id,
        approver=user,
        approve=body.decision == "approve",
        note=body.note,
    )
    return {
        "grant_id": decided.id,
        "status": decided.status,
        "approval": decided.approval_status,
        "expires_at": decided.expires_at.isoformat(),
    }


@router.get("/alerts")
def list_alerts(
    open_only: bool = True,
    user: User = Depends(auditor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """Break-glass uses, requests and refusals for auditors; open = not yet acknowledged."""
    return {
        "open": breakglass.open_alert_count(session=session),
        "alerts": [_alert_out(v) for v in breakglass.alerts(session=session, open_only=open_only)],
    }


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_alert(
    alert_id: int,
    body: AcknowledgeIn,
    user: User = Depends(auditor),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    alert = breakglass.acknowledge(session=session, alert_id=alert_id, auditor=user, note=body.note)
    return {
        "id": alert.id,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
    }


@router.get("/policy", dependencies=[Depends(public)])
def field_policy() -> dict[str, Any]:
    rules = policy()
    return {"grant_minutes": rules.grant_minutes, "cases": rules.cases}


@router.get("/audit/verify")
def verify(
    user: User = Depends(auditor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    report = audit.verify(session=session)
    return report.as_json() | {
        "public_keys": {key_id: t.record.pem() for key_id, t in report.keyring.trusted.items()}
    }


@router.get("/activity")
def staff_activity(
    days: int = Query(default=30, ge=1, le=366),
    user: User = Depends(auditor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    rows = activity.staff_activity(session=session, days=days)
    return {
        "staff": [
            {
                "staff_id": r.staff_id,
                "staff": r.staff,
                "cases": r.cases,
                "mean_case_minutes": r.mean_case_minutes,
                "reads": r.reads,
                "subjects": len(r.subjects),
                "denied": r.denied,
                "break_glass": r.break_glass,
                "flags": r.flags,
            }
            for r in rows
        ]
    }


@router.post("/break-glass/{grant_id}/review")
def review(
    grant_id: int,
    body: ReviewIn,
    user: User = Depends(auditor),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    grant = service.review_break_glass(
        session=session, grant_id=grant_id, reviewer=user, verdict=body.verdict, note=body.note
    )
    return {"grant_id": grant.id, "review_status": grant.review_status}
