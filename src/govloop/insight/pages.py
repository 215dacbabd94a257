"""Server-rendered pages of the insight domain (理解分析): the hub of a hall's loop, the
demand heatmap with peaks and calendar patterns, the comparison of two periods, and the
anomalies found in the indicator series with their drill-down.

Routes are thin: read the query (with the helpers shared with the JSON API), authorize
through a dependency, call the insight services, render. Bad input raises a GovloopError,
shown as the friendly page; nothing is analysed with it.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.i18n import N_, get_locale
from govloop.core.i18n import WEEKDAY_NAMES as WEEKDAYS
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.hall import overview
from govloop.insight import service, watch
from govloop.insight.api import (
    check_status,
    default_comparison,
    explained,
    indicator_names,
    indicator_units,
    object_names,
    parse_period,
    parse_scope,
)
from govloop.insight.models import AnomalyStatus
from govloop.org import service as org_service
from govloop.org.models import Hall
from govloop.web.kit import staff_page
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
viewer_page = staff_page(Permission.HALL_VIEW)
manager_page = staff_page(Permission.HALL_MANAGE)


LABELS: dict[str, dict[str, str]] = {
    "pattern": {
        "month_end": N_("Month end (last 3 working days)"),
        "pre_holiday": N_("Last working day before a holiday"),
        "post_holiday": N_("First working day after a holiday"),
    },
    "method": {"tail_test": N_("Tail test"), "change_point": N_("Change point")},
    "direction": {"spike": N_("Higher"), "dip": N_("Lower")},
    "status": {
        "open": N_("To be assessed"),
        "reasonable": N_("Reasonable"),
        "unreasonable": N_("Unreasonable, needs action"),
    },
    "dimension": {
        "item": N_("Service items"),
        "window": N_("Windows"),
        "staff": N_("Staff"),
        "slot": N_("Time slots"),
    },
    "series_kind": {"count": N_("Count"), "rate": N_("Rate"), "mean": N_("Mean")},
    "unit": {"min": N_("min"), "per_hour": N_("per hour")},
}
DIMENSIONS = ("item", "window", "staff", "slot")


def _hall_or_first(session: Session, hall: str) -> tuple[str, list[dict[str, object]]]:
    halls = overview.hall_directory(session=session)
    return hall or (str(halls[0]["code"]) if halls else ""), halls


def _layout_choices(session: Session, hall: Hall) -> dict[str, Any]:
    layout = service.layout_of(session=session, hall=hall)
    return {
        "items": sorted(layout.items.values(), key=lambda i: i.code),
        "windows": sorted((w for w in layout.windows if w.active), key=lambda w: w.number),
    }


def _weekday_names() -> list[str]:
    return [_(w) for w in WEEKDAYS]


def _page(request: Request, template: str, hall: Hall, section: str, **context: Any) -> Response:
    return render(
        request,
        template,
        {
            "hall": {"code": hall.code, "name": hall.name},
            "section": section,
            "labels": LABELS,
            "weekday_names": _weekday_names(),
            **context,
        },
    )


def _name_of(names: dict[str, dict[str, str]], code: str) -> str:
    name = names.get(code)
    if name is None:
        return code
    return name["en"] if get_locale() == "en" else name["zh"]


# --- the hub ----------------------------------------------------------------------------


@router.get("/insight", response_class=HTMLResponse)
def hub(
    request: Request,
    hall: str = Query("", max_length=32),
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall_code, halls = _hall_or_first(session, hall)
    the_hall = org_service.get_hall(session=session, code=hall_code)
    open_anomalies = watch.list_anomalies(
        session=session, hall_code=the_hall.code, status=AnomalyStatus.OPEN, worse_only=True
    )
    return _page(
        request,
        "insight/hub.html",
        the_hall,
        "hub",
        halls=halls,
        open_anomalies=len(open_anomalies),
    )


@router.get("/insight/{hall_code}", include_in_schema=False, dependencies=[Depends(viewer_page)])
def hub_of_hall(hall_code: str) -> Response:
    return RedirectResponse(f"/insight?{urlencode({'hall': hall_code})}", status_code=303)


# --- demand -----------------------------------------------------------------------------


@router.get("/insight/{hall_code}/demand", response_class=HTMLResponse)
def demand_page(
    request: Request,
    hall_code: str,
    start: str = Query("", max_length=10),
    end: str = Query("", max_length=10),
    item: str = Query("", max_length=32),
    window: str = Query("", max_length=8),
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = org_service.get_hall(session=session, code=hall_code)
    first, last = parse_period(start, end, service.default_range())
    scope = parse_scope(session=session, hall=hall, item=item, window=window)
    report = service.demand_report(
        session=session, hall_code=hall.code, start=first, end=last, scope=scope
    )
    daily = report["daily"]["arrivals"]
    return _page(
        request,
        "insight/demand.html",
        hall,
        "demand",
        report=report,
        filters={
            "start": first.isoformat(),
            "end": last.isoformat(),
            "item": scope.item_code or "",
            "window": scope.window_number or "",
        },
        mean_per_day=(sum(daily) / len(daily)) if daily else None,
        busiest_day=max(zip(daily, report["daily"]["days"], strict=True)) if daily else None,
        chart={
            "heatmap": report["heatmap"],
            "daily": report["daily"],
            "slot_shares": report["slot_shares"],
            "weekday_names": _weekday_names(),
            "names": {
                "arrivals": _("Arrivals"),
                "mean_arrivals": _("Mean arrivals per open day"),
                "share": _("Share of the day"),
            },
        },
        **_layout_choices(session, hall),
    )


def aligned_comparison(report: dict[str, Any]) -> dict[str, Any]:
    """Both periods on the same weekday rows; a weekday open in one period only (a 调休
    Saturday) has no row in the other and is left out of the difference, not counted as a
    drop to zero."""
    weekdays = report["weekdays"]

    def rows(grid: dict[str, Any]) -> list[list[float] | None]:
        values = dict(zip(grid["weekdays"], grid["values"], strict=True))
        return [values.get(w) if grid["open_days"].get(w) else None for w in weekdays]

    a_rows, b_rows = rows(report["a"]), rows(report["b"])
    both = [a is not None and b is not None for a, b in zip(a_rows, b_rows, strict=True)]
    return {
        "weekdays": weekdays,
        "a": a_rows,
        "b": b_rows,
        "difference": [
            row if ok else None for row, ok in zip(report["difference"], both, strict=True)
        ],
        "unmatched": [w for w, ok in zip(weekdays, both, strict=True) if not ok],
    }


def largest_changes(
    aligned: dict[str, Any], slots: list[str], top: int = 5
) -> dict[str, list[dict[str, Any]]]:
    """The weekday-slots whose mean arrivals rose or fell most from period A to B."""
    cells = [
        {"weekday": weekday, "slot": slots[col], "difference": value}
        for weekday, row in zip(aligned["weekdays"], aligned["difference"], strict=True)
        if row is not None
        for col, value in enumerate(row)
        if value
    ]
    cells.sort(key=lambda c: c["difference"])
    return {
        "up": [c for c in reversed(cells) if c["difference"] > 0][:top],
        "down": [c for c in cells if c["difference"] < 0][:top],
    }


@router.get("/insight/{hall_code}/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    hall_code: str,
    a_start: str = Query("", max_length=10),
    a_end: str = Query("", max_length=10),
    b_start: str = Query("", max_length=10),
    b_end: str = Query("", max_length=10),
    item: str = Query("", max_length=32),
    window: str = Query("", max_length=8),
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = org_service.get_hall(session=session, code=hall_code)
    default_a, default_b = default_comparison()
    a = parse_period(a_start, a_end, default_a)
    b = parse_period(b_start, b_end, default_b)
    scope = parse_scope(session=session, hall=hall, item=item, window=window)
    report = service.compare_report(session=session, hall_code=hall.code, a=a, b=b, scope=scope)
    aligned = aligned_comparison(report)
    return _page(
        request,
        "insight/compare.html",
        hall,
        "compare",
        report=report,
        changes=largest_changes(aligned, report["slots"]),
        unmatched=[_weekday_names()[w] for w in aligned["unmatched"]],
        filters={
            "a_start": a[0].isoformat(),
            "a_end": a[1].isoformat(),
            "b_start": b[0].isoformat(),
            "b_end": b[1].isoformat(),
            "item": scope.item_code or "",
            "window": scope.window_number or "",
        },
        chart={
            "slots": report["slots"],
            "weekdays": aligned["weekdays"],
            "a": aligned["a"],
            "b": aligned["b"],
            "difference": aligned["difference"],
            "weekday_names": _weekday_names(),
            "names": {
                "mean_arrivals": _("Mean arrivals per open day"),
                "difference": _("Difference (B − A)"),
            },
        },
        **_layout_choices(session, hall),
    )


# --- anomalies --------------------------------------------------------------------------


def _value_text(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    text = f"{value:.0f}" if unit == "" and float(value).is_integer() else f"{value:.2f}"
    label = LABELS["unit"].get(unit)
    return f"{text} {_(label)}" if label else text


CONTRIBUTION_AXIS = {
    "count": N_("Contribution (arrivals)"),
    "rate": N_("Contribution (percentage points)"),
    "mean": N_("Contribution"),
}
CONTRIBUTION_UNIT = {"count": N_("arrivals"), "rate": N_("percentage points"), "mean": ""}


def _plain(value: float | None, kind: str, signed: bool = False) -> str:
    """A contributor's figure: a count as a whole number when it is one, a rate in
    percent (its contribution in percentage points), a mean with one decimal."""
    if value is None or not math.isfinite(value):
        return "–"
    if kind == "rate":
        value *= 100
    sign = "+" if signed and round(value, 1) > 0 else ""
    if kind == "count" and abs(value - round(value)) < 0.05:
        return f"{sign}{round(value):.0f}"
    return f"{sign}{value:.1f}" + ("%" if kind == "rate" and not signed else "")


def contributor_row(c: dict[str, Any], kind: str, direction: int) -> dict[str, Any]:
    contribution = c.get("contribution")
    shown = (
        None
        if contribution is None or not math.isfinite(contribution)
        else round(contribution * (100 if kind == "rate" else 1), 3)
    )
    return {
        **c,
        "observed_text": _plain(c.get("observed"), kind),
        "expected_text": _plain(c.get("expected"), kind),
        "contribution_text": _plain(contribution, kind, signed=True),
        "contribution_value": shown,
        # pushing the way the anomaly went, by at least what the page shows (0.1)
        "along": shown is not None and shown * direction >= 0.05,
        "base_text": _plain(c.get("observed_base"), "count"),
        "excess_text": _plain(c.get("excess"), "count" if kind == "rate" else "mean", True),
    }


def _relative(observed: float | None, expected: float | None) -> float | None:
    if observed is None or not expected:
        return None
    return observed / expected - 1


def p_text(p: float | None) -> str:
    if p is None:
        return "–"
    return "< 0.0001" if p < 0.0001 else f"{p:.4f}"


@router.get("/insight/{hall_code}/anomalies", response_class=HTMLResponse)
def anomalies_page(
    request: Request,
    hall_code: str,
    status: str = Query("", max_length=16),
    worse: bool = Query(False),
    scanned: int | None = Query(None, ge=0),
    found: int | None = Query(None, ge=0),
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = org_service.get_hall(session=session, code=hall_code)
    chosen = check_status(status)
    rows = watch.list_anomalies(
        session=session, hall_code=hall.code, status=chosen, worse_only=worse
    )
    names = indicator_names(session)
    units = indicator_units(session)
    objects = object_names(
        session=session, hall=hall, keys=[(a.object_kind, a.object_id) for a in rows]
    )
    return _page(
        request,
        "insight/anomalies.html",
        hall,
        "anomalies",
        rows=[
            {
                **watch.anomaly_out(a),
                "name": _name_of(names, a.indicator_code),
                "weekday": _weekday_names()[a.day.weekday()],
                "object_name": (
                    _("Whole hall")
                    if a.object_kind == "hall"
                    else objects.get((a.object_kind, a.object_id), f"#{a.object_id}")
                ),
                "p_text": p_text(a.p_value),
                "observed_text": _value_text(a.observed, units.get(a.indicator_code, "")),
                "expected_text": _value_text(a.expected, units.get(a.indicator_code, "")),
            }
            for a in rows
        ],
        filters={"status": chosen or "", "worse": worse},
        statuses=[s.value for s in AnomalyStatus],
        scan_result={"new": scanned, "found": found} if scanned is not None else None,
    )


@router.post("/insight/{hall_code}/anomalies/scan")
def scan_anomalies(
    hall_code: str,
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    report = watch.scan(session=session, hall_code=hall_code)
    query = urlencode({"scanned": report.new, "found": report.found})
    return RedirectResponse(f"/insight/{report.hall_code}/anomalies?{query}", status_code=303)


@router.get("/insight/{hall_code}/anomalies/{anomaly_id}", response_class=HTMLResponse)
def anomaly_page(
    request: Request,
    hall_code: str,
    anomaly_id: int,
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = org_service.get_hall(session=session, code=hall_code)
    result = explained(session=session, hall_code=hall.code, anomaly_id=anomaly_id)
    anomaly = result["anomaly"]
    names = indicator_names(session)
    unit = indicator_units(session).get(anomaly["indicator"], "")
    observed, expected = anomaly["observed"], anomaly["expected"]
    kind = anomaly["series_kind"] if anomaly["series_kind"] in CONTRIBUTION_AXIS else "count"
    key = (anomaly["object_kind"], anomaly["object_id"])
    where = (
        _("Whole hall")
        if key[0] == "hall"
        else object_names(session=session, hall=hall, keys=[key]).get(key, f"#{key[1]}")
    )
    total = (observed or 0.0) - (expected or 0.0)
    direction = 1 if total > 0 else (-1 if total < 0 else 0)
    dimensions = {
        dim: [contributor_row(c, kind, direction) for c in result["dimensions"].get(dim, [])]
        for dim in DIMENSIONS
    }
    return _page(
        request,
        "insight/anomaly.html",
        hall,
        "anomalies",
        anomaly=anomaly,
        indicator_name=_name_of(names, anomaly["indicator"]),
        where=where,
        unit=unit,
        kind=kind,
        direction=direction,
        contribution_unit=CONTRIBUTION_UNIT[kind],
        observed_text=_value_text(observed, unit),
        expected_text=_value_text(expected, unit),
        relative_change=None if unit == "ratio" else _relative(observed, expected),
        change_points=(
            (observed - expected) * 100
            if unit == "ratio" and observed is not None and expected is not None
            else None
        ),
        p_text=p_text(anomaly["p_value"]),
        weekday=_weekday_names()[date.fromisoformat(anomaly["day"]).weekday()],
        baseline_days=result.get("baseline_days", []),
        dimensions=dimensions,
        chart={
            "dimensions": {
                dim: [
                    {"member": r["member"], "value": r["contribution_value"], "along": r["along"]}
                    for r in rows
                ]
                for dim, rows in dimensions.items()
            },
            "direction": direction,
            "axis": _(CONTRIBUTION_AXIS[kind]),
        },
    )
