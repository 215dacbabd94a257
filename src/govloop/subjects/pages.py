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
from govloop.core.errors import GovloopError
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.input_guard import digits_int
from govloop.core.models import User
from govloop.subjects import feedback, linking, quality, service, stewardship
from govloop.subjects.feedback import FIELD_LABELS
from govloop.subjects.quality import DIMENSIONS
from govloop.web.kit import page_renderer, page_user

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
    "split": N_("Master record split: the records now form two master records."),
    "moved": N_("Record moved; both master records have been recomputed."),
    "not_same": N_("Saved: these two records will never be linked into one master record."),
}
DECISION_LABELS = {
    "split": N_("Split master record"),
    "move": N_("Moved a record"),
    "not_same": N_("Marked not the same person"),
    "auto_split": N_("Split by the linkage (hard constraint)"),
    "refused": N_("Match refused by the linkage (hard constraint)"),
    "relink": N_("Moved by a full relink of the linkage"),
}
SEX_LABELS = {"M": N_("Male"), "F": N_("Female")}  # the normalized values (normalize_sex)
# the record tables a source feeds (ingest's declared schemas)
TABLE_LABELS = {
    "person_record": N_("Person records"),
    "enterprise_record": N_("Enterprise records"),
    "project_record": N_("Project records"),
}
# why a master looks wrongly merged (stewardship.REASON_LABELS, for translation)
SUSPICION_LABELS = {
    "two_valid_ids": N_("Two different valid ID numbers"),
    "sex": N_("Sexes differ (at least one from a valid ID number)"),
    "birth_date": N_("Birth dates differ by more than a typo explains"),
    "not_same": N_("A data steward decided they are not the same person"),
    "names_far": N_("Names far apart (neither homophones nor one character apart)"),
    "two_credit_codes": N_("Two different valid unified social credit codes"),
    "two_project_codes": N_("Two different project codes"),
}


page = page_renderer(
    {
        "kind_labels": KIND_LABELS,
        "method_labels": METHOD_LABELS,
        "rule_labels": RULE_LABELS,
        "field_labels": FIELD_LABELS,
        "dimensions": DIMENSIONS,
        "decision_labels": DECISION_LABELS,
        "suspicion_labels": SUSPICION_LABELS,
        "sex_labels": SEX_LABELS,
        "table_labels": TABLE_LABELS,
    },
    lambda request: {
        "notice": NOTICES.get(request.query_params.get("done", "")),
        "other_master": digits_int(request.query_params.get("other", "")),
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


@router.get("/subjects/suspicious", response_class=HTMLResponse)
def suspicious(
    request: Request,
    kind: str = Query("person", max_length=16),
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    """Masters that look wrongly merged, riskiest first."""
    rows = stewardship.suspicious_masters(session, kind=kind, limit=200)
    return page(request, "subjects/suspicious.html", rows=rows, kind=kind)


def _master_page(
    request: Request,
    session: Session,
    master_id: int,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    detail = service.master_detail(session=session, master_id=master_id)
    response = page(
        request,
        "subjects/master.html",
        detail=detail,
        decisions=stewardship.decisions_of(session, master_id),
        error=error,
        form=form or {},
    )
    response.status_code = status_code
    return response


@router.get("/subjects/{master_id}", response_class=HTMLResponse)
def master(
    request: Request,
    master_id: int,
    user: User = Depends(steward),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    return _master_page(request, session, master_id)


def _refused(
    request: Request,
    session: Session,
    master_id: int,
    message: str,
    status_code: int,
    form: dict[str, Any],
) -> HTMLResponse:
    """The master's page again with the reason for the refusal; nothing was changed."""
    session.rollback()
    return _master_page(
        request, session, master_id, error=message, form=form, status_code=status_code
    )


def _ids(values: list[str]) -> list[int] | None:
    parsed = [digits_int(v) for v in values]
    return None if any(v is None for v in parsed) else [v for v in parsed if v is not None]


@router.post("/subjects/{master_id}/split", response_class=HTMLResponse)
def split(
    request: Request,
    master_id: int,
    record_ids: list[str] = Form(default_factory=list),
    reason: str = Form("", max_length=2_000),
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    form = {"action": "split", "reason": reason, "record_ids": set(record_ids)}
    ids = _ids(record_ids)
    if ids is None:
        return _refused(request, session, master_id, _("Choose records of this page."), 400, form)
    try:
        kept, new = stewardship.split_master(session, master_id, ids, user, reason)
    except GovloopError as exc:
        return _refused(request, session, master_id, exc.message, exc.status_code, form)
    return RedirectResponse(f"/subjects/{kept}?done=split&other={new}", status_code=303)


@router.post("/subjects/{master_id}/records/{record_id}/move", response_class=HTMLResponse)
def move(
    request: Request,
    master_id: int,
    record_id: int,
    to: str = Form("master", max_length=16),
    target_master_id: str = Form("", max_length=32),
    reason: str = Form("", max_length=2_000),
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    form = {
        "action": "move",
        "record_id": record_id,
        "to": to,
        "target": target_master_id,
        "reason": reason,
    }
    target: int | None = None
    if to != "new":
        target = digits_int(target_master_id.lstrip("#＃"))
        if target is None:
            message = _("Enter the number of the master record to move the record to.")
            return _refused(request, session, master_id, message, 400, form)
    if stewardship.master_of_record(session, record_id) != master_id:
        message = _("This record is no longer in this master record; reload the page.")
        return _refused(request, session, master_id, message, 409, form)
    try:
        source, joined = stewardship.move_record(session, record_id, target, user, reason)
    except GovloopError as exc:
        return _refused(request, session, master_id, exc.message, exc.status_code, form)
    return RedirectResponse(f"/subjects/{source}?done=moved&other={joined}", status_code=303)


@router.post("/subjects/{master_id}/not-same", response_class=HTMLResponse)
def not_same(
    request: Request,
    master_id: int,
    record_a: str = Form("", max_length=16),
    record_b: str = Form("", max_length=16),
    reason: str = Form("", max_length=2_000),
    user: User = Depends(steward),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    form = {"action": "not_same", "record_a": record_a, "record_b": record_b, "reason": reason}
    a, b = digits_int(record_a), digits_int(record_b)
    if a is None or b is None:
        message = _("Choose two records of this page.")
        return _refused(request, session, master_id, message, 400, form)
    if master_id not in {stewardship.master_of_record(session, r) for r in (a, b)}:
        message = _("This record is no longer in this master record; reload the page.")
        return _refused(request, session, master_id, message, 409, form)
    try:
        stewardship.mark_not_same(session, a, b, user, reason)
    except GovloopError as exc:
        return _refused(request, session, master_id, exc.message, exc.status_code, form)
    moved_to = stewardship.master_of_record(session, b)
    other = f"&other={moved_to}" if moved_to is not None and moved_to != master_id else ""
    return RedirectResponse(f"/subjects/{master_id}?done=not_same{other}", status_code=303)
