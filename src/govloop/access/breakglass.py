"""Break-glass (紧急查看): emergency access to one subject outside any case.

Only the roles the policy names may break glass. A person may make at most
``max_per_hour`` requests in any rolling hour; more are refused. Beyond ``approval_after``
requests in the rolling approval window, a request waits for a second person's approval (a
role the policy names, never the requester) and no data is served until it is approved.
Every request raises an alert auditors see at once, and so do refused requests (repeated
refusals add to one open alert rather than flooding the list). Refusals are recorded in the
access log like every other refusal and raised as a ``RecordedRefusal``.

A request counts towards the limits whatever became of it (served, waiting, refused by the
approver, lapsed): asking again does not reset anything.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.access.models import AccessAlert, AlertKind, ApprovalStatus, Grant, GrantStatus
from govloop.access.policy import BreakGlassRules, policy
from govloop.access.service import (
    GrantResult,
    SubjectView,
    _token_hash,
    deny,
    end_grant,
    fetch,
    record,
    rotate_token,
)
from govloop.core.auth import Permission, has_permission
from govloop.core.clock import now
from govloop.core.errors import BadRequest, Conflict, NotFound, PermissionDenied, RuleViolation
from govloop.core.models import User
from govloop.subjects import service as subjects

log = logging.getLogger(__name__)

MIN_REASON = 10
MIN_REFUSAL_NOTE = 2
REFUSAL_ALERT_MERGE = timedelta(hours=1)  # refusals within this add to the open alert
CASE_TYPE = "break_glass"

ROLE_LABELS = {
    "admin": "系统管理员",
    "hall_manager": "大厅管理员",
    "window_staff": "窗口工作人员",
    "hotline_agent": "热线坐席",
    "department_handler": "部门承办人",
    "data_steward": "数据管理员",
    "auditor": "审计员",
    "field_staff": "外勤人员",
}


def rules() -> BreakGlassRules:
    return policy().break_glass_rules


def _labels(roles: frozenset[str]) -> str:
    return "、".join(ROLE_LABELS.get(r, r) for r in sorted(roles, key=list(ROLE_LABELS).index))


def approver_refusal() -> str:
    return f"紧急查看申请只能由{_labels(rules().approvers)}审批"


def may_break_glass(user: User) -> bool:
    return user.active and user.role in rules().roles


def may_approve(user: User) -> bool:
    return user.active and user.role in rules().approvers


def _actor(user: User) -> str:
    return user.display_name or user.username


# --- usage against the limits --------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    last_hour: int  # requests in the rolling hour
    in_window: int  # requests in the rolling approval window
    max_per_hour: int
    approval_after: int
    window_hours: int

    @property
    def remaining_this_hour(self) -> int:
        return max(0, self.max_per_hour - self.last_hour)

    @property
    def next_needs_approval(self) -> bool:
        return self.in_window >= self.approval_after


def usage(*, session: Session, user: User) -> Usage:
    """The user's break-glass requests in the rolling hour and the approval window."""
    limits = rules()
    stamp = now()
    hour_ago = stamp - timedelta(hours=1)
    window_start = stamp - timedelta(hours=limits.approval_window_hours)
    moments = session.scalars(
        select(Grant.opened_at).where(
            Grant.staff_id == user.id,
            Grant.break_glass.is_(True),
            Grant.opened_at > min(hour_ago, window_start),
        )
    ).all()
    return Usage(
        last_hour=sum(1 for at in moments if at > hour_ago),
        in_window=sum(1 for at in moments if at > window_start),
        max_per_hour=limits.max_per_hour,
        approval_after=limits.approval_after,
        window_hours=limits.approval_window_hours,
    )


def _lock_requester(session: Session, user: User) -> None:
    """Serialize one person's requests, so parallel requests cannot all pass the count
    (PostgreSQL row lock; SQLite writers already take turns with BEGIN IMMEDIATE)."""
    session.execute(select(User.id).where(User.id == user.id).with_for_update())


# --- alerts --------------------------------------------------------------------------------


def _alert(
    session: Session,
    kind: AlertKind,
    user: User,
    detail: str,
    *,
    grant: Grant | None = None,
    subject_id: int | None = None,
) -> AccessAlert:
    """Raise an alert for auditors; a refusal of a kind already alerted (open, within the
    hour) adds to that alert's count."""
    stamp = now()
    if kind in (AlertKind.LIMIT_REACHED, AlertKind.ROLE_REFUSED):
        open_alert = session.scalar(
            select(AccessAlert)
            .where(
                AccessAlert.staff_id == user.id,
                AccessAlert.kind == kind,
                AccessAlert.acknowledged_at.is_(None),
                AccessAlert.last_at > stamp - REFUSAL_ALERT_MERGE,
            )
            .order_by(AccessAlert.id.desc())
            .limit(1)
        )
        if open_alert is not None:
            open_alert.count += 1
            open_alert.last_at = stamp
            session.flush()
            return open_alert
    alert = AccessAlert(
        kind=kind,
        staff_id=user.id,
        grant_id=grant.id if grant else None,
        subject_id=subject_id,
        detail=detail[:500],
        count=1,
        created_at=stamp,
        last_at=stamp,
    )
    session.add(alert)
    session.flush()
    # No SMS or e-mail service exists yet: the console lists the alert at once, and the log
    # line is where a notifier can hook in.
    log.warning("access alert %s: staff %s (%s)", kind.value, user.id, user.role)
    return alert


# --- requesting ----------------------------------------------------------------------------


def request(*, session: Session, user: User, master_id: int, reason: str) -> GrantResult:
    """Ask for emergency access to one subject. Served at once (``active``), or waiting for
    a second person's approval (``pending``), or refused with the reason (recorded)."""
    limits = rules()
    where: dict[str, Any] = {"case_type": CASE_TYPE, "subject_id": master_id}
    if not may_break_glass(user):
        _alert(
            session,
            AlertKind.ROLE_REFUSED,
            user,
            f"{ROLE_LABELS.get(user.role, user.role)}尝试紧急查看，已拒绝",
            subject_id=master_id,
        )
        raise deny(
            session,
            user,
            "break_glass_not_allowed",
            f"紧急查看仅限{_labels(limits.roles)}使用，您的岗位不能使用",
            **where,
        )
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise RuleViolation(
            f"紧急查看必须说明理由（至少 {MIN_REASON} 个字）", code="reason_required"
        )
    _lock_requester(session, user)
    used = usage(session=session, user=user)
    if used.last_hour >= limits.max_per_hour:
        _alert(
            session,
            AlertKind.LIMIT_REACHED,
            user,
            f"一小时内紧急查看已达 {limits.max_per_hour} 次上限，继续申请被拒绝",
            subject_id=master_id,
        )
        raise deny(
            session,
            user,
            "break_glass_limit",
            f"每人每小时最多紧急查看 {limits.max_per_hour} 次，已达上限，请稍后再试"
            "或请大厅管理员处理",
            status=429,
            **where,
        )
    if master_id not in subjects.subject_values(session=session, master_ids=[master_id]):
        raise NotFound(f"未找到主题记录 {master_id}", code="unknown_master")
    needs_approval = used.next_needs_approval
    stamp = now()
    token = secrets.token_urlsafe(32)
    minutes = limits.approval_wait_minutes if needs_approval else policy().grant_minutes[CASE_TYPE]
    grant = Grant(
        token_hash=_token_hash(token),
        staff_id=user.id,
        case_type=CASE_TYPE,
        case_id=None,
        case_label="紧急查看",
        policy_key=CASE_TYPE,
        purpose=reason[:200],
        subject_ids=[master_id],
        fields={kind: fs.as_dict() for kind, fs in policy().break_glass.items()},
        status=GrantStatus.PENDING if needs_approval else GrantStatus.ACTIVE,
        opened_at=stamp,
        expires_at=stamp + timedelta(minutes=minutes),
        device_key=secrets.token_hex(32),
        break_glass=True,
        reason=reason[:500],
        review_status="pending",
        approval_status=ApprovalStatus.PENDING if needs_approval else None,
    )
    session.add(grant)
    session.flush()
    count = used.in_window + 1
    if needs_approval:
        record(
            session,
            user,
            "bg_requested",
            case_type=CASE_TYPE,
            grant_id=grant.id,
            subject_id=master_id,
            purpose=reason[:200],
            detail=f"awaiting approval: request {count} in {limits.approval_window_hours}h",
        )
        _alert(
            session,
            AlertKind.APPROVAL_REQUESTED,
            user,
            f"{limits.approval_window_hours} 小时内第 {count} 次紧急查看，等待第二人审批",
            grant=grant,
            subject_id=master_id,
        )
    else:
        record(
            session,
            user,
            "break_glass",
            case_type=CASE_TYPE,
            grant_id=grant.id,
            subject_id=master_id,
            purpose=reason[:200],
        )
        _alert(
            session,
            AlertKind.BREAK_GLASS,
            user,
            f"紧急查看已开启（{limits.approval_window_hours} 小时内第 {count} 次）",
            grant=grant,
            subject_id=master_id,
        )
    return GrantResult(grant, token)


# --- second-person approval ----------------------------------------------------------------


def decide(*, session: Session, grant_id: int, approver: User, approve: bool, note: str) -> Grant:
    """Approve (data is then served to the requester for the break-glass time limit) or
    refuse (with a reason) a request waiting for approval. Never the requester's own."""
    grant = session.scalar(select(Grant).where(Grant.id == grant_id).with_for_update())
    if grant is None or not grant.break_glass or grant.approval_status is None:
        raise NotFound("未找到待审批的紧急查看申请", code="unknown_request")
    where: dict[str, Any] = {
        "case_type": CASE_TYPE,
        "grant_id": grant.id,
        "subject_id": grant.subject_ids[0] if grant.subject_ids else None,
    }
    if not may_approve(approver):
        raise deny(
            session,
            approver,
            "not_an_approver",
            approver_refusal(),
            **where,
        )
    if grant.staff_id == approver.id:
        raise deny(session, approver, "self_approval", "不能审批本人提出的紧急查看申请", **where)
    if grant.status != GrantStatus.PENDING or grant.approval_status != ApprovalStatus.PENDING:
        raise Conflict("该申请已处理或已失效", code="not_pending")
    stamp = now()
    if grant.expires_at <= stamp:
        end_grant(session=session, grant=grant, reason="expired")
        raise deny(
            session,
            approver,
            "request_lapsed",
            "该申请超过等待时间无人审批，已失效",
            status=409,
            **where,
        )
    text = (note or "").strip()[:500]
    if not approve and len(text) < MIN_REFUSAL_NOTE:
        raise BadRequest("拒绝申请时请写明理由", code="note_required")
    grant.decided_by = approver.id
    grant.decided_at = stamp
    grant.decision_note = text or None
    if approve:
        grant.approval_status = ApprovalStatus.APPROVED
        grant.status = GrantStatus.ACTIVE
        grant.expires_at = stamp + timedelta(minutes=policy().grant_minutes[CASE_TYPE])
        record(session, approver, "bg_approved", detail=text or None, **where)
    else:
        grant.approval_status = ApprovalStatus.REFUSED
        grant.status = GrantStatus.ENDED
        grant.ended_at = stamp
        grant.end_reason = "approval_refused"
        record(session, approver, "bg_refused", detail=text, **where)
    session.flush()
    return grant


@dataclass(frozen=True)
class RequestView:
    grant: Grant
    staff: str
    staff_role: str
    requests_in_window: int

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.staff_role, self.staff_role)


def _views(session: Session, grants: list[Grant]) -> list[RequestView]:
    if not grants:
        return []
    staff_ids = {g.staff_id for g in grants}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(staff_ids)))}
    since = now() - timedelta(hours=rules().approval_window_hours)
    counts = dict(
        session.execute(
            select(Grant.staff_id, func.count())
            .where(
                Grant.staff_id.in_(staff_ids),
                Grant.break_glass.is_(True),
                Grant.opened_at > since,
            )
            .group_by(Grant.staff_id)
        ).all()
    )
    return [
        RequestView(
            g,
            _actor(users[g.staff_id]),
            users[g.staff_id].role,
            int(counts.get(g.staff_id, 0)),
        )
        for g in grants
    ]


def pending_requests(*, session: Session) -> list[RequestView]:
    """Requests waiting for approval and not yet lapsed, oldest first."""
    grants = session.scalars(
        select(Grant)
        .where(
            Grant.break_glass.is_(True),
            Grant.status == GrantStatus.PENDING,
            Grant.expires_at > now(),
        )
        .order_by(Grant.opened_at, Grant.id)
    ).all()
    return _views(session, list(grants))


def recent_decisions(*, session: Session, limit: int = 20) -> list[RequestView]:
    grants = session.scalars(
        select(Grant)
        .where(Grant.break_glass.is_(True), Grant.decided_at.is_not(None))
        .order_by(Grant.decided_at.desc(), Grant.id.desc())
        .limit(limit)
    ).all()
    return _views(session, list(grants))


def my_requests(*, session: Session, user: User) -> list[Grant]:
    """The user's break-glass requests within the approval window, newest first."""
    since = now() - timedelta(hours=rules().approval_window_hours)
    return list(
        session.scalars(
            select(Grant)
            .where(
                Grant.staff_id == user.id,
                Grant.break_glass.is_(True),
                Grant.opened_at > since,
            )
            .order_by(Grant.opened_at.desc(), Grant.id.desc())
        )
    )


def view(*, session: Session, user: User, grant_id: int) -> list[SubjectView]:
    """The requester's view of the subject under their own break-glass grant. Each view is
    logged as a read; a request still waiting for approval, or an ended one, is refused
    with the reason (recorded). The page holds no token: a fresh one is drawn each time."""
    grant = session.get(Grant, grant_id)
    if grant is None or not grant.break_glass or grant.staff_id != user.id:
        raise NotFound("未找到您的紧急查看申请", code="unknown_request")
    return fetch(session=session, user=user, token=rotate_token(grant))


# --- alerts for auditors -------------------------------------------------------------------


@dataclass(frozen=True)
class AlertView:
    alert: AccessAlert
    staff: str
    staff_role: str
    acknowledged_by: str | None

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.staff_role, self.staff_role)


def alerts(*, session: Session, open_only: bool = True, limit: int = 200) -> list[AlertView]:
    """Alerts, newest first; by default only those no auditor has acknowledged."""
    stmt = select(AccessAlert)
    if open_only:
        stmt = stmt.where(AccessAlert.acknowledged_at.is_(None))
    rows = session.scalars(
        stmt.order_by(AccessAlert.last_at.desc(), AccessAlert.id.desc()).limit(limit)
    ).all()
    ids = {a.staff_id for a in rows} | {a.acknowledged_by for a in rows if a.acknowledged_by}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return [
        AlertView(
            a,
            _actor(users[a.staff_id]),
            users[a.staff_id].role,
            _actor(users[a.acknowledged_by]) if a.acknowledged_by else None,
        )
        for a in rows
    ]


def open_alert_count(*, session: Session) -> int:
    return int(
        session.scalar(
            select(func.count(AccessAlert.id)).where(AccessAlert.acknowledged_at.is_(None))
        )
        or 0
    )


def acknowledge(*, session: Session, alert_id: int, auditor: User, note: str) -> AccessAlert:
    """An auditor has seen the alert (and says what they did about it)."""
    if not has_permission(auditor, Permission.AUDIT_READ):
        raise PermissionDenied("只有审计员可以确认告警", code="not_an_auditor")
    alert = session.scalar(select(AccessAlert).where(AccessAlert.id == alert_id).with_for_update())
    if alert is None:
        raise NotFound("未找到告警", code="unknown_alert")
    if alert.acknowledged_at is not None:
        raise Conflict("该告警已被确认", code="already_acknowledged")
    alert.acknowledged_by = auditor.id
    alert.acknowledged_at = now()
    alert.acknowledgement = (note or "").strip()[:500] or None
    record(
        session,
        auditor,
        "alert_acknowledged",
        grant_id=alert.grant_id,
        subject_id=alert.subject_id,
        detail=f"alert {alert.id} {alert.kind}",
    )
    session.flush()
    return alert
