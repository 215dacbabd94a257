"""Rating pads are paired devices: only a registered pad of the hall shows and takes ratings.

A pad faces the citizen and shows the rating form of the visit just finished at its window;
anyone who could open that page could rate another person's visit. So the pad's browser is
paired once — a manager enters the pad's device code and key (from ``govloop devices
issue-key``) — and keeps, in its signed session cookie, the device code and a fingerprint of
the key. A new key or a revoked device unpairs it at once.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from govloop.core.access_rules import DEVICE_KEY, declares
from govloop.core.db import get_readonly_session
from govloop.core.errors import NotFound
from govloop.ingest.devices import service as devices
from govloop.ingest.models import Device, DeviceKind
from govloop.org import service as org_service

SESSION_KEY = "rating_pad"


@declares(DEVICE_KEY)
def paired_pad(
    request: Request,
    hall_code: str,
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Device | None:
    """The pad this browser was paired as, or None (the route then shows the pairing form)."""
    stored: Any = request.session.get(SESSION_KEY)
    if not isinstance(stored, dict):
        return None
    try:
        hall = org_service.get_hall(session=session, code=hall_code)
    except NotFound:
        return None
    device = devices.paired_device(
        session=session,
        code=str(stored.get("code", "")),
        fingerprint=str(stored.get("key", "")),
        kind=DeviceKind.RATING_PAD,
        hall_id=hall.id,
    )
    if device is None:
        request.session.pop(SESSION_KEY, None)
    return device


@declares(DEVICE_KEY)
def pairing_form() -> None:
    """Declares the pairing route: its caller proves to be the pad by the device code and key
    in its form, which :func:`pair` checks."""


def pair(*, request: Request, session: Session, hall_id: int, code: str, key: str) -> Device:
    """Pair this browser as the pad ``code``; refused with the same words for any mismatch."""
    device, fingerprint = devices.pair_device(
        session=session,
        code=code.strip(),
        key=key.strip(),
        kind=DeviceKind.RATING_PAD,
        hall_id=hall_id,
    )
    request.session[SESSION_KEY] = {"code": device.code, "key": fingerprint}
    return device
