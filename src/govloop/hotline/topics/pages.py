"""The managers' hot-topic page (``/hotline/topics``): the alerts of a day or of the last
week, newest first, each with its orders, top terms, count against the baseline and a
chart of the daily counts behind it; center staff acknowledge them.

Routes are thin: parse, authorize, call :mod:`govloop.hotline.topics.service`, render. A bad day
or an unknown alert raises a GovloopError, shown as the friendly error page (or, for an
HTMX request, as a toast); the unit of work rolls back, so nothing is written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.clock import local_today
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.hotline.models import TopicAlert
from govloop.hotline.orders import journal
from govloop.hotline.topics import queries as topics_queries
from govloop.hotline.topics import service as topics
from govloop.org import service as org_service
from govloop.web.kit import staff_page
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

RECENT_DAYS = 7  # the page says "Last 7 days"
ORDERS_SHOWN = 20
KINDS = {
    "cluster": N_("Cluster of similar orders"),
    "surge_category": N_("Category surge"),
    "surge_district": N_("District surge"),
}


topics_page = staff_page(Permission.HOTLINE_HANDLE)


def p_text(p: float | None) -> str:
    if p is None:
        return "–"
    return "< 0.0001" if p < 0.0001 else f"{p:.4f}"


def alert_card(
    session: Session, alert: TopicAlert, viewer: User, names: dict[int, str]
) -> dict[str, Any]:
    """What the page shows of one alert; only the orders the viewer may open."""
    orders = topics_queries.alert_orders(
        session=session, alert=alert, viewer=viewer, limit=ORDERS_SHOWN
    )
    visible = len(topics_queries.visible_order_ids(session, viewer, alert.order_ids))
    scope, series = topics_queries.daily_counts(session=session, alert=alert)
    ratio = alert.count / alert.baseline if alert.baseline else None
    return {
        "alert": alert,
        "kind": _(KINDS.get(alert.kind, alert.kind)),
        "orders": orders,
        "hidden": max(visible - len(orders), 0),
        "not_visible": len(alert.order_ids) - visible,
        "ratio": f"×{ratio:.1f}" if ratio else None,
        "p_text": p_text(alert.p_value),
        "acknowledged_by": names.get(alert.acknowledged_by or 0),
        "chart": {
            "scope": scope or _("All orders"),
            "days": [d.strftime("%m-%d") for d, _n in series],
            "counts": [n for _d, n in series],
            "baseline": alert.baseline if alert.kind != "cluster" else None,
            "names": {"orders": _("Orders"), "baseline": _("Baseline")},
        },
    }


def _cards(session: Session, alerts: list[TopicAlert], viewer: User) -> list[dict[str, Any]]:
    names = org_service.user_names(session=session, ids=[a.acknowledged_by for a in alerts])
    return [alert_card(session, a, viewer, names) for a in alerts]


@router.get("/hotline/topics", response_class=HTMLResponse)
def topics_index(
    request: Request,
    day: str = Query("", max_length=20),
    unacknowledged: bool = Query(False),
    scanned: int | None = Query(None, ge=0),
    user: User = Depends(topics_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    chosen = topics_queries.parse_day(day)
    if chosen is None:
        alerts = topics.recent_alerts(
            session=session, days=RECENT_DAYS, unacknowledged_only=unacknowledged
        )
    else:
        alerts = topics.alerts_for_day(
            session=session, day=chosen, unacknowledged_only=unacknowledged
        )
    today = local_today()
    return render(
        request,
        "hotline/topics/index.html",
        {
            "cards": _cards(session, alerts, user),
            "day": chosen,
            "today": today,
            "previous_day": (chosen or today) - timedelta(days=1),
            "next_day": chosen + timedelta(days=1) if chosen and chosen < today else None,
            "unacknowledged": unacknowledged,
            "center": journal.is_center(user),
            "scanned": scanned,
        },
    )


@router.post("/hotline/topics/scan")
def topics_scan(
    day: str = Form("", max_length=20),
    user: User = Depends(topics_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """Scan a day now (center staff): for a day the timed job has not seen."""
    journal.require_center(user)
    chosen = topics_queries.parse_day(day) or local_today()
    result = topics.scan_day(session=session, day=chosen)
    return RedirectResponse(
        f"/hotline/topics?day={chosen.isoformat()}&scanned={len(result.alerts)}", status_code=303
    )


@router.post("/hotline/topics/{alert_id}/acknowledge", response_class=HTMLResponse)
def topics_acknowledge(
    request: Request,
    alert_id: int,
    user: User = Depends(topics_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    alert = topics.acknowledge(session=session, alert_id=alert_id, actor=user)
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(
            f"/hotline/topics?day={alert.day.isoformat()}#alert-{alert.id}", status_code=303
        )
    return render(
        request,
        "hotline/topics/_alert.html",
        {"card": _cards(session, [alert], user)[0], "center": journal.is_center(user)},
    )
