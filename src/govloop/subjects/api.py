"""JSON API of the subject databases (``/api/v1/subjects``), for data stewards."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.errors import NotFound
from govloop.core.models import User
from govloop.subjects import linking, quality, service
from govloop.subjects.identifiers import check_phone, check_resident_id, check_uscc

router = APIRouter(
    prefix="/api/v1/subjects", tags=["subjects"], dependencies=[Depends(csrf_protect)]
)
steward = require(Permission.DATA_STEWARD)

CHECKS = {"resident_id": check_resident_id, "credit_code": check_uscc, "phone": check_phone}


class ResolveIn(BaseModel):
    value: str = Field(min_length=1, max_length=500)
    note: str = Field(default="", max_length=500)


@router.get("/masters")
def masters(
    kind: str | None = Query(default=None, max_length=16),
    q: str = Query("", max_length=100),
    page: int = Query(1, ge=1, le=100_000),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    rows, total = service.search_masters(session=session, kind=kind, query=q, page=page)
    return {"total": total, "page": page, "masters": [asdict(r) for r in rows]}


@router.get("/masters/{master_id}")
def master(
    master_id: int,
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    detail = service.master_detail(session=session, master_id=master_id)
    m = detail.master
    return {
        "id": m.id,
        "kind": m.kind,
        "identifier": m.identifier,
        "name": m.display_name,
        "attributes": m.attributes,
        "provenance": m.provenance,
        "records": [
            {
                "record_id": lr.record.id,
                "source": lr.record.source_key,
                "record_key": lr.record.event_id,
                "file_name": lr.record.file_name,
                "row_number": lr.record.row_number,
                "method": lr.method,
                "probability": lr.probability,
                "values": lr.record.payload,
                "changes": lr.record.changes,
            }
            for lr in detail.records
        ],
        "conflicts": [_conflict(c) for c in detail.conflicts],
    }


def _conflict(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "master_id": c.master_id,
        "field": c.field,
        "candidates": c.candidates,
        "status": c.status,
        "decided_value": c.decided_value,
        "note": c.note,
    }


@router.get("/conflicts")
def conflicts(
    status: str = Query("open", max_length=16),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    rows = service.list_conflicts(session=session, status=status)
    return {"conflicts": [_conflict(c) for c, _ in rows]}


@router.post("/conflicts/{conflict_id}/resolve")
def resolve(
    conflict_id: int,
    body: ResolveIn,
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    conflict = service.resolve_conflict(
        session=session, conflict_id=conflict_id, value=body.value, actor=user, note=body.note
    )
    return _conflict(conflict)


@router.post("/link")
def link(
    user: User = Depends(steward), session: Session = Depends(get_session, scope="function")
) -> dict[str, Any]:
    reports = linking.run_all(session=session)
    return {
        "reports": [
            {k: v for k, v in asdict(r).items() if k != "touched"} | {"touched": len(r.touched)}
            for r in reports
        ]
    }


@router.get("/quality")
def latest_quality(
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    run = quality.latest_run(session=session)
    if run is None:
        return {"run": None, "summary": {}, "results": []}
    results = quality.results_of(session=session, run_id=run.id)
    return {
        "run": {
            "id": run.id,
            "started_at": run.started_at.isoformat(),
            "records": run.records,
            "score": run.score,
        },
        "summary": quality.summarize(results),
        "results": [
            {
                "source": r.source_key,
                "table": r.table_name,
                "field": r.field,
                "dimension": r.dimension,
                "metric": r.metric,
                "A": r.passed,
                "B": r.total,
                "X": r.score,
                "samples": r.samples,
            }
            for r in results
        ],
    }


@router.get("/check/{kind}/{value}")
def check_identifier(kind: str, value: str, user: User = Depends(steward)) -> dict[str, Any]:
    """Validate one identifier and say why it fails."""
    check = CHECKS.get(kind)
    if check is None:
        raise NotFound(f"未知的标识类型：{kind}（可用：{'、'.join(CHECKS)}）", code="unknown_kind")
    return asdict(check(value))
