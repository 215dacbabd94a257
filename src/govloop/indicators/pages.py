"""Server-rendered pages of the indicators: monthly assessment scorecards (考评) with
charts, the drill-down to the events behind a figure, and the Excel / PDF exports.

Routes are thin: read the query, authorize through a dependency, call the scorecard and
results services, render. Bad input raises a GovloopError, shown as the friendly page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session
from govloop.core.deps import csrf_protect
from govloop.core.i18n import N_, get_locale
from govloop.core.models import User
from govloop.hall import overview
from govloop.indicators import export_reports, results, scorecards
from govloop.web.kit import staff_page
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
viewer_page = staff_page(Permission.HALL_VIEW)


KIND_LABELS = {
    "staff": N_("Staff"),
    "window": N_("Windows"),
    "department": N_("Departments"),
    "item": N_("Service items"),
    "hall": N_("Hall"),
}
RAG_LABELS = {
    "green": N_("Meets target"),
    "amber": N_("Close to target (within 10 percent)"),
    "red": N_("Misses target by more than 10 percent"),
}


def _hall_or_first(session: Session, hall: str) -> tuple[str, list[dict[str, object]]]:
    halls = overview.hall_directory(session=session)
    return hall or (str(halls[0]["code"]) if halls else ""), halls


@router.get("/indicators/scorecards", response_class=HTMLResponse)
def scorecards_page(
    request: Request,
    hall: str = Query("", max_length=32),
    object_kind: str = Query("staff", alias="object", max_length=16),
    period: str = Query("", max_length=32),
    focus: int | None = Query(None, description="Object shown in the radar and detail"),
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall_code, halls = _hall_or_first(session, hall)
    period_text = period.strip() or scorecards.default_period()
    card = scorecards.scorecard(
        session=session, hall_code=hall_code, object_kind=object_kind, period_text=period_text
    )
    selected = card.row(focus) or (card.rows[0] if card.rows else None)
    query = urlencode({"hall": card.hall_code, "object": card.object_kind, "period": card.period})
    return render(
        request,
        "indicators/scorecards.html",
        {
            "halls": halls,
            "card": card,
            "selected": selected,
            "kinds": scorecards.SCORECARD_KINDS,
            "kind_labels": KIND_LABELS,
            "rag_labels": RAG_LABELS,
            "filters": {"hall": hall_code, "object": object_kind, "period": period_text},
            "chart": scorecards.chart_data(
                card,
                selected,
                english=get_locale() == "en",
                focus_url=f"/indicators/scorecards?{query}",
            ),
        },
    )


@router.get("/indicators/drilldown", response_class=HTMLResponse)
def drilldown_page(
    request: Request,
    hall: str = Query(..., max_length=32),
    indicator: str = Query(..., max_length=64),
    period: str = Query(..., max_length=32),
    object_kind: str = Query("hall", alias="object", max_length=16),
    object_id: int = Query(0, alias="id"),
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    scorecards.check_kind(object_kind)
    detail = results.drilldown(
        session=session,
        hall_code=hall,
        object_kind=object_kind,
        object_id=object_id,
        period_text=period,
        indicator=indicator,
        limit=200,
    )
    card = scorecards.scorecard(
        session=session, hall_code=hall, object_kind=object_kind, period_text=period
    )
    column = next((c for c in card.indicators if c.code == indicator), None)
    return render(
        request,
        "indicators/drilldown.html",
        {
            "detail": detail,
            "card": card,
            "row": card.row(detail["object_id"]),
            "column": column,
            "kind_labels": KIND_LABELS,
            "rag_labels": RAG_LABELS,
        },
    )


def _export_cards(
    session: Session, hall: str, kinds: list[str], period: str
) -> list[scorecards.Scorecard]:
    return scorecards.scorecards(
        session=session,
        hall_code=hall,
        kinds=kinds,
        period_text=period.strip() or scorecards.default_period(),
    )


def _download(body: bytes, media_type: str, name: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/indicators/scorecards.xlsx")
def scorecards_xlsx(
    hall: str = Query(..., max_length=32),
    object_kind: list[str] = Query([], alias="object"),
    period: str = Query("", max_length=32),
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    cards = _export_cards(session, hall, object_kind, period)
    return _download(
        export_reports.build_xlsx(cards),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        export_reports.filename(cards[0].hall_code, cards[0].period, "xlsx"),
    )


@router.get("/indicators/scorecards.pdf")
def scorecards_pdf(
    hall: str = Query(..., max_length=32),
    object_kind: list[str] = Query([], alias="object"),
    period: str = Query("", max_length=32),
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    cards = _export_cards(session, hall, object_kind, period)
    return _download(
        export_reports.build_pdf(cards),
        "application/pdf",
        export_reports.filename(cards[0].hall_code, cards[0].period, "pdf"),
    )
