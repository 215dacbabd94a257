"""JSON routes of the device registry.

Reading needs HALL_VIEW; registering, issuing a device key and revoking need HALL_MANAGE
(hall manager or admin). Registering answers the new device's key once; ``POST
/api/devices/{code}/key`` issues a new one (the old one stops working).

``POST /api/devices/{code}/heartbeat`` is for devices that cannot speak MQTT. It needs the
device's key in ``X-Device-Key``, checked before the body is read: an unknown device, one
without a key and a wrong key get the same 401, a revoked device 403, with nothing stored.
An accepted message (at most 64 KB, refused with 413 while it streams in) goes through the
same pipeline (source ``http-devices``), so it is validated, deduplicated by event id and
kept with lineage, and a bad one lands in the dead letters.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govloop.core.access_rules import DEVICE_KEY, declares
from govloop.core.auth import Permission
from govloop.core.bodies import LimitedRoute, body_limit
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.models import User
from govloop.ingest.devices import service
from govloop.ingest.devices.mqtt import TOPIC_PREFIX, Message, ensure_source, ingest_messages
from govloop.ingest.models import Device, DeviceEvent
from govloop.ingest.pipeline import finish_run, start_run

router = APIRouter(
    prefix="/api/devices",
    tags=["devices"],
    dependencies=[Depends(csrf_protect)],
    route_class=LimitedRoute,
)
viewer = require(Permission.HALL_VIEW)
manager = require(Permission.HALL_MANAGE)
HTTP_SOURCE = "http-devices"
MAX_MESSAGE = 64 * 1024


class DeviceIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    kind: str
    name: str = Field(min_length=1, max_length=200)
    hall_code: str | None = None
    heartbeat_seconds: int = 60


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


def _device(d: Device, **extra: Any) -> dict[str, Any]:
    return {
        "code": d.code,
        "kind": d.kind,
        "name": d.name,
        "hall_id": d.hall_id,
        "heartbeat_seconds": d.heartbeat_seconds,
        "online": d.online,
        "last_seen_at": d.last_seen_at.isoformat() if d.last_seen_at else None,
        "registered_at": d.registered_at.isoformat(),
        "revoked": d.revoked,
        **extra,
    }


def _event(e: DeviceEvent) -> dict[str, Any]:
    return {"kind": e.kind, "at": e.at.isoformat(), "detail": e.detail}


def _ratio(day: service.DeviceDay | None) -> float | None:
    return day.uptime if day is not None else None


@router.get("")
def list_devices(
    hall: str | None = None,
    user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    hall_id = service.hall_id_for_code(session=session, code=hall) if hall else None
    view = service.overview(session=session, hall_id=hall_id)
    return {
        "devices": [
            _device(
                r.device,
                hall_name=r.hall_name,
                uptime_today=_ratio(r.today),
                uptime_30d=_ratio(r.month),
            )
            for r in view.rows
        ],
        "online": view.online,
        "offline": view.offline,
        "revoked": view.revoked,
    }


@router.post("", status_code=201)
def register(
    body: DeviceIn,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    device, key = service.register_with_key(
        session=session,
        code=body.code,
        kind=body.kind,
        name=body.name,
        hall_code=body.hall_code,
        heartbeat_seconds=body.heartbeat_seconds,
    )
    return _device(device, key=key)


@router.get("/{code}")
def detail(
    code: str,
    user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    device = service.get_device(session=session, code=code)
    return _device(
        device, events=[_event(e) for e in service.device_events(session=session, device=device)]
    )


@router.post("/{code}/revoke")
def revoke(
    code: str,
    body: RevokeIn,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    device = service.revoke_device(
        session=session, code=code, reason=body.reason, actor=user.username
    )
    return _device(device)


@router.post("/{code}/key")
def issue_key(
    code: str,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """A new key for the device (shown once); the old one stops working."""
    device = service.get_device(session=session, code=code)
    return {"code": device.code, "key": service.issue_device_key(session=session, device=device)}


@declares(DEVICE_KEY)
def _check_device(
    code: str,
    x_device_key: str | None = Header(default=None),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> None:
    """The device's key, checked from the headers alone before the body is read."""
    service.authenticate_device(session=session, code=code, key=x_device_key)


async def _message(request: Request, _checked: None = Depends(_check_device)) -> bytes:
    return await request.body()  # the route's body limit applies while it streams in


class HeartbeatOut(BaseModel):
    stored: int
    duplicates: int
    rejected: int
    run_id: int


# A rejected message answers 422 with the counts; a refused request, the error body.
HEARTBEAT_REJECTED = {
    "description": "消息被拒收（已存为死信），或请求参数不正确",
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [
                    HeartbeatOut.model_json_schema(),
                    {"$ref": "#/components/schemas/ErrorBody"},
                ]
            }
        }
    },
}


@router.post("/{code}/heartbeat", response_model=HeartbeatOut, responses={422: HEARTBEAT_REJECTED})
@body_limit(lambda: MAX_MESSAGE)
def heartbeat(
    code: str,
    body: bytes = Depends(_message),
    session: Session = Depends(get_session, scope="function"),
) -> JSONResponse:
    """A device message over HTTP (same payload as on MQTT), from a device with its key."""
    source = ensure_source(session=session, key=HTTP_SOURCE)
    run = start_run(session=session, source=source, channel="http")
    message = Message(f"{TOPIC_PREFIX}/devices/{code}/heartbeat", body)
    counts = ingest_messages(session=session, source=source, run=run, messages=[message])
    finish_run(session=session, run=run)
    content = {
        "stored": counts.stored,
        "duplicates": counts.duplicates,
        "rejected": counts.rejected,
        "run_id": run.id,
    }
    # a rejected message is kept as a dead letter (committed), and the device is told why
    return JSONResponse(status_code=422 if counts.rejected else 200, content=content)
