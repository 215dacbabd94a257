"""The work-order event log and the actors' standing (center agent or department handler)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.auth import Role
from govloop.core.clock import now
from govloop.core.errors import NotFound, PermissionDenied
from govloop.core.events import touch
from govloop.core.models import User
from govloop.hotline.models import WorkOrder, WorkOrderEvent
from govloop.org import service as org_service

CENTER_ROLES = frozenset({Role.ADMIN, Role.HOTLINE_AGENT})
TOPIC = "hotline"


def record(
    session: Session,
    order: WorkOrder,
    kind: str,
    *,
    actor: User | None,
    department_id: int | None = None,
    at: datetime | None = None,
    **detail: Any,
) -> WorkOrderEvent:
    moment = at or now()
    order.updated_at = moment
    event = WorkOrderEvent(
        kind=kind,
        at=moment,
        order_id=order.id,
        actor_id=actor.id if actor else None,
        department_id=department_id,
        detail=detail,
    )
    session.add(event)
    touch(session, TOPIC)
    return event


def is_center(user: User) -> bool:
    return user.role in CENTER_ROLES


def require_center(user: User) -> None:
    if not is_center(user):
        raise PermissionDenied("只有热线中心坐席可以执行此操作", code="center_only")


def department_of(session: Session, user: User) -> int | None:
    return org_service.department_of(session, user)


def require_department(session: Session, user: User) -> int:
    department_id = department_of(session, user)
    if department_id is None:
        raise PermissionDenied("您的账号未关联承办单位", code="no_department")
    return department_id


def get_order(session: Session, order_id: int, *, for_update: bool = False) -> WorkOrder:
    stmt = select(WorkOrder).where(WorkOrder.id == order_id)
    if for_update:
        stmt = stmt.with_for_update()
    order = session.scalar(stmt)
    if order is None:
        raise NotFound(f"工单 {order_id} 不存在", code="order_not_found")
    return order


def get_order_by_number(session: Session, number: str) -> WorkOrder:
    order = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
    if order is None:
        raise NotFound(f"工单 {number} 不存在", code="order_not_found")
    return order


def flagged_orders(session: Session) -> set[tuple[int, str]]:
    """(order id, kind) of the deadline events already recorded."""
    rows = session.execute(
        select(WorkOrderEvent.order_id, WorkOrderEvent.kind).where(
            WorkOrderEvent.kind.in_(("sla.warning", "sla.overdue"))
        )
    )
    return {(order_id, kind) for order_id, kind in rows}
