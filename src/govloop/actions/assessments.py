"""The manager's assessment (评估) of an anomaly: reasonable, or not and needing an action.

An anomaly starts ``open``. Assessed as *reasonable* it is explained (a known event, a
holiday rush) and nothing is to be done; assessed as *unreasonable* it needs an action,
and the comment saying why is required. Assessments can be revised; every assessment is
appended to the loop's event log (``loop_events``) in the same transaction, with the
previous verdict, so the history of a decision is never lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.actions.models import LoopEvent, LoopEventKind
from govloop.core.clock import now
from govloop.core.errors import BadRequest, NotFound
from govloop.core.models import User
from govloop.insight.models import Anomaly, AnomalyStatus

MAX_COMMENT = 2000
MIN_COMMENT = 2  # characters of a required comment (两个汉字 say something)


def get_anomaly(*, session: Session, anomaly_id: int, hall_id: int | None = None) -> Anomaly:
    """An anomaly by id; with ``hall_id``, only if it belongs to that hall."""
    anomaly = session.get(Anomaly, anomaly_id)
    if anomaly is None or (hall_id is not None and anomaly.hall_id != hall_id):
        raise NotFound(f"未找到异常 #{anomaly_id}", code="anomaly_not_found")
    return anomaly


def assess_anomaly(
    *,
    session: Session,
    anomaly_id: int,
    reasonable: bool,
    comment: str,
    actor: User,
    hall_id: int | None = None,
) -> Anomaly:
    """Record the manager's verdict on an anomaly (re-assessing is allowed and logged)."""
    anomaly = get_anomaly(session=session, anomaly_id=anomaly_id, hall_id=hall_id)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise BadRequest(f"评估说明不超过 {MAX_COMMENT} 字", code="comment_too_long")
    if not reasonable and len(comment) < MIN_COMMENT:
        raise BadRequest(
            "判定为不合理时，请写明理由（为什么异常、需要采取什么措施）",
            code="comment_required",
        )
    previous = {"status": anomaly.status, "comment": anomaly.comment}
    anomaly.status = AnomalyStatus.REASONABLE if reasonable else AnomalyStatus.UNREASONABLE
    anomaly.comment = comment
    anomaly.assessed_by = actor.id
    anomaly.assessed_at = now()
    session.add(
        LoopEvent(
            hall_id=anomaly.hall_id,
            kind=LoopEventKind.ANOMALY_ASSESSED,
            anomaly_id=anomaly.id,
            actor_id=actor.id,
            at=anomaly.assessed_at,
            detail={
                "status": str(anomaly.status),
                "comment": comment,
                "previous_status": str(previous["status"]),
                "previous_comment": previous["comment"],
                "reassessed": previous["status"] != AnomalyStatus.OPEN,
            },
        )
    )
    session.flush()
    return anomaly


def anomalies_of_hall(
    *,
    session: Session,
    hall_id: int,
    statuses: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
    limit: int = 100,
) -> list[Anomaly]:
    """A hall's anomalies, newest day first (the worse and more severe ones first)."""
    query = select(Anomaly).where(Anomaly.hall_id == hall_id)
    if statuses:
        query = query.where(Anomaly.status.in_(list(statuses)))
    if ids is not None:
        query = query.where(Anomaly.id.in_(list(ids)))
    query = query.order_by(
        Anomaly.day.desc(), Anomaly.worse.desc(), Anomaly.score.desc(), Anomaly.id
    ).limit(limit)
    return list(session.scalars(query))
