"""JSON API of the indicators (``/api/v1/indicators``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session
from govloop.core.deps import public, require
from govloop.core.models import User
from govloop.indicators import results, service
from govloop.indicators.schemas import FrameworkOut, ScoresOut

router = APIRouter(prefix="/api/v1/indicators", tags=["indicators"])
viewer = require(Permission.HALL_VIEW)


@router.get("/framework", dependencies=[Depends(public)])
def framework(
    on: date | None = Query(None, description="The version in force on this day (default today)"),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> FrameworkOut:
    return service.describe_framework(session=session, on=on)


@router.get("/scores")
def scores(
    hall: str = Query(..., description="Hall code"),
    object_kind: str = Query("hall", alias="object", description="hall, department, window, …"),
    period: str = Query(..., description="2026-11, 2026-W48, 2026-11-23 or 2026-11-01..2026-11-15"),
    _user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> ScoresOut:
    return results.scores(
        session=session, hall_code=hall, object_kind=object_kind, period_text=period
    )


@router.get("/drilldown")
def drilldown(
    hall: str = Query(..., description="Hall code"),
    indicator: str = Query(..., description="Indicator code"),
    period: str = Query(..., description="2026-11, 2026-W48, 2026-11-23 or a..b"),
    object_kind: str = Query("hall", alias="object"),
    object_id: int = Query(0, alias="id", description="Object id (not needed for a hall)"),
    limit: int = Query(200),
    _user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """The measures behind one figure and the visits, sessions, appointments or ratings
    they were counted from."""
    return results.drilldown(
        session=session,
        hall_code=hall,
        object_kind=object_kind,
        object_id=object_id,
        period_text=period,
        indicator=indicator,
        limit=limit,
    )
