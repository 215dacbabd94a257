"""The configuration console (``/admin``): what the centre has configured, the 事项清单
upload (check, then apply all or nothing) and download, and the change log.
Administrators only (``config.manage``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.bodies import LimitedRoute, body_limit
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import GovloopError
from govloop.core.i18n import N_
from govloop.core.models import User
from govloop.hall.models import AppointmentQuota, ServiceItem, Window
from govloop.org.models import Department, Hall
from govloop.setup import changes, service, sheets
from govloop.setup.api import xlsx
from govloop.setup.uploads import read_uploads, workbook_limit
from govloop.web.kit import staff_page
from govloop.web.templating import render

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(csrf_protect)], route_class=LimitedRoute
)
configurer = staff_page(Permission.CONFIG_MANAGE)
KINDS = ("department", "hall", "item", "window", "quota", "user")
LABELS: dict[str, dict[str, str]] = {
    "kind_labels": {
        "department": N_("Department"),
        "hall": N_("Service hall"),
        "item": N_("Service item"),
        "window": N_("Window"),
        "quota": N_("Appointment quota"),
        "user": N_("User"),
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
    },
    "action_labels": {
        "created": N_("Added"),
        "updated": N_("Changed"),
        "archived": N_("Archived"),
    },
}


def _render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return render(request, template, LABELS | context, status_code=status_code)


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


@router.get("/admin/catalogue/template", response_class=Response)
def catalogue_template(user: User = Depends(configurer)) -> Response:
    return xlsx(sheets.template(), "govloop-catalogue-template.xlsx")


@router.get("/admin/catalogue/export", response_class=Response)
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
    kind = kind if kind in KINDS else ""
    rows = (
        changes.history(session, kind=kind, key=key, limit=200)
        if kind and key
        else changes.recent(session, limit=200, kind=kind or None)
    )
    names = dict(session.execute(select(User.id, User.display_name)).all())
    context = {"rows": rows, "kind": kind, "key": key, "kinds": KINDS, "names": names}
    return _render(request, "setup/changes.html", context)
