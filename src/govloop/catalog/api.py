"""JSON API of the data platform: the catalog (``/api/catalog``), tags (``/api/tags``)
and the knowledge graph (``/api/graph``). Data stewards and admins only.

Bad input (unknown dataset, tag or entity, malformed entity id) is a GovloopError,
rendered once as JSON with a stable ``error`` code; nothing is written by a read.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from govloop.catalog import graph, service, tags
from govloop.catalog.models import DatasetProfile, TagAssignment
from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User

router = APIRouter(prefix="/api", tags=["catalog"], dependencies=[Depends(csrf_protect)])
steward = require(Permission.DATA_STEWARD)


def profile_out(profile: DatasetProfile | None) -> dict[str, Any] | None:
    if profile is None:
        return None
    return {
        "measured_at": profile.measured_at.isoformat(),
        "rows": profile.rows,
        "passed": profile.passed,
        "score": profile.score,
        "checks": profile.checks,
        "duration_ms": profile.duration_ms,
    }


def entry_out(entry: service.CatalogEntry, *, schema: bool = False) -> dict[str, Any]:
    d = entry.dataset
    out: dict[str, Any] = {
        "key": d.key,
        "title": _(d.title) if not d.payload else d.title,
        "owner": d.owner,
        "source": d.source,
        "schema_name": d.schema_name,
        "rows": entry.fresh.rows,
        "newest_at": entry.fresh.newest_at.isoformat() if entry.fresh.newest_at else None,
        "age_seconds": int(entry.fresh.age.total_seconds()) if entry.fresh.age else None,
        "quality": profile_out(entry.profile),
    }
    if schema:
        out["fields"] = [
            {"name": f.name, "type": f.type, "required": f.required, "note": f.note}
            for f in d.fields
        ]
        out["checks"] = [{"code": c.code, "label": _(c.label)} for c in d.checks]
    return out


@router.get("/catalog/datasets")
def list_datasets(
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    return [entry_out(e) for e in service.catalog(session=session)]


@router.get("/catalog/datasets/{key}")
def get_dataset(
    key: str,
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    return entry_out(service.catalog_entry(session=session, key=key), schema=True)


@router.post("/catalog/profile")
def profile(
    dataset: list[str] | None = Query(None, description="Dataset keys; default: all"),
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> list[dict[str, Any]]:
    """Measure quality now (a full pass over the rows of each dataset)."""
    done = service.profile_datasets(session=session, keys=dataset)
    return [{"key": p.dataset_key, **(profile_out(p) or {})} for p in done]


def assignment_out(a: TagAssignment) -> dict[str, Any]:
    return {
        "tag": a.tag_code,
        "subject": f"{a.subject_type}:{a.subject_key}",
        "label": a.subject_label,
        "rule_version": a.rule_version,
        "computed_at": a.computed_at.isoformat(),
        "evidence": a.evidence,
    }


@router.get("/tags")
def list_tags(
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    run = tags.latest_run(session=session)
    return {
        "computed_at": run.computed_at.isoformat() if run else None,
        "tags": [
            {
                "code": t.rule.code,
                "name": t.rule.name,
                "name_en": t.rule.name_en,
                "subject": t.rule.subject,
                "version": t.rule.version,
                "rule": t.rule.rule,
                "params": t.rule.params,
                "description": t.rule.description,
                "subjects": t.subjects,
                "stale": t.stale,
            }
            for t in tags.list_tags(session=session)
        ],
    }


@router.post("/tags/compute")
def compute(
    user: User = Depends(steward), session: Session = Depends(get_session, scope="function")
) -> dict[str, Any]:
    run = tags.compute_tags(session=session)
    return {
        "run_id": run.id,
        "computed_at": run.computed_at.isoformat(),
        "counts": run.counts,
        "subjects_scanned": run.subjects_scanned,
        "duration_ms": run.duration_ms,
    }


@router.get("/tags/{code}/subjects")
def tag_subjects(
    code: str,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    rule, total, rows = tags.subjects_with_tag(
        session=session, code=code, limit=limit, offset=offset
    )
    return {"tag": rule.code, "total": total, "subjects": [assignment_out(a) for a in rows]}


@router.get("/subjects/tags")
def subject_tags(
    entity: str = Query(..., max_length=200, description="person:<ID> or enterprise:<code>"),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    name, rows = tags.tags_of_subject(session=session, entity=entity)
    return {"entity": entity.strip(), "label": name, "tags": [assignment_out(a) for a in rows]}


def view_out(view: graph.GraphView) -> dict[str, Any]:
    return {
        "center": view.center,
        "nodes": view.nodes,
        "edges": [e | {"label": _(graph.RELATIONS[e["relation"]])} for e in view.edges],
        "total_nodes": view.total_nodes,
        "truncated": view.truncated,
        "build_ms": view.build_ms,
    }


@router.get("/graph/neighborhood")
def neighborhood(
    entity: str = Query(..., max_length=200, description="<type>:<key>, e.g. person:3501…"),
    depth: int = Query(2, ge=1, le=graph.MAX_DEPTH),
    limit: int = Query(graph.MAX_NODES, ge=1, le=1000, description="Most nodes returned"),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    view = graph.neighborhood(session=session, entity=entity, depth=depth, max_nodes=limit)
    return view_out(view) | {"depth": depth}


@router.get("/graph/path")
def path(
    from_: str = Query(..., alias="from", max_length=200),
    to: str = Query(..., max_length=200),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    view = graph.path(session=session, source=from_, target=to)
    return view_out(view) | {"found": bool(view.nodes), "hops": max(len(view.nodes) - 1, 0)}


@router.get("/graph/search")
def search(
    q: str = Query(..., min_length=1, max_length=100),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    return graph.search(session=session, query=q)
