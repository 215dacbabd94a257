"""The configuration console (``/admin``): what the centre has configured, the 事项清单
upload (check, then apply all or nothing) and download, and the change log.
Administrators only (``config.manage``)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from govloop.core.auth import ROLE_LABELS, Permission
from govloop.core.bodies import LimitedRoute, body_limit
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import BadRequest, GovloopError
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.hall.models import AppointmentQuota, ServiceItem, Window
from govloop.org.hours import WEEKDAY_NAMES
from govloop.org.models import Department, Hall
from govloop.setup import archive, changes, schedule, service, sheets
from govloop.setup.api import xlsx
from govloop.setup.kinds import KINDS, kind_of
from govloop.setup.labels import CHOICES, COLUMN_LABELS, FIELD_LABELS, HINTS
from govloop.setup.models import ConfigChange
from govloop.setup.uploads import read_uploads, workbook_limit
from govloop.web.kit import posted_form, refuse, staff_page
from govloop.web.templating import render

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(csrf_protect)], route_class=LimitedRoute
)
configurer = staff_page(Permission.CONFIG_MANAGE)
CHANGE_KINDS = ("department", "hall", "item", "window", "quota", "user", "category", "time_limit")
LABELS: dict[str, dict[str, str]] = {
    "kind_labels": {
        "department": N_("Department"),
        "hall": N_("Service hall"),
        "item": N_("Service item"),
        "window": N_("Window"),
        "quota": N_("Appointment quota"),
        "user": N_("User"),
        "category": N_("Hotline category"),
        "time_limit": N_("Hotline time limit"),
    },
    "count_labels": {
        "department": N_("Departments"),
        "hall": N_("Service halls"),
        "item": N_("Service items"),
        "window": N_("Windows"),
        "quota": N_("Appointment quotas"),
        "user": N_("Active users"),
    },
    "source_labels": {
        "console": N_("Console"),
        "api": N_("API"),
        "cli": N_("Command line"),
        "import": N_("Workbook import"),
        "demo": N_("Demo set-up"),
        "action": N_("Action loop"),
    },
    "action_labels": {
        "created": N_("Added"),
        "updated": N_("Changed"),
        "archived": N_("Archived"),
    },
}


KIND_LIST = list(KINDS.values())
DONE = {
    "saved": N_("Saved."),
    "unchanged": N_("Nothing changed: the values were already these."),
    "archived": N_("Archived. It stays in the history and the figures."),
    "scheduled": N_("Saved; it takes effect on the day you chose."),
    "cancelled": N_("The scheduled change was cancelled."),
}


def parse_dates(text: str) -> list[date]:
    """Dates typed one per line or separated by commas, as ISO dates (2026-10-08)."""
    out = []
    for part in re.split(r"[\s,，、;；]+", text.strip()):
        if not part:
            continue
        try:
            out.append(date.fromisoformat(part))
        except ValueError:
            raise BadRequest(f"日期“{part}”格式不正确，应为 2026-10-08", code="bad_date") from None
    return out


def _shown(field: str, value: Any) -> str:
    """A snapshot value as a person reads it."""
    if value is None or value == []:
        return "–"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if field == "weekend_days":
        return "、".join(WEEKDAY_NAMES.get(d, str(d)) for d in value)
    if field == "role" and value in ROLE_LABELS:
        return _(ROLE_LABELS[value])
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def change_lines(change: ConfigChange) -> list[tuple[str, str, str]]:
    """(field, before, after) for each field the change touched, labelled for the reader."""
    before, after = change.before or {}, change.after or {}
    fields = [f for f in dict.fromkeys([*before, *after]) if before.get(f) != after.get(f)]
    return [
        (
            _(FIELD_LABELS[f]) if f in FIELD_LABELS else f,
            _shown(f, before.get(f)) if change.before is not None else "–",
            _shown(f, after.get(f)) if change.after is not None else "–",
        )
        for f in fields
    ]


def _render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    context = LABELS | {"change_lines": change_lines} | context
    return render(request, template, context, status_code=status_code)


def _counts(session: Session) -> dict[str, int]:
    def count(stmt: Any) -> int:
        return int(session.scalar(stmt) or 0)

    return {
        "department": count(
            select(func.count()).select_from(Department).where(Department.archived.is_(False))
        ),
        "hall": count(select(func.count()).select_from(Hall).where(Hall.archived.is_(False))),
        "item": count(select(func.count()).select_from(ServiceItem).where(ServiceItem.active)),
        "window": count(select(func.count()).select_from(Window).where(Window.active)),
        "quota": count(select(func.count()).select_from(AppointmentQuota)),
        "user": count(select(func.count()).select_from(User).where(User.active)),
    }


@router.get("/admin", response_class=HTMLResponse)
def console(
    request: Request,
    user: User = Depends(configurer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    names = dict(session.execute(select(User.id, User.display_name)).all())
    context = {"counts": _counts(session), "recent": changes.recent(session, limit=10)}
    return _render(request, "setup/console.html", context | {"names": names})


def _catalogue_page(
    request: Request,
    result: service.ImportResult | None = None,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {"result": result, "error": error, "order": sheets.ORDER, "columns": sheets.COLUMNS}
    return _render(request, "setup/catalogue.html", context, status_code=status_code)


@router.get("/admin/catalogue", response_class=HTMLResponse)
def catalogue(request: Request, user: User = Depends(configurer)) -> Response:
    return _catalogue_page(request)


@router.post("/admin/catalogue", response_class=HTMLResponse)
@body_limit(workbook_limit)
def catalogue_import(
    request: Request,
    files: list[UploadFile] = File(default_factory=list),
    dry_run: str = Form(""),
    user: User = Depends(configurer),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    try:
        result = service.import_files(
            session=session,
            files=read_uploads(files),
            actor=user,
            source="console",
            dry_run=bool(dry_run),
        )
    except GovloopError as exc:  # nothing was read or written
        return _catalogue_page(request, error=exc.message, status_code=exc.status_code)
    return _catalogue_page(request, result, status_code=200 if result.ok else 422)


@router.get("/admin/catalogue/template.xlsx", response_class=Response)
def catalogue_template(user: User = Depends(configurer)) -> Response:
    return xlsx(sheets.template(), "govloop-catalogue-template.xlsx")


@router.get("/admin/catalogue/export.xlsx", response_class=Response)
def catalogue_export(
    user: User = Depends(configurer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    return xlsx(service.export(session), "govloop-catalogue.xlsx")


@router.get("/admin/changes", response_class=HTMLResponse)
def change_log(
    request: Request,
    kind: str = Query("", max_length=16),
    key: str = Query("", max_length=120),
    user: User = Depends(configurer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    kind = kind if kind in CHANGE_KINDS else ""
    rows = (
        changes.history(session, kind=kind, key=key, limit=200)
        if kind and key
        else changes.recent(session, limit=200, kind=kind or None)
    )
    names = dict(session.execute(select(User.id, User.display_name)).all())
    context = {"rows": rows, "kind": kind, "key": key, "kinds": CHANGE_KINDS, "names": names}
    return _render(request, "setup/changes.html", context)


# --- one kind of object at a time -------------------------------------------------------------


def _kind_page(
    request: Request,
    session: Session,
    slug: str,
    *,
    result: service.ImportResult | None = None,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    kind = kind_of(slug)
    done = request.query_params.get("done")
    rows = service.current_rows(session)[kind.sheet]
    columns = sheets.COLUMNS[kind.sheet]
    edit = request.query_params.get("edit", "")
    if form is None and edit.isdigit() and int(edit) < len(rows):
        form = {
            c: "" if v is None else str(v) for c, v in zip(columns, rows[int(edit)], strict=True)
        }
    context = {
        "kind": kind,
        "kinds": KIND_LIST,
        "columns": columns,
        "rows": rows,
        "editing": bool(form),
        "result": result,
        "form": form or {},
        "error": error,
        "notice": _(DONE[done]) if done in DONE else None,
        "column_labels": COLUMN_LABELS,
        "choices": CHOICES,
        "hints": HINTS,
        "role_labels": ROLE_LABELS,
        "halls": list(session.scalars(select(Hall).where(Hall.archived.is_(False)))),
        "schedulable": kind.sheet in schedule.SCHEDULABLE,
        "change_kinds": {k.slug: k.change_kind for k in KIND_LIST},
        "scheduled": schedule.pending(session, sheet=kind.sheet),
    }
    return _render(request, "setup/kind.html", context, status_code=status_code)


@router.get("/admin/config/{kind}", response_class=HTMLResponse)
def kind_page(
    request: Request,
    kind: str,
    user: User = Depends(configurer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    return _kind_page(request, session, kind)


@router.post("/admin/config/{kind}", response_class=HTMLResponse)
def kind_save(
    request: Request,
    kind: str,
    form: FormData = Depends(posted_form),
    user: User = Depends(configurer),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """Add or change one row (its key columns say which), checked like an imported one."""
    found = kind_of(kind)
    columns = sheets.COLUMNS[found.sheet]
    row = {c: str(form.get(f"col{i}", ""))[:500] for i, c in enumerate(columns)}
    try:
        effective_on = parse_dates(str(form.get("effective_on", "")))[:1]
        result, scheduled = schedule.save_rows(
            session=session,
            sheet=found.sheet,
            rows=[row],
            effective_on=effective_on[0] if effective_on else None,
            actor=user,
            source="console",
        )
    except GovloopError as exc:
        session.rollback()
        return _kind_page(
            request, session, kind, form=row, error=exc.message, status_code=exc.status_code
        )
    if not result.ok:
        session.rollback()
        return _kind_page(request, session, kind, result=result, form=row, status_code=422)
    if scheduled is not None:
        return RedirectResponse(f"/admin/config/{kind}?done=scheduled", status_code=303)
    if result.applied and result.applied.passwords:  # shown once, on this answer only
        return _kind_page(request, session, kind, result=result)
    changed = result.applied is not None and result.applied.changed > 0
    return RedirectResponse(
        f"/admin/config/{kind}?done={'saved' if changed else 'unchanged'}", status_code=303
    )


@router.post("/admin/config/{kind}/archive", response_class=HTMLResponse)
def kind_archive(
    request: Request,
    kind: str,
    key: list[str] = Form(default_factory=list),
    user: User = Depends(configurer),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    try:
        kind_of(kind).archive(session, key, user, "console")
    except GovloopError as exc:
        return refuse(session, exc, lambda **shown: _kind_page(request, session, kind, **shown))
    return RedirectResponse(f"/admin/config/{kind}?done=archived", status_code=303)


@router.post("/admin/config/scheduled/{change_id}/cancel", response_class=HTMLResponse)
def scheduled_cancel(
    request: Request,
    change_id: int,
    user: User = Depends(configurer),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    change = schedule.cancel(session=session, change_id=change_id)
    slug = next((k.slug for k in KIND_LIST if k.sheet == change.sheet), "items")
    return RedirectResponse(f"/admin/config/{slug}?done=cancelled", status_code=303)


@router.post("/admin/config/halls/calendar", response_class=HTMLResponse)
def hall_calendar(
    request: Request,
    hall: str = Form(..., max_length=32),
    closed: str = Form("", max_length=2000),
    extra: str = Form("", max_length=2000),
    user: User = Depends(configurer),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """A hall's closures and extra working days (dates, one per line or comma-separated)."""
    try:
        archive.set_calendar(
            session=session,
            hall_code=hall,
            closed=parse_dates(closed),
            extra=parse_dates(extra),
            actor=user,
            source="console",
        )
    except GovloopError as exc:
        return refuse(session, exc, lambda **shown: _kind_page(request, session, "halls", **shown))
    return RedirectResponse("/admin/config/halls?done=saved", status_code=303)
