"""The state machine of a matter: which change is allowed from which state, who may make
it, the event row every change appends, and the citizen's notice it causes (written to the
outbox in the same transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from govloop.core.auth import Permission, has_permission
from govloop.core.clock import now
from govloop.core.errors import PermissionDenied, RuleViolation
from govloop.core.models import User
from govloop.matters import deadlines, notices
from govloop.matters.models import CLOSED_STATES, Matter, MatterEvent, MatterState
from govloop.org.service import department_of

S = MatterState
TRANSITIONS: dict[str, frozenset[str]] = {
    S.ACCEPTED: frozenset({S.REVIEWING, S.CORRECTION, S.RETURNED}),
    S.REVIEWING: frozenset({S.CORRECTION, S.GRANTED, S.REFUSED, S.RETURNED}),
    S.CORRECTION: frozenset({S.REVIEWING, S.RETURNED}),
    S.GRANTED: frozenset({S.CERTIFYING}),
    # a refusal is a written decision (不予许可决定书): it is handed over or posted too
    S.REFUSED: frozenset({S.AWAITING_PICKUP, S.POSTED}),
    S.CERTIFYING: frozenset({S.AWAITING_PICKUP, S.POSTED}),
    S.AWAITING_PICKUP: frozenset({S.PICKED_UP, S.POSTED}),
    # a returned parcel goes back to 待领取
    S.POSTED: frozenset({S.DELIVERED, S.AWAITING_PICKUP}),
}
# where a result may be handed to a courier from
POSTABLE = frozenset({S.REFUSED, S.CERTIFYING, S.AWAITING_PICKUP})

STATE_LABELS = {
    S.ACCEPTED: "已受理",
    S.REVIEWING: "审查中",
    S.CORRECTION: "待补正",
    S.GRANTED: "准予许可",
    S.REFUSED: "不予许可",
    S.CERTIFYING: "制证中",
    S.AWAITING_PICKUP: "待领取",
    S.POSTED: "已寄出",
    S.DELIVERED: "已送达",
    S.PICKED_UP: "已领取",
    S.RETURNED: "已退回申请",
}


def record_event(
    session: Session,
    matter: Matter,
    kind: str,
    *,
    actor: User | None,
    from_state: str | None = None,
    to_state: str | None = None,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> MatterEvent:
    event = MatterEvent(
        matter_id=matter.id,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        actor_id=actor.id if actor else None,
        at=now(),
        note=note,
        detail=detail or {},
    )
    session.add(event)
    return event


def is_department_staff(session: Session, user: User, matter: Matter) -> bool:
    return has_permission(user, Permission.MATTER_HANDLE) and (
        user.role == "admin" or department_of(session, user) == matter.department_id
    )


def require_handler(session: Session, user: User, matter: Matter) -> None:
    """Only the matter's department (and the administrator) moves a matter along."""
    if not is_department_staff(session, user, matter):
        raise PermissionDenied("该办件不属于您所在的部门", code="not_your_department")


def may_post(matter: Matter) -> bool:
    return matter.state in POSTABLE


def transition(
    *,
    session: Session,
    matter: Matter,
    to: str,
    actor: User | None,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> MatterEvent:
    """Move a matter to ``to`` if the machine allows it; closes it in a final state."""
    current = matter.state
    if current in CLOSED_STATES:
        raise RuleViolation(f"办件已{STATE_LABELS[S(current)]}，不能再变更", code="matter_closed")
    if to not in TRANSITIONS.get(current, frozenset()):
        raise RuleViolation(
            f"办件当前为“{STATE_LABELS[S(current)]}”，不能变为“{STATE_LABELS[S(to)]}”",
            code="bad_transition",
            state=current,
            to=to,
        )
    moment = now()
    matter.state = to
    if to in (S.GRANTED, S.REFUSED):
        matter.decided_at = moment
    if to in CLOSED_STATES:
        matter.closed_at = moment
    event = record_event(
        session,
        matter,
        f"matter.{to}",
        actor=actor,
        from_state=current,
        to_state=to,
        note=note,
        detail=detail,
    )
    session.flush()
    notices.on_transition(session=session, matter=matter, event=event)
    return event


# --- the named steps department staff take -----------------------------------------------


def start_review(*, session: Session, matter: Matter, actor: User) -> MatterEvent:
    require_handler(session, actor, matter)
    matter.handler_id = actor.id
    return transition(session=session, matter=matter, to=S.REVIEWING, actor=actor)


def request_correction(
    *, session: Session, matter: Matter, actor: User, materials: list[str], note: str
) -> MatterEvent:
    """补正: ask for documents; the promised-time clock stops until they arrive."""
    require_handler(session, actor, matter)
    wanted = [m.strip() for m in materials if m.strip()]
    if not wanted:
        raise RuleViolation("请写明需要补正的材料", code="no_materials")
    matter.clock_stopped_at = now()
    return transition(
        session=session,
        matter=matter,
        to=S.CORRECTION,
        actor=actor,
        note=note,
        detail={"materials": wanted},
    )


def receive_correction(
    *, session: Session, matter: Matter, actor: User, in_person: bool
) -> MatterEvent:
    """The documents arrived: the clock runs again, later by the working days it stood."""
    require_handler(session, actor, matter)
    if matter.state != S.CORRECTION or matter.clock_stopped_at is None:
        raise RuleViolation("该办件不在补正中", code="not_in_correction")
    paused = deadlines.workdays_between(matter.clock_stopped_at, now())
    matter.paused_workdays += paused
    matter.clock_stopped_at = None
    deadlines.recompute(matter)
    if in_person:
        matter.visits += 1
    return transition(
        session=session,
        matter=matter,
        to=S.REVIEWING,
        actor=actor,
        detail={"paused_workdays": paused, "in_person": in_person},
    )


def decide(
    *, session: Session, matter: Matter, actor: User, granted: bool, note: str
) -> MatterEvent:
    require_handler(session, actor, matter)
    if not granted and not note.strip():
        raise RuleViolation("不予许可须写明理由", code="reason_required")
    return transition(
        session=session,
        matter=matter,
        to=S.GRANTED if granted else S.REFUSED,
        actor=actor,
        note=note.strip() or None,
    )


def start_certificate(*, session: Session, matter: Matter, actor: User) -> MatterEvent:
    require_handler(session, actor, matter)
    return transition(session=session, matter=matter, to=S.CERTIFYING, actor=actor)


def result_ready(*, session: Session, matter: Matter, actor: User) -> MatterEvent:
    """制证 done (or the refusal written): the result waits at the hall for pickup. A matter
    whose applicant chose post is handed to the courier instead (delivery.shipping)."""
    require_handler(session, actor, matter)
    matter.certified_at = now() if matter.state == S.CERTIFYING else matter.certified_at
    return transition(session=session, matter=matter, to=S.AWAITING_PICKUP, actor=actor)


def hand_over(*, session: Session, matter: Matter, actor: User) -> MatterEvent:
    """The applicant collected the result at a window (one more trip)."""
    if not (
        is_department_staff(session, actor, matter)
        or has_permission(actor, Permission.WINDOW_OPERATE)
    ):
        raise PermissionDenied("只有窗口或承办部门人员可以办理领取", code="not_allowed")
    matter.visits += 1
    return transition(session=session, matter=matter, to=S.PICKED_UP, actor=actor)


def return_application(
    *, session: Session, matter: Matter, actor: User, reason: str
) -> MatterEvent:
    """退回: the application goes back to the applicant without a decision."""
    require_handler(session, actor, matter)
    if not reason.strip():
        raise RuleViolation("退回须写明理由", code="reason_required")
    return transition(
        session=session, matter=matter, to=S.RETURNED, actor=actor, note=reason.strip()
    )
