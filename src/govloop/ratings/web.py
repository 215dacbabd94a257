"""The ratings' routers, for the application to mount."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from govloop.core.jobs import Job
from govloop.hall import manage_panels
from govloop.org.models import Hall
from govloop.ratings import api, case_pages, pages, survey_api, survey_pages
from govloop.ratings import views as rating_views


@manage_panels.register
def _rectification_panel(session: Session, hall: Hall) -> dict[str, Any]:
    """The hall's open rectification cases, on the manager's page."""
    return {"rectification": rating_views.case_summary(session=session, hall_id=hall.id)}


ROUTERS: list[APIRouter] = [
    api.router,
    survey_api.router,
    pages.router,
    case_pages.router,
    survey_pages.router,
]
JOBS: list[Job] = []
