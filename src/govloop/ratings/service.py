"""Rules of 好差评: one rating per visit or matter, and the rectification of bad ones.

A rating of 不满意 or worse opens a rectification case assigned to the unit that handled
the matter (谁办理谁负责), with a callback due in 1 working day and rectification due in
a configurable number of working days. An upheld appeal (申诉复核) excludes the rating
from every figure but never deletes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govloop.core.auth import Role
from govloop.core.clock import now
from govloop.core.errors import BadRequest, Conflict, PermissionDenied, RuleViolation
from govloop.core.models import User
from govloop.hall import service as hall_service
from govloop.hall.models import Ticket
from govloop.ratings import events as rating_events
from govloop.ratings import rectification
from govloop.ratings.models import (
    BAD_LEVELS,
    Dimension,
    Rating,
    RatingChannel,
    RatingLevel,
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
    rating_events.record(
        session,
        "rating.submitted",
        rating,
        detail={"level": rating.level, "channel": rating.channel},
    )
    if rating.level in BAD_LEVELS:
        rectification.open_case(session=session, rating=rating)
    return rating


# --- who may act on a case (谁办理谁负责) ------------------------------------------------
#
# callback / rectify / appeal: the one who answers for the matter — for a hall visit the
#   window staff member who served it or a hall manager; for any case the handler of the
#   responsible unit (department). The hotline center also calls back hotline matters.
# close / review an appeal: a hall manager (never the appellant for a review).
# Admins may do everything; auditors only look. Other roles may not act.


# --- read models for pages -----------------------------------------------------------


def matter_rated(*, session: Session, source: str, ref: str) -> bool:
    """Whether a matter (一事一评) already has its rating."""
    return (
        session.scalar(
            select(Rating.id).where(Rating.matter_source == source, Rating.matter_ref == ref)
        )
        is not None
    )
