"""Pages of the bad-rating rectification cases (差评整改) and the ratings figures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core.clock import local_today, local_tz
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import BadRequest, GovloopError
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.hall import overview
from govloop.org import service as org_service
from govloop.ratings import figures as rating_figures
from govloop.ratings import rectification
from govloop.ratings import views as rating_views
from govloop.ratings.models import CaseStatus
from govloop.ratings.pages import manager_page, operator_page, page, viewer_page
from govloop.web.kit import refuse

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def _day_range(start: date, end: date) -> tuple[datetime, datetime]:
    """[start, end] as local days → [start 00:00, end+1 00:00) in the hall's time zone."""
    tz = local_tz()
    return (
        datetime.combine(start, time(0), tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz),
    )


def _parse_date(value: str | None, default: date) -> date:
    if not value or not value.strip():
        return default
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(_("Please enter dates as YYYY-MM-DD"), code="bad_date") from None


@router.get("/ratings/cases", response_class=HTMLResponse)
def cases(
    request: Request,
    hall: str = Query("", max_length=32),
    start: str = Query("", max_length=10),
    end: str = Query("", max_length=10),
    open_only: bool = False,
    overdue_only: bool = False,
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    today = local_today()
    first = _parse_date(start, today.replace(day=1))
    last = _parse_date(end, today)
    if last < first:
        raise BadRequest(_("The end date is before the start date"), code="bad_range")
    hall_id = org_service.get_hall(session=session, code=hall).id if hall else None
    lo, hi = _day_range(first, last)
    return page(
        request,
        "ratings/cases.html",
        halls=overview.hall_directory(session=session),
        filters={
            "hall": hall,
            "start": first.isoformat(),
            "end": last.isoformat(),
            "open_only": open_only,
            "overdue_only": overdue_only,
        },
        figures=rating_figures.figures(session=session, hall_id=hall_id, start=lo, end=hi),
        levels_count=rating_figures.level_counts(
            session=session, hall_id=hall_id, start=lo, end=hi
        ),
        cases=rating_views.case_views(
            session=session,
            hall_id=hall_id,
            open_only=open_only,
            overdue_only=overdue_only,
            start=lo,
            end=hi,
        ),
        summary=rating_views.case_summary(session=session, hall_id=hall_id),
    )


def _case_page(
    request: Request,
    session: Session,
    case_id: int,
    user: User,
    *,
    notice: str | None = None,
    error: str | None = None,
    failed: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = rating_views.case_view(session=session, case_id=case_id)
    return page(
        request,
        "ratings/case.html",
        status_code=status_code,
        view=view,
        timeline=rating_views.case_timeline(session=session, case=view.case),
        notice=notice,
        error=error,
        failed=failed,
        form=form or {},
        own_appeal=view.case.appealed_by == user.id,
        allowed=rectification.allowed_actions(
            session=session, case=view.case, rating=view.rating, actor=user
        ),
        statuses=CaseStatus,
    )


@router.get("/ratings/cases/{case_id}", response_class=HTMLResponse)
def case_detail(
    request: Request,
    case_id: int,
    done: str = Query("", max_length=16),
    user: User = Depends(viewer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    notice = _(CASE_NOTICES[done]) if done in CASE_NOTICES else None
    return _case_page(request, session, case_id, user, notice=notice)


def _case_action(
    request: Request,
    session: Session,
    case_id: int,
    user: User,
    action: str,
    form: dict[str, str],
    run: Callable[[], object],
) -> Response:
    try:
        run()
    except GovloopError as exc:
        return refuse(
            session,
            exc,
            lambda **refusal: _case_page(
                request,
                session,
                case_id,
                user,
                failed=action,
                form=form,
                **refusal,
            ),
        )
    return RedirectResponse(f"/ratings/cases/{case_id}?done={action}", status_code=303)


@router.post("/ratings/cases/{case_id}/callback", response_class=HTMLResponse)
def case_callback(
    request: Request,
    case_id: int,
    note: str = Form("", max_length=2000),
    user: User = Depends(operator_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _case_action(
        request,
        session,
        case_id,
        user,
        "callback",
        {"note": note},
        lambda: rectification.record_callback(
            session=session, case_id=case_id, actor=user, note=note
        ),
    )


@router.post("/ratings/cases/{case_id}/rectify", response_class=HTMLResponse)
def case_rectify(
    request: Request,
    case_id: int,
    evidence: str = Form("", max_length=4000),
    result: str = Form("", max_length=4000),
    user: User = Depends(operator_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _case_action(
        request,
        session,
        case_id,
        user,
        "rectify",
        {"evidence": evidence, "result": result},
        lambda: rectification.record_rectification(
            session=session, case_id=case_id, actor=user, evidence=evidence, result=result
        ),
    )


@router.post("/ratings/cases/{case_id}/close", response_class=HTMLResponse)
def case_close(
    request: Request,
    case_id: int,
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _case_action(
        request,
        session,
        case_id,
        user,
        "close",
        {},
        lambda: rectification.close_case(session=session, case_id=case_id, actor=user),
    )


@router.post("/ratings/cases/{case_id}/appeal", response_class=HTMLResponse)
def case_appeal(
    request: Request,
    case_id: int,
    reason: str = Form("", max_length=2000),
    user: User = Depends(operator_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _case_action(
        request,
        session,
        case_id,
        user,
        "appeal",
        {"reason": reason},
        lambda: rectification.appeal(session=session, case_id=case_id, actor=user, reason=reason),
    )


@router.post("/ratings/cases/{case_id}/review", response_class=HTMLResponse)
def case_review(
    request: Request,
    case_id: int,
    decision: str = Form("", max_length=8),
    note: str = Form("", max_length=2000),
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    def run() -> object:
        if decision not in ("uphold", "reject"):
            raise BadRequest(_("Please choose to uphold or reject the appeal"), code="decision")
        return rectification.review_appeal(
            session=session, case_id=case_id, actor=user, uphold=decision == "uphold", note=note
        )

    return _case_action(
        request, session, case_id, user, "review", {"decision": decision, "note": note}, run
    )


CASE_NOTICES = {
    "callback": N_("Callback recorded"),
    "rectify": N_("Rectification recorded"),
    "close": N_("Case closed"),
    "appeal": N_("Appeal filed; a hall manager will review it"),
    "review": N_("Appeal reviewed"),
}
