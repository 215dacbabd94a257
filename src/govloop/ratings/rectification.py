"""Bad-rating rectification cases (差评整改): opened on a bad rating, called back, rectified,
appealed, reviewed and closed by whoever answers for the rated matter (谁办理谁负责)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core import calendar
from govloop.core.auth import Role
from govloop.core.clock import local_today, now, to_local
from govloop.core.errors import BadRequest, NotFound, PermissionDenied, RuleViolation
from govloop.core.models import User
from govloop.org import service as org_service
from govloop.ratings import events as rating_events
from govloop.ratings.models import (
    CaseStatus,
    Rating,
    RatingPolicy,
    RectificationCase,
)


def policy_for(*, session: Session, hall_id: int | None) -> RatingPolicy:
    policy = None
    if hall_id is not None:
        policy = session.scalar(select(RatingPolicy).where(RatingPolicy.hall_id == hall_id))
    if policy is None:
        policy = session.scalar(select(RatingPolicy).where(RatingPolicy.hall_id.is_(None)))
    return policy or RatingPolicy(callback_working_days=1, rectification_working_days=5)


def deadline(start: date, working_days: int) -> tuple[date, bool]:
    """The due date ``working_days`` after ``start``, and whether it is an estimate because
    a day involved lies past the years the official holiday calendar knows."""
    due = calendar.add_workdays(start, working_days)
    official = all(calendar.day_info(d).from_official_calendar for d in (start, due))
    return due, not official


def open_case(*, session: Session, rating: Rating) -> RectificationCase:
    policy = policy_for(session=session, hall_id=rating.hall_id)
    start = to_local(rating.rated_at).date()
    callback_due, est1 = deadline(start, policy.callback_working_days)
    rect_due, est2 = deadline(start, policy.rectification_working_days)
    case = RectificationCase(
        rating_id=rating.id,
        status=CaseStatus.OPEN,
        department_id=rating.department_id,
        staff_id=rating.staff_id,
        opened_at=now(),
        callback_due=callback_due,
        rectification_due=rect_due,
        due_dates_estimated=est1 or est2,
    )
    session.add(case)
    session.flush()
    rating_events.record(
        session,
        "case.opened",
        rating,
        case=case,
        detail={
            "callback_due": callback_due.isoformat(),
            "rectification_due": rect_due.isoformat(),
        },
    )
    return case


def get_case(
    *, session: Session, case_id: int, lock: bool = True
) -> tuple[RectificationCase, Rating]:
    stmt = select(RectificationCase).where(RectificationCase.id == case_id)
    case = session.scalar(stmt.with_for_update() if lock else stmt)
    if case is None:
        raise NotFound(f"未找到整改工单 {case_id}", code="case_not_found")
    rating = session.get(Rating, case.rating_id)
    assert rating is not None
    return case, rating


def _unit_of(session: Session, user: User) -> int | None:
    return org_service.department_of(session, user)


def _answers_for(session: Session, case: RectificationCase, rating: Rating, actor: User) -> bool:
    """Whether the actor answers for the rated matter (谁办理谁负责)."""
    if actor.role == Role.ADMIN:
        return True
    hall_visit = rating.ticket_id is not None
    if actor.role == Role.HALL_MANAGER:
        return hall_visit
    if actor.role == Role.WINDOW_STAFF:
        return hall_visit and case.staff_id is not None and case.staff_id == actor.id
    if actor.role == Role.DEPARTMENT_HANDLER:
        unit = _unit_of(session, actor)
        return unit is not None and unit == case.department_id
    return False


def refusal(
    *, session: Session, action: str, case: RectificationCase, rating: Rating, actor: User
) -> str | None:
    """Why ``actor`` may not take ``action`` on the case, or None when they may (the
    case's state is checked separately)."""
    if action not in CASE_ACTIONS:
        raise BadRequest(f"未知的整改操作：{action}", code="unknown_action")
    if not actor.active:
        return "账号已停用"
    if actor.role == Role.AUDITOR:
        return "审计员只能查看整改工单，不能办理"
    if action in ("close", "review"):
        return None if actor.role in SUPERVISORS else REFUSALS[action]
    if (
        action == "callback"
        and actor.role == Role.HOTLINE_AGENT
        and rating.matter_source == "hotline"
    ):
        return None
    return None if _answers_for(session, case, rating, actor) else REFUSALS[action]


def _require_actor(
    session: Session, action: str, case: RectificationCase, rating: Rating, actor: User
) -> None:
    why = refusal(session=session, action=action, case=case, rating=rating, actor=actor)
    if why:
        raise PermissionDenied(why, code="not_your_case")


def allowed_actions(
    *, session: Session, case: RectificationCase, rating: Rating, actor: User
) -> frozenset[str]:
    """The actions ``actor`` may take on the case in its current state (for the pages:
    buttons the actor cannot use are not offered)."""
    out = set()
    for action, statuses in NEXT_ACTIONS.items():
        if case.status not in statuses:
            continue
        if refusal(session=session, action=action, case=case, rating=rating, actor=actor):
            continue
        if action == "review" and case.appealed_by == actor.id:
            continue
        out.add(action)
    return frozenset(out)


def _require_status(case: RectificationCase, *allowed: CaseStatus) -> None:
    if case.status not in allowed:
        raise RuleViolation(
            f"整改工单当前状态（{case.status}）不允许此操作", code="invalid_case_state"
        )


def record_callback(*, session: Session, case_id: int, actor: User, note: str) -> RectificationCase:
    """回访: the callback to the citizen."""
    case, rating = get_case(session=session, case_id=case_id)
    _require_actor(session, "callback", case, rating, actor)
    if not note.strip():
        raise BadRequest("请填写回访情况", code="note_required")
    _require_status(case, CaseStatus.OPEN)
    case.status, case.callback_at, case.callback_by, case.callback_note = (
        CaseStatus.CALLED_BACK,
        now(),
        actor.id,
        note.strip(),
    )
    rating_events.record(session, "case.called_back", rating, case=case, actor=actor)
    return case


def record_rectification(
    *, session: Session, case_id: int, actor: User, evidence: str, result: str
) -> RectificationCase:
    case, rating = get_case(session=session, case_id=case_id)
    _require_actor(session, "rectify", case, rating, actor)
    if not evidence.strip() or not result.strip():
        raise BadRequest("请填写整改措施（佐证）和整改结果", code="evidence_required")
    _require_status(case, CaseStatus.CALLED_BACK)
    case.status, case.rectified_at = CaseStatus.RECTIFIED, now()
    case.evidence, case.result = evidence.strip(), result.strip()
    rating_events.record(session, "case.rectified", rating, case=case, actor=actor)
    return case


def close_case(*, session: Session, case_id: int, actor: User) -> RectificationCase:
    case, rating = get_case(session=session, case_id=case_id)
    _require_actor(session, "close", case, rating, actor)
    _require_status(case, CaseStatus.RECTIFIED)
    case.status, case.closed_at, case.closed_by = CaseStatus.CLOSED, now(), actor.id
    rating_events.record(session, "case.closed", rating, case=case, actor=actor)
    return case


def appeal(*, session: Session, case_id: int, actor: User, reason: str) -> RectificationCase:
    """申诉: the handling unit asks to exclude a malicious or mistaken rating."""
    case, rating = get_case(session=session, case_id=case_id)
    _require_actor(session, "appeal", case, rating, actor)
    if len(reason.strip()) < 5:
        raise BadRequest("请写明申诉理由（至少 5 个字）", code="reason_required")
    _require_status(case, CaseStatus.OPEN, CaseStatus.CALLED_BACK, CaseStatus.RECTIFIED)
    case.status_before_appeal = case.status
    case.status, case.appeal_reason, case.appealed_by, case.appealed_at = (
        CaseStatus.APPEALED,
        reason.strip(),
        actor.id,
        now(),
    )
    rating_events.record(
        session, "case.appealed", rating, case=case, actor=actor, detail={"reason": reason.strip()}
    )
    return case


def review_appeal(
    *, session: Session, case_id: int, actor: User, uphold: bool, note: str
) -> RectificationCase:
    """复核: an approver other than the appellant decides; upheld excludes the rating."""
    case, rating = get_case(session=session, case_id=case_id)
    _require_actor(session, "review", case, rating, actor)
    if not note.strip():
        raise BadRequest("请填写复核意见", code="note_required")
    _require_status(case, CaseStatus.APPEALED)
    if case.appealed_by == actor.id:
        raise PermissionDenied("申诉人不能复核自己的申诉", code="self_review")
    case.review_decision = "upheld" if uphold else "rejected"
    case.review_note, case.reviewed_by, case.reviewed_at = note.strip(), actor.id, now()
    if uphold:
        case.status = CaseStatus.EXCLUDED
        rating.excluded, rating.excluded_reason, rating.excluded_by = (
            True,
            case.appeal_reason,
            actor.id,
        )
    else:
        case.status = case.status_before_appeal or CaseStatus.OPEN
    rating_events.record(
        session,
        "case.appeal_upheld" if uphold else "case.appeal_rejected",
        rating,
        case=case,
        actor=actor,
        detail={"note": note.strip()},
    )
    return case


def is_overdue(case: RectificationCase, today: date | None = None) -> dict[str, bool]:
    today = today or local_today()
    pending_callback = case.status == CaseStatus.OPEN
    pending_rectification = case.status in (CaseStatus.OPEN, CaseStatus.CALLED_BACK)
    return {
        "callback": pending_callback and today > case.callback_due,
        "rectification": pending_rectification and today > case.rectification_due,
    }


def list_cases(
    *, session: Session, hall_id: int | None = None, open_only: bool = False
) -> list[tuple[RectificationCase, Rating]]:
    stmt = select(RectificationCase, Rating).join(Rating, Rating.id == RectificationCase.rating_id)
    if hall_id is not None:
        stmt = stmt.where(Rating.hall_id == hall_id)
    if open_only:
        stmt = stmt.where(
            RectificationCase.status.in_(
                [CaseStatus.OPEN, CaseStatus.CALLED_BACK, CaseStatus.RECTIFIED, CaseStatus.APPEALED]
            )
        )
    return [(c, r) for c, r in session.execute(stmt.order_by(RectificationCase.id.desc())).all()]


CASE_ACTIONS = ("callback", "rectify", "appeal", "close", "review")


SUPERVISORS = frozenset({Role.ADMIN, Role.HALL_MANAGER})


REFUSALS = {
    "callback": "该整改工单不由您负责，不能记录回访",
    "rectify": "该整改工单不由您负责，不能记录整改",
    "appeal": "只有负责办理该事项的单位或人员可以申诉",
    "close": "只有大厅管理员可以办结整改工单",
    "review": "只有大厅管理员可以复核申诉",
}


NEXT_ACTIONS: dict[str, tuple[CaseStatus, ...]] = {
    "callback": (CaseStatus.OPEN,),
    "rectify": (CaseStatus.CALLED_BACK,),
    "appeal": (CaseStatus.OPEN, CaseStatus.CALLED_BACK, CaseStatus.RECTIFIED),
    "close": (CaseStatus.RECTIFIED,),
    "review": (CaseStatus.APPEALED,),
}


OPEN_STATUSES = (CaseStatus.OPEN, CaseStatus.CALLED_BACK, CaseStatus.RECTIFIED, CaseStatus.APPEALED)
