"""The administrator's JSON API of notifications (``/api/v1/notifications``): the log with
its filters, one message with its events, and putting a dead-lettered message back in the
queue. Recipients are masked in every answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.idempotency import Idempotency, idempotency
from govloop.core.models import User
from govloop.notify import service

router = APIRouter(
    prefix="/api/v1/notifications", tags=["notify"], dependencies=[Depends(csrf_protect)]
)
admin = require(Permission.CONFIG_MANAGE)


@router.get("", dependencies=[Depends(admin)])
def list_notifications(
    status: str | None = Query(default=None, max_length=16),
    channel: str | None = Query(default=None, max_length=16),
    template: str | None = Query(default=None, max_length=64),
    case_type: str | None = Query(default=None, max_length=32),
    case_id: int | None = Query(default=None, ge=1),
    page: int = Query(default=1, ge=1, le=100_000),
    per_page: int = Query(default=50, ge=1, le=service.MAX_PER_PAGE),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """Newest first. ``counts`` has every status over the whole outbox (not filtered);
    ``simulated`` says, per channel, whether its gateway is the simulated one."""
    filters = service.Filters(status, channel, template, case_type, case_id)
    rows, total = service.list_messages(
        session=session, filters=filters, offset=(page - 1) * per_page, limit=per_page
    )
    return {
        "total": total,
        "page": page,
        "per_page": per_page,
        "items": [r.to_dict() for r in rows],
        "counts": service.counts_by_status(session=session),
        "simulated": service.gateways(),
    }


@router.get("/{notification_id}", dependencies=[Depends(admin)])
def get_notification(
    notification_id: int,
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    message, events = service.get_message(session=session, notification_id=notification_id)
    out = message.to_dict()
    out["events"] = [{"kind": e.kind, "at": e.at, "detail": e.detail} for e in events]
    return out


@router.post("/{notification_id}/retry")
def retry_notification(
    notification_id: int,
    user: User = Depends(admin),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """A dead-lettered message back in the queue (after the cause was fixed); any other
    status is refused (422 ``not_dead``)."""
    idem.claim(session)
    view = service.retry(session=session, notification_id=notification_id, actor=user)
    return idem.remember(session, view.to_dict())
