"""Recommendations (建议): the page for managers and its JSON twin."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session
from govloop.core.deps import csrf_protect, require
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.hall.models import ServiceItem
from govloop.insight import recommend
from govloop.web.kit import staff_page
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api_router = APIRouter(
    prefix="/api/v1/halls", tags=["insight"], dependencies=[Depends(csrf_protect)]
)
viewer_page = staff_page(Permission.HALL_VIEW)
viewer = require(Permission.HALL_VIEW)

ACTION_KINDS = {
    "open_windows": "open_windows",
    "self_service": "self_service",
    "best_time": "best_time",
    "appointment_quota": "appointment_quota",
    "cross_train": "cross_train",
}


HALVES = {"am": N_("morning"), "pm": N_("afternoon")}


def adopt_title(rec: dict[str, Any], names: dict[str, str]) -> str:
    """The action's title in the viewer's language (the recommendation's own ``title`` is the
    API's English summary); items by name."""
    items = "、".join(names.get(c, c) for c in rec.get("items", []))
    kind = rec["kind"]
    if kind == "open_windows":
        half = _(HALVES.get(str(rec.get("half")), N_("peak")))
        return _("Open %(n)s more windows in the %(half)s peak") % {
            "n": rec.get("windows"),
            "half": half,
        }
    if kind == "self_service":
        return _("Move some citizens of %(items)s to self-service terminals") % {"items": items}
    if kind == "best_time":
        return _("Publish the best times to come")
    if kind == "appointment_quota":
        return _("Appointment quotas in the quiet periods")
    if kind == "cross_train":
        window = "、".join(rec.get("windows", []))
        return _("Train the staff of window %(window)s for %(items)s") % {
            "window": window,
            "items": items,
        }
    return str(rec["title"])


def adopt_link(hall_code: str, rec: dict[str, Any], names: dict[str, str]) -> str:
    """The loop page's action form, prefilled from a recommendation."""
    query = {
        "kind": ACTION_KINDS.get(rec["kind"], "other"),
        "title": adopt_title(rec, names),
        "items": ",".join(rec.get("items", [])),
        "slots": ",".join(rec.get("slots", [])),
        "indicators": ",".join(rec.get("indicators", [])),
    }
    # the figures the action can later be carried out with in the configuration
    if rec["kind"] == "open_windows":
        query["extra_windows"] = str(rec.get("windows", ""))
    if rec["kind"] == "appointment_quota":
        query["quota"] = str(rec.get("quota_per_period", ""))
        query["periods"] = ",".join(rec.get("quiet_periods", []))
    return f"/insight/{hall_code}/loop?{urlencode(query)}#new-action"


@router.get("/insight/{hall_code}/recommendations", response_class=HTMLResponse)
def recommendations_page(
    request: Request,
    hall_code: str,
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    result = recommend.recommendations(session=session, hall_code=hall_code)
    names = dict(session.execute(select(ServiceItem.code, ServiceItem.name)).tuples().all())
    for rec in result["items"]:
        rec["adopt"] = adopt_link(hall_code, rec, names)
    return render(request, "insight/recommendations.html", {"result": result})


@api_router.get("/{hall_code}/recommendations")
def recommendations_api(
    hall_code: str,
    user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    return recommend.recommendations(session=session, hall_code=hall_code)
