"""JSON API of the subject databases (``/api/v1/subjects``), for data stewards."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.errors import NotFound
from govloop.core.input_guard import INT_MAX
from govloop.core.models import User
from govloop.subjects import linking, quality, service, stewardship
from govloop.subjects.identifiers import check_phone, check_resident_id, check_uscc

router = APIRouter(
    prefix="/api/v1/subjects", tags=["subjects"], dependencies=[Depends(csrf_protect)]
)
steward = require(Permission.DATA_STEWARD)

CHECKS = {"resident_id": check_resident_id, "credit_code": check_uscc, "phone": check_phone}


class ResolveIn(BaseModel):
    value: str = Field(min_length=1, max_length=500)
    note: str = Field(default="", max_length=500)


# the reason is checked by the service (2–500 characters once trimmed), so that a missing
# or blank one gets the same answer everywhere
REASON = Field(default="", max_length=2_000, description="理由（去掉首尾空白后 2–500 个字）")
RecordId = Annotated[int, Field(ge=1, le=INT_MAX)]


class SplitIn(BaseModel):
    record_ids: list[RecordId] = Field(min_length=1, max_length=10_000)
    reason: str = REASON


class MoveIn(BaseModel):
    target_master_id: RecordId | None = Field(description="目标主记录；null 表示移到新主记录")
    reason: str = REASON


class NotSameIn(BaseModel):
    record_a: RecordId
    record_b: RecordId
    reason: str = REASON


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
        "decisions": [d.as_dict() for d in stewardship.decisions_of(session, m.id)],
    }


@router.post("/masters/{master_id}/split")
def split(
    master_id: int,
    body: SplitIn,
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """The given records leave the master for a new one; the majority keeps the id."""
    kept, new = stewardship.split_master(session, master_id, body.record_ids, user, body.reason)
    return {"kept_master_id": kept, "new_master_id": new}


@router.post("/records/{record_id}/move")
def move(
    record_id: int,
    body: MoveIn,
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """One record to another master of its kind (``target_master_id`` null: a new one)."""
    source, target = stewardship.move_record(
        session, record_id, body.target_master_id, user, body.reason
    )
    return {"record_id": record_id, "from_master_id": source, "to_master_id": target}


@router.post("/not-same")
def not_same(
    body: NotSameIn,
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """Two records are never one subject; if they are in one master now, record_b leaves."""
    pair = stewardship.mark_not_same(session, body.record_a, body.record_b, user, body.reason)
    return {
        "id": pair.id,
        "record_a": pair.record_a,
        "record_b": pair.record_b,
        "reason": pair.reason,
        "decided_at": pair.decided_at.isoformat(),
        "masters": {
            str(r): stewardship.master_of_record(session, r) for r in (body.record_a, body.record_b)
        },
    }


@router.get("/suspicious")
def suspicious(
    kind: str = Query("person", max_length=16),
    limit: int = Query(100, ge=1, le=1_000),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """Masters that look wrongly merged, riskiest first, with their reasons."""
    rows = stewardship.suspicious_masters(session, kind=kind, limit=limit)
    return {"kind": kind, "masters": [r.as_dict() for r in rows]}


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
    full: bool = Query(False, description="Also cluster every person record again"),
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    reports = linking.run_all(session=session)
    relinked = linking.relink_persons(session=session) if full else None
    return {
        "reports": [
            {k: v for k, v in asdict(r).items() if k != "touched"} | {"touched": len(r.touched)}
            for r in reports
        ],
        "relink": relinked,
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
