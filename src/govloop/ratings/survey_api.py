"""JSON API of the SERVQUAL survey (``/api/v1/surveys``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, public, require
from govloop.core.models import User
from govloop.org import service as org_service
from govloop.ratings import servqual
from govloop.ratings.models import Survey

router = APIRouter(prefix="/api/v1/surveys", tags=["surveys"], dependencies=[Depends(csrf_protect)])
manager = require(Permission.HALL_MANAGE)
viewer = require(Permission.HALL_VIEW)


class SurveyIn(BaseModel):
    code: str = Field(min_length=2, max_length=32)
    title: str = Field(min_length=1, max_length=200)
    hall: str | None = Field(default=None, max_length=32)


class ResponseIn(BaseModel):
    answers: dict[str, dict[str, Any]]


def survey_out(s: Survey) -> dict[str, Any]:
    return {
        "code": s.code,
        "title": s.title,
        "hall_id": s.hall_id,
        "status": s.status,
        "questionnaire": s.questionnaire,
    }


def gaps_out(g: servqual.GapScores) -> dict[str, Any]:
    return {
        "responses": g.responses,
        "overall_gap": g.overall_gap,
        "dimensions": g.dimensions,
        "items": g.items,
    }


@router.post("", status_code=201)
def create_survey(
    body: SurveyIn,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    hall_id = org_service.get_hall(session=session, code=body.hall).id if body.hall else None
    return survey_out(
        servqual.create_survey(session=session, code=body.code, title=body.title, hall_id=hall_id)
    )


@router.post("/{code}/publish")
def publish(
    code: str,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    return survey_out(
        servqual.publish(session=session, survey=servqual.get_survey(session=session, code=code))
    )


@router.post("/{code}/close")
def close(
    code: str,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    return survey_out(
        servqual.close(session=session, survey=servqual.get_survey(session=session, code=code))
    )


@router.get("/{code}", dependencies=[Depends(public)])
def get_survey(
    code: str, session: Session = Depends(get_readonly_session, scope="function")
) -> dict[str, Any]:
    return survey_out(servqual.get_survey(session=session, code=code))


@router.post("/{code}/responses", status_code=201, dependencies=[Depends(public)])
def respond(
    code: str, body: ResponseIn, session: Session = Depends(get_session, scope="function")
) -> dict[str, Any]:
    survey = servqual.get_survey(session=session, code=code)
    response = servqual.submit(session=session, survey=survey, answers=body.answers)
    return {"id": response.id, "survey": survey.code}


@router.get("/{code}/gaps")
def survey_gaps(
    code: str,
    user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    survey = servqual.get_survey(session=session, code=code)
    return gaps_out(servqual.gap_scores(session=session, survey_ids=[survey.id]))


@router.get("/halls/{hall_code}/gaps")
def hall_gaps(
    hall_code: str,
    user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    hall = org_service.get_hall(session=session, code=hall_code)
    return gaps_out(servqual.gap_scores(session=session, hall_id=hall.id))
