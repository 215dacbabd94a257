"""The hotline's event feed, as the analytics store copies it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from govloop.core.feeds import EventFeed
from govloop.hotline.models import WorkOrder, WorkOrderEvent

# The matter source under which a rating of a work order names the order's number.
RATED_MATTER_SOURCE = "hotline"


def _events() -> Select[Any]:
    return select(
        WorkOrderEvent.id,
        WorkOrderEvent.kind,
        WorkOrderEvent.at,
        WorkOrderEvent.order_id,
        WorkOrderEvent.department_id,
        WorkOrderEvent.detail,
        WorkOrder.created_at,
        WorkOrder.sign_due_at,
    ).join(WorkOrder, WorkOrder.id == WorkOrderEvent.order_id)


EVENTS = EventFeed("work_order_events", WorkOrderEvent.id, WorkOrderEvent.at, _events)


def accepted_at(session: Session, numbers: Iterable[str]) -> dict[str, datetime]:
    """When each of these work orders was accepted (a rating of an order changes the figures
    of that day)."""
    wanted = set(numbers)
    if not wanted:
        return {}
    rows = session.execute(
        select(WorkOrder.number, WorkOrder.created_at).where(WorkOrder.number.in_(wanted))
    )
    return {number: created for number, created in rows}
