"""JSON routes of the data platform.

``POST /api/ingest/{source_key}/batch`` is the push API: a source's system sends
``{"records": [...]}`` with its key in ``X-Source-Key``. The key is checked before the body
is read: an unknown or inactive source, a missing key or another source's key all get the
same 401, with nothing read and nothing stored. A body over ``GOVLOOP_INGEST_MAX_BODY_BYTES``
is refused with 413 while it streams in, more than ``GOVLOOP_INGEST_MAX_ROWS`` records with
422, and a body that is not such JSON with 422, all with nothing stored. Of an accepted
batch, rows that fail are dead letters and the rest are stored.

The other routes are the data steward's: file upload (at most
``GOVLOOP_INGEST_MAX_UPLOAD_BYTES``), runs, dead letters, replay, discard.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.bodies import LimitedRoute, body_limit
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import api_key, csrf_protect, require
from govloop.core.errors import BadRequest
from govloop.core.input_guard import InputRefused, loads_json
from govloop.core.models import User
from govloop.core.settings import get_settings
from govloop.ingest import service
from govloop.ingest.models import DeadLetter, IngestRun, Source
from govloop.ingest.pipeline import get_source, pushing_source

router = APIRouter(
    prefix="/api/ingest",
    tags=["ingest"],
    dependencies=[Depends(csrf_protect)],
    route_class=LimitedRoute,
)
steward = require(Permission.DATA_STEWARD)


def push_limit() -> int:
    return get_settings().ingest_max_body_bytes


def upload_limit() -> int:
    return get_settings().ingest_max_upload_bytes


def _check_push(
    source_key: str,
    x_source_key: str | None = Header(default=None),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> None:
    """The key must be the source's before a byte of the body is read (headers only, and a
    read-only session, so a slow sender holds no write lock)."""
    pushing_source(session=session, source_key=source_key, api_key=x_source_key)


async def _push_body(request: Request, _checked: None = Depends(_check_push)) -> bytes:
    # the route's body limit applies while it streams in
    return await request.body()


def _malformed() -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={
            "error": "malformed_body",
            "message": '请求体须为 JSON 对象 {"records": [...]}，未存储任何内容',
        },
    )


@router.post("/{source_key}/batch", dependencies=[Depends(api_key)])
@body_limit(push_limit)
def push_batch(
    source_key: str,
    body: bytes = Depends(_push_body),
    x_source_key: str | None = Header(default=None),
    session: Session = Depends(get_session, scope="function"),
) -> JSONResponse:
    try:
        parsed: Any = loads_json(body.decode("utf-8", errors="replace"))
    except InputRefused as exc:  # too deep, or values no record may hold
        return JSONResponse(
            status_code=422,
            content={
                "error": "invalid_input",
                "message": f"请求体不能使用：{exc.problem.message}，未存储任何内容",
            },
        )
    except (ValueError, RecursionError):
        return _malformed()
    records = parsed.get("records") if isinstance(parsed, dict) else None
    if not isinstance(records, list):
        return _malformed()
    # checked again in the writing transaction (the key may have been replaced meanwhile)
    source = pushing_source(session=session, source_key=source_key, api_key=x_source_key)
    result = service.load_batch(session=session, source=source, records=records)
    return JSONResponse(result.as_dict())


# --- steward routes -----------------------------------------------------------------------


def _source_dict(source: Source) -> dict[str, Any]:
    return {
        "key": source.key,
        "name": source.name,
        "kind": source.kind,
        "schema_name": source.schema_name,
        "department": source.department,
        "mapping": source.mapping,
        "active": source.active,
        "has_push_key": source.api_key_hash is not None,
    }


def run_dict(run: IngestRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "source_id": run.source_id,
        "channel": run.channel,
        "file_name": run.file_name,
        "file_sha256": run.file_sha256,
        "encoding": run.encoding,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "rows_in": run.rows_in,
        "stored": run.stored,
        "duplicates": run.duplicates,
        "rejected": run.rejected,
        "message": run.message,
    }


def dead_letter_dict(dead: DeadLetter) -> dict[str, Any]:
    return {
        "id": dead.id,
        "source_key": dead.source_key,
        "run_id": dead.run_id,
        "file_name": dead.file_name,
        "row_number": dead.row_number,
        "raw": dead.raw,
        "reason_code": dead.reason_code,
        "reason": dead.reason,
        "status": dead.status,
        "created_at": dead.created_at.isoformat(),
        "resolved_at": dead.resolved_at.isoformat() if dead.resolved_at else None,
        "resolved_run_id": dead.resolved_run_id,
        "resolved_by": dead.resolved_by,
        "resolution_note": dead.resolution_note,
        "history": dead.history or [],
    }


@router.get("/sources")
def sources(
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    return [_source_dict(s) for s in service.list_sources(session=session)]


def save_upload(upload: UploadFile) -> Path:
    """The upload in a temporary file with its suffix (the connectors stream from disk)."""
    name = Path(upload.filename or "upload.csv").name
    folder = Path(tempfile.mkdtemp(prefix="govloop-upload-"))
    path = folder / name
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, length=1024 * 1024)
    return path


@router.post("/sources/{source_key}/files")
@body_limit(upload_limit)
def upload_file(
    source_key: str,
    file: UploadFile = File(...),
    vendor: str = Form(""),
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    source = get_source(session=session, key=source_key)
    if not file.filename:
        raise BadRequest("请选择要上传的文件", code="no_file")
    path = save_upload(file)
    try:
        result = service.load_file(
            session=session,
            source=source,
            path=path,
            vendor=vendor or None,
            file_name=path.name,
            started_by=user.id,
        )
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    return result.as_dict()


@router.get("/runs")
def runs(
    source: str | None = Query(None),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    source_id = get_source(session=session, key=source).id if source else None
    return [run_dict(r) for r in service.list_runs(session=session, source_id=source_id)]


@router.get("/runs/{run_id}")
def run_detail(
    run_id: int,
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    run = service.get_run(session=session, run_id=run_id)
    letters = service.list_dead_letters(session=session, run_id=run_id)
    return {**run_dict(run), "dead_letters": [dead_letter_dict(d) for d in letters]}


@router.get("/dead-letters")
def dead_letters(
    source: str | None = Query(None),
    status: str | None = Query(None),
    reason: str | None = Query(None),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    letters = service.list_dead_letters(
        session=session, source_key=source, status=status, reason=reason
    )
    return [dead_letter_dict(d) for d in letters]


# ":int": "/dead-letters/replay" is another resource (POST only), not a letter
@router.get("/dead-letters/{dead_letter_id:int}")
def dead_letter(
    dead_letter_id: int,
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    return dead_letter_dict(service.get_dead_letter(session=session, dead_letter_id=dead_letter_id))


class ReplayBody(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=10_000)
    corrected: dict[str, Any] | None = None


class DiscardBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/dead-letters/replay")
def replay(
    body: ReplayBody,
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    result = service.replay_dead_letters(
        session=session, ids=body.ids, by=user.id, corrected=body.corrected
    )
    return {
        "run_id": result.run_id,
        "replayed": result.replayed,
        "still_open": {str(k): v for k, v in result.still_open.items()},
    }


@router.post("/dead-letters/{dead_letter_id}/discard")
def discard(
    dead_letter_id: int,
    body: DiscardBody,
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    dead = service.discard_dead_letter(
        session=session, dead_letter_id=dead_letter_id, reason=body.reason, by=user.id
    )
    return dead_letter_dict(dead)
