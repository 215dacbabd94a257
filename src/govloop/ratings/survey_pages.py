"""Pages of the SERVQUAL surveys (问卷): the citizen's questionnaire and the managers' list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, public
from govloop.core.errors import GovloopError
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.input_guard import digits_int
from govloop.core.models import User
from govloop.hall import overview
from govloop.org import service as org_service
from govloop.org.models import Hall
from govloop.ratings import servqual
from govloop.ratings import views as rating_views
from govloop.ratings.pages import DIMENSIONS, manager_page, page
from govloop.web.kit import page_user, posted_form, refuse

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def _survey_items(survey_questionnaire: dict[str, Any]) -> list[dict[str, Any]]:
    """The questionnaire's items grouped by dimension, in order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in survey_questionnaire["items"]:
        groups.setdefault(item["dimension"], []).append(item)
    return [{"dimension": d, "items": groups[d]} for d in DIMENSIONS if d in groups]


def _survey_page(
    request: Request,
    session: Session,
    code: str,
    *,
    answers: dict[str, dict[str, str]] | None = None,
    missing: list[str] | None = None,
    error: str | None = None,
    done: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    survey = servqual.get_survey(session=session, code=code)
    lo, hi = survey.questionnaire["scale"]
    return page(
        request,
        "surveys/survey.html",
        status_code=status_code,
        survey=survey,
        hall=session.get(Hall, survey.hall_id) if survey.hall_id else None,
        groups=_survey_items(survey.questionnaire),
        scale=list(range(lo, hi + 1)),
        answers=answers or {},
        missing=set(missing or []),
        error=error,
        done=done,
    )


@router.get("/surveys/{code}", response_class=HTMLResponse, dependencies=[Depends(public)])
def survey_form(
    request: Request,
    code: str,
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    return _survey_page(request, session, code[:32])


@router.post("/surveys/{code}", response_class=HTMLResponse, dependencies=[Depends(public)])
def survey_submit(
    request: Request,
    code: str,
    viewer: User | None = Depends(page_user),
    form: FormData = Depends(posted_form),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    survey = servqual.get_survey(session=session, code=code[:32])
    raw: dict[str, dict[str, str]] = {}
    answers: dict[str, dict[str, Any]] = {}
    for item in survey.questionnaire["items"]:
        no = str(item["no"])
        pair = {k: str(form.get(f"{k}_{no}", ""))[:2] for k in ("e", "p")}
        raw[no] = pair
        expected, perceived = digits_int(pair["e"]), digits_int(pair["p"])
        if expected is not None and perceived is not None:
            answers[no] = {"e": expected, "p": perceived}
    try:
        servqual.submit(session=session, survey=survey, answers=answers)
    except GovloopError as exc:
        session.rollback()
        missing = [str(n) for n in exc.details.get("missing", [])]
        return _survey_page(
            request,
            session,
            survey.code,
            answers=raw,
            missing=missing,
            error=exc.message,
            status_code=exc.status_code,
        )
    return _survey_page(request, session, survey.code, done=True)


def _surveys_page(
    request: Request,
    session: Session,
    *,
    hall: str = "",
    survey_code: str = "",
    notice: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    surveys = rating_views.list_surveys(session=session)
    hall_id = org_service.get_hall(session=session, code=hall).id if hall else None
    selected = servqual.get_survey(session=session, code=survey_code) if survey_code else None
    gaps = servqual.gap_scores(
        session=session,
        survey_ids=[selected.id] if selected else None,
        hall_id=hall_id,
    )
    halls = overview.hall_directory(session=session)
    return page(
        request,
        "surveys/index.html",
        status_code=status_code,
        surveys=surveys,
        halls=halls,
        filters={"hall": hall, "survey": survey_code},
        selected=selected,
        gaps=gaps,
        item_text={i["no"]: i for i in servqual.questionnaire()["items"]},
        notice=notice,
        error=error,
        form=form or {},
    )


@router.get("/surveys", response_class=HTMLResponse)
def surveys(
    request: Request,
    hall: str = Query("", max_length=32),
    survey: str = Query("", max_length=32),
    done: str = Query("", max_length=16),
    user: User = Depends(manager_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    notice = _(SURVEY_NOTICES[done]) if done in SURVEY_NOTICES else None
    return _surveys_page(request, session, hall=hall, survey_code=survey, notice=notice)


@router.post("/surveys", response_class=HTMLResponse)
def survey_create(
    request: Request,
    code: str = Form("", max_length=32),
    title: str = Form("", max_length=200),
    hall: str = Form("", max_length=32),
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    try:
        hall_id = org_service.get_hall(session=session, code=hall).id if hall else None
        created = servqual.create_survey(
            session=session, code=code.strip(), title=title, hall_id=hall_id
        )
    except GovloopError as exc:
        form = {"code": code, "title": title, "hall": hall}
        return refuse(
            session, exc, lambda **shown: _surveys_page(request, session, form=form, **shown)
        )
    return RedirectResponse(f"/surveys?done=created&survey={created.code}", status_code=303)


def _survey_transition(request: Request, session: Session, code: str, action: str) -> Response:
    try:
        survey = servqual.get_survey(session=session, code=code)
        if action == "published":
            servqual.publish(session=session, survey=survey)
        else:
            servqual.close(session=session, survey=survey)
    except GovloopError as exc:
        return refuse(session, exc, lambda **shown: _surveys_page(request, session, **shown))
    return RedirectResponse(f"/surveys?done={action}&survey={code}", status_code=303)


@router.post("/surveys/{code}/publish", response_class=HTMLResponse)
def survey_publish(
    request: Request,
    code: str,
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _survey_transition(request, session, code[:32], "published")


@router.post("/surveys/{code}/close", response_class=HTMLResponse)
def survey_close(
    request: Request,
    code: str,
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _survey_transition(request, session, code[:32], "closed")


SURVEY_NOTICES = {
    "created": N_("Survey created as a draft"),
    "published": N_("Survey published"),
    "closed": N_("Survey closed"),
}
