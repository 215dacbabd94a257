"""The page of one action: its scope, indicators, timeline and measured effect, and the
buttons that start, complete, cancel or measure it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.actions import assessments, measurement, service
from govloop.actions import views as action_views
from govloop.actions.models import Action, ActionStatus
from govloop.actions.pages import (
    LABELS,
    NOTICES,
    anomaly_row,
    english,
    fmt_change,
    fmt_value,
    hall_by_code,
    indicator_label,
    indicator_meta,
    manager_page,
    parse_form_date,
)
from govloop.core.clock import local_today
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import GovloopError
from govloop.core.i18n import WEEKDAY_NAMES as WEEKDAYS
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.hall.overview import hall_layout
from govloop.org import service as org_service
from govloop.org.models import Hall
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def _action_page(
    request: Request,
    session: Session,
    hall: Hall,
    action: Action,
    *,
    notice: str | None = None,
    error: str | None = None,
    failed: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    meta = indicator_meta(session)
    names = org_service.user_names(session=session, ids={action.owner_id, action.created_by})
    anomaly = None
    if action.anomaly_id is not None:
        found = assessments.get_anomaly(session=session, anomaly_id=action.anomaly_id)
        anomaly = anomaly_row(
            found, meta, org_service.user_names(session=session, ids={found.assessed_by})
        )
    layout = hall_layout(session=session, hall=hall)
    items = {i.code: i.name for i in layout.items.values()}
    effect = action.effect
    return render(
        request,
        "actions/action.html",
        {
            "hall": hall,
            "section": "loop",
            "labels": LABELS,
            "weekdays": [_(w) for w in WEEKDAYS],
            "action": action,
            "owner": names.get(action.owner_id) if action.owner_id else None,
            "creator": names.get(action.created_by) if action.created_by else None,
            "anomaly": anomaly,
            "item_names": items,
            "indicators": [
                {"code": c, "name": indicator_label(meta.get(c), c)} for c in action.indicators
            ],
            "effect": effect,
            "effect_rows": _effect_rows(effect),
            "charts": _charts(effect),
            "timeline": action_views.timeline(session=session, action=action),
            "today": local_today().isoformat(),
            "statuses": ActionStatus,
            "notice": notice,
            "error": error,
            "failed": failed,
            "form": form or {},
        },
        status_code=status_code,
    )


@router.get("/insight/{hall_code}/actions/{action_id}", response_class=HTMLResponse)
def action_page(
    request: Request,
    hall_code: str,
    action_id: int,
    done: str = Query("", max_length=16),
    user: User = Depends(manager_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    action = service.get_action(session=session, hall=hall, action_id=action_id)
    notice = _(NOTICES[done]) if done in NOTICES else None
    return _action_page(request, session, hall, action, notice=notice)


def _step(
    request: Request,
    session: Session,
    hall_code: str,
    action_id: int,
    step: str,
    form: dict[str, str],
    run: Callable[[Action], object],
) -> Response:
    hall = hall_by_code(session, hall_code)
    action = service.get_action(session=session, hall=hall, action_id=action_id, lock=True)
    try:
        run(action)
    except GovloopError as exc:
        session.rollback()
        action = service.get_action(session=session, hall=hall, action_id=action_id)
        return _action_page(
            request,
            session,
            hall,
            action,
            error=exc.message,
            failed=step,
            form=form,
            status_code=exc.status_code,
        )
    return RedirectResponse(
        f"/insight/{hall.code}/actions/{action_id}?done={step}", status_code=303
    )


@router.post("/insight/{hall_code}/actions/{action_id}/start", response_class=HTMLResponse)
def start(
    request: Request,
    hall_code: str,
    action_id: int,
    on: str = Form("", max_length=10),
    note: str = Form("", max_length=2000),
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _step(
        request,
        session,
        hall_code,
        action_id,
        "start",
        {"on": on, "note": note},
        lambda a: service.start_action(
            session=session,
            action=a,
            actor=user,
            on=parse_form_date(on, _("Start date"), required=False),
            note=note,
        ),
    )


@router.post("/insight/{hall_code}/actions/{action_id}/complete", response_class=HTMLResponse)
def complete(
    request: Request,
    hall_code: str,
    action_id: int,
    on: str = Form("", max_length=10),
    note: str = Form("", max_length=2000),
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _step(
        request,
        session,
        hall_code,
        action_id,
        "complete",
        {"on": on, "note": note},
        lambda a: service.complete_action(
            session=session,
            action=a,
            actor=user,
            on=parse_form_date(on, _("Completion date"), required=False),
            note=note,
        ),
    )


@router.post("/insight/{hall_code}/actions/{action_id}/cancel", response_class=HTMLResponse)
def cancel(
    request: Request,
    hall_code: str,
    action_id: int,
    reason: str = Form("", max_length=2000),
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _step(
        request,
        session,
        hall_code,
        action_id,
        "cancel",
        {"reason": reason},
        lambda a: service.cancel_action(session=session, action=a, actor=user, reason=reason),
    )


@router.post("/insight/{hall_code}/actions/{action_id}/measure", response_class=HTMLResponse)
def measure(
    request: Request,
    hall_code: str,
    action_id: int,
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _step(
        request,
        session,
        hall_code,
        action_id,
        "measure",
        {},
        lambda a: measurement.measure_effect(session=session, action=a, actor=user),
    )


def _effect_rows(effect: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not effect:
        return []
    rows = []
    for r in effect.get("indicators", []):
        unit = r.get("unit") or ""
        rows.append(
            {
                **r,
                "name": r["name_en"] if english() else r["name_zh"],
                "effect_text": fmt_change(r.get("effect"), unit),
                "ci_text": (
                    f"{fmt_change(r['ci_low'], unit)} … {fmt_change(r['ci_high'], unit)}"
                    if r.get("ci_low") is not None
                    else "–"
                ),
                "before_text": fmt_value(r.get("before_mean"), unit),
                "after_text": fmt_value(r.get("after_mean"), unit),
                "expected_text": fmt_value(r.get("expected_after"), unit),
            }
        )
    return rows


def _charts(effect: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per measured indicator: daily values, the expectation and its band (ratios as
    percentages, the band kept inside 0–100 %)."""
    charts = []
    for r in (effect or {}).get("indicators", []):
        series = r.get("series")
        if r.get("status") != "measured" or not series or not effect:
            continue
        ratio = r.get("unit") == "ratio"
        scale = 100.0 if ratio else 1.0

        def scaled(values: list[float | None], k: float = scale, clamp: bool = ratio) -> list:
            out = [None if v is None else round(v * k, 4) for v in values]
            return [None if v is None else min(max(v, 0.0), 100.0) for v in out] if clamp else out

        start = effect["after"]["start"]
        charts.append(
            {
                "code": r["code"],
                "name": r["name_en"] if english() else r["name_zh"],
                "unit": "%" if ratio else (_("min") if r.get("unit") == "min" else ""),
                "days": series["days"],
                "observed": scaled(series["observed"], clamp=False),
                "expected": scaled(series["expected"]),
                "low": scaled(series["low"]),
                "high": scaled(series["high"]),
                # the first day with data on or after the start (the start may be closed)
                "start": next((d for d in series["days"] if d >= start), start),
            }
        )
    return charts
