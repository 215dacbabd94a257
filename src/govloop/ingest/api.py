"""JSON routes of the data platform.

``POST /api/ingest/{source_key}/batch`` is the push API: a source's system sends
``{"records": [...]}`` with its key in ``X-Source-Key``. Rows that fail are dead letters and
the rest are stored; a push with an unknown source or a wrong key is refused (404 / 403)
and kept as dead letters, so nothing sent is lost; a body that is not such JSON is refused
with 422 and nothing is stored.

The other routes are the data steward's: file upload, runs, dead letters, replay, discard.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.errors import BadRequest, PermissionDenied
from govloop.core.input_guard import InputRefused, loads_json
from govloop.core.models import User
from govloop.ingest import service
from govloop.ingest.models import DeadLetter, IngestRun, Source
from govloop.ingest.pipeline import get_source, source_for_api_key

router = APIRouter(prefix="/api/ingest", tags=["ingest"], dependencies=[Depends(csrf_protect)])
steward = require(Permission.DATA_STEWARD)

MAX_BODY = 20 * 1024 * 1024


async def _body(request: Request) -> bytes:
    return await request.body()


def _refused(status: int, code: str, message: str, kept: int) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": code, "message": message, "dead_letters": kept},
    )


@router.post("/{source_key}/batch")
def push_batch(
    source_key: str,
    request: Request,
    body: bytes = Depends(_body),
    session: Session = Depends(get_session, scope="function"),
) -> JSONResponse:
    # kept as received in dead letters; NUL escaped (PostgreSQL text cannot hold it)
    text = body.decode("utf-8", errors="replace").replace("\x00", "\\x00")
    refused: InputRefused | None = None
    try:
        parsed: Any = loads_json(text) if body else None
    except InputRefused as exc:  # too deep, or values no record may hold
        parsed, refused = None, exc
    except json.JSONDecodeError:
        parsed = None
    source = session.scalar(select(Source).where(Source.key == source_key))
    api_key = request.headers.get("x-source-key")
    if source is None or not source.active:
        kept = service.refuse_batch(
            session=session,
            source_key=source_key,
            body=parsed,
            raw_body=text[:MAX_BODY],
            reason_code="unknown_source",
            reason=f"未知或已停用的数据源：{source_key}",
        )
        return _refused(404, "unknown_source", f"未找到数据源：{source_key}", kept)
    try:
        keyed = source_for_api_key(session=session, api_key=api_key)
    except PermissionDenied:
        keyed = None
    if keyed is None or keyed.id != source.id:
        kept = service.refuse_batch(
            session=session,
            source_key=source_key,
            body=parsed,
            raw_body=text[:MAX_BODY],
            reason_code="bad_source_key",
            reason="推送密钥缺失或不属于此数据源",
        )
        return _refused(403, "bad_source_key", "推送密钥缺失或不属于此数据源", kept)
    if refused is not None:
        return JSONResponse(
            status_code=422,
            content={
                "error": "invalid_input",
                "message": f"请求体不能使用：{refused.problem.message}，未存储任何内容",
            },
        )
    records = parsed.get("records") if isinstance(parsed, dict) else None
    if not isinstance(records, list):
        return JSONResponse(
            status_code=422,
            content={
                "error": "malformed_body",
                "message": '请求体须为 JSON 对象 {"records": [...]}，未存储任何内容',
            },
        )
    if len(records) > service.MAX_BATCH:
        return JSONResponse(
            status_code=422,
            content={
                "error": "batch_too_large",
                "message": f"每批最多 {service.MAX_BATCH} 条记录，未存储任何内容",
            },
        )
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
