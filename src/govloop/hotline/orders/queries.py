"""Read side of the work orders: lists, one order as a viewer may see it, and its timeline.

A department sees only orders that were dispatched to it, and the caller only while it
holds the order — not after asking to return it (退单), nor once the order was moved to
another unit or closed — and never the caller of a confidential (保密) order: those fields
are absent from what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.errors import PermissionDenied, RuleViolation
from govloop.core.models import User
from govloop.hotline.models import (
    OPEN_STATUSES,
    Assignment,
    OrderStatus,
    WorkOrder,
    WorkOrderEvent,
)
from govloop.hotline.orders import directory, journal, sla
from govloop.hotline.orders.workflow import holding_departments

CALLER_FIELDS = ("caller_name", "caller_phone", "caller_email")


@dataclass
class OrderView:
    order: WorkOrder
    category: str | None
    category_code: str | None
    department: str | None
    suggested_category: str | None
    suggested_department: str | None
    handling: sla.Clock
    signing: sla.Clock
    caller_visible: bool
    assignments: list[dict[str, Any]] = field(default_factory=list)
    # why the caller is absent: "confidential" or "not_holding"; None when shown
    caller_hidden: str | None = None

    def caller(self) -> dict[str, str | None]:
        if not self.caller_visible:
            return {}
        return {name: getattr(self.order, name) for name in CALLER_FIELDS}


def names(
    session: Session, known: directory.Directory | None = None
) -> tuple[dict[int, str], dict[int, tuple[str, str]]]:
    """Department names and category (code, name) by id, retired ones included.
    ``known``: the directory the caller already read in this transaction."""
    known = known or directory.current(session)
    categories = {c.id: (c.code, c.name) for c in known.categories.values()}
    return dict(known.department_names), categories


def _involved(session: Session, order: WorkOrder, department_id: int) -> bool:
    return (
        session.scalar(
            select(func.count(Assignment.id)).where(
                Assignment.order_id == order.id, Assignment.department_id == department_id
            )
        )
        or 0
    ) > 0


def caller_hidden(session: Session, order: WorkOrder, viewer: User) -> str | None:
    """Refuses a unit the order was never dispatched to. Otherwise, why the caller's details
    are not shown to the viewer (``confidential``, ``not_holding``), or None: shown. The
    center sees every caller; a unit only while it holds a non-confidential order."""
    if journal.is_center(viewer):
        return None
    department_id = journal.require_department(session, viewer)
    if not _involved(session, order, department_id):
        raise PermissionDenied(f"工单 {order.number} 未派给本单位", code="not_dispatched_to_you")
    if order.confidential:
        return "confidential"
    return None if department_id in holding_departments(session, order) else "not_holding"


def check_can_view(session: Session, order: WorkOrder, viewer: User) -> bool:
    """True for the center; for a unit, only when the order was dispatched to it. Returns
    whether the caller's details may be shown."""
    return caller_hidden(session, order, viewer) is None


def _assignments(
    session: Session, order: WorkOrder, departments: dict[int, str]
) -> list[dict[str, Any]]:
    return [
        {
            "id": a.id,
            "department": departments.get(a.department_id),
            "department_id": a.department_id,
            "role": a.role,
            "status": a.status,
            "dispatched_at": a.dispatched_at,
            "signed_at": a.signed_at,
            "return_reason": a.return_reason,
            "return_decision": a.return_decision,
            "answer": a.answer,
            "answered_at": a.answered_at,
        }
        for a in session.scalars(
            select(Assignment).where(Assignment.order_id == order.id).order_by(Assignment.id)
        )
    ]


def view(
    session: Session,
    order: WorkOrder,
    viewer: User,
    *,
    at: datetime | None = None,
    just_accepted: bool = False,
    known: directory.Directory | None = None,
) -> OrderView:
    """``just_accepted``: the order was created in this transaction, so it has no
    assignments to look up yet. ``known``: the directory already read in it."""
    hidden = caller_hidden(session, order, viewer)
    caller_visible = hidden is None
    departments, categories = names(session, known)
    moment = at or now()
    assignments = [] if just_accepted else _assignments(session, order, departments)
    category = categories.get(order.category_id or 0)
    suggested = categories.get(order.suggested_category_id or 0)
    return OrderView(
        order=order,
        category=category[1] if category else None,
        category_code=category[0] if category else None,
        department=departments.get(order.department_id or 0),
        suggested_category=suggested[1] if suggested else None,
        suggested_department=departments.get(order.suggested_department_id or 0),
        handling=sla.handling_clock(order, moment),
        signing=sla.signing_clock(order, moment),
        caller_visible=caller_visible,
        assignments=assignments,
        caller_hidden=hidden,
    )


def timeline(session: Session, order: WorkOrder) -> list[WorkOrderEvent]:
    return list(
        session.scalars(
            select(WorkOrderEvent)
            .where(WorkOrderEvent.order_id == order.id)
            .order_by(WorkOrderEvent.at, WorkOrderEvent.id)
        )
    )


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None  # a status, "open", "done" or None for all
    overdue: bool = False
    department_id: int | None = None
    category_id: int | None = None
    channel: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_orders(
    *,
    session: Session,
    viewer: User,
    filters: OrderFilter = OrderFilter(),
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[WorkOrder], int]:
    """Orders the viewer may see, newest first, with the total count for paging."""
    stmt = select(WorkOrder)
    if not journal.is_center(viewer):
        department_id = journal.require_department(session, viewer)
        stmt = stmt.where(
            WorkOrder.id.in_(
                select(Assignment.order_id).where(Assignment.department_id == department_id)
            )
        )
    f = filters
    if f.status == "open":
        stmt = stmt.where(WorkOrder.status.in_(list(OPEN_STATUSES)))
    elif f.status == "done":
        stmt = stmt.where(
            WorkOrder.status.in_([OrderStatus.CLOSED, OrderStatus.CALLED_BACK, OrderStatus.RATED])
        )
    elif f.status:
        try:
            stmt = stmt.where(WorkOrder.status == OrderStatus(f.status))
        except ValueError as exc:
            raise RuleViolation(f"未知的工单状态：{f.status}", code="bad_status") from exc
    if f.overdue:
        stmt = stmt.where(WorkOrder.status.in_(list(OPEN_STATUSES)), WorkOrder.due_at < now())
    if f.department_id:
        stmt = stmt.where(WorkOrder.department_id == f.department_id)
    if f.category_id:
        stmt = stmt.where(WorkOrder.category_id == f.category_id)
    if f.channel:
        stmt = stmt.where(WorkOrder.channel == f.channel)
    if f.since:
        stmt = stmt.where(WorkOrder.created_at >= f.since)
    if f.until:
        stmt = stmt.where(WorkOrder.created_at < f.until)
    if f.text:
        # autoescape: "%" and "_" typed by a user are characters, not wildcards
        text = f.text.strip()
        stmt = stmt.where(
            or_(
                WorkOrder.number.contains(text, autoescape=True),
                WorkOrder.title.contains(text, autoescape=True),
                WorkOrder.content.contains(text, autoescape=True),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total


def masked_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:]
