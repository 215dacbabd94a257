"""Pages of the subject databases (主题库) for data stewards: master records with the
provenance of every value, the conflict queue, and the data-quality report."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.subjects import feedback, linking, quality, service
from govloop.subjects.feedback import FIELD_LABELS
from govloop.subjects.quality import DIMENSIONS
from govloop.web.pages import page_user
from govloop.web.templating import render

# page_user puts the viewer in the header
router = APIRouter(
    include_in_schema=False, dependencies=[Depends(csrf_protect), Depends(page_user)]
)
steward = require(Permission.DATA_STEWARD)

KIND_LABELS = {"person": N_("Person"), "enterprise": N_("Enterprise"), "project": N_("Project")}
METHOD_LABELS = {
    "identifier": N_("Identifier"),
    "probabilistic": N_("Probabilistic match"),
    "new": N_("First record"),
    "steward": N_("Data steward"),
}
RULE_LABELS = {
    "only": N_("Only one source"),
    "agreed": N_("Sources agree"),
    "decision": N_("Data steward's decision"),
    "validity": N_("The only valid value"),
    "priority": N_("Most authoritative source"),
    "recency": N_("Most recent value"),
}
NOTICES = {
    "linked": N_("New records linked into the master records"),
    "resolved": N_("Decision saved; the master record uses the chosen value"),
    "assessed": N_("Data quality assessed"),
}


def page(request: Request, name: str, **context: Any) -> HTMLResponse:
    return render(
        request,
        name,
        {
            "kind_labels": KIND_LABELS,
            "method_labels": METHOD_LABELS,
            "rule_labels": RULE_LABELS,
            "field_labels": FIELD_LABELS,
            "dimensions": DIMENSIONS,
            "notice": NOTICES.get(request.query_params.get("done", "")),
            **context,
        },
    )


@router.get("/subjects", response_class=HTMLResponse)
def overview(
    request: Request,
    kind: str = Query("", max_length=16),
    q: str = Query("", max_length=100),
    page_no: int = Query(1, alias="page", ge=1, le=100_000),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    masters, total = service.search_masters(
        session=session, kind=kind or None, query=q, page=page_no
    )
    return page(
        request,
        "subjects/index.html",
        masters=masters,
        total=total,
        page_no=page_no,
        pages=max(1, -(-total // service.PAGE)),
        filters={"kind": kind, "q": q},
        counts=service.counts(session=session),
        linked_by=linking.count_by_method(session=session),
    )


@router.post("/subjects/link")
def link_now(
    user: User = Depends(steward), session: Session = Depends(get_session, scope="function")
) -> Response:
    linking.run_all(session=session)
    return RedirectResponse("/subjects?done=linked", status_code=303)


@router.get("/subjects/conflicts", response_class=HTMLResponse)
def conflicts(
    request: Request,
    status: str = Query("open", max_length=16),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    rows = service.list_conflicts(session=session, status=status)
    return page(request, "subjects/conflicts.html", rows=rows, status=status)


@router.post("/subjects/conflicts/{conflict_id}/resolve")
def resolve(
    conflict_id: int,
    value: str = Form(..., max_length=500),
    note: str = Form("", max_length=500),
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    service.resolve_conflict(
        session=session, conflict_id=conflict_id, value=value, actor=user, note=note
    )
    return RedirectResponse("/subjects/conflicts?done=resolved", status_code=303)


@router.get("/subjects/quality", response_class=HTMLResponse)
def quality_report(
    request: Request,
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    run = quality.latest_run(session=session)
    results = quality.results_of(session=session, run_id=run.id) if run else []
    history = quality.trend(session=session)
    sources = sorted({s for _, scores in history for s in scores})
    chart = {
        "runs": [r.started_at.isoformat() for r, _ in history],
        "series": [
            {
                "name": s,
                "data": [
                    round(scores[s] * 100, 2) if s in scores else None for _, scores in history
                ],
            }
            for s in sources
        ],
        "label": _("Overall score (%)"),
    }
    return page(
        request,
        "subjects/quality.html",
        run=run,
        results=results,
        summary=quality.summarize(results),
        chart_json=json.dumps(chart, ensure_ascii=False),
    )


@router.post("/subjects/quality/run")
def run_quality(
    user: User = Depends(steward), session: Session = Depends(get_session, scope="function")
) -> Response:
    quality.run_assessment(session=session)
    return RedirectResponse("/subjects/quality?done=assessed", status_code=303)


@router.get("/subjects/quality/feedback/{source_key}.xlsx")
def feedback_download(
    source_key: str,
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    data = feedback.feedback_workbook(session=session, source_key=source_key)
    filename = f"feedback-{source_key}.xlsx"
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/subjects/{master_id}", response_class=HTMLResponse)
def master(
    request: Request,
    master_id: int,
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    detail = service.master_detail(session=session, master_id=master_id)
    return page(request, "subjects/master.html", detail=detail)
