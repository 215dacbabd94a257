"""Server-rendered planning pages: the arrivals forecast with its backtest, the staffing plan
of a week with the manager's target form, and the public citizen page 最佳办事时间.

Routes are thin: read the query (with the helpers shared with the planning API), authorize
through a dependency, call the planning services, render. Bad input raises a GovloopError,
shown as the friendly page; a refused target changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, public
from govloop.core.i18n import N_
from govloop.core.i18n import WEEKDAY_NAMES as WEEKDAYS
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.insight import service
from govloop.insight.planning import service as planning
from govloop.insight.planning.api import (
    forecast_of,
    parse_number,
    staffing_of,
    update_target,
)
from govloop.insight.staffing import RECURRING
from govloop.org import service as org_service
from govloop.org.models import Hall
from govloop.web.kit import page_user, staff_page
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
viewer_page = staff_page(Permission.HALL_VIEW)
manager_page = staff_page(Permission.HALL_MANAGE)

EXPLANATION_ITEMS = 3  # an infeasible slot's explanation shows this many items, then "等 N 项"


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EFFECTS = {
    "post_break": N_("First open day after a break"),
    "post_break_2": N_("Second open day after a break"),
    "pre_break": N_("Last open day before a break"),
    "month_start": N_("First open day of a month"),
    "month_end": N_("Last open day of a month"),
    "makeup_day": N_("Make-up working day (调休)"),
}
HOLIDAYS = {
    "New Year's Day": N_("New Year's Day"),
    "Spring Festival": N_("Spring Festival"),
    "Tomb-sweeping Day": N_("Tomb-sweeping Day"),
    "Labour Day": N_("Labour Day"),
    "Dragon Boat Festival": N_("Dragon Boat Festival"),
    "National Day": N_("National Day"),
    "Mid-autumn Festival": N_("Mid-autumn Festival"),
    "Anti-Fascist 70th Day": N_("Anti-Fascist 70th Day"),
}
REASONS = {
    "closed weekday": N_("Closed weekday"),
    "declared closure": N_("Declared closure"),
    "make-up working day (调休)": N_("Make-up working day (调休)"),
}
NOTES = {
    "patience_unknown_for_some_items": N_(
        "Some items have too few no-shows to measure patience: nobody is assumed to leave."
    ),
}
LABELS: dict[str, dict[str, str]] = {
    "gap_kind": {
        "recurring": N_("Recurring gap"),
        "one_off": N_("One-off gap"),
    },
    "suggestion": {
        "open_permanent_window": N_("Open an additional permanent window"),
        "temporary_window_appointment_quota_or_overtime": N_(
            "Temporary window, appointment quota or overtime"
        ),
    },
    "handling_source": {
        "measured": N_("measured from visits"),
        "promised": N_("promised time (too few visits)"),
    },
}


def _weekday_names() -> list[str]:
    return [_(w) for w in WEEKDAYS]


def reason_label(reason: str | None) -> str:
    """A closed or special day's reason in the reader's language (国庆节, 休息日, …)."""
    if not reason:
        return ""
    if reason.startswith("public holiday (") and reason.endswith(")"):
        name = reason[len("public holiday (") : -1]
        return _(HOLIDAYS.get(name, name))
    return _(REASONS[reason]) if reason in REASONS else reason


def effect_rows(effects: dict[str, float]) -> list[dict[str, Any]]:
    """Weekdays first (in week order), then the calendar effects, as relative changes."""
    names = _weekday_names()
    rows = []
    for index, weekday in enumerate(WEEKDAY_NAMES):
        if weekday in effects:
            rows.append({"code": weekday, "label": names[index], "effect": effects[weekday]})
    for code, label in EFFECTS.items():
        if code in effects:
            rows.append({"code": code, "label": _(label), "effect": effects[code]})
    known = {r["code"] for r in rows}
    rows += [{"code": k, "label": k, "effect": v} for k, v in effects.items() if k not in known]
    return rows


def short_explanation(
    text: str | None, shortfalls: list[dict[str, Any]] | None = None, keep: int = EXPLANATION_ITEMS
) -> str:
    """The first few reasons of an infeasible slot, then how many more (等 N 项)."""
    if shortfalls:
        template = _(
            "{item} reaches {level} with every window open (target {share} within {minutes} min)"
        )
        parts = [
            template.replace("{item}", f["item"])
            .replace("{level}", f"{f['service_level'] * 100:.1f}%")
            .replace("{share}", f"{f['share'] * 100:.0f}%")
            .replace("{minutes}", f"{f['within']:g}")
            for f in shortfalls
        ]
    elif not text:
        return ""
    else:
        parts = [p.strip() for p in text.split(";") if p.strip()]
    if len(parts) <= keep:
        return "; ".join(parts)
    more = len(parts) - keep
    return "; ".join(parts[:keep]) + " " + _("and {n} more reasons").replace("{n}", str(more))


def _hall_page(request: Request, name: str, hall: Hall, section: str, **context: Any) -> Response:
    return render(
        request,
        name,
        {
            "hall": {"code": hall.code, "name": hall.name},
            "section": section,
            "labels": LABELS,
            "weekday_names": _weekday_names(),
            **context,
        },
    )


def _items(session: Session, hall: Hall) -> list[Any]:
    layout = service.layout_of(session=session, hall=hall)
    return sorted(layout.items.values(), key=lambda i: i.code)


# --- forecast ------------------------------------------------------------------------------


@router.get("/insight/{hall_code}/forecast", response_class=HTMLResponse)
def forecast_page(
    request: Request,
    hall_code: str,
    item: str = Query("", max_length=32),
    days: str = Query("", max_length=10),
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = org_service.get_hall(session=session, code=hall_code)
    report = forecast_of(session=session, hall_code=hall.code, days=days, item=item)
    names = _weekday_names()
    day_rows = [
        {
            **d,
            "weekday": names[date.fromisoformat(d["day"]).weekday()],
            "reason_label": reason_label(d["reason"]),
        }
        for d in report["days"]
    ]
    chart = {
        "slots": report["slots"],
        "days": [
            {"day": d["day"], "open": d["open"], "label": d["reason_label"]} for d in day_rows
        ],
        "names": {
            "expected": _("Expected arrivals"),
            "band": _("Prediction band"),
            "lower": _("Lower bound"),
            "upper": _("Upper bound"),
        },
    }
    return _hall_page(
        request,
        "insight/forecast.html",
        hall,
        "forecast",
        report=report,
        day_rows=day_rows,
        effects=effect_rows(report["effects"]),
        items=_items(session, hall),
        filters={"item": (item or "").strip(), "days": len(report["days"])},
        max_days=planning.MAX_HORIZON_DAYS,
        chart=chart,
    )


# --- staffing ------------------------------------------------------------------------------


def _shift_table(shifts: list[dict[str, Any]], days: list[str]) -> list[dict[str, Any]]:
    """Window → day → "09:00–12:00" spans, windows in numeric order."""
    table: dict[str, dict[str, list[str]]] = {}
    for s in shifts:
        start, end = datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])
        spans = table.setdefault(s["window"], {})
        spans.setdefault(start.date().isoformat(), []).append(f"{start:%H:%M}–{end:%H:%M}")

    def order(code: str) -> tuple[int, str]:
        return (int(code), code) if code.isdigit() else (10**6, code)

    return [
        {"window": w, "days": [table[w].get(day, []) for day in days]}
        for w in sorted(table, key=order)
    ]


@router.get("/insight/{hall_code}/staffing", response_class=HTMLResponse)
def staffing_page(
    request: Request,
    hall_code: str,
    week: str = Query("", max_length=10),
    saved: str = Query("", max_length=8),
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = org_service.get_hall(session=session, code=hall_code)
    report = staffing_of(session=session, hall_code=hall.code, week=week)
    names = _weekday_names()
    days = list(report["days"])
    slots = sorted({row["slot"] for rows in report["days"].values() for row in rows})
    grid = {day: {row["slot"]: row for row in rows} for day, rows in report["days"].items()}
    for rows in report["days"].values():
        for row in rows:
            row["short_explanation"] = short_explanation(row["explanation"], row.get("shortfalls"))
    infeasible = [
        {"day": day, "weekday": names[date.fromisoformat(day).weekday()], **row}
        for day, rows in report["days"].items()
        for row in rows
        if not row["feasible"]
    ]
    for gap in report["gaps"]:
        start = datetime.fromisoformat(gap["slot"])
        gap["label"] = f"{names[start.weekday()]} {start:%m-%d %H:%M}"
    recurring = sum(1 for g in report["gaps"] if g["kind"] == RECURRING)
    simulated: dict[str, dict[str, Any]] = {}
    for half in report["day_simulation"]["half_days"]:
        row = simulated.setdefault(
            half["day"],
            {"day": half["day"], "weekday": names[date.fromisoformat(half["day"]).weekday()]},
        )
        row[half["half"]] = half
    chart = {
        "labels": [
            f"{names[date.fromisoformat(day).weekday()]} {row['slot']}"
            for day, rows in report["days"].items()
            for row in rows
        ],
        "arrivals": [row["arrivals"] for rows in report["days"].values() for row in rows],
        "required": [row["required"] for rows in report["days"].values() for row in rows],
        "scheduled": [row["scheduled"] for rows in report["days"].values() for row in rows],
        "names": {
            "arrivals": _("Forecast arrivals"),
            "required": _("Required windows"),
            "scheduled": _("Usual windows"),
        },
    }
    return _hall_page(
        request,
        "insight/staffing.html",
        hall,
        "staffing",
        report=report,
        days=[{"day": day, "weekday": names[date.fromisoformat(day).weekday()]} for day in days],
        slots=slots,
        grid=grid,
        infeasible=infeasible,
        shift_rows=_shift_table(report["shifts"], days),
        recurring=recurring,
        simulated_days=list(simulated.values()),
        one_off=len(report["gaps"]) - recurring,
        notes=[_(NOTES[n]) if n in NOTES else n for n in report["notes"]],
        items=_items(session, hall),
        filters={"week": report["week_start"]},
        saved=saved == "1",
        chart=chart,
    )


@router.post("/insight/{hall_code}/staffing/target")
def staffing_target_form(
    hall_code: str,
    share: str = Form(""),
    within_minutes: str = Form(""),
    item: str = Form(""),
    week: str = Form(""),
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    target = update_target(
        session=session,
        hall_code=hall_code,
        share=parse_number(share, _("Target share")),
        within_minutes=parse_number(within_minutes, _("Target waiting time")),
        item=item,
        actor=user,
    )
    query = {"saved": "1"}
    if week.strip():
        query["week"] = week.strip()
    return RedirectResponse(
        f"/insight/{target['hall']}/staffing?{urlencode(query)}#target", status_code=303
    )


# --- best time to come (public) --------------------------------------------------------------


@router.get("/best-time/{hall_code}", response_class=HTMLResponse, dependencies=[Depends(public)])
def best_time_page(
    request: Request,
    hall_code: str,
    item: str = Query("", max_length=32),
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = org_service.get_hall(session=session, code=hall_code)
    report = planning.best_times(session=session, hall_code=hall.code)
    code = (item or "").strip()
    selected = next((i for i in report["items"] if i["code"] == code), None)
    if selected is None and not code:
        selected = next((i for i in report["items"] if i["enough_data"]), None)
    return render(
        request,
        "insight/best_time.html",
        {
            "hall": {"code": hall.code, "name": hall.name},
            "report": report,
            "selected": selected,
            "unknown_item": code if code and selected is None else "",
            "weekday_names": _weekday_names(),
        },
    )
