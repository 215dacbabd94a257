"""派单 → 签收 → 办理 → 答复 → 办结 → 回访 → 评价, with 退单, 改派 and 督办.

The center (hotline agents) dispatches, reviews returns and answers, closes, supervises and
calls back; departments sign for, handle, return and answer only orders dispatched to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.errors import BadRequest, NotFound, PermissionDenied, RuleViolation
from govloop.core.models import User
from govloop.hotline.models import (
    DONE_STATUSES,
    OPEN_STATUSES,
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    HotlineCategory,
    OrderStatus,
    WorkOrder,
)
from govloop.hotline.orders import journal, notifications, sla
from govloop.hotline.orders.intake import ANSWER_MAX, MOBILE, clean_text
from govloop.org.models import Department
from govloop.ratings import service as ratings
from govloop.ratings.models import RatingChannel

LIVE_ASSIGNMENT = (
    AssignmentStatus.DISPATCHED,
    AssignmentStatus.SIGNED,
    AssignmentStatus.RETURN_REQUESTED,
    AssignmentStatus.ANSWERED,
)
NOTE_MAX = 1000
# A unit holds an order — may see its caller and the case data — while its part is live and
# it has not asked to return it: once it says "not ours" (退单) it loses access at once, and
# gets it back only if the center rejects the return. A closed order is held by no one.
HOLDING_ASSIGNMENT = (
    AssignmentStatus.DISPATCHED,
    AssignmentStatus.SIGNED,
    AssignmentStatus.ANSWERED,
)


def _department(session: Session, department_id: int) -> Department:
    department = session.get(Department, department_id)
    if department is None:
        raise NotFound(f"承办单位 {department_id} 不存在", code="unknown_department")
    return department


def live_assignments(session: Session, order: WorkOrder) -> list[Assignment]:
    return list(
        session.scalars(
            select(Assignment)
            .where(Assignment.order_id == order.id, Assignment.status.in_(LIVE_ASSIGNMENT))
            .order_by(Assignment.id)
        )
    )


def holding_departments(session: Session, order: WorkOrder) -> frozenset[int]:
    """The units that hold the order now (see ``HOLDING_ASSIGNMENT``)."""
    if order.status not in OPEN_STATUSES:
        return frozenset()
    return frozenset(
        a.department_id for a in live_assignments(session, order) if a.status in HOLDING_ASSIGNMENT
    )


def _release_access(session: Session, order: WorkOrder) -> None:
    """End the data grants of staff whose unit no longer holds the order."""
    from govloop.access import service as access

    session.flush()
    access.recheck_case(session=session, case_type="work_order", case_id=order.id)


def _my_assignment(session: Session, order: WorkOrder, actor: User) -> Assignment:
    """The actor's department's live part in the order, or a clear refusal."""
    department_id = journal.require_department(session, actor)
    for assignment in live_assignments(session, order):
        if assignment.department_id == department_id:
            return assignment
    raise PermissionDenied(f"工单 {order.number} 未派给本单位", code="not_dispatched_to_you")


def dispatch(
    *,
    session: Session,
    order_id: int,
    actor: User,
    department_id: int,
    assist_department_ids: Sequence[int] = (),
    category_id: int | None = None,
    note: str | None = None,
) -> WorkOrder:
    """派单, or 改派 when the order is already with a unit: the old parts are withdrawn."""
    journal.require_center(actor)
    order = journal.get_order(session, order_id, for_update=True)
    if order.status not in (OrderStatus.ACCEPTED, OrderStatus.DISPATCHED, OrderStatus.SIGNED):
        raise RuleViolation(f"工单 {order.number} 当前状态不能派单", code="bad_status")
    if department_id in assist_department_ids:
        raise BadRequest("主办单位不能同时是协办单位", code="lead_is_assist")
    lead = _department(session, department_id)
    assists = [_department(session, d) for d in dict.fromkeys(assist_department_ids)]
    if category_id is not None:
        if session.get(HotlineCategory, category_id) is None:
            raise NotFound(f"诉求分类 {category_id} 不存在", code="unknown_category")
        order.category_id = category_id
    comment = clean_text(note, label="派单说明", max_len=NOTE_MAX, required=False)
    moment = now()
    redispatch = order.dispatched_at is not None
    for old in live_assignments(session, order):
        old.status = AssignmentStatus.WITHDRAWN
        old.ended_at = moment
    parts = [
        Assignment(
            order_id=order.id,
            department_id=department.id,
            role=role,
            dispatched_at=moment,
            dispatched_by=actor.id,
        )
        for department, role in [(lead, AssignmentRole.LEAD)]
        + [(a, AssignmentRole.ASSIST) for a in assists]
    ]
    session.add_all(parts)
    limit = sla.limit_for(
        session=session,
        order_type=order.order_type,
        urgency=order.urgency,
        category_id=order.category_id,
    )
    sign_due = sla.deadline(moment, limit.sign_working_days)
    order.sign_due_at = sign_due.at
    order.signed_at = None
    if not redispatch:
        handle_due = sla.deadline(moment, limit.handle_working_days)
        order.dispatched_at = moment
        order.due_at = handle_due.at
        order.due_estimated = handle_due.estimated or sign_due.estimated
    order.department_id = lead.id
    order.status = OrderStatus.DISPATCHED
    journal.record(
        session,
        order,
        "order.redispatched" if redispatch else "order.dispatched",
        actor=actor,
        department_id=lead.id,
        assists=[a.id for a in assists],
        note=comment,
        followed_suggestion=order.suggested_department_id == lead.id,
    )
    session.flush()  # the parts' ids name the messages to their units
    notifications.order_dispatched(session=session, order=order, assignments=parts)
    if redispatch:
        _release_access(session, order)  # 改派: the former units lose access now
    return order


def sign(*, session: Session, order_id: int, actor: User) -> WorkOrder:
    """签收 by the actor's unit; the order's clock counts the lead unit's signature."""
    order = journal.get_order(session, order_id, for_update=True)
    assignment = _my_assignment(session, order, actor)
    if assignment.status != AssignmentStatus.DISPATCHED:
        raise RuleViolation("本单位已签收该工单", code="already_signed")
    moment = now()
    assignment.status = AssignmentStatus.SIGNED
    assignment.signed_at = moment
    assignment.signed_by = actor.id
    if assignment.role == AssignmentRole.LEAD:
        order.signed_at = moment
        order.status = OrderStatus.SIGNED
    journal.record(
        session, order, "order.signed", actor=actor, department_id=assignment.department_id
    )
    return order


def add_progress(*, session: Session, order_id: int, actor: User, note: str) -> WorkOrder:
    """办理: a unit records what it has done; the first note moves the order in progress."""
    order = journal.get_order(session, order_id, for_update=True)
    assignment = _my_assignment(session, order, actor)
    if assignment.status != AssignmentStatus.SIGNED:
        raise RuleViolation("请先签收工单", code="not_signed")
    text = clean_text(note, label="办理情况", max_len=NOTE_MAX, required=True)
    if assignment.role == AssignmentRole.LEAD and order.status == OrderStatus.SIGNED:
        order.status = OrderStatus.IN_PROGRESS
    journal.record(
        session,
        order,
        "order.progress",
        actor=actor,
        department_id=assignment.department_id,
        note=text,
    )
    return order


def request_return(*, session: Session, order_id: int, actor: User, reason: str) -> WorkOrder:
    """退单: the lead unit says the order is not theirs; the center reviews."""
    order = journal.get_order(session, order_id, for_update=True)
    assignment = _my_assignment(session, order, actor)
    if assignment.role != AssignmentRole.LEAD:
        raise RuleViolation("协办单位不能退单，请联系主办单位", code="assist_cannot_return")
    if assignment.status not in (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED):
        raise RuleViolation("该工单当前不能退单", code="bad_status")
    text = clean_text(reason, label="退单理由", max_len=NOTE_MAX, required=True)
    assignment.status = AssignmentStatus.RETURN_REQUESTED
    assignment.return_reason = text
    assignment.return_requested_at = now()
    journal.record(
        session,
        order,
        "order.return_requested",
        actor=actor,
        department_id=assignment.department_id,
        reason=text,
    )
    _release_access(session, order)
    return order


def review_return(
    *, session: Session, order_id: int, actor: User, approve: bool, note: str | None = None
) -> WorkOrder:
    """Approved: the order goes back to the center to be re-dispatched. Rejected: the unit
    keeps it, in the state it was in."""
    journal.require_center(actor)
    order = journal.get_order(session, order_id, for_update=True)
    pending = [
        a for a in live_assignments(session, order) if a.status == AssignmentStatus.RETURN_REQUESTED
    ]
    if not pending:
        raise RuleViolation("该工单没有待审核的退单申请", code="no_return_pending")
    assignment = pending[0]
    comment = clean_text(note, label="审核意见", max_len=NOTE_MAX, required=not approve)
    moment = now()
    assignment.return_decision = "approved" if approve else "rejected"
    assignment.return_review_note = comment
    if approve:
        assignment.status = AssignmentStatus.RETURNED
        assignment.ended_at = moment
        for other in live_assignments(session, order):
            other.status = AssignmentStatus.WITHDRAWN
            other.ended_at = moment
        order.status = OrderStatus.ACCEPTED
        order.sign_due_at = None
        order.signed_at = None
    else:
        assignment.status = (
            AssignmentStatus.SIGNED if assignment.signed_at else AssignmentStatus.DISPATCHED
        )
    journal.record(
        session,
        order,
        "order.return_approved" if approve else "order.return_rejected",
        actor=actor,
        department_id=assignment.department_id,
        note=comment,
    )
    _release_access(session, order)
    return order


def answer(*, session: Session, order_id: int, actor: User, text: str) -> WorkOrder:
    """答复: the lead unit's reply to the citizen, or an assisting unit's contribution."""
    order = journal.get_order(session, order_id, for_update=True)
    assignment = _my_assignment(session, order, actor)
    if assignment.status != AssignmentStatus.SIGNED:
        raise RuleViolation("请先签收工单", code="not_signed")
    reply = clean_text(text, label="答复内容", max_len=ANSWER_MAX, required=True)
    moment = now()
    assignment.status = AssignmentStatus.ANSWERED
    assignment.answer = reply
    assignment.answered_at = moment
    if assignment.role == AssignmentRole.LEAD:
        order.answer = reply
        order.answered_at = moment
        order.status = OrderStatus.ANSWERED
    journal.record(
        session,
        order,
        "order.answered",
        actor=actor,
        department_id=assignment.department_id,
        role=assignment.role,
    )
    return order


def reject_answer(*, session: Session, order_id: int, actor: User, reason: str) -> WorkOrder:
    """The center finds the answer insufficient and sends the order back to the lead unit."""
    journal.require_center(actor)
    order = journal.get_order(session, order_id, for_update=True)
    if order.status != OrderStatus.ANSWERED:
        raise RuleViolation("只有已答复的工单可以退回重办", code="bad_status")
    text = clean_text(reason, label="退回理由", max_len=NOTE_MAX, required=True)
    for assignment in live_assignments(session, order):
        if assignment.role == AssignmentRole.LEAD:
            assignment.status = AssignmentStatus.SIGNED
    order.status = OrderStatus.IN_PROGRESS
    journal.record(session, order, "order.answer_rejected", actor=actor, reason=text)
    return order


def close(
    *, session: Session, order_id: int, actor: User, answer_text: str | None = None
) -> WorkOrder:
    """办结 by the center, once the lead unit has answered (or with the center's own answer
    for an order still at intake)."""
    journal.require_center(actor)
    order = journal.get_order(session, order_id, for_update=True)
    if order.status not in OPEN_STATUSES:
        raise RuleViolation(f"工单 {order.number} 已办结或已合并", code="bad_status")
    final = clean_text(answer_text, label="答复内容", max_len=ANSWER_MAX, required=False)
    if order.status == OrderStatus.ANSWERED:
        final = final or order.answer
    elif order.status != OrderStatus.ACCEPTED or final is None:
        raise RuleViolation("工单尚未答复，不能办结", code="no_answer")
    moment = now()
    order.answer = final
    order.answered_at = order.answered_at or moment
    order.status = OrderStatus.CLOSED
    order.closed_at = moment
    order.closed_by = actor.id
    for assignment in live_assignments(session, order):
        assignment.ended_at = moment
    clock = sla.handling_clock(order, moment)
    journal.record(session, order, "order.closed", actor=actor, on_time=not clock.overdue)
    notifications.order_replied(session=session, order=order)
    _release_access(session, order)
    return order


def supervise(*, session: Session, order_id: int, actor: User, note: str) -> WorkOrder:
    """督办: the center presses the lead unit on an order that is late or about to be."""
    journal.require_center(actor)
    order = journal.get_order(session, order_id, for_update=True)
    if order.status not in OPEN_STATUSES or order.dispatched_at is None:
        raise RuleViolation("只有已派出且未办结的工单可以督办", code="bad_status")
    text = clean_text(note, label="督办意见", max_len=NOTE_MAX, required=True)
    order.supervision_count += 1
    order.last_supervised_at = now()
    journal.record(
        session,
        order,
        "order.supervised",
        actor=actor,
        department_id=order.department_id,
        note=text,
        level=order.supervision_count,
    )
    return order


def record_callback(
    *,
    session: Session,
    order_id: int,
    actor: User,
    reached: bool,
    note: str | None = None,
    level: int | None = None,
    comment: str = "",
) -> WorkOrder:
    """回访 after closing; when the citizen gives a verdict it is stored as the order's
    一事一评 rating (a bad one opens a rectification case)."""
    journal.require_center(actor)
    order = journal.get_order(session, order_id, for_update=True)
    if order.status not in (OrderStatus.CLOSED, OrderStatus.CALLED_BACK):
        raise RuleViolation("只有已办结的工单可以回访", code="bad_status")
    if level is not None and not reached:
        raise BadRequest("未联系上市民时不能记录评价", code="rating_without_contact")
    text = clean_text(note, label="回访记录", max_len=NOTE_MAX, required=False)
    order.callback_at = now()
    order.callback_result = "reached" if reached else "unreachable"
    order.callback_note = text
    order.status = OrderStatus.CALLED_BACK
    journal.record(session, order, "order.called_back", actor=actor, reached=reached)
    if level is not None:
        _rate(session, order, level=level, comment=comment, channel=RatingChannel.HOTLINE)
    return order


def rate(*, session: Session, number: str, level: int, comment: str = "") -> WorkOrder:
    """评价 by the citizen on the order's own page (one rating per order)."""
    order = journal.get_order_by_number(session, number)
    if order.status not in DONE_STATUSES:
        raise RuleViolation("工单办结后才能评价", code="not_closed")
    _rate(session, order, level=level, comment=comment, channel=RatingChannel.ONLINE)
    return order


def _rate(session: Session, order: WorkOrder, *, level: int, comment: str, channel: str) -> None:
    if order.rating_id is not None:
        raise RuleViolation(f"工单 {order.number} 已评价过（一事一评）", code="already_rated")
    rating = ratings.rate_matter(
        session=session,
        source="hotline",
        ref=order.number,
        department_id=order.department_id,
        item_id=None,
        staff_id=None,
        data=ratings.RatingInput(
            level=level,
            channel=channel,
            comment=comment,
            citizen_name=None if order.confidential else order.caller_name,
            # a landline cannot receive the rating's follow-up SMS
            citizen_phone=order.caller_phone
            if order.caller_phone and MOBILE.match(order.caller_phone)
            else None,
        ),
    )
    order.rating_id = rating.id
    order.status = OrderStatus.RATED
    journal.record(session, order, "order.rated", actor=None, level=level, rating_id=rating.id)


def sweep_deadlines(*, session: Session, at: datetime | None = None) -> dict[str, int]:
    """Record, once per order, that its time limit is close (``sla.warning``) or has passed
    (``sla.overdue``); the dashboards and the supervision list read these events. A warning
    also tells the lead unit's members by SMS (``staff_due_soon``)."""
    moment = at or now()
    counts = {"warning": 0, "overdue": 0}
    open_orders = session.scalars(
        select(WorkOrder).where(
            WorkOrder.status.in_(list(OPEN_STATUSES)), WorkOrder.due_at.is_not(None)
        )
    )
    seen = journal.flagged_orders(session)
    for order in open_orders:
        clock = sla.handling_clock(order, moment)
        kind = {
            sla.ClockState.WARNING: "warning",
            sla.ClockState.OVERDUE: "overdue",
        }.get(clock.state)
        if kind is None or (order.id, f"sla.{kind}") in seen:
            continue
        journal.record(session, order, f"sla.{kind}", actor=None, department_id=order.department_id)
        if kind == "warning":  # the lead unit's members are told, once per deadline
            notifications.order_due_soon(session=session, order=order)
        counts[kind] += 1
    return counts


@dataclass(frozen=True)
class OrderCase:
    """A work order as a case for purpose-bound data access: open while it is dispatched
    and not closed; held by the units in ``department_ids`` (not a unit that asked to
    return it, nor one it was withdrawn from)."""

    order_id: int
    open: bool
    department_ids: frozenset[int]
    category_group: str | None
    label: str


def order_case(*, session: Session, order_id: int) -> OrderCase:
    order = journal.get_order(session, order_id)
    category = session.get(HotlineCategory, order.category_id) if order.category_id else None
    live = live_assignments(session, order)
    return OrderCase(
        order.id,
        order.status in OPEN_STATUSES and bool(live),
        holding_departments(session, order),
        category.group_name if category else None,
        f"{order.number} {order.title}",
    )


def department_of_user(*, session: Session, user: User) -> int | None:
    return journal.department_of(session, user)
