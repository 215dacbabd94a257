"""REST API of the configuration console: the 事项清单 template, export and import, and the
change log. Administrators only (``config.manage``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.bodies import LimitedRoute, body_limit
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.models import User
from govloop.setup import changes, schedule, service, sheets
from govloop.setup.kinds import kind_of
from govloop.setup.uploads import read_uploads, workbook_limit

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    dependencies=[Depends(csrf_protect)],
    route_class=LimitedRoute,
)
configurer = require(Permission.CONFIG_MANAGE)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx(data: bytes, name: str) -> Response:
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


@router.get("/catalogue/template", response_class=Response)
def template(user: User = Depends(configurer)) -> Response:
    """The empty 事项清单 workbook."""
    return xlsx(sheets.template(), "govloop-catalogue-template.xlsx")


@router.get("/catalogue/export", response_class=Response)
def export(
    user: User = Depends(configurer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    """The current configuration in the template's layout."""
    return xlsx(service.export(session), "govloop-catalogue.xlsx")


@router.post("/catalogue/import", response_model=None)
@body_limit(workbook_limit)
def import_catalogue(
    files: list[UploadFile] = File(...),
    dry_run: bool = Query(False),
    user: User = Depends(configurer),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any] | JSONResponse:
    """Load a workbook (or one CSV per sheet, UTF-8 or GBK). 200: applied (or, with
    ``dry_run``, what would be); 422: the problems, with sheet, row and column — nothing
    changed. Loading the same workbook again changes nothing."""
    result = service.import_files(
        session=session, files=read_uploads(files), actor=user, source="api", dry_run=dry_run
    )
    if not result.ok:
        body = {"error": "invalid_workbook", "message": "工作簿有错误，未导入任何内容"}
        return JSONResponse(body | result.as_dict(), status_code=422)
    return result.as_dict()


@router.get("/changes")
def change_log(
    kind: str | None = Query(None, max_length=16),
    key: str | None = Query(None, max_length=120),
    limit: int = Query(100, ge=1, le=500),
    user: User = Depends(configurer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    """The configuration's change log, newest first; ``kind`` and ``key`` pick one object."""
    rows = (
        changes.history(session, kind=kind, key=key, limit=limit)
        if kind and key
        else changes.recent(session, limit=limit, kind=kind)
    )
    return [changes.as_dict(c) for c in rows]


class RowsIn(BaseModel):
    """Rows of one sheet, keyed by the template's column names (the 事项清单's)."""

    rows: list[dict[str, str | int | None]] = Field(min_length=1, max_length=500)


class ArchiveIn(BaseModel):
    key: list[str] = Field(min_length=1, max_length=4)


@router.put("/config/{kind}", response_model=None)
def put_rows(
    kind: str,
    body: RowsIn,
    effective_on: date | None = Query(None),
    user: User = Depends(configurer),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any] | JSONResponse:
    """Create or change objects of one kind, row by row, with the import's rules; 422 with
    the problems (nothing changed) when a row breaks one. With a future ``effective_on`` the
    rows are checked now and applied on that day (hours, windows, items, quotas)."""
    found = kind_of(kind)
    result, scheduled = schedule.save_rows(
        session=session,
        sheet=found.sheet,
        rows=body.rows,
        effective_on=effective_on,
        actor=user,
        source="api",
    )
    if not result.ok:
        body_out = {"error": "invalid_rows", "message": "有错误，未做任何修改"}
        return JSONResponse(body_out | result.as_dict(), status_code=422)
    if scheduled is not None:
        return JSONResponse(
            {"scheduled": scheduled.id, "effective_on": scheduled.effective_on.isoformat()},
            status_code=202,
        )
    return result.as_dict()


@router.get("/config/{kind}")
def get_rows(
    kind: str,
    user: User = Depends(configurer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    """The objects of one kind as the template's rows (archived ones left out)."""
    found = kind_of(kind)
    columns = sheets.COLUMNS[found.sheet]
    return [
        dict(zip(columns, row, strict=True)) for row in service.current_rows(session)[found.sheet]
    ]


@router.post("/config/{kind}/archive")
def archive_row(
    kind: str,
    body: ArchiveIn,
    user: User = Depends(configurer),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """Archive one object (nothing with history is deleted); refused with the reason while
    tickets wait for it or are served at it."""
    kind_of(kind).archive(session, body.key, user, "api")
    return {"archived": body.key}
