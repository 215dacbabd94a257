"""JSON API of the closed loop (``/api/v1/halls/{hall_code}/...``): actions, their life
cycle and measured effect, and the assessment of anomalies. Hall managers only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from govloop.actions import assessments, measurement, service
from govloop.actions import views as action_views
from govloop.actions.models import Action
from govloop.actions.schemas import (
    ActionIn,
    AssessmentIn,
    CancelIn,
    CompleteIn,
    MeasureIn,
    StartIn,
)
from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.models import User
from govloop.org import service as org_service
from govloop.org.models import Hall

router = APIRouter(prefix="/api/v1/halls", tags=["actions"], dependencies=[Depends(csrf_protect)])
manager = require(Permission.HALL_MANAGE)


def _hall(session: Session, code: str) -> Hall:
    return org_service.get_hall(session=session, code=code)


def _out(session: Session, action: Action, *, events: bool = False) -> dict[str, Any]:
    names = org_service.user_names(session=session, ids={action.owner_id})
    body = action_views.action_out(action, names=names)
    if events:
        body["events"] = [
            {**e, "at": e["at"].isoformat()}
            for e in action_views.timeline(session=session, action=action)
        ]
    return body


@router.get("/{hall_code}/actions")
def list_actions(
    hall_code: str,
    status: str | None = Query(None, max_length=16),
    user: User = Depends(manager),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    hall = _hall(session, hall_code)
    actions = service.list_actions(session=session, hall=hall, status=status)
    names = org_service.user_names(session=session, ids={a.owner_id for a in actions})
    return [action_views.action_out(a, names=names) for a in actions]


@router.post("/{hall_code}/actions", status_code=201)
def create_action(
    hall_code: str,
    body: ActionIn,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    hall = _hall(session, hall_code)
    action = service.create_action(session=session, hall=hall, data=body, actor=user)
    return _out(session, action, events=True)


@router.get("/{hall_code}/actions/{action_id}")
def get_action(
    hall_code: str,
    action_id: int,
    user: User = Depends(manager),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    action = service.get_action(
        session=session, hall=_hall(session, hall_code), action_id=action_id
    )
    return _out(session, action, events=True)


@router.post("/{hall_code}/actions/{action_id}/start")
def start_action(
    hall_code: str,
    action_id: int,
    body: StartIn | None = None,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    body = body or StartIn()
    hall = _hall(session, hall_code)
    action = service.get_action(session=session, hall=hall, action_id=action_id, lock=True)
    service.start_action(session=session, action=action, actor=user, on=body.on, note=body.note)
    return _out(session, action)


@router.post("/{hall_code}/actions/{action_id}/complete")
def complete_action(
    hall_code: str,
    action_id: int,
    body: CompleteIn | None = None,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    body = body or CompleteIn()
    hall = _hall(session, hall_code)
    action = service.get_action(session=session, hall=hall, action_id=action_id, lock=True)
    service.complete_action(session=session, action=action, actor=user, on=body.on, note=body.note)
    return _out(session, action)


@router.post("/{hall_code}/actions/{action_id}/cancel")
def cancel_action(
    hall_code: str,
    action_id: int,
    body: CancelIn,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    hall = _hall(session, hall_code)
    action = service.get_action(session=session, hall=hall, action_id=action_id, lock=True)
    service.cancel_action(session=session, action=action, actor=user, reason=body.reason)
    return _out(session, action)


@router.post("/{hall_code}/actions/{action_id}/effect")
def measure_effect(
    hall_code: str,
    action_id: int,
    body: MeasureIn | None = None,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """Measure the effect now (or as of ``today``), store it on the action, return it."""
    body = body or MeasureIn()
    hall = _hall(session, hall_code)
    action = service.get_action(session=session, hall=hall, action_id=action_id, lock=True)
    measurement.measure_effect(session=session, action=action, today=body.today, actor=user)
    return _out(session, action)


@router.post("/{hall_code}/anomalies/{anomaly_id}/assessment")
def assess_anomaly(
    hall_code: str,
    anomaly_id: int,
    body: AssessmentIn,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    hall = _hall(session, hall_code)
    anomaly = assessments.assess_anomaly(
        session=session,
        anomaly_id=anomaly_id,
        reasonable=body.reasonable,
        comment=body.comment,
        actor=user,
        hall_id=hall.id,
    )
    return action_views.assessment_out(session=session, anomaly=anomaly)
