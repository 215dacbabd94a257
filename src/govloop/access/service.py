"""Purpose-bound, case-bound, audited delivery of subject data.

A grant opens when a staff member holds an open case; it covers only that case's subjects
and the fields the policy names for its item (最小必要); it ends when the case closes, when
its time limit passes, or when the staff member signs out. Every opening, read, refusal and
end is appended to the tamper-evident log.

A refusal is recorded in the same transaction and raised as a ``RecordedRefusal``; the unit
of work commits the audit entry before the 403 is answered — a refused request must leave
its trace. A refusal names the refused field names, never values.

In a read-only unit of work (a read whose only write is its audit entry, see ``reads``) the
entries are committed here, through the process's group appender, before the function
returns: concurrent reads share one commit of the chain, and nothing is answered that is
not stored. Anything such a read would write besides its entries (a grant to end) raises
``WriteNeeded`` first, and the read is done again in a writing unit of work.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.access.cases import CaseInfo, case_info, subjects_of
from govloop.access.models import CaseType, Grant, GrantStatus
from govloop.access.policy import FieldSet, policy
from govloop.audit import group
from govloop.audit import log as audit
from govloop.audit.log import Entry
from govloop.core.clock import now
from govloop.core.db import is_readonly
from govloop.core.errors import GovloopError, NotFound, RecordedRefusal, RuleViolation
from govloop.core.models import User
from govloop.subjects import service as subjects


@dataclass
class GrantResult:
    grant: Grant
    token: str


@dataclass
class SubjectView:
    id: int
    kind: str
    # only granted fields are present; masked fields carry masked values
    values: dict[str, Any]
    masked: list[str] = field(default_factory=list)


class WriteNeeded(Exception):
    """A read in a read-only unit of work must write more than its audit entries: do it
    again in a writing one. Raised before any of its entries is appended."""


# set on a read-only session once its entries are committed by the group appender
APPENDED = "govloop_audit_appended"


def _append(session: Session, entries: list[Entry]) -> None:
    """Append an access's entries: with the unit of work's other writes, or — in a read-only
    unit of work — committed now by the group appender, before the caller answers."""
    if not is_readonly(session):
        audit.append(session=session, entries=entries)
        return
    if session.new or session.dirty or session.deleted:
        raise WriteNeeded("changes besides the audit entries")
    # the read is over: end its snapshot and give its connection back (the appender draws
    # from the same pool, and on SQLite a reader never holds the write lock it needs)
    session.commit()
    group.append(entries)
    session.info[APPENDED] = True


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _actor(user: User) -> str:
    return user.display_name or user.username


def record(session: Session, user: User | None, action: str, **entry: Any) -> None:
    """Append one entry by ``user`` (None: the system) to the access log."""
    _append(
        session,
        [
            Entry(
                actor_id=user.id if user else None,
                actor=_actor(user) if user else "system",
                action=action,
                **entry,
            )
        ],
    )


def deny(
    session: Session, user: User, code: str, message: str, *, status: int = 403, **entry: Any
) -> RecordedRefusal:
    """Record a refusal in the access log and return it for the caller to raise (other
    domains' refusals too)."""
    record(session, user, "denied", outcome="denied", detail=f"{code}: {message}"[:500], **entry)
    return RecordedRefusal(message, code=code, status=status)


# --- opening and ending grants -------------------------------------------------------------


def held_case(*, session: Session, user: User, case_type: str, case_id: int) -> CaseInfo:
    """The case, when it is open and ``user`` holds it; else the reason, recorded and raised."""
    where: dict[str, Any] = {"case_type": case_type, "case_id": case_id}
    try:
        info = case_info(session=session, case_type=case_type, case_id=case_id, user=user)
    except GovloopError as exc:
        raise deny(session, user, exc.code, exc.message, **where) from exc
    if not info.open:
        raise deny(session, user, "case_closed", "办件已结束，不能再查看其数据", **where)
    if not info.held_by_user:
        raise deny(session, user, "not_your_case", "该办件不由您办理", **where)
    return info


def open_grant(
    *, session: Session, user: User, case_type: str, case_id: int, purpose: str = ""
) -> GrantResult:
    """Open (or return the live) grant for a case the user holds."""
    info = held_case(session=session, user=user, case_type=case_type, case_id=case_id)
    live = session.scalar(
        select(Grant).where(
            Grant.staff_id == user.id,
            Grant.case_type == case_type,
            Grant.case_id == case_id,
            Grant.status == GrantStatus.ACTIVE,
            Grant.break_glass.is_(False),
        )
    )
    stamp = now()
    if live is not None and live.expires_at > stamp:
        # the case may have gained a subject since (e.g. the applicant was identified)
        current = subjects_of(session=session, case_type=case_type, case_id=case_id)
        if current != list(live.subject_ids):
            live.subject_ids = current
        token = rotate_token(live)
        return GrantResult(live, token)
    return _issue_grant(session, user, info, purpose)


def _issue_grant(session: Session, user: User, info: CaseInfo, purpose: str) -> GrantResult:
    """Write a grant for a case already checked to be open and held by ``user``."""
    case_type, case_id = info.case_type, info.case_id
    stamp = now()
    policy_key, fields = policy().fields_for(case_type, info.policy_key)
    subject_ids = subjects_of(session=session, case_type=case_type, case_id=case_id)
    token = secrets.token_urlsafe(32)
    grant = Grant(
        token_hash=_token_hash(token),
        staff_id=user.id,
        case_type=case_type,
        case_id=case_id,
        case_label=info.label[:200],
        policy_key=policy_key,
        purpose=(purpose or info.label)[:200],
        subject_ids=subject_ids,
        fields={kind: fs.as_dict() for kind, fs in fields.items()},
        status=GrantStatus.ACTIVE,
        opened_at=stamp,
        expires_at=stamp + timedelta(minutes=policy().grant_minutes[case_type]),
        device_key=secrets.token_hex(32),
        break_glass=False,
    )
    session.add(grant)
    session.flush()
    record(
        session,
        user,
        "grant_opened",
        case_type=case_type,
        case_id=case_id,
        case_label=grant.case_label,
        grant_id=grant.id,
        purpose=grant.purpose,
        detail=f"subjects={len(subject_ids)} policy={policy_key}",
    )
    return GrantResult(grant, token)


def rotate_token(grant: Grant) -> str:
    """A fresh token for a live grant: the one shown earlier stops working."""
    token = secrets.token_urlsafe(32)
    grant.token_hash = _token_hash(token)
    return token


LIVE_STATUSES = (GrantStatus.ACTIVE, GrantStatus.PENDING)


def end_grant(*, session: Session, grant: Grant, reason: str, actor: User | None = None) -> None:
    """End a live grant, or a break-glass request still waiting for approval."""
    if grant.status not in LIVE_STATUSES:
        return
    if is_readonly(session):
        raise WriteNeeded("a grant to end")
    grant.status = GrantStatus.ENDED
    grant.ended_at = now()
    grant.end_reason = reason
    record(
        session,
        actor,
        "grant_ended",
        case_type=grant.case_type,
        case_id=grant.case_id,
        case_label=grant.case_label,
        grant_id=grant.id,
        detail=reason,
    )


def end_grants_of_user(*, session: Session, user: User, reason: str = "signed_out") -> int:
    grants = session.scalars(
        select(Grant).where(Grant.staff_id == user.id, Grant.status.in_(LIVE_STATUSES))
    ).all()
    for grant in grants:
        end_grant(session=session, grant=grant, reason=reason, actor=user)
    return len(grants)


def end_grants_of_case(
    *, session: Session, case_type: str, case_id: int, reason: str = "case_closed"
) -> int:
    """End every live grant of a case now (the case's domain calls this when it closes)."""
    grants = session.scalars(
        select(Grant).where(
            Grant.case_type == case_type,
            Grant.case_id == case_id,
            Grant.status == GrantStatus.ACTIVE,
        )
    ).all()
    for grant in grants:
        end_grant(session=session, grant=grant, reason=reason)
    return len(grants)


def recheck_case(*, session: Session, case_type: str, case_id: int) -> int:
    """End the live grants of a case whose holder no longer holds it, or of a case that
    closed — a domain calls this when a case changes hands (e.g. a hotline unit returns an
    order), so access ends at once rather than at the next use or sweep."""
    stamp = now()
    ended = 0
    for grant in session.scalars(
        select(Grant).where(
            Grant.case_type == case_type,
            Grant.case_id == case_id,
            Grant.status == GrantStatus.ACTIVE,
        )
    ).all():
        reason = _end_reason(session, grant, stamp)
        if reason:
            end_grant(session=session, grant=grant, reason=reason)
            ended += 1
    return ended


def sweep(*, session: Session) -> dict[str, int]:
    """End grants whose time limit passed or whose case closed, and break-glass requests
    nobody approved in time (counted as expired) — a timed job."""
    counts = {"expired": 0, "case_closed": 0}
    stamp = now()
    for grant in session.scalars(select(Grant).where(Grant.status.in_(LIVE_STATUSES))).all():
        reason = _end_reason(session, grant, stamp)
        if reason:
            end_grant(session=session, grant=grant, reason=reason)
            counts[reason] += 1
    return counts


def _end_reason(session: Session, grant: Grant, stamp: datetime) -> str | None:
    if grant.expires_at <= stamp:
        return "expired"
    if grant.break_glass or grant.case_id is None:
        return None
    staff = session.get(User, grant.staff_id)
    assert staff is not None
    try:
        info: CaseInfo = case_info(
            session=session, case_type=grant.case_type, case_id=grant.case_id, user=staff
        )
    except GovloopError:
        return "case_closed"
    return None if info.open and info.held_by_user else "case_closed"


# --- using a grant -------------------------------------------------------------------------


def check_grant(*, session: Session, user: User, token: str | None) -> Grant:
    """The live grant behind a token; else the reason it cannot be used, recorded and raised."""
    grant = (
        session.scalar(select(Grant).where(Grant.token_hash == _token_hash(token)))
        if token
        else None
    )
    if grant is None:
        raise deny(session, user, "bad_grant_token", "授权凭证无效")
    where: dict[str, Any] = {
        "case_type": grant.case_type,
        "case_id": grant.case_id,
        "grant_id": grant.id,
    }
    if grant.staff_id != user.id:
        raise deny(session, user, "not_your_grant", "该授权不属于您", **where)
    if grant.status == GrantStatus.PENDING:
        if grant.expires_at <= now():
            end_grant(session=session, grant=grant, reason="expired")
            raise deny(
                session, user, "grant_ended", "紧急查看申请无人审批，已失效", status=410, **where
            )
        raise deny(
            session,
            user,
            "awaiting_approval",
            "紧急查看申请正在等待第二人审批，批准后才提供数据",
            **where,
        )
    if grant.status != GrantStatus.ACTIVE:
        raise deny(session, user, "grant_ended", "授权已结束，数据不再提供", status=410, **where)
    reason = _end_reason(session, grant, now())
    if reason:
        end_grant(session=session, grant=grant, reason=reason)
        message = "授权已过期" if reason == "expired" else "办件已结束，授权随之终止"
        raise deny(session, user, "grant_ended", message, status=410, **where)
    return grant


def filter_values(values: dict[str, Any], fields: FieldSet) -> tuple[dict[str, Any], list[str]]:
    """Only granted fields, masked where the policy says so. Ungranted fields are absent."""
    rules = policy()
    out: dict[str, Any] = {}
    masked = []
    for name in fields.full:
        if name in values:
            out[name] = values[name]
    for name in fields.masked:
        if name in values and name not in fields.full:
            out[name] = rules.mask(name, values[name])
            masked.append(name)
    return out, sorted(masked)


def fetch(
    *,
    session: Session,
    user: User,
    token: str | None,
    subject_id: int | None = None,
    fields: list[str] | None = None,
) -> list[SubjectView]:
    """The granted view of the case's subjects (or one of them)."""
    grant = check_grant(session=session, user=user, token=token)
    return _read(session, user, grant, subject_id, fields)


def _read(
    session: Session,
    user: User,
    grant: Grant,
    subject_id: int | None,
    fields: list[str] | None,
) -> list[SubjectView]:
    """Serve and log a read under a grant already checked to be usable."""
    where: dict[str, Any] = {
        "case_type": grant.case_type,
        "case_id": grant.case_id,
        "case_label": grant.case_label,
        "grant_id": grant.id,
    }
    wanted = grant.subject_ids if subject_id is None else [subject_id]
    if subject_id is not None and subject_id not in grant.subject_ids:
        raise deny(
            session,
            user,
            "subject_not_in_case",
            "该主体不属于当前办件",
            subject_id=subject_id,
            **where,
        )
    values = subjects.subject_values(session=session, master_ids=list(wanted))
    views = []
    entries = []
    for master_id in wanted:
        subject = values.get(master_id)
        if subject is None:
            continue
        spec = grant.fields.get(subject.kind) or {"full": [], "masked": []}
        field_set = FieldSet(frozenset(spec["full"]), frozenset(spec["masked"]))
        if fields is not None:
            refused = sorted(set(fields) - field_set.all)
            if refused:
                raise deny(
                    session,
                    user,
                    "field_not_granted",
                    f"以下字段不在本办件的授权范围内：{'、'.join(refused)}",
                    subject_id=master_id,
                    fields=refused,
                    **where,
                )
            field_set = FieldSet(
                field_set.full & frozenset(fields), field_set.masked & frozenset(fields)
            )
        shown, masked = filter_values(subject.attributes, field_set)
        views.append(SubjectView(master_id, subject.kind, shown, masked))
        entries.append(
            Entry(
                actor_id=user.id,
                actor=_actor(user),
                action="read",
                subject_id=master_id,
                fields=sorted(shown),
                purpose=grant.purpose,
                **where,
            )
        )
    _append(session, entries)
    return views


def device_key(*, session: Session, user: User, token: str | None) -> str:
    """The key that encrypts the device's copy of the case data, while the grant lives."""
    checked = check_grant(session=session, user=user, token=token)
    record(
        session,
        user,
        "key_issued",
        case_type=checked.case_type,
        case_id=checked.case_id,
        case_label=checked.case_label,
        grant_id=checked.id,
    )
    return checked.device_key


def grant_status(*, session: Session, user: User, grant_id: int) -> Grant:
    grant = session.get(Grant, grant_id)
    if grant is None or grant.staff_id != user.id:
        raise NotFound("未找到授权", code="unknown_grant")
    return grant


def review_break_glass(
    *, session: Session, grant_id: int, reviewer: User, verdict: str, note: str
) -> Grant:
    grant = session.get(Grant, grant_id)
    if grant is None or not grant.break_glass:
        raise NotFound("未找到紧急查看记录", code="unknown_grant")
    if verdict not in ("accepted", "misuse"):
        raise RuleViolation("审核结论只能是“合理”或“不当”", code="bad_verdict")
    grant.review_status = verdict
    grant.reviewed_by = reviewer.id
    grant.reviewed_at = now()
    grant.review_note = note.strip()[:500] or None
    record(
        session,
        reviewer,
        "reviewed",
        grant_id=grant.id,
        subject_id=grant.subject_ids[0] if grant.subject_ids else None,
        detail=verdict,
    )
    session.flush()
    return grant


def case_types() -> list[str]:
    return [c.value for c in CaseType]
