"""Pages of the device registry: devices per hall with their state and uptime, a chart of
the fleet's daily uptime over 30 days, revoke, and one device's event timeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import GovloopError
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.ingest.devices import service
from govloop.org import service as org_service
from govloop.web.kit import page_renderer, refuse, staff_page

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

KIND_LABELS = {
    "ticket_machine": N_("Ticket machine"),
    "rating_pad": N_("Rating pad"),
    "self_service": N_("Self-service terminal"),
    "display": N_("Display"),
}
EVENT_LABELS = {
    "registered": N_("Registered"),
    "online": N_("Online"),
    "offline": N_("Offline"),
    "fault": N_("Fault"),
    "revoked": N_("Revoked"),
}


viewer_page = staff_page(Permission.HALL_VIEW)


manager_page = staff_page(Permission.HALL_MANAGE)


# what a device event's detail says, in words (keys written by the device registry)
DETAIL_LABELS = {
    "heartbeat_seconds": N_("Heartbeat interval (seconds)"),
    "reason": N_("Reason"),
    "actor": N_("Done by"),
    "message": N_("Message"),
    "via": N_("Seen through"),
    "detected_at": N_("Detected at"),
}
DETAIL_VALUES = {
    "heartbeat_timeout": N_("No heartbeat in time"),
    "heartbeat": N_("Heartbeat"),
    "ticket_issued": N_("Ticket issued"),
    "rating_submitted": N_("Rating submitted"),
    "usage": N_("Self-service use"),
    "fault": N_("Fault"),
    "online": N_("Online"),
}


def detail_lines(detail: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) of each entry of an event's detail; unknown keys are kept as sent."""
    lines = []
    for key, value in (detail or {}).items():
        if isinstance(value, dict):  # what the device itself sent, kept whole
            lines += detail_lines(value)
            continue
        label = _(DETAIL_LABELS[key]) if key in DETAIL_LABELS else key
        shown = (
            _(DETAIL_VALUES[value]) if isinstance(value, str) and value in DETAIL_VALUES else value
        )
        if key == "detected_at" and isinstance(value, str):
            shown = value[:19].replace("T", " ")
        lines.append((label, str(shown)))
    return lines


_page = page_renderer(
    {"kind_labels": KIND_LABELS, "event_labels": EVENT_LABELS, "detail_lines": detail_lines}
)


def _list(
    request: Request, session: Session, hall: str | None, status_code: int = 200, **shown: Any
) -> Response:
    hall_id = service.hall_id_for_code(session=session, code=hall) if hall else None
    view = service.overview(session=session, hall_id=hall_id)
    groups: dict[str, list[service.DeviceRow]] = {}
    for row in view.rows:
        groups.setdefault(row.hall_name or "", []).append(row)
    chart = {
        "days": [d.strftime("%m-%d") for d, _u, _e in view.daily],
        "uptime": [round(100 * u / e, 1) if e else None for _d, u, e in view.daily],
    }
    return _page(
        request,
        "devices/list.html",
        status_code=status_code,
        view=view,
        groups=groups,
        chart=chart,
        hall=hall,
        halls=org_service.halls(session),
        **shown,
    )


@router.get("/devices", response_class=HTMLResponse)
def devices_page(
    request: Request,
    hall: str | None = None,
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    return _list(request, session, hall)


@router.post("/devices", response_class=HTMLResponse)
def register_form(
    request: Request,
    code: str = Form(""),
    kind: str = Form(""),
    name: str = Form(""),
    hall_code: str = Form(""),
    heartbeat_seconds: int = Form(60),
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """Register a device from the console; its key is shown once, on this answer only."""
    form = {"code": code, "kind": kind, "name": name, "hall_code": hall_code}
    try:
        device, key = service.register_with_key(
            session=session,
            code=code,
            kind=kind,
            name=name,
            hall_code=hall_code or None,
            heartbeat_seconds=heartbeat_seconds,
        )
    except GovloopError as exc:
        return refuse(
            session, exc, lambda **shown: _list(request, session, None, form=form, **shown)
        )
    return _list(request, session, None, registered=device, key=key, status_code=201)


@router.get("/devices/{code}", response_class=HTMLResponse)
def device_page(
    request: Request,
    code: str,
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    device = service.get_device(session=session, code=code)
    view = service.overview(session=session, hall_id=device.hall_id)
    row = next(r for r in view.rows if r.device.id == device.id)
    events = service.device_events(session=session, device=device)
    return _page(request, "devices/detail.html", row=row, device=device, events=events)


@router.post("/devices/{code}/revoke")
def revoke_form(
    code: str,
    reason: str = Form(""),
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    device = service.revoke_device(session=session, code=code, reason=reason, actor=user.username)
    return RedirectResponse(f"/devices/{device.code}", status_code=303)
