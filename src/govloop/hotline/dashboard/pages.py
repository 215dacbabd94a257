"""The hotline dashboard page (``/hotline/dashboard``): KPI tiles, charts of the volumes
and of on-time closing per unit, the department ranking and the overdue list.

The route is thin: read the period, authorize (hotline agents and department handlers),
call :func:`govloop.hotline.dashboard.service.for_viewer`, render. A bad period raises a
GovloopError, shown as the friendly error page; a department's own row is highlighted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.clock import local_today
from govloop.core.db import get_readonly_session
from govloop.core.deps import csrf_protect
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.hotline.dashboard import service as dashboard
from govloop.web.kit import staff_page
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

LABELS: dict[str, dict[str, str]] = {
    "channel": {
        "phone": N_("Phone"),
        "web": N_("Web form"),
        "h5": N_("Mobile H5"),
        "email": N_("Email"),
        "open311": N_("Open311"),
        "sms": N_("SMS"),
    },
    "type": {
        "enquiry": N_("Enquiry"),
        "help": N_("Request for help"),
        "complaint": N_("Complaint"),
        "report": N_("Report"),
        "suggestion": N_("Suggestion"),
        "praise": N_("Praise"),
    },
}
QUICK_RANGES = ((7, N_("Last 7 days")), (30, N_("Last 30 days")), (90, N_("Last 90 days")))
TOP_CATEGORIES = 15


def _quick_ranges() -> list[tuple[str, str, str]]:
    """(label, from, to) of the quick links: the last 7, 30 and 90 days."""
    today = local_today()
    return [
        (label, (today - timedelta(days=n - 1)).isoformat(), today.isoformat())
        for n, label in QUICK_RANGES
    ]


dashboard_page = staff_page(Permission.HOTLINE_HANDLE)


def _label(group: str, value: str) -> str:
    known = LABELS[group].get(value)
    return _(known) if known else value


def chart_data(figures: dashboard.Dashboard) -> dict[str, Any]:
    """What hotline_dashboard.js draws, with the names already translated."""
    by_day = figures.as_dict()["by_day"]
    ranked = sorted(
        (r for r in figures.departments if r.on_time_rate is not None),
        key=lambda r: (-(r.on_time_rate or 0.0), r.code),
    )
    return {
        "days": [d[5:] for d in by_day["days"]],
        "channels": [
            {"name": _label("channel", channel), "data": counts}
            for channel, counts in by_day["channels"].items()
        ],
        "categories": [
            {"name": name or _("Uncategorised"), "value": n}
            for _code, name, n in figures.by_category[:TOP_CATEGORIES]
        ],
        "departments": [
            {"name": r.name, "value": r.on_time_rate, "closed": r.closed} for r in ranked
        ],
        "names": {
            "orders": _("Orders"),
            "on_time_rate": _("On-time closing rate"),
            "closed": _("Orders closed"),
        },
    }


@router.get("/hotline/dashboard", response_class=HTMLResponse)
def hotline_dashboard(
    request: Request,
    start: str | None = Query(None, alias="from", max_length=32),
    end: str | None = Query(None, alias="to", max_length=32),
    user: User = Depends(dashboard_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    figures, own = dashboard.for_viewer(session=session, viewer=user, start=start, end=end)
    total = figures.kpis.orders
    return render(
        request,
        "hotline/dashboard/index.html",
        {
            "d": figures,
            "own_department_id": own,
            "labels": LABELS,
            "shares": {
                "channel": [
                    (_label("channel", k), n, n / total) for k, n in figures.by_channel.items()
                ],
                "type": [(_label("type", k), n, n / total) for k, n in figures.by_type.items()],
            },
            "quick_ranges": _quick_ranges(),
            "weights": {k: f"{v:.0%}" for k, v in dashboard.SCORE_WEIGHTS.items()},
            "chart": chart_data(figures),
        },
    )
