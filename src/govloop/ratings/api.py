"""JSON API of 好差评 (``/api/v1/ratings``)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.clock import local_tz
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require, secret_link
from govloop.core.models import User
from govloop.hall import service as hall_service
from govloop.org import service as org_service
from govloop.ratings import figures as ratings_figures
from govloop.ratings import rectification, service
from govloop.ratings.schemas import (
    AppealIn,
    MatterRatingIn,
    NoteIn,
    RatingIn,
    RectifyIn,
    ReviewIn,
    case_out,
    figures_out,
    rating_out,
)

router = APIRouter(prefix="/api/v1/ratings", tags=["ratings"], dependencies=[Depends(csrf_protect)])
viewer = require(Permission.HALL_VIEW)
# Recording a callback, a rectification or an appeal is acting on the case: never the
# auditor (who views); the service further limits it to whoever answers for the matter.
handler = require(Permission.WINDOW_OPERATE)
manager = require(Permission.HALL_MANAGE)


@router.post("/tickets/{public_id}", status_code=201, dependencies=[Depends(secret_link)])
def rate_ticket(
    public_id: str, body: RatingIn, session: Session = Depends(get_session, scope="function")
) -> dict[str, Any]:
    """一次一评 by the ticket's public id (QR code, my-ticket page, rating pad)."""
    ticket = hall_service.get_ticket_by_public_id(session=session, public_id=public_id)
    rating = service.rate_ticket(session=session, ticket=ticket, data=body.to_input())
    return rating_out(rating)


@router.post("/matters", status_code=201)
def rate_matter(
    body: MatterRatingIn,
    user: User = Depends(require(Permission.HOTLINE_HANDLE)),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """一事一评 for an online or hotline matter (e.g. recorded at the hotline callback)."""
    item_id = department_id = None
    if body.item_code:
        item = hall_service.get_item(session=session, code=body.item_code)
        item_id, department_id = item.id, item.department_id
    if body.department_code:
        department_id = org_service.get_department(session=session, code=body.department_code).id
    rating = service.rate_matter(
        session=session,
        source=body.source,
        ref=body.ref,
        department_id=department_id,
        item_id=item_id,
        staff_id=None,
        data=body.to_input(),
        recorded_by=user,
    )
    return rating_out(rating)


def _range(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    tz = local_tz()
    return (
        datetime.combine(start, time(0), tzinfo=tz) if start else None,
        datetime.combine(end, time(0), tzinfo=tz) if end else None,
    )


@router.get("/figures")
def rating_figures(
    hall: str | None = Query(default=None, max_length=32),
    start: date | None = None,
    end: date | None = Query(default=None, description="exclusive"),
    user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    hall_id = org_service.get_hall(session=session, code=hall).id if hall else None
    lo, hi = _range(start, end)
    return figures_out(ratings_figures.figures(session=session, hall_id=hall_id, start=lo, end=hi))


@router.get("/cases")
def list_cases(
    hall: str | None = Query(default=None, max_length=32),
    open_only: bool = False,
    user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    hall_id = org_service.get_hall(session=session, code=hall).id if hall else None
    return [
        case_out(c) | {"rating": rating_out(r)}
        for c, r in rectification.list_cases(session=session, hall_id=hall_id, open_only=open_only)
    ]


@router.get("/cases/{case_id}")
def get_case(
    case_id: int,
    user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    case, rating = rectification.get_case(session=session, case_id=case_id, lock=False)
    return case_out(case) | {"rating": rating_out(rating)}


@router.post("/cases/{case_id}/callback")
def callback(
    case_id: int,
    body: NoteIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    return case_out(
        rectification.record_callback(session=session, case_id=case_id, actor=user, note=body.note)
    )


@router.post("/cases/{case_id}/rectify")
def rectify(
    case_id: int,
    body: RectifyIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    return case_out(
        rectification.record_rectification(
            session=session, case_id=case_id, actor=user, evidence=body.evidence, result=body.result
        )
    )


@router.post("/cases/{case_id}/close")
def close(
    case_id: int,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    return case_out(rectification.close_case(session=session, case_id=case_id, actor=user))


@router.post("/cases/{case_id}/appeal")
def appeal(
    case_id: int,
    body: AppealIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    return case_out(
        rectification.appeal(session=session, case_id=case_id, actor=user, reason=body.reason)
    )


@router.post("/cases/{case_id}/review")
def review(
    case_id: int,
    body: ReviewIn,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    return case_out(
        rectification.review_appeal(
            session=session, case_id=case_id, actor=user, uphold=body.uphold, note=body.note
        )
    )
