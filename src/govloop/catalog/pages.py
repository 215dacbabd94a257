"""Pages of the data platform: the data catalog (``/catalog``, one page per dataset with
its schema and checks), tags (``/tags``) and the knowledge graph (``/graph``, drawn with
ECharts). Data stewards and admins only.

Routes are thin: parse, authorize, call the services, render. An unknown dataset or tag
is the friendly error page; a bad entity on the graph page is shown on the page itself,
next to the form, with the status of the error. Reads never write.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from govloop.catalog import graph, service, tags
from govloop.catalog.api import view_out
from govloop.catalog.entities import ENTITY_TYPES
from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import GovloopError
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.web.kit import Pagination, staff_page
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


steward_page = staff_page(Permission.DATA_STEWARD)


def age_text(age: timedelta | None) -> str:
    if age is None:
        return "—"
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return _("%(n)s min ago") % {"n": max(minutes, 0)}
    if minutes < 48 * 60:
        return _("%(n)s h ago") % {"n": minutes // 60}
    return _("%(n)s days ago") % {"n": minutes // (24 * 60)}


def score_class(score: float | None) -> str:
    if score is None:
        return "q-none"
    return "q-good" if score >= 0.95 else "q-fair" if score >= 0.8 else "q-poor"


@router.get("/catalog", response_class=HTMLResponse)
def catalog_page(
    request: Request,
    done: str | None = None,
    user: User = Depends(steward_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> HTMLResponse:
    entries = service.catalog(session=session)
    chart = {
        "names": [e.dataset.title if e.dataset.payload else _(e.dataset.title) for e in entries],
        "scores": [
            round(e.profile.score * 100, 1) if e.profile and e.profile.score is not None else None
            for e in entries
        ],
        "label": _("Quality score"),
    }
    return render(
        request,
        "catalog/index.html",
        {
            "entries": entries,
            "age_text": age_text,
            "score_class": score_class,
            "chart": chart,
            "done": done,
        },
    )


@router.post("/catalog/profile")
def profile_now(
    user: User = Depends(steward_page), session: Session = Depends(get_session, scope="function")
) -> RedirectResponse:
    service.profile_datasets(session=session)
    return RedirectResponse("/catalog?done=profiled", status_code=303)


@router.get("/catalog/{key}", response_class=HTMLResponse)
def dataset_page(
    key: str,
    request: Request,
    user: User = Depends(steward_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> HTMLResponse:
    entry = service.catalog_entry(session=session, key=key)
    results = {c["code"]: c for c in (entry.profile.checks if entry.profile else [])}
    return render(
        request,
        "catalog/dataset.html",
        {
            "entry": entry,
            "d": entry.dataset,
            "results": results,
            "age_text": age_text,
            "score_class": score_class,
        },
    )


@router.get("/tags", response_class=HTMLResponse)
def tags_page(
    request: Request,
    entity: str | None = Query(None, max_length=200),
    done: str | None = None,
    user: User = Depends(steward_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> HTMLResponse:
    lookup: dict[str, Any] | None = None
    status = 200
    if entity:
        try:
            name, rows = tags.tags_of_subject(session=session, entity=entity)
            lookup = {"entity": entity.strip(), "name": name, "rows": rows}
        except GovloopError as exc:
            lookup = {"entity": entity, "error": exc.message}
            status = exc.status_code
    rules = {r.code: r for r in tags.shipped_rules().rules}
    return render(
        request,
        "catalog/tags.html",
        {
            "summaries": tags.list_tags(session=session),
            "run": tags.latest_run(session=session),
            "lookup": lookup,
            "rules": rules,
            "types": {k: _(v) for k, v in ENTITY_TYPES.items()},
            "done": done,
            "entity": entity or "",
        },
        status_code=status,
    )


@router.post("/tags/compute")
def compute_now(
    user: User = Depends(steward_page), session: Session = Depends(get_session, scope="function")
) -> RedirectResponse:
    tags.compute_tags(session=session)
    return RedirectResponse("/tags?done=computed", status_code=303)


@router.get("/tags/{code}", response_class=HTMLResponse)
def tag_page(
    code: str,
    request: Request,
    page: int = Query(1, ge=1, le=10000),
    user: User = Depends(steward_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> HTMLResponse:
    shown = Pagination(page=page, per_page=50)
    rule, total, rows = tags.subjects_with_tag(
        session=session, code=code, limit=shown.per_page, offset=shown.offset
    )
    return render(
        request,
        "catalog/tag.html",
        {
            "rule": rule,
            "total": total,
            "rows": rows,
            "page": page,
            "pages": shown.pages(total),
        },
    )


def graph_labels() -> dict[str, Any]:
    return {
        "types": {k: _(v) for k, v in ENTITY_TYPES.items()},
        "relations": {k: _(v) for k, v in graph.RELATIONS.items()},
    }


@router.get("/graph", response_class=HTMLResponse)
def graph_page(
    request: Request,
    entity: str | None = Query(None, max_length=200),
    depth: int = Query(2, ge=1, le=graph.MAX_DEPTH),
    to: str | None = Query(None, max_length=200),
    q: str | None = Query(None, max_length=100),
    user: User = Depends(steward_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> HTMLResponse:
    data: dict[str, Any] | None = None
    error: str | None = None
    status = 200
    matches: list[dict[str, Any]] = []
    try:
        if not (entity or q or to):
            entity = graph.starting_entity(session=session)
        if q and q.strip():
            matches = graph.search(session=session, query=q)
        elif entity and to:
            data = view_out(graph.path(session=session, source=entity, target=to))
            data["mode"] = "path"
        elif entity:
            data = view_out(graph.neighborhood(session=session, entity=entity, depth=depth))
            data["mode"] = "neighborhood"
    except GovloopError as exc:
        error, status = exc.message, exc.status_code
    return render(
        request,
        "catalog/graph.html",
        {
            "data": data,
            "error": error,
            "entity": entity or "",
            "to": to or "",
            "q": q or "",
            "depth": depth,
            "max_depth": graph.MAX_DEPTH,
            "matches": matches,
            "labels": graph_labels(),
        },
        status_code=status,
    )
