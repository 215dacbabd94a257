"""Read side of hot topics: days, and what a viewer is shown of an alert (its orders, the
daily counts behind its chart)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import local_tz, to_local
from govloop.core.errors import BadRequest
from govloop.core.models import User
from govloop.hotline.models import (
    Assignment,
    HotlineCategory,
    TopicAlert,
    TopicAlertKind,
    WorkOrder,
)
from govloop.hotline.orders import journal

CHART_DAYS = 28


# ---- days and orders -------------------------------------------------------------------


def parse_day(value: str | None) -> date | None:
    """``YYYY-MM-DD`` or nothing; anything else is a clear error."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(f"日期格式不正确（应为 YYYY-MM-DD）：{text[:20]}", code="bad_day") from exc


def day_bounds(day: date, days: int = 1) -> tuple[datetime, datetime]:
    """UTC-aware start and end of ``days`` local days starting at ``day``."""
    tz = local_tz()
    return (
        datetime.combine(day, time(0), tzinfo=tz),
        datetime.combine(day + timedelta(days=days), time(0), tzinfo=tz),
    )


def local_day(moment: datetime) -> date:
    return to_local(moment).date()


def category_names(session: Session) -> dict[int, tuple[str, str]]:
    return {c.id: (c.code, c.name) for c in session.scalars(select(HotlineCategory))}


def dominant(values: Sequence[Any]) -> Any:
    counts = Counter(v for v in values if v is not None)
    if not counts:
        return None
    value, n = min(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return value if n * 2 >= len(values) else None


# ---- what a viewer may see of an alert -----------------------------------------------


def visible_order_ids(session: Session, viewer: User, order_ids: Sequence[int]) -> list[int]:
    """The center sees every order; a unit only those dispatched to it (as elsewhere)."""
    if journal.is_center(viewer):
        return list(order_ids)
    department_id = journal.department_of(session, viewer)
    if department_id is None or not order_ids:
        return []
    allowed = set(
        session.scalars(
            select(Assignment.order_id).where(
                Assignment.department_id == department_id, Assignment.order_id.in_(order_ids)
            )
        )
    )
    return [i for i in order_ids if i in allowed]


def alert_orders(
    *, session: Session, alert: TopicAlert, viewer: User, limit: int = 50
) -> list[WorkOrder]:
    ids = visible_order_ids(session, viewer, alert.order_ids)[:limit]
    if not ids:
        return []
    return list(
        session.scalars(select(WorkOrder).where(WorkOrder.id.in_(ids)).order_by(WorkOrder.id))
    )


def alert_scope(session: Session, alert: TopicAlert) -> tuple[str, Any, str | None]:
    """What the alert's chart counts: ("category", id, name), ("district", name, name) or
    ("all", None, None). A cluster is charted by its dominant category, if any."""
    if alert.kind == TopicAlertKind.SURGE_DISTRICT:
        return "district", alert.key, alert.key
    names = category_names(session)
    if alert.kind == TopicAlertKind.SURGE_CATEGORY:
        for category_id, (code, name) in names.items():
            if code == alert.key:
                return "category", category_id, name
    elif alert.order_ids:
        ids = session.scalars(
            select(WorkOrder.category_id).where(WorkOrder.id.in_(alert.order_ids))
        ).all()
        main = dominant(list(ids))
        if main in names:
            return "category", main, names[main][1]
    return "all", None, None


def daily_counts(
    *, session: Session, alert: TopicAlert, days: int = CHART_DAYS
) -> tuple[str | None, list[tuple[date, int]]]:
    """Orders per local day of the alert's category or district over the ``days`` days
    ending with the alert's day: (what is counted, [(day, count)])."""
    dimension, value, name = alert_scope(session, alert)
    first = alert.day - timedelta(days=days - 1)
    start, end = day_bounds(first, days)
    stmt = select(WorkOrder.created_at).where(
        WorkOrder.created_at >= start, WorkOrder.created_at < end
    )
    if dimension == "category":
        stmt = stmt.where(WorkOrder.category_id == value)
    elif dimension == "district":
        stmt = stmt.where(WorkOrder.district == value)
    counts = Counter(local_day(at) for at in session.scalars(stmt))
    return name, [
        (first + timedelta(days=i), counts.get(first + timedelta(days=i), 0)) for i in range(days)
    ]
