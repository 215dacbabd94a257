"""The administrator's 短信/通知记录 page: every message with its status in words, the
dead-letter list with a retry button, and whether the gateways are real or simulated."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import GovloopError
from govloop.core.i18n import N_
from govloop.core.models import User
from govloop.notify import labels, service
from govloop.notify.models import ChannelName, NotificationStatus
from govloop.web.kit import Pagination, page_renderer, refuse, staff_page

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
admin_page = staff_page(Permission.CONFIG_MANAGE)
PER_PAGE = 50

LABELS: dict[str, dict[str, str]] = {
    "status": labels.STATUS_LABELS,
    "reason": labels.REASON_LABELS,
    "channel": labels.CHANNEL_LABELS,
    "audience": labels.AUDIENCE_LABELS,
    "template": labels.TEMPLATE_LABELS,
}
NOTICES = {"retried": N_("The message is queued again and will be sent in the next round.")}


def _notice(request: Request) -> dict[str, Any]:
    done = request.query_params.get("done", "")
    return {"notice": NOTICES.get(done)}


page = page_renderer({"labels": LABELS}, _notice)


def _show_log(
    request: Request,
    session: Session,
    *,
    status: str = "",
    channel: str = "",
    template: str = "",
    page_no: int = 1,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    # unknown filter values are dropped (a hand-edited link shows everything, not an error)
    filters = service.Filters(
        status=status if status in set(NotificationStatus) else None,
        channel=channel if channel in set(ChannelName) else None,
        template=template if template in labels.TEMPLATE_LABELS else None,
    )
    shown = Pagination(page=page_no, per_page=PER_PAGE)
    rows, total = service.list_messages(
        session=session, filters=filters, offset=shown.offset, limit=shown.per_page
    )
    return page(
        request,
        "notify/log.html",
        status_code=status_code,
        rows=rows,
        total=total,
        page=page_no,
        pages=shown.pages(total),
        dead=service.dead_letters(session=session, limit=50),
        counts=service.counts_by_status(session=session),
        simulated=service.gateways(),
        filters={
            "status": filters.status or "",
            "channel": filters.channel or "",
            "template": filters.template or "",
        },
        statuses=[s.value for s in NotificationStatus],
        channels=[c.value for c in ChannelName],
        templates=sorted(labels.TEMPLATE_LABELS),
        error=error,
    )


@router.get("/notify/log", response_class=HTMLResponse)
def log_page(
    request: Request,
    status: str = Query("", max_length=16),
    channel: str = Query("", max_length=16),
    template: str = Query("", max_length=64),
    page: int = Query(1, ge=1, le=100_000),
    user: User = Depends(admin_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    return _show_log(
        request, session, status=status, channel=channel, template=template, page_no=page
    )


@router.post("/notify/log/{notification_id}/retry")
def retry_form(
    notification_id: int,
    request: Request,
    user: User = Depends(admin_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    try:
        service.retry(session=session, notification_id=notification_id, actor=user)
    except GovloopError as exc:
        return refuse(
            session,
            exc,
            lambda **kw: _show_log(request, session, status="dead", **kw),
        )
    return RedirectResponse("/notify/log?status=dead&done=retried", status_code=303)
