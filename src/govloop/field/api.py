"""JSON API of the mobile workbench. Every call of the field staff carries the device id
header; case data and keys need the grant token header and are never cacheable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govloop.access import service as access
from govloop.core.auth import Permission
from govloop.core.clock import to_local
from govloop.core.db import get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.models import User
from govloop.field import forms, service
from govloop.field.models import FieldDevice, FieldSubmission, FieldTask

router = APIRouter(prefix="/api/v1/field", tags=["field"], dependencies=[Depends(csrf_protect)])
_staff = require(Permission.FIELD_WORK)
_manager = require(Permission.HALL_MANAGE)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class DeviceIn(BaseModel):
    device_id: str = Field(max_length=64)
    name: str = Field(default="", max_length=100)


class SubmissionIn(BaseModel):
    client_id: str = Field(max_length=64)
    base_version: int
    values: dict[str, Any]
    captured_at: str | None = Field(default=None, max_length=40)


class GrantIdsIn(BaseModel):
    grant_ids: list[int] = Field(default_factory=list, max_length=100)


class PurgedIn(BaseModel):
    task_id: int | None = None
    reason: str = Field(max_length=40)


def _task_dict(task: FieldTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "number": task.number,
        "task_type": task.task_type,
        "type_label": service.TYPE_LABELS.get(task.task_type, task.task_type),
        "title": task.title,
        "status": task.status,
        "due": to_local(task.due).strftime("%Y-%m-%d %H:%M") if task.due else None,
        "address": task.address,
        "version": task.version,
    }


def _submission_dict(sub: FieldSubmission, created: bool) -> dict[str, Any]:
    return {
        "id": sub.id,
        "client_id": sub.client_id,
        "task_id": sub.task_id,
        "status": sub.status,
        "conflict": sub.conflict_detail,
        "created": created,
        "submitted_at": sub.submitted_at.isoformat(),
    }


def _device(session: Session, user: User, device_id: str | None) -> FieldDevice:
    """The caller's registered device; an unknown or revoked one is refused (recorded)."""
    return service.check_device(session=session, user=user, device_id=device_id)


@router.post("/devices")
def register_device(
    body: DeviceIn,
    request: Request,
    user: User = Depends(_staff),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    device = service.register_device(
        session=session,
        user=user,
        device_id=body.device_id,
        name=body.name,
        user_agent=request.headers.get("user-agent"),
    )
    return JSONResponse({"device_id": device.device_id, "name": device.name, "id": device.id})


@router.get("/tasks")
def list_tasks(
    user: User = Depends(_staff),
    session: Session = Depends(get_session, scope="function"),
    x_device_id: str | None = Header(default=None),
) -> Response:
    _device(session, user, x_device_id)
    tasks = service.tasks_for(session=session, user=user)
    return JSONResponse(
        {
            "user": user.display_name or user.username,
            "tasks": [_task_dict(t) for t in tasks],
            "forms": {k: f.as_dict() for k, f in forms.forms().items()},
        },
        headers=NO_STORE,
    )


@router.get("/tasks/{task_id}")
def task_detail(
    task_id: int,
    user: User = Depends(_staff),
    session: Session = Depends(get_session, scope="function"),
    x_device_id: str | None = Header(default=None),
) -> Response:
    _device(session, user, x_device_id)
    task = service.task_for_user(session=session, user=user, task_id=task_id)
    return JSONResponse(_task_dict(task), headers=NO_STORE)


@router.post("/tasks/{task_id}/grant")
def open_grant(
    task_id: int,
    user: User = Depends(_staff),
    session: Session = Depends(get_session, scope="function"),
    x_device_id: str | None = Header(default=None),
) -> Response:
    """Open (or renew the token of) the grant that lets this device see the task's case."""
    _device(session, user, x_device_id)
    task = service.get_task(session=session, task_id=task_id)
    result = access.open_grant(
        session=session,
        user=user,
        case_type=service.CASE_TYPE,
        case_id=task.id,
        purpose=f"{service.TYPE_LABELS.get(task.task_type, task.task_type)}现场办理",
    )
    return JSONResponse(
        {
            "token": result.token,
            "grant_id": result.grant.id,
            "expires_at": result.grant.expires_at.isoformat(),
            "task": _task_dict(task),
        },
        headers=NO_STORE,
    )


@router.get("/case")
def case_data(
    user: User = Depends(_staff),
    session: Session = Depends(get_session, scope="function"),
    x_device_id: str | None = Header(default=None),
    x_grant_token: str | None = Header(default=None),
) -> Response:
    _device(session, user, x_device_id)
    views = access.fetch(session=session, user=user, token=x_grant_token)
    return JSONResponse(
        {
            "subjects": [
                {"id": v.id, "kind": v.kind, "values": v.values, "masked": v.masked} for v in views
            ]
        },
        headers=NO_STORE,
    )


@router.get("/key")
def device_key(
    user: User = Depends(_staff),
    session: Session = Depends(get_session, scope="function"),
    x_device_id: str | None = Header(default=None),
    x_grant_token: str | None = Header(default=None),
) -> Response:
    """The AES-256 key for the device copy of the case; 410 once the grant has ended."""
    _device(session, user, x_device_id)
    key = access.device_key(session=session, user=user, token=x_grant_token)
    return JSONResponse({"key": key}, headers=NO_STORE)


@router.post("/grants/status")
def grants_status(
    body: GrantIdsIn,
    user: User = Depends(_staff),
    session: Session = Depends(get_session, scope="function"),
    x_device_id: str | None = Header(default=None),
) -> Response:
    _device(session, user, x_device_id)
    live = service.live_grants(session=session, user=user, grant_ids=body.grant_ids)
    return JSONResponse({"live": {str(k): v for k, v in live.items()}}, headers=NO_STORE)


@router.post("/tasks/{task_id}/submissions")
def submit(
    task_id: int,
    body: SubmissionIn,
    user: User = Depends(_staff),
    session: Session = Depends(get_session, scope="function"),
    x_device_id: str | None = Header(default=None),
) -> Response:
    device = _device(session, user, x_device_id)
    result = service.submit(
        session=session,
        user=user,
        device=device,
        task_id=task_id,
        client_id=body.client_id,
        base_version=body.base_version,
        values=body.values,
        captured_at=body.captured_at,
    )
    return JSONResponse(
        _submission_dict(result.submission, result.created),
        status_code=201 if result.created else 200,
    )


@router.post("/purged")
def purged(
    body: PurgedIn,
    user: User = Depends(_staff),
    session: Session = Depends(get_session, scope="function"),
    x_device_id: str | None = Header(default=None),
) -> Response:
    device = _device(session, user, x_device_id)
    service.confirm_purge(
        session=session, user=user, device=device, task_id=body.task_id, reason=body.reason
    )
    return JSONResponse({"ok": True})


@router.get("/devices")
def list_devices(
    user: User = Depends(_manager), session: Session = Depends(get_session, scope="function")
) -> list[dict[str, Any]]:
    return [
        {
            "id": d.id,
            "device_id": d.device_id,
            "name": d.name,
            "user": u.display_name or u.username,
            "registered_at": d.registered_at.isoformat(),
            "last_seen": d.last_seen.isoformat() if d.last_seen else None,
            "revoked": d.revoked,
        }
        for d, u in service.list_devices(session=session)
    ]


@router.post("/devices/{device_pk}/revoke")
def revoke_device(
    device_pk: int,
    user: User = Depends(_manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    device = service.revoke_device(session=session, device_pk=device_pk, manager=user)
    return {"id": device.id, "revoked": device.revoked}
