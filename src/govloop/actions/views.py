"""Read models of the action loop for its pages and API (no rules here)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from govloop.actions import assessments, service
from govloop.actions import scope as scope_rules
from govloop.actions.models import Action, ActionKind, ActionStatus, LoopEvent
from govloop.core.clock import local_today
from govloop.indicators.service import framework_in_force
from govloop.insight.models import Anomaly, AnomalyStatus
from govloop.org import service as org_service
from govloop.org.models import Hall


def action_out(action: Action, *, names: dict[int, str] | None = None) -> dict[str, Any]:
    names = names or {}
    return {
        "id": action.id,
        "title": action.title,
        "kind": action.kind,
        "decision": action.decision,
        "status": action.status,
        "owner_id": action.owner_id,
        "owner": names.get(action.owner_id) if action.owner_id else None,
        "due_date": action.due_date.isoformat(),
        "starts_on": action.starts_on.isoformat(),
        "ends_on": action.ends_on.isoformat() if action.ends_on else None,
        "scope": action.scope,
        "indicators": action.indicators,
        "anomaly_id": action.anomaly_id,
        "recommendation": action.recommendation,
        "effect": action.effect,
        "effect_measured_at": (
            action.effect_measured_at.isoformat() if action.effect_measured_at else None
        ),
        "created_by": action.created_by,
        "created_at": action.created_at.isoformat(),
    }


def timeline(*, session: Session, action: Action) -> list[dict[str, Any]]:
    """The loop events of an action and of the anomaly it answers, oldest first."""
    condition = LoopEvent.action_id == action.id
    if action.anomaly_id is not None:
        condition = or_(
            condition,
            (LoopEvent.anomaly_id == action.anomaly_id) & LoopEvent.action_id.is_(None),
        )
    events = list(
        session.scalars(select(LoopEvent).where(condition).order_by(LoopEvent.at, LoopEvent.id))
    )
    names = org_service.user_names(session=session, ids={e.actor_id for e in events})
    return [
        {
            "id": e.id,
            "kind": e.kind,
            "at": e.at,
            "actor": names.get(e.actor_id) if e.actor_id else None,
            "anomaly_id": e.anomaly_id,
            "action_id": e.action_id,
            "detail": e.detail,
        }
        for e in events
    ]


def needs_action(*, session: Session, anomaly: Anomaly) -> bool:
    """An unreasonable anomaly needs an action until a (not cancelled) one answers it."""
    if anomaly.status != AnomalyStatus.UNREASONABLE:
        return False
    linked = session.scalar(
        select(func.count())
        .select_from(Action)
        .where(Action.anomaly_id == anomaly.id, Action.status != ActionStatus.CANCELLED)
    )
    return not linked


def assessment_out(*, session: Session, anomaly: Anomaly) -> dict[str, Any]:
    return {
        "id": anomaly.id,
        "indicator": anomaly.indicator_code,
        "day": anomaly.day.isoformat(),
        "status": anomaly.status,
        "comment": anomaly.comment,
        "assessed_by": anomaly.assessed_by,
        "assessed_at": anomaly.assessed_at.isoformat() if anomaly.assessed_at else None,
        "needs_action": needs_action(session=session, anomaly=anomaly),
    }


def loop_overview(*, session: Session, hall: Hall) -> dict[str, Any]:
    """Everything the loop page shows: anomalies by stage, and the actions."""
    actions = service.list_actions(session=session, hall=hall)
    live = [a for a in actions if a.status != ActionStatus.CANCELLED]
    by_anomaly: dict[int, list[Action]] = {}
    for a in live:
        if a.anomaly_id is not None:
            by_anomaly.setdefault(a.anomaly_id, []).append(a)
    to_assess = assessments.anomalies_of_hall(
        session=session, hall_id=hall.id, statuses=[AnomalyStatus.OPEN], limit=50
    )
    unreasonable = assessments.anomalies_of_hall(
        session=session, hall_id=hall.id, statuses=[AnomalyStatus.UNREASONABLE], limit=200
    )
    reasonable = assessments.anomalies_of_hall(
        session=session, hall_id=hall.id, statuses=[AnomalyStatus.REASONABLE], limit=10
    )
    names = org_service.user_names(
        session=session,
        ids={a.owner_id for a in actions} | {x.assessed_by for x in unreasonable + reasonable},
    )
    return {
        "to_assess": to_assess,
        "needing_action": [x for x in unreasonable if x.id not in by_anomaly],
        "acted_on": [x for x in unreasonable if x.id in by_anomaly],
        "reasonable": reasonable,
        "actions": actions,
        "actions_by_anomaly": by_anomaly,
        "names": names,
        "counts": {
            "to_assess": len(to_assess),
            "needing_action": sum(1 for x in unreasonable if x.id not in by_anomaly),
            "active": sum(1 for a in actions if a.status == ActionStatus.ACTIVE),
            "planned": sum(1 for a in actions if a.status == ActionStatus.PLANNED),
            "measured": sum(1 for a in actions if a.effect),
        },
    }


def draft_from_anomaly(
    *, session: Session, hall: Hall, anomaly_id: int, today: date | None = None
) -> dict[str, Any]:
    """Form defaults for an action answering an anomaly."""
    anomaly = assessments.get_anomaly(session=session, anomaly_id=anomaly_id, hall_id=hall.id)
    _version, framework = framework_in_force(session=session)
    node = framework.nodes.get(anomaly.indicator_code)
    leaf = node is not None and node.is_leaf
    today = today or local_today()
    name = (
        scope_rules.indicator_name(node, anomaly.indicator_code) if leaf else anomaly.indicator_code
    )
    return {
        "title": f"整改 {anomaly.day} {name}异常",
        "kind": ActionKind.OTHER.value,
        "decision": anomaly.comment,
        "indicators": [anomaly.indicator_code] if leaf else [],
        "starts_on": today.isoformat(),
        "due_date": (today + timedelta(days=service.DEFAULT_DUE_DAYS)).isoformat(),
        "anomaly_id": anomaly.id,
    }


def default_dates(today: date | None = None) -> dict[str, str]:
    today = today or local_today()
    return {
        "starts_on": today.isoformat(),
        "due_date": (today + timedelta(days=service.DEFAULT_DUE_DAYS)).isoformat(),
    }
