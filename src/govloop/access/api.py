"""JSON API of purpose-bound access (``/api/v1/access``).

Staff open a grant for the case they hold and read its subjects with the grant token in the
``X-Grant-Token`` header; auditors verify the log and review break-glass uses. Refusals are
answered after their audit entry is committed (a refused request leaves its trace).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govloop.access import activity, audit, cases, service
from govloop.access.models import CaseType
from govloop.access.policy import policy
from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, current_user, public, require
from govloop.core.errors import NotFound, RuleViolation
from govloop.core.models import User
from govloop.subjects import identifiers as ids
from govloop.subjects import service as subjects

router = APIRouter(prefix="/api/v1/access", tags=["access"], dependencies=[Depends(csrf_protect)])
auditor = require(Permission.AUDIT_READ)


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


class ReviewIn(BaseModel):
    verdict: str = Field(pattern="^(accepted|misuse)$")
    note: str = Field(default="", max_length=500)


def _refused(denial: service.Denial) -> JSONResponse:
    return JSONResponse(denial.to_dict(), status_code=denial.status)


def _grant_out(result: service.GrantResult) -> dict[str, Any]:
    grant = result.grant
    assert grant is not None
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
    return _refused(result.denial) if result.denial else _grant_out(result)


@router.get("/data", response_model=None)
def case_data(
    subject_id: int | None = Query(default=None, ge=1),
    fields: str | None = Query(default=None, max_length=500),
    grant_token: str | None = Header(default=None, alias="X-Grant-Token", max_length=200),
    user: User = Depends(current_user),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any] | JSONResponse:
    """The case's subjects as the grant allows: only granted fields, masked as declared."""
    wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    result = service.fetch(
        session=session, user=user, token=grant_token, subject_id=subject_id, fields=wanted
    )
    if result.denial:
        return _refused(result.denial)
    return {"subjects": [asdict(v) for v in result.subjects]}


@router.get("/key", response_model=None)
def device_key(
    grant_token: str | None = Header(default=None, alias="X-Grant-Token", max_length=200),
    user: User = Depends(current_user),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any] | JSONResponse:
    key = service.device_key(session=session, user=user, token=grant_token)
    return _refused(key) if isinstance(key, service.Denial) else {"key": key}


@router.post("/cases/{case_type}/{case_id}/applicant", response_model=None)
def identify_applicant(
    case_type: CaseType,
    case_id: int,
    body: ApplicantIn,
    user: User = Depends(current_user),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any] | JSONResponse:
    """The handler identifies the applicant by resident ID: the case then covers them."""
    info = cases.case_info(session=session, case_type=case_type, case_id=case_id, user=user)
    if not (info.open and info.held_by_user):
        denied = service.open_grant(
            session=session, user=user, case_type=case_type, case_id=case_id
        )
        assert denied.denial is not None
        return _refused(denied.denial)
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


@router.post("/break-glass")
def break_glass(
    body: BreakGlassIn,
    user: User = Depends(current_user),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    return _grant_out(
        service.break_glass(
            session=session, user=user, master_id=body.master_id, reason=body.reason
        )
    )


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
