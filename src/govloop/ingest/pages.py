"""Pages of the data platform, for data stewards and administrators: the overview (sources,
their last run, a chart of stored and rejected rows per day, file upload), one run with its
dead letters, and the dead-letter store (list, view, replay, discard)."""

from __future__ import annotations

import json
import shutil
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.bodies import LimitedRoute, body_limit
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import BadRequest
from govloop.core.i18n import N_
from govloop.core.input_guard import InputRefused, loads_json
from govloop.core.models import User
from govloop.ingest import adapters, service
from govloop.ingest.api import save_upload, upload_limit
from govloop.ingest.models import DeadLetterStatus
from govloop.ingest.pipeline import get_source
from govloop.web.kit import page_renderer, staff_page

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(csrf_protect)], route_class=LimitedRoute
)


steward_page = staff_page(Permission.DATA_STEWARD)


LABELS: dict[str, dict[str, str]] = {
    "status": {
        "running": N_("Running"),
        "done": N_("Done"),
        "failed": N_("Failed"),
        "open": N_("Awaiting fix"),
        "replayed": N_("Replayed"),
        "discarded": N_("Discarded"),
    },
    "channel": {
        "csv": N_("CSV file"),
        "xlsx": N_("Excel file"),
        "jsonl": N_("JSON lines"),
        "http": N_("HTTP push"),
        "mqtt": N_("MQTT"),
        "vendor": N_("Vendor export"),
        "replay": N_("Replay"),
    },
    # what was done to a dead letter, in its history
    "action": {
        "replayed": N_("Replayed"),
        "discarded": N_("Discarded"),
        "replay_failed": N_("Replay failed"),
    },
}


page = page_renderer({"labels": LABELS})


@router.get("/ingest", response_class=HTMLResponse)
def overview(
    request: Request,
    user: User = Depends(steward_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    sources = service.list_sources(session=session)
    return page(
        request,
        "ingest/overview.html",
        sources=sources,
        last=service.last_runs(session=session),
        totals=service.source_totals(session=session),
        runs=service.list_runs(session=session, limit=15),
        daily=service.daily_counts(session=session),
        open_dead=service.open_dead_letter_count(session=session),
        layouts=adapters.LAYOUTS,
        names={s.id: s.name for s in sources},
    )


@router.post("/ingest/upload")
@body_limit(upload_limit)
def upload(
    source: str = Form(...),
    vendor: str = Form(""),
    file: UploadFile = File(...),
    user: User = Depends(steward_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    found = get_source(session=session, key=source)
    if not file.filename:
        raise BadRequest("请选择要上传的文件", code="no_file")
    path = save_upload(file)
    try:
        result = service.load_file(
            session=session,
            source=found,
            path=path,
            vendor=vendor or None,
            file_name=path.name,
            started_by=user.id,
        )
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    return RedirectResponse(f"/ingest/runs/{result.run_id}", status_code=303)


@router.get("/ingest/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    run_id: int,
    request: Request,
    user: User = Depends(steward_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    run = service.get_run(session=session, run_id=run_id)
    sources = {s.id: s for s in service.list_sources(session=session)}
    return page(
        request,
        "ingest/run.html",
        run=run,
        source=sources.get(run.source_id) if run.source_id else None,
        dead=service.list_dead_letters(session=session, run_id=run_id, limit=500),
    )


@router.get("/ingest/dead-letters", response_class=HTMLResponse)
def dead_letters_page(
    request: Request,
    source: str = Query(""),
    status: str = Query("open"),
    reason: str = Query(""),
    user: User = Depends(steward_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    letters = service.list_dead_letters(
        session=session, source_key=source or None, status=status or None, reason=reason or None
    )
    return page(
        request,
        "ingest/dead_letters.html",
        letters=letters,
        sources=service.list_sources(session=session),
        filters={"source": source, "status": status, "reason": reason},
        statuses=[s.value for s in DeadLetterStatus],
    )


@router.get("/ingest/dead-letters/{dead_letter_id}", response_class=HTMLResponse)
def dead_letter_page(
    dead_letter_id: int,
    request: Request,
    user: User = Depends(steward_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    dead = service.get_dead_letter(session=session, dead_letter_id=dead_letter_id)
    try:
        pretty = json.dumps(loads_json(dead.raw), ensure_ascii=False, indent=2)
    except ValueError:
        pretty = dead.raw
    return page(request, "ingest/dead_letter.html", dead=dead, pretty=pretty)


@router.post("/ingest/dead-letters/replay")
def replay_selected(
    request: Request,
    ids: list[int] = Form(...),
    user: User = Depends(steward_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    result = service.replay_dead_letters(session=session, ids=ids, by=user.id)
    return RedirectResponse(f"/ingest/runs/{result.run_id}", status_code=303)


@router.post("/ingest/dead-letters/{dead_letter_id}/replay")
def replay_one(
    dead_letter_id: int,
    corrected: str = Form(""),
    user: User = Depends(steward_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    record: dict[str, Any] | None = None
    if corrected.strip():
        try:
            record = loads_json(corrected)
        except InputRefused as exc:
            message = f"更正后的记录不能使用：{exc.problem.message}"
            raise BadRequest(message, code="bad_json") from None
        except json.JSONDecodeError as exc:
            raise BadRequest(f"更正后的记录不是合法的 JSON：{exc.msg}", code="bad_json") from None
        if not isinstance(record, dict):
            raise BadRequest("更正后的记录须为 JSON 对象", code="bad_json")
    service.replay_dead_letters(session=session, ids=[dead_letter_id], by=user.id, corrected=record)
    return RedirectResponse(f"/ingest/dead-letters/{dead_letter_id}", status_code=303)


@router.post("/ingest/dead-letters/{dead_letter_id}/discard")
def discard(
    dead_letter_id: int,
    reason: str = Form(""),
    user: User = Depends(steward_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    service.discard_dead_letter(
        session=session, dead_letter_id=dead_letter_id, reason=reason, by=user.id
    )
    return RedirectResponse(f"/ingest/dead-letters/{dead_letter_id}", status_code=303)
