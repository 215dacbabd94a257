"""JSON API of the insight domain (``/api/v1/halls/{code}/…``): demand heatmaps, period
comparison and the anomalies found in the indicator series, with their drill-down.

The query helpers here (dates, period, item / window scope, anomaly status) are shared with
the insight pages, so a bad query is refused with the same words on both surfaces: JSON
here, the friendly page there. Bad input never reaches the analysis.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.errors import BadRequest, NotFound
from govloop.core.i18n import gettext_ as _
from govloop.core.input_guard import digits_int
from govloop.core.models import User
from govloop.hall import service as hall_service
from govloop.indicators.service import framework_in_force
from govloop.insight import service, watch
from govloop.insight.models import AnomalyStatus
from govloop.insight.service import MAX_RANGE_DAYS, Scope
from govloop.org import service as org_service
from govloop.org.models import Hall

router = APIRouter(prefix="/api/v1/halls", tags=["insight"], dependencies=[Depends(csrf_protect)])
viewer = require(Permission.HALL_VIEW)
manager = require(Permission.HALL_MANAGE)

COMPARE_DAYS = 28  # the default comparison: the last four weeks against the four before


# --- query helpers (shared with the pages) -------------------------------------------------


def parse_day(value: str | None, default: date) -> date:
    if value is None or not value.strip():
        return default
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(_("Please enter dates as YYYY-MM-DD"), code="bad_date") from None


def parse_period(
    start: str | None, end: str | None, default: tuple[date, date]
) -> tuple[date, date]:
    first = parse_day(start, default[0])
    last = parse_day(end, default[1])
    if last < first:
        raise BadRequest(_("The end date is before the start date"), code="bad_range")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise BadRequest(f"查询期间最长 {MAX_RANGE_DAYS} 天，请缩短日期范围", code="range_too_long")
    return first, last


def default_comparison(today: date | None = None) -> tuple[tuple[date, date], tuple[date, date]]:
    """(a, b): the four weeks before the last four weeks, and the last four weeks."""
    b = service.default_range(today, days=COMPARE_DAYS)
    a_end = b[0] - timedelta(days=1)
    return (a_end - timedelta(days=COMPARE_DAYS - 1), a_end), b


def parse_window(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    number = digits_int(value) or 0
    if number <= 0:
        raise BadRequest(_("Window number must be a positive number"), code="bad_window")
    return number


def parse_scope(*, session: Session, hall: Hall, item: str | None, window: str | None) -> Scope:
    """The item / window an analysis is narrowed to, checked against the hall's layout."""
    item_code = (item or "").strip() or None
    window_number = parse_window(window)
    if item_code is None and window_number is None:
        return Scope()
    layout = service.layout_of(session=session, hall=hall)
    if item_code and not any(i.code == item_code for i in layout.items.values()):
        raise NotFound(f"本大厅不办理该事项：{item_code}", code="item_not_found")
    if window_number is not None and not any(w.number == window_number for w in layout.windows):
        raise NotFound(f"未找到 {window_number} 号窗口", code="window_not_found")
    return Scope(item_code=item_code, window_number=window_number)


def check_status(status: str | None) -> str | None:
    status = (status or "").strip() or None
    if status is not None and status not in {s.value for s in AnomalyStatus}:
        raise BadRequest(f"未知的异常状态：{status}", code="bad_status")
    return status


def indicator_names(session: Session) -> dict[str, dict[str, str]]:
    """Indicator code → {"zh": …, "en": …} from the framework in force, with arrivals."""
    _version, framework = framework_in_force(session=session)
    names = {
        code: {"zh": node.spec.name.zh, "en": node.spec.name.en}
        for code, node in framework.nodes.items()
        if node.spec is not None
    }
    names[watch.ARRIVALS] = {"zh": "到达量", "en": "Arrivals"}
    return names


def indicator_units(session: Session) -> dict[str, str]:
    _version, framework = framework_in_force(session=session)
    units = {
        code: node.spec.unit or ""
        for code, node in framework.nodes.items()
        if node.spec is not None
    }
    units[watch.ARRIVALS] = ""
    return units


def object_names(
    *, session: Session, hall: Hall, keys: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """What anomalies were found in, by (object kind, id): the hall or a department."""
    departments = hall_service.display_names(
        session=session, kind="department", ids={i for kind, i in keys if kind == "department"}
    )
    names = {("department", i): name for i, name in departments.items()}
    names[("hall", hall.id)] = hall.name
    return names


def explained(*, session: Session, hall_code: str, anomaly_id: int) -> dict[str, Any]:
    """The anomaly with its drill-down; a missing anomaly is a 404 in plain words."""
    org_service.get_hall(session=session, code=hall_code)
    try:
        return watch.explain_anomaly(session=session, hall_code=hall_code, anomaly_id=anomaly_id)
    except NotFound:
        raise NotFound(f"未找到异常记录：{anomaly_id}", code="anomaly_not_found") from None


# --- routes --------------------------------------------------------------------------------


@router.get("/{hall_code}/demand")
def demand(
    hall_code: str,
    start: str = Query("", max_length=10, description="First service day (YYYY-MM-DD)"),
    end: str = Query("", max_length=10, description="Last service day (default yesterday)"),
    item: str = Query("", max_length=32, description="Narrow to one service item (code)"),
    window: str = Query("", max_length=8, description="Narrow to one window (number)"),
    _user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """Arrivals by weekday × 30-minute slot (mean per open day), peaks, calendar patterns
    (month end, before and after holidays) and arrivals per day."""
    hall = org_service.get_hall(session=session, code=hall_code)
    first, last = parse_period(start, end, service.default_range())
    scope = parse_scope(session=session, hall=hall, item=item, window=window)
    return service.demand_report(
        session=session, hall_code=hall.code, start=first, end=last, scope=scope
    )


@router.get("/{hall_code}/demand/compare")
def demand_compare(
    hall_code: str,
    a_start: str = Query("", max_length=10),
    a_end: str = Query("", max_length=10),
    b_start: str = Query("", max_length=10),
    b_end: str = Query("", max_length=10),
    item: str = Query("", max_length=32),
    window: str = Query("", max_length=8),
    _user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """Two periods side by side (default: the last four weeks, b, against the four weeks
    before, a) and their difference b − a per weekday × slot."""
    hall = org_service.get_hall(session=session, code=hall_code)
    default_a, default_b = default_comparison()
    a = parse_period(a_start, a_end, default_a)
    b = parse_period(b_start, b_end, default_b)
    scope = parse_scope(session=session, hall=hall, item=item, window=window)
    return service.compare_report(session=session, hall_code=hall.code, a=a, b=b, scope=scope)


@router.get("/{hall_code}/anomalies")
def anomalies(
    hall_code: str,
    status: str = Query("", max_length=16, description="open, reasonable or unreasonable"),
    worse_only: bool = Query(False, description="Only anomalies against the good direction"),
    _user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    hall = org_service.get_hall(session=session, code=hall_code)
    found = watch.list_anomalies(
        session=session, hall_code=hall.code, status=check_status(status), worse_only=worse_only
    )
    names = indicator_names(session)
    objects = object_names(
        session=session, hall=hall, keys=[(a.object_kind, a.object_id) for a in found]
    )
    return {
        "hall": {"code": hall.code, "name": hall.name},
        "anomalies": [
            {
                **watch.anomaly_out(a),
                "indicator_name": names.get(a.indicator_code),
                "object_name": objects.get((a.object_kind, a.object_id)),
            }
            for a in found
        ],
    }


# ":int": "/anomalies/scan" is another resource (POST only), not an anomaly
@router.get("/{hall_code}/anomalies/{anomaly_id:int}")
def anomaly(
    hall_code: str,
    anomaly_id: int,
    _user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """The anomaly and the items, windows, staff and slots that contributed most to it."""
    result = explained(session=session, hall_code=hall_code, anomaly_id=anomaly_id)
    anomaly = result["anomaly"]
    anomaly["indicator_name"] = indicator_names(session).get(anomaly["indicator"])
    key = (anomaly["object_kind"], anomaly["object_id"])
    hall = org_service.get_hall(session=session, code=hall_code)
    anomaly["object_name"] = object_names(session=session, hall=hall, keys=[key]).get(key)
    return result


@router.post("/{hall_code}/anomalies/scan")
def scan(
    hall_code: str,
    _user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """Test every indicator series of the hall and store the anomalies not stored yet."""
    report = watch.scan(session=session, hall_code=hall_code)
    return asdict(report)
