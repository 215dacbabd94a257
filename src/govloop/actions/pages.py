"""Server-rendered pages of the closed loop (闭环): per hall, the anomalies waiting for an
assessment, the unreasonable ones waiting for an action, the decision form (prefilled
from an anomaly or from a recommendation), and each action with its measured effect.

Routes are thin: parse the form, authorize through a dependency (hall managers), call
the actions and assessment services, render or redirect. A refused form is shown again
with the service's message and the manager's input; the unit of work is rolled back
first, so a refusal never writes anything.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.actions import assessments, service
from govloop.actions import scope as action_scope
from govloop.actions import views as action_views
from govloop.actions.schemas import ActionIn, ScopeIn
from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import BadRequest, GovloopError
from govloop.core.i18n import N_, get_locale
from govloop.core.i18n import WEEKDAY_NAMES as WEEKDAYS
from govloop.core.i18n import gettext_ as _
from govloop.core.input_guard import INT_MAX, INT_MIN, digits_int, loads_json
from govloop.core.models import User
from govloop.hall.overview import hall_layout
from govloop.indicators.service import framework_in_force
from govloop.insight.models import Anomaly, AnomalyStatus
from govloop.org import service as org_service
from govloop.org.models import Hall
from govloop.web.kit import refuse, staff_page
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
manager_page = staff_page(Permission.HALL_MANAGE)


LABELS: dict[str, dict[str, str]] = {
    "kind": {
        "open_windows": N_("Open more windows"),
        "self_service": N_("Move items to self-service terminals"),
        "best_time": N_("Publish the best time to come"),
        "appointment_quota": N_("Adjust appointment quotas"),
        "cross_train": N_("Cross-train staff for more items"),
        "other": N_("Other measure"),
    },
    "status": {
        "planned": N_("Planned"),
        "active": N_("Under way"),
        "completed": N_("Carried out"),
        "cancelled": N_("Cancelled"),
    },
    "anomaly_status": {
        "open": N_("To be assessed"),
        "reasonable": N_("Reasonable"),
        "unreasonable": N_("Unreasonable, needs action"),
    },
    "verdict": {
        "improved": N_("Improved"),
        "worsened": N_("Worsened"),
        "no_clear_change": N_("No clear change"),
    },
    "effect_status": {
        "measured": N_("Measured"),
        "not_enough_data": N_("Not enough data"),
        "not_measurable": N_("Cannot be measured"),
    },
    "method": {
        "did": N_("Difference in differences against the hall's other items or windows"),
        "seasonal": N_("Against the weekday pattern of the four weeks before"),
    },
    "unit": {
        "item": N_("Service items"),
        "window": N_("Windows"),
        "hall": N_("Whole hall"),
    },
    "direction": {"spike": N_("Higher"), "dip": N_("Lower")},
    "event": {
        "anomaly.assessed": N_("Anomaly assessed"),
        "action.created": N_("Action decided"),
        "action.started": N_("Action started"),
        "action.completed": N_("Action carried out"),
        "action.cancelled": N_("Action cancelled"),
        "action.effect_measured": N_("Effect measured"),
        "action.config_applied": N_("Carried out in the configuration"),
    },
}
NOTICES = {
    "assessed": N_("Assessment recorded"),
    "created": N_("Action recorded"),
    "start": N_("Action started"),
    "complete": N_("Action marked as carried out"),
    "cancel": N_("Action cancelled"),
    "measure": N_("Effect measured"),
    "applied": N_("Carried out in the configuration; the change is in the change log."),
}
RECOMMENDATION_KEYS = (
    "kind",
    "title",
    "items",
    "windows",
    "slots",
    "weekdays",
    "indicators",
    "extra_windows",
    "quota",
    "periods",
)


# --- helpers -----------------------------------------------------------------------------


def hall_by_code(session: Session, code: str) -> Hall:
    return org_service.get_hall(session=session, code=code)


def english() -> bool:
    return get_locale() == "en"


def indicator_meta(session: Session) -> dict[str, dict[str, Any]]:
    meta = {c["code"]: c for c in action_scope.indicator_catalogue(session=session)}
    meta["arrivals"] = {
        "code": "arrivals",
        "name_zh": "到达量",
        "name_en": "Arrivals",
        "unit": "count",
        "higher_is_better": None,
    }
    return meta


def indicator_label(meta: dict[str, Any] | None, code: str) -> str:
    if not meta:
        return code
    return str(meta["name_en"] if english() else meta["name_zh"])


def fmt_value(value: float | None, unit: str) -> str:
    """A level in its unit: ratios as percentages, minutes with one decimal."""
    if value is None:
        return "–"
    minutes = _("min")
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "min":
        return f"{value:.1f} {minutes}"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.2f}"


def fmt_change(value: float | None, unit: str) -> str:
    """A change in its unit: ratios in percentage points, signed."""
    if value is None:
        return "–"
    points, minutes = _("pp"), _("min")
    if unit == "ratio":
        return f"{value * 100:+.1f} {points}"
    if unit == "min":
        return f"{value:+.1f} {minutes}"
    return f"{value:+.2f}"


def _split(values: list[str]) -> list[str]:
    """Repeated parameters and comma-separated lists alike (``items=A,B&items=C``)."""
    return [p.strip() for v in values for p in v.replace("，", ",").split(",") if p.strip()]


def _ints(values: list[str], what: str) -> list[int]:
    try:
        numbers = [int(v) for v in _split(values)]
        if not all(INT_MIN <= n <= INT_MAX for n in numbers):
            raise ValueError("beyond an SQL INTEGER")
        return numbers
    except ValueError:
        raise BadRequest(
            _("Please choose {what} from the list").replace("{what}", what), code="bad_number"
        ) from None


def parse_form_date(value: str, label: str, *, required: bool) -> date | None:
    value = value.strip()
    if not value:
        if required:
            raise BadRequest(
                _("Please fill in {field}").replace("{field}", label), code="date_required"
            )
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(_("Please enter dates as YYYY-MM-DD"), code="bad_date") from None


def anomaly_row(
    anomaly: Anomaly, meta: dict[str, dict[str, Any]], names: dict[int, str]
) -> dict[str, Any]:
    info = meta.get(anomaly.indicator_code)
    unit = str(info["unit"]) if info else ""
    return {
        "id": anomaly.id,
        "day": anomaly.day.isoformat(),
        "weekday": _(WEEKDAYS[anomaly.day.weekday()]),
        "indicator": anomaly.indicator_code,
        "name": indicator_label(info, anomaly.indicator_code),
        "direction": anomaly.direction,
        "worse": anomaly.worse,
        "method": anomaly.method,
        "observed": fmt_value(anomaly.observed, unit),
        "expected": fmt_value(anomaly.expected, unit),
        "status": anomaly.status,
        "comment": anomaly.comment,
        "assessed_by": names.get(anomaly.assessed_by) if anomaly.assessed_by else None,
        "assessed_at": anomaly.assessed_at,
    }


# --- the loop page -------------------------------------------------------------------------


def _draft(
    session: Session,
    hall: Hall,
    user: User,
    anomaly: int | None,
    params: dict[str, list[str]],
) -> dict[str, Any]:
    """The decision form's starting values: from an anomaly, a recommendation, or blank."""
    draft: dict[str, Any] = {
        "title": "",
        "kind": "other",
        "decision": "",
        "owner_id": user.id,
        "ends_on": "",
        "items": [],
        "windows": [],
        "slots": [],
        "weekdays": [],
        "indicators": [],
        "anomaly_id": "",
        "recommendation": "",
        **action_views.default_dates(),
    }
    if anomaly is not None:
        draft.update(
            action_views.draft_from_anomaly(session=session, hall=hall, anomaly_id=anomaly)
        )
    given = {k: v for k, v in params.items() if k in RECOMMENDATION_KEYS and _split(v)}
    if given:
        kind = _split(given.get("kind", []))
        if kind and kind[0] in service.KINDS:
            draft["kind"] = kind[0]
        title = " ".join(given.get("title", [])).strip()
        if title:
            draft["title"] = title[:200]
        for key in ("items", "slots", "indicators"):
            if key in given:
                draft[key] = _split(given[key])
        for key in ("windows", "weekdays"):
            if key in given:
                draft[key] = [n for v in _split(given[key]) if (n := digits_int(v)) is not None]
        payload = {k: _split(v) if k != "title" else [" ".join(v)] for k, v in given.items()}
        draft["recommendation"] = json.dumps(
            {"source": "recommendation", **payload}, ensure_ascii=False
        )
    return draft


def _loop_page(
    request: Request,
    session: Session,
    hall: Hall,
    user: User,
    *,
    draft: dict[str, Any],
    notice: str | None = None,
    error: str | None = None,
    failed: str | None = None,
    assess_form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    overview = action_views.loop_overview(session=session, hall=hall)
    meta = indicator_meta(session)
    names = overview["names"]
    layout = hall_layout(session=session, hall=hall)
    _version, framework = framework_in_force(session=session)
    catalogue = [c for code, c in meta.items() if code != "arrivals"]
    dims = [d.code for d in framework.dimensions]
    anomaly_ids = {a.anomaly_id for a in overview["actions"] if a.anomaly_id}
    linked = {
        a.id: anomaly_row(a, meta, names)
        for a in assessments.anomalies_of_hall(
            session=session, hall_id=hall.id, ids=list(anomaly_ids), limit=500
        )
    }
    return render(
        request,
        "actions/loop.html",
        {
            "hall": hall,
            "section": "loop",
            "labels": LABELS,
            "weekdays": [_(w) for w in WEEKDAYS],
            "counts": overview["counts"],
            "to_assess": [anomaly_row(a, meta, names) for a in overview["to_assess"]],
            "needing_action": [anomaly_row(a, meta, names) for a in overview["needing_action"]],
            "acted_on": [
                {
                    **anomaly_row(a, meta, names),
                    "actions": overview["actions_by_anomaly"].get(a.id, []),
                }
                for a in overview["acted_on"]
            ],
            "reasonable": [anomaly_row(a, meta, names) for a in overview["reasonable"]],
            "actions": [
                {
                    "action": a,
                    "owner": names.get(a.owner_id) if a.owner_id else None,
                    "anomaly": linked.get(a.anomaly_id) if a.anomaly_id else None,
                    "indicator_names": [indicator_label(meta.get(c), c) for c in a.indicators],
                    "summary": (a.effect or {}).get("summary"),
                }
                for a in overview["actions"]
            ],
            "draft": draft,
            "kinds": service.KINDS,
            "owners": service.owner_choices(session=session),
            "items": sorted(layout.items.values(), key=lambda i: i.code),
            "windows": sorted((w for w in layout.windows if w.active), key=lambda w: w.number),
            "slots": action_scope.hall_slots(hall),
            "indicator_groups": [(d, [c for c in catalogue if c["dimension"] == d]) for d in dims],
            "dimension_names": {
                d.code: (d.name.en if english() else d.name.zh) for d in framework.spec.dimensions
            },
            "notice": notice,
            "error": error,
            "failed": failed,
            "assess_form": assess_form or {},
        },
        status_code=status_code,
    )


@router.get("/insight/{hall_code}/loop", response_class=HTMLResponse)
def loop_page(
    request: Request,
    hall_code: str,
    anomaly: int | None = Query(None, ge=1),
    done: str = Query("", max_length=16),
    user: User = Depends(manager_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    params = {k: request.query_params.getlist(k) for k in RECOMMENDATION_KEYS}
    draft = _draft(session, hall, user, anomaly, params)
    notice = _(NOTICES[done]) if done in NOTICES else None
    return _loop_page(request, session, hall, user, draft=draft, notice=notice)


@router.post("/insight/{hall_code}/anomalies/{anomaly_id}/assess", response_class=HTMLResponse)
def assess(
    request: Request,
    hall_code: str,
    anomaly_id: int,
    verdict: str = Form("", max_length=16),
    comment: str = Form("", max_length=2000),
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    try:
        if verdict not in (AnomalyStatus.REASONABLE, AnomalyStatus.UNREASONABLE):
            raise BadRequest(
                _("Please choose whether the anomaly is reasonable"), code="verdict_missing"
            )
        assessments.assess_anomaly(
            session=session,
            anomaly_id=anomaly_id,
            reasonable=verdict == AnomalyStatus.REASONABLE,
            comment=comment,
            actor=user,
            hall_id=hall.id,
        )
    except GovloopError as exc:
        return refuse(
            session,
            exc,
            lambda **refusal: _loop_page(
                request,
                session,
                hall,
                user,
                draft=_draft(session, hall, user, None, {}),
                failed=f"assess-{anomaly_id}",
                assess_form={"verdict": verdict, "comment": comment},
                **refusal,
            ),
        )
    if verdict == AnomalyStatus.UNREASONABLE:
        query = urlencode({"anomaly": anomaly_id, "done": "assessed"})
        return RedirectResponse(f"/insight/{hall.code}/loop?{query}#new-action", status_code=303)
    return RedirectResponse(
        f"/insight/{hall.code}/loop?done=assessed#anomaly-{anomaly_id}", status_code=303
    )


@router.post("/insight/{hall_code}/actions", response_class=HTMLResponse)
def create(
    request: Request,
    hall_code: str,
    title: str = Form("", max_length=200),
    kind: str = Form("other", max_length=32),
    decision: str = Form("", max_length=4000),
    owner_id: str = Form("", max_length=12),
    starts_on: str = Form("", max_length=10),
    due_date: str = Form("", max_length=10),
    ends_on: str = Form("", max_length=10),
    items: list[str] = Form(default_factory=list),
    windows: list[str] = Form(default_factory=list),
    slots: list[str] = Form(default_factory=list),
    weekdays: list[str] = Form(default_factory=list),
    indicators: list[str] = Form(default_factory=list),
    anomaly_id: str = Form("", max_length=12),
    recommendation: str = Form("", max_length=10_000),
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    form = {
        "title": title,
        "kind": kind,
        "decision": decision,
        "owner_id": digits_int(owner_id),
        "starts_on": starts_on,
        "due_date": due_date,
        "ends_on": ends_on,
        "items": _split(items),
        "windows": [n for w in _split(windows) if (n := digits_int(w)) is not None],
        "slots": _split(slots),
        "weekdays": [n for w in _split(weekdays) if (n := digits_int(w)) is not None],
        "indicators": _split(indicators),
        "anomaly_id": anomaly_id,
        "recommendation": recommendation,
    }
    try:
        payload = None
        if recommendation.strip():
            try:
                payload = loads_json(recommendation)
            except ValueError:
                raise BadRequest(
                    _("The recommendation could not be read"), code="bad_json"
                ) from None
            if not isinstance(payload, dict):
                raise BadRequest(_("The recommendation could not be read"), code="bad_json")
        data = ActionIn(
            title=title,
            kind=kind,
            decision=decision,
            owner_id=form["owner_id"],
            starts_on=parse_form_date(starts_on, _("Start date"), required=True),
            due_date=parse_form_date(due_date, _("Due date"), required=True),
            ends_on=parse_form_date(ends_on, _("End date"), required=False),
            scope=ScopeIn(
                items=form["items"],
                windows=_ints(windows, _("Windows")),
                slots=form["slots"],
                weekdays=_ints(weekdays, _("Weekdays")),
            ),
            indicators=form["indicators"],
            anomaly_id=digits_int(anomaly_id),
            recommendation=payload,
        )
        action = service.create_action(session=session, hall=hall, data=data, actor=user)
    except GovloopError as exc:
        return refuse(
            session,
            exc,
            lambda **refusal: _loop_page(
                request,
                session,
                hall,
                user,
                draft=form,
                failed="create",
                **refusal,
            ),
        )
    return RedirectResponse(
        f"/insight/{hall.code}/actions/{action.id}?done=created", status_code=303
    )


# --- one action -------------------------------------------------------------------------------
