"""Carrying a decision of the action loop out in the configuration: an "open more windows"
action opens them, an "appointment quota" action sets the quotas. The manager sees the rows
the recommendation proposes, edits them, and applies them with the import's rules; the
change log keeps what changed and the loop records that the action was carried out."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from govloop.actions import service as actions
from govloop.actions.models import Action, ActionKind
from govloop.core.auth import Permission
from govloop.core.db import get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import RuleViolation
from govloop.core.models import User
from govloop.hall.models import ServiceItem, Window, window_items
from govloop.org import hours
from govloop.org import service as org_service
from govloop.org.models import Hall
from govloop.setup import service, sheets
from govloop.setup.labels import COLUMN_LABELS
from govloop.web.kit import posted_form, staff_page
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
manager_page = staff_page(Permission.HALL_MANAGE)
MAX_ROWS = 20


def _first(rec: dict[str, Any], key: str) -> str:
    values = rec.get(key) or [""]
    return str(values[0] if isinstance(values, list) else values)


def _number(text: str, default: int, low: int, high: int) -> int:
    return min(max(int(text), low), high) if text.isdigit() else default


def _served(session: Session, hall: Hall) -> list[str]:
    """Codes of the active items the hall's windows serve (general windows: all of them)."""
    general = session.scalar(
        select(Window.id).where(Window.hall_id == hall.id, Window.active, Window.is_general)
    )
    query = select(ServiceItem.code).where(ServiceItem.active).order_by(ServiceItem.code)
    if general is None:
        query = (
            query.join(window_items, window_items.c.item_id == ServiceItem.id)
            .join(Window, Window.id == window_items.c.window_id)
            .where(Window.hall_id == hall.id, Window.active)
            .distinct()
        )
    return list(session.scalars(query))


def _slot_in(hall: Hall, half: str) -> str:
    """The first hour of the hall's morning (``am``) or afternoon: the period after the lunch
    break, or 14:00 in a hall open straight through."""
    periods = hours.periods_of(hall)
    period = periods[0]
    begin = period.start
    if half == "pm":
        after_lunch = [p for p in periods if p.start >= time(12)]
        period = after_lunch[0] if after_lunch else periods[-1]
        begin = period.start if after_lunch else max(period.start, time(14))
        if begin >= period.end:
            begin = period.start
    start = begin.hour * 60 + begin.minute
    end = min(start + 60, period.end.hour * 60 + period.end.minute)
    return f"{begin:%H:%M}-{end // 60:02d}:{end % 60:02d}"


def proposed(session: Session, hall: Hall, action: Action) -> tuple[str, list[list[str]]]:
    """The sheet and rows the action's recommendation proposes (the manager may edit them)."""
    rec = action.recommendation or {}
    if action.kind == ActionKind.OPEN_WINDOWS:
        count = _number(_first(rec, "extra_windows"), 1, 1, 10)
        taken = set(session.scalars(select(Window.number).where(Window.hall_id == hall.id)))
        numbers = [n for n in range(1, 1000) if n not in taken][:count]
        rows = [[hall.code, str(n), "临时增开窗口", "综合", "全部"] for n in numbers]
        return sheets.WINDOWS, rows
    if action.kind == ActionKind.APPOINTMENT_QUOTA:
        quota = _number(_first(rec, "quota"), 4, 1, 500)
        scope_items = [c for c in (action.scope or {}).get("items", []) if isinstance(c, str)]
        items = scope_items or _served(session, hall)[:1]
        rows = []
        for period in rec.get("periods") or []:
            day, _, half = str(period).partition(" ")
            try:
                weekday = hours.WEEKDAY_NAMES[date.fromisoformat(day).isoweekday()]
            except ValueError:
                continue
            for item in items[:3]:
                rows.append([hall.code, item, weekday, _slot_in(hall, half), str(quota)])
        return sheets.QUOTAS, rows or [[hall.code, items[0] if items else "", "每天", "", ""]]
    raise RuleViolation("这类措施不在配置中执行", code="not_applicable")


def _page(
    request: Request,
    hall: Hall,
    action: Action,
    sheet: str,
    rows: list[list[str]],
    *,
    result: service.ImportResult | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "hall": hall,
        "action": action,
        "sheet": sheet,
        "columns": sheets.COLUMNS[sheet],
        "rows": rows,
        "result": result,
        "column_labels": COLUMN_LABELS,
    }
    return render(request, "setup/apply_action.html", context, status_code=status_code)


@router.get("/insight/{hall_code}/actions/{action_id}/apply", response_class=HTMLResponse)
def apply_form(
    request: Request,
    hall_code: str,
    action_id: int,
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = org_service.get_hall(session=session, code=hall_code)
    action = actions.get_action(session=session, hall=hall, action_id=action_id)
    sheet, rows = proposed(session, hall, action)
    return _page(request, hall, action, sheet, rows)


@router.post("/insight/{hall_code}/actions/{action_id}/apply", response_class=HTMLResponse)
def apply(
    request: Request,
    hall_code: str,
    action_id: int,
    form: FormData = Depends(posted_form),
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = org_service.get_hall(session=session, code=hall_code)
    action = actions.get_action(session=session, hall=hall, action_id=action_id, lock=True)
    sheet, _proposal = proposed(session, hall, action)
    columns = sheets.COLUMNS[sheet]
    typed = [
        [str(form.get(f"r{r}c{c}", ""))[:200].strip() for c in range(len(columns))]
        for r in range(MAX_ROWS)
    ]
    rows = [row for row in typed if any(row)]
    for row in rows:  # the action belongs to this hall: its rows cannot reach another
        row[0] = hall.code
    result = service.apply_rows(
        session=session,
        sheet=sheet,
        rows=[dict(zip(columns, row, strict=True)) for row in rows],
        actor=user,
        source="action",
    )
    if not result.ok or not rows:
        session.rollback()
        return _page(request, hall, action, sheet, rows, result=result, status_code=422)
    assert result.applied is not None
    counts: dict[str, int] = dict(result.applied.counts.get(sheet, {}))
    summary = f"{sheet}：新增 {counts.get('created', 0)}，更新 {counts.get('updated', 0)}"
    actions.config_applied(
        session=session,
        action=action,
        actor=user,
        summary=summary,
        changes=result.applied.changed,
    )
    return RedirectResponse(
        f"/insight/{hall.code}/actions/{action.id}?done=applied", status_code=303
    )
