"""JSON of the hotline dashboard: ``GET /api/v1/hotline/dashboard?from=&to=``.

The figures and their definitions are those of :mod:`govloop.hotline.dashboard.service`. A
department handler gets the city-wide figures and ranking, and the overdue orders of its
own unit only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session
from govloop.core.deps import require
from govloop.core.models import User
from govloop.hotline.dashboard import service as dashboard

router = APIRouter(prefix="/api/v1/hotline", tags=["hotline"])
handler = require(Permission.HOTLINE_HANDLE)


@router.get("/dashboard")
def hotline_dashboard(
    start: str | None = Query(None, alias="from", max_length=32, description="YYYY-MM-DD"),
    end: str | None = Query(None, alias="to", max_length=32, description="YYYY-MM-DD"),
    user: User = Depends(handler),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """Volumes, time limits, callbacks, satisfaction, overdue orders and the department
    ranking of the orders accepted in the period (default: the last 30 days)."""
    figures, own = dashboard.for_viewer(session=session, viewer=user, start=start, end=end)
    return {**figures.as_dict(), "viewer_department_id": own}
