"""JSON API of hot topics (``/api/v1/hotline/topics``): the alerts of a day or of the last
week, and acknowledging one (center staff)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.models import User
from govloop.hotline.models import TopicAlert
from govloop.hotline.topics import queries as topics_queries
from govloop.hotline.topics import service as topics

router = APIRouter(
    prefix="/api/v1/hotline/topics", tags=["hotline"], dependencies=[Depends(csrf_protect)]
)
handler = require(Permission.HOTLINE_HANDLE)
RECENT_DAYS = 7


def alert_out(session: Session, alert: TopicAlert, viewer: User) -> dict[str, Any]:
    """An alert as JSON; ``order_ids`` holds only the orders the viewer may open."""
    return {
        "id": alert.id,
        "day": alert.day.isoformat(),
        "kind": alert.kind,
        "key": alert.key,
        "label": alert.label,
        "count": alert.count,
        "baseline": alert.baseline,
        "p_value": alert.p_value,
        "terms": list(alert.terms),
        "order_ids": topics_queries.visible_order_ids(session, viewer, alert.order_ids),
        "created_at": alert.created_at.isoformat(),
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
    }


@router.get("")
def list_topics(
    day: str | None = Query(None, max_length=20, description="YYYY-MM-DD; default: last 7 days"),
    unacknowledged: bool = False,
    user: User = Depends(handler),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    chosen = topics_queries.parse_day(day)
    if chosen is None:
        alerts = topics.recent_alerts(
            session=session, days=RECENT_DAYS, unacknowledged_only=unacknowledged
        )
    else:
        alerts = topics.alerts_for_day(
            session=session, day=chosen, unacknowledged_only=unacknowledged
        )
    return [alert_out(session, a, user) for a in alerts]


@router.post("/{alert_id}/acknowledge")
def acknowledge(
    alert_id: int,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    alert = topics.acknowledge(session=session, alert_id=alert_id, actor=user)
    return alert_out(session, alert, user)
