"""Rules of 好差评: one rating per visit or matter, and the rectification of bad ones.

A rating of 不满意 or worse opens a rectification case assigned to the unit that handled
the matter (谁办理谁负责), with a callback due in 1 working day and rectification due in
a configurable number of working days. An upheld appeal (申诉复核) excludes the rating
from every figure but never deletes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govloop.core import calendar
from govloop.core.auth import Role
from govloop.core.clock import local_today, now, to_local
from govloop.core.errors import BadRequest, Conflict, NotFound, PermissionDenied, RuleViolation
from govloop.core.events import touch
from govloop.core.models import User
from govloop.hall import service as hall_service
from govloop.hall.models import Ticket
from govloop.org import service as org_service
from govloop.org.models import Hall
from govloop.ratings.models import (
    BAD_LEVELS,
    CaseStatus,
    Dimension,
    Rating,
    RatingChannel,
    RatingEvent,
    RatingLevel,
    RatingPolicy,
    RectificationCase,
    Survey,
    SurveyResponse,
)

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
MAX_TAGS = 10
RATEABLE_STATUSES = ("finished",)
RECORDERS = frozenset({Role.ADMIN, Role.HOTLINE_AGENT})  # may enter a citizen's verdict


@dataclass(frozen=True)
class RatingInput:
    level: int
    channel: str
    dimension_scores: dict[str, int] | None = None
    tags: list[str] | None = None
    comment: str = ""
    citizen_name: str | None = None
    citizen_phone: str | None = None


def _record(
    session: Session,
    kind: str,
    rating: Rating,
    *,
    case: RectificationCase | None = None,
    actor: User | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        RatingEvent(
            kind=kind,
            at=now(),
            rating_id=rating.id,
            case_id=case.id if case else None,
            actor_id=actor.id if actor else None,
            detail=detail or {},
        )
    )
    touch(session, "ratings")


def _validate(
    data: RatingInput,
) -> tuple[RatingLevel, RatingChannel, dict[str, int], list[str], str | None]:
    try:
        level = RatingLevel(int(data.level))
    except (ValueError, TypeError):
        raise BadRequest(
            "评价等级必须是 1–5（非常不满意 … 非常满意）", code="invalid_level"
        ) from None
    try:
        channel = RatingChannel(data.channel)
    except ValueError:
        raise BadRequest(f"未知的评价渠道：{data.channel}", code="invalid_channel") from None
    scores: dict[str, int] = {}
    for key, value in (data.dimension_scores or {}).items():
        if key not in {d.value for d in Dimension}:
            raise BadRequest(f"未知的评价维度：{key}", code="invalid_dimension")
        if not isinstance(value, int) or not 1 <= value <= 5:
            raise BadRequest(f"维度 {key} 的分值必须是 1–5", code="invalid_dimension_score")
        scores[key] = value
    tags = [t.strip() for t in (data.tags or []) if t and t.strip()]
    if len(tags) > MAX_TAGS or any(len(t) > 20 for t in tags):
        raise BadRequest(f"标签最多 {MAX_TAGS} 个，每个不超过 20 字", code="invalid_tags")
    if len(data.comment) > 1000:
        raise BadRequest("评价内容不超过 1000 字", code="comment_too_long")
    phone = re.sub(r"[\s-]", "", data.citizen_phone or "") or None
    if phone and not MOBILE_RE.match(phone):
        raise BadRequest("手机号码格式不正确", code="invalid_phone")
    return level, channel, scores, tags, phone


def rate_ticket(*, session: Session, ticket: Ticket, data: RatingInput) -> Rating:
    """一次一评: rate a served visit once."""
    level, channel, scores, tags, phone = _validate(data)
    visit = hall_service.visit_context(session=session, ticket=ticket)
    if visit.status not in RATEABLE_STATUSES:
        raise RuleViolation(f"{visit.code} 号尚未办结，办结后才能评价", code="not_rateable")
    if session.scalar(select(Rating.id).where(Rating.ticket_id == ticket.id)):
        raise Conflict(f"{visit.code} 号已评价过（一次一评）", code="already_rated")
    rating = Rating(
        ticket_id=ticket.id,
        channel=channel,
        level=level,
        dimension_scores=scores,
        tags=tags,
        comment=data.comment.strip(),
        real_name=bool(phone),
        citizen_name=data.citizen_name,
        citizen_phone=phone,
        hall_id=visit.hall_id,
        item_id=visit.item_id,
        window_id=visit.window_id,
        staff_id=visit.staff_id,
        department_id=visit.department_id,
        rated_at=now(),
    )
    return _store(session, rating)


def rate_matter(
    *,
    session: Session,
    source: str,
    ref: str,
    department_id: int | None,
    item_id: int | None,
    staff_id: int | None,
    data: RatingInput,
    recorded_by: User | None = None,
) -> Rating:
    """一事一评: rate an online or hotline matter once. ``recorded_by``: the staff member
    entering the citizen's verdict (the hotline center at its callback); None when the
    citizen rates themselves or the workflow stores the verdict it took."""
    if recorded_by is not None and recorded_by.role not in RECORDERS:
        raise PermissionDenied(
            "只有热线中心坐席可以代录群众的评价，承办单位不能为事项评价", code="center_only"
        )
    level, channel, scores, tags, phone = _validate(data)
    if not source.strip() or not ref.strip():
        raise BadRequest("请提供事项来源和编号", code="matter_missing")
    if session.scalar(
        select(Rating.id).where(Rating.matter_source == source, Rating.matter_ref == ref)
    ):
        raise Conflict(f"{source} {ref} 已评价过（一事一评）", code="already_rated")
    rating = Rating(
        matter_source=source,
        matter_ref=ref,
        channel=channel,
        level=level,
        dimension_scores=scores,
        tags=tags,
        comment=data.comment.strip(),
        real_name=bool(phone),
        citizen_name=data.citizen_name,
        citizen_phone=phone,
        item_id=item_id,
        staff_id=staff_id,
        department_id=department_id,
        rated_at=now(),
    )
    return _store(session, rating)


def _store(session: Session, rating: Rating) -> Rating:
    try:
        with session.begin_nested():
            session.add(rating)
            session.flush()
    except IntegrityError:
        # Two submissions raced; the unique constraint kept one.
        raise Conflict("该事项已评价过", code="already_rated") from None
    _record(
        session,
        "rating.submitted",
        rating,
        detail={"level": rating.level, "channel": rating.channel},
    )
    if rating.level in BAD_LEVELS:
        open_case(session=session, rating=rating)
    return rating


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
    _record(
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


# --- who may act on a case (谁办理谁负责) ------------------------------------------------
#
# callback / rectify / appeal: the one who answers for the matter — for a hall visit the
#   window staff member who served it or a hall manager; for any case the handler of the
#   responsible unit (department). The hotline center also calls back hotline matters.
# close / review an appeal: a hall manager (never the appellant for a review).
# Admins may do everything; auditors only look. Other roles may not act.

CASE_ACTIONS = ("callback", "rectify", "appeal", "close", "review")
SUPERVISORS = frozenset({Role.ADMIN, Role.HALL_MANAGER})
REFUSALS = {
    "callback": "该整改工单不由您负责，不能记录回访",
    "rectify": "该整改工单不由您负责，不能记录整改",
    "appeal": "只有负责办理该事项的单位或人员可以申诉",
    "close": "只有大厅管理员可以办结整改工单",
    "review": "只有大厅管理员可以复核申诉",
}


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


NEXT_ACTIONS: dict[str, tuple[CaseStatus, ...]] = {
    "callback": (CaseStatus.OPEN,),
    "rectify": (CaseStatus.CALLED_BACK,),
    "appeal": (CaseStatus.OPEN, CaseStatus.CALLED_BACK, CaseStatus.RECTIFIED),
    "close": (CaseStatus.RECTIFIED,),
    "review": (CaseStatus.APPEALED,),
}


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
    _record(session, "case.called_back", rating, case=case, actor=actor)
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
    _record(session, "case.rectified", rating, case=case, actor=actor)
    return case


def close_case(*, session: Session, case_id: int, actor: User) -> RectificationCase:
    case, rating = get_case(session=session, case_id=case_id)
    _require_actor(session, "close", case, rating, actor)
    _require_status(case, CaseStatus.RECTIFIED)
    case.status, case.closed_at, case.closed_by = CaseStatus.CLOSED, now(), actor.id
    _record(session, "case.closed", rating, case=case, actor=actor)
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
    _record(
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
    _record(
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


@dataclass(frozen=True)
class RatingFigures:
    total: int
    satisfied: int
    bad: int
    satisfaction_rate: float | None
    bad_rate: float | None
    real_name_bad: int
    real_name_bad_called_back: int
    real_name_callback_rate: float | None
    cases: int
    rectified: int
    rectification_rate: float | None
    rectified_on_time: int
    on_time_rectification_rate: float | None


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def figures(
    *,
    session: Session,
    hall_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> RatingFigures:
    """Rating figures over non-excluded ratings given in [start, end)."""
    stmt = (
        select(Rating, RectificationCase)
        .outerjoin(RectificationCase, RectificationCase.rating_id == Rating.id)
        .where(~Rating.excluded)
    )
    if hall_id is not None:
        stmt = stmt.where(Rating.hall_id == hall_id)
    if start is not None:
        stmt = stmt.where(Rating.rated_at >= start)
    if end is not None:
        stmt = stmt.where(Rating.rated_at < end)
    rows = session.execute(stmt).all()
    total = len(rows)
    bad_rows = [(r, c) for r, c in rows if r.level in BAD_LEVELS]
    real_bad = [(r, c) for r, c in bad_rows if r.real_name]
    called_back = sum(1 for _, c in real_bad if c is not None and c.callback_at is not None)
    cases = [c for _, c in bad_rows if c is not None]
    rectified = [c for c in cases if c.rectified_at is not None]
    on_time = sum(
        1
        for c in rectified
        if c.rectified_at and to_local(c.rectified_at).date() <= c.rectification_due
    )
    return RatingFigures(
        total=total,
        satisfied=total - len(bad_rows),
        bad=len(bad_rows),
        satisfaction_rate=_rate(total - len(bad_rows), total),
        bad_rate=_rate(len(bad_rows), total),
        real_name_bad=len(real_bad),
        real_name_bad_called_back=called_back,
        real_name_callback_rate=_rate(called_back, len(real_bad)),
        cases=len(cases),
        rectified=len(rectified),
        rectification_rate=_rate(len(rectified), len(cases)),
        rectified_on_time=on_time,
        on_time_rectification_rate=_rate(on_time, len(rectified)),
    )


# --- read models for pages -----------------------------------------------------------

# A rating pad asks about a finished visit only this long; after that the citizen has
# surely left the window and the pad goes back to idle.
PAD_PROMPT_MINUTES = 15
OPEN_STATUSES = (CaseStatus.OPEN, CaseStatus.CALLED_BACK, CaseStatus.RECTIFIED, CaseStatus.APPEALED)


def rating_for_ticket(*, session: Session, ticket_id: int) -> Rating | None:
    return session.scalar(select(Rating).where(Rating.ticket_id == ticket_id))


def ticket_rating_state(*, session: Session, ticket: Ticket) -> str:
    """``rateable``, ``rated`` or ``not_finished``: what a rating link can offer."""
    if rating_for_ticket(session=session, ticket_id=ticket.id) is not None:
        return "rated"
    visit = hall_service.visit_context(session=session, ticket=ticket)
    return "rateable" if visit.status in RATEABLE_STATUSES else "not_finished"


def pad_ticket(*, session: Session, hall: Hall, window_number: int) -> Ticket | None:
    """What the window's rating pad asks about: the window's latest finished visit today,
    while it is unrated and recent."""
    ticket = hall_service.last_finished_ticket(
        session=session, hall=hall, window_number=window_number
    )
    if ticket is None or ticket.finished_at is None:
        return None
    if now() - ticket.finished_at > timedelta(minutes=PAD_PROMPT_MINUTES):
        return None
    if rating_for_ticket(session=session, ticket_id=ticket.id) is not None:
        return None
    return ticket


def staff_name(*, session: Session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id else None
    return user.display_name if user else None


def _hall_names(session: Session, kind: str, ids: set[int]) -> dict[int, str]:
    return hall_service.display_names(session=session, kind=kind, ids=set(ids))


def _names(session: Session, model: Any, ids: set[int], column: str = "name") -> dict[int, str]:
    # Read-only lookup of display names by primary key (users).
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(select(model.id, getattr(model, column)).where(model.id.in_(ids)))
    return {i: n for i, n in rows}


@dataclass(frozen=True)
class CaseView:
    """A rectification case as the pages show it, with names instead of ids."""

    case: RectificationCase
    rating: Rating
    overdue: dict[str, bool]
    hall: str | None
    unit: str | None
    staff: str | None
    window: str | None
    item: str | None
    ticket_code: str | None

    @property
    def is_overdue(self) -> bool:
        return any(self.overdue.values())


def _case_views(
    session: Session, pairs: list[tuple[RectificationCase, Rating]], today: date
) -> list[CaseView]:
    halls = _hall_names(session, "hall", {r.hall_id for _, r in pairs if r.hall_id})
    units = _hall_names(
        session, "department", {c.department_id for c, _ in pairs if c.department_id}
    )
    users = _names(session, User, {c.staff_id for c, _ in pairs if c.staff_id}, "display_name")
    windows = _hall_names(session, "window", {r.window_id for _, r in pairs if r.window_id})
    items = _hall_names(session, "item", {r.item_id for _, r in pairs if r.item_id})
    tickets = _hall_names(session, "ticket", {r.ticket_id for _, r in pairs if r.ticket_id})
    return [
        CaseView(
            case=c,
            rating=r,
            overdue=is_overdue(c, today),
            hall=halls.get(r.hall_id) if r.hall_id else None,
            unit=units.get(c.department_id) if c.department_id else None,
            staff=users.get(c.staff_id) if c.staff_id else None,
            window=windows.get(r.window_id) if r.window_id else None,
            item=items.get(r.item_id) if r.item_id else None,
            ticket_code=tickets.get(r.ticket_id) if r.ticket_id else None,
        )
        for c, r in pairs
    ]


def case_views(
    *,
    session: Session,
    hall_id: int | None = None,
    open_only: bool = False,
    overdue_only: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[CaseView]:
    """Cases, newest first, optionally only open or overdue ones rated in [start, end)."""
    stmt = select(RectificationCase, Rating).join(Rating, Rating.id == RectificationCase.rating_id)
    if hall_id is not None:
        stmt = stmt.where(Rating.hall_id == hall_id)
    if open_only or overdue_only:
        stmt = stmt.where(RectificationCase.status.in_(OPEN_STATUSES))
    if start is not None:
        stmt = stmt.where(Rating.rated_at >= start)
    if end is not None:
        stmt = stmt.where(Rating.rated_at < end)
    pairs = [(c, r) for c, r in session.execute(stmt.order_by(RectificationCase.id.desc())).all()]
    views = _case_views(session, pairs, local_today())
    return [v for v in views if v.is_overdue] if overdue_only else views


def case_view(*, session: Session, case_id: int) -> CaseView:
    case, rating = get_case(session=session, case_id=case_id, lock=False)
    return _case_views(session, [(case, rating)], local_today())[0]


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    at: datetime
    actor: str | None
    detail: dict[str, Any]


def case_timeline(*, session: Session, case: RectificationCase) -> list[TimelineEntry]:
    """The rating's events, oldest first: submitted, opened, every case transition."""
    events = list(
        session.scalars(
            select(RatingEvent)
            .where(RatingEvent.rating_id == case.rating_id)
            .order_by(RatingEvent.at, RatingEvent.id)
        )
    )
    actors = _names(session, User, {e.actor_id for e in events if e.actor_id}, "display_name")
    return [
        TimelineEntry(
            kind=e.kind,
            at=e.at,
            actor=actors.get(e.actor_id) if e.actor_id else None,
            detail=e.detail or {},
        )
        for e in events
    ]


def case_summary(*, session: Session, hall_id: int | None) -> dict[str, int]:
    """Open cases and how many are past a deadline, for the manager's dashboard."""
    today = local_today()
    views = case_views(session=session, hall_id=hall_id, open_only=True)
    return {
        "open": len(views),
        "overdue": sum(1 for v in views if v.is_overdue),
        "overdue_callback": sum(1 for v in views if v.overdue["callback"]),
        "overdue_rectification": sum(1 for v in views if v.overdue["rectification"]),
        "appealed": sum(1 for v in views if v.case.status == CaseStatus.APPEALED),
        "due_today": sum(
            1
            for v in views
            if not v.is_overdue
            and today in (v.case.callback_due, v.case.rectification_due)
            and v.case.status in (CaseStatus.OPEN, CaseStatus.CALLED_BACK)
        ),
    }


def level_counts(
    *,
    session: Session,
    hall_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[int, int]:
    """Non-excluded ratings per level (5 … 1) given in [start, end)."""
    stmt = select(Rating.level, func.count()).where(~Rating.excluded).group_by(Rating.level)
    if hall_id is not None:
        stmt = stmt.where(Rating.hall_id == hall_id)
    if start is not None:
        stmt = stmt.where(Rating.rated_at >= start)
    if end is not None:
        stmt = stmt.where(Rating.rated_at < end)
    counts = {int(level): int(n) for level, n in session.execute(stmt).all()}
    return {int(level): counts.get(int(level), 0) for level in sorted(RatingLevel, reverse=True)}


@dataclass(frozen=True)
class SurveyRow:
    survey: Survey
    responses: int
    hall: str | None


def list_surveys(*, session: Session) -> list[SurveyRow]:
    """Every SERVQUAL survey, newest first, with its hall and number of responses."""
    responses = (
        select(SurveyResponse.survey_id, func.count().label("n"))
        .group_by(SurveyResponse.survey_id)
        .subquery()
    )
    rows = session.execute(
        select(Survey, func.coalesce(responses.c.n, 0))
        .outerjoin(responses, responses.c.survey_id == Survey.id)
        .order_by(Survey.created_at.desc(), Survey.id.desc())
    ).all()
    halls = _hall_names(session, "hall", {s.hall_id for s, _ in rows if s.hall_id})
    return [
        SurveyRow(survey=s, responses=int(n), hall=halls.get(s.hall_id) if s.hall_id else None)
        for s, n in rows
    ]
