"""JSON API of the work orders (``/api/v1/hotline``): thin routes over intake, workflow and
queries. The caller of a confidential order is absent from what a department receives."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.clock import local_tz
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.errors import NotFound
from govloop.core.models import User
from govloop.hotline.models import WorkOrder
from govloop.hotline.orders import directory, intake, journal, queries, routing, workflow
from govloop.hotline.orders.schemas import (
    CallbackIn,
    CloseIn,
    DirectAnswerIn,
    DispatchIn,
    MergeIn,
    OrderIn,
    ReviewIn,
    TextIn,
    event_out,
    order_out,
)
from govloop.org.models import Department

router = APIRouter(prefix="/api/v1/hotline", tags=["hotline"], dependencies=[Depends(csrf_protect)])
handler = require(Permission.HOTLINE_HANDLE)


def department_id(session: Session, code: str) -> int:
    found = session.scalar(select(Department.id).where(Department.code == code))
    if found is None:
        raise NotFound(f"未知的承办单位：{code}", code="unknown_department")
    return found


def _out(
    session: Session,
    order: WorkOrder,
    user: User,
    *,
    just_accepted: bool = False,
    known: directory.Directory | None = None,
) -> dict[str, Any]:
    session.flush()
    view = queries.view(session, order, user, just_accepted=just_accepted, known=known)
    return order_out(view)


@router.post("/orders", status_code=201)
def create_order(
    body: OrderIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """受理 an order (agent form, or another system with an API token)."""
    journal.require_center(user)
    known = directory.current(session)  # read once for intake and the answer
    order = intake.create_order(session=session, data=body.to_input(), actor=user, tables=known)
    return _out(session, order, user, just_accepted=True, known=known)


@router.get("/orders")
def list_orders(
    status: str | None = Query(default=None, max_length=16),
    overdue: bool = False,
    channel: str | None = Query(default=None, max_length=16),
    q: str | None = Query(default=None, max_length=100),
    since: date | None = None,
    until: date | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
    user: User = Depends(handler),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    tz = local_tz()
    filters = queries.OrderFilter(
        status=status,
        overdue=overdue,
        channel=channel,
        text=q,
        since=datetime.combine(since, time(0), tz) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(0), tz) if until else None,
    )
    rows, total = queries.list_orders(
        session=session, viewer=user, filters=filters, limit=limit, offset=offset
    )
    return {
        "total": total,
        "orders": [order_out(queries.view(session, o, user)) for o in rows],
    }


@router.get("/orders/{order_id}")
def get_order(
    order_id: int,
    user: User = Depends(handler),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    order = journal.get_order(session, order_id)
    out = order_out(queries.view(session, order, user))
    out["events"] = [event_out(e) for e in queries.timeline(session, order)]
    return out


@router.get("/orders/{order_id}/duplicates")
def duplicates(
    order_id: int,
    user: User = Depends(handler),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    journal.require_center(user)
    order = journal.get_order(session, order_id)
    return [
        order_out(queries.view(session, o, user))
        for o in intake.find_duplicates(session=session, order=order)
    ]


@router.get("/suggest")
def suggest(
    text: str = Query(min_length=1, max_length=4000),
    _user: User = Depends(handler),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """The routing suggestion for a text being typed; the agent confirms it."""
    found = routing.suggest(session=session, text=text)
    if found is None:
        return {"suggestion": None}
    return {
        "suggestion": {
            "category": found.category_code,
            "department_id": found.department_id,
            "confidence": found.confidence,
            "source": found.source,
        }
    }


@router.post("/orders/{order_id}/dispatch")
def dispatch(
    order_id: int,
    body: DispatchIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """派单, or 改派 when already dispatched."""
    category_id = None
    if body.category_code:
        category_id = intake.get_category(session, body.category_code).id
    order = workflow.dispatch(
        session=session,
        order_id=order_id,
        actor=user,
        department_id=department_id(session, body.department_code),
        assist_department_ids=[department_id(session, c) for c in body.assist_department_codes],
        category_id=category_id,
        note=body.note,
    )
    return _out(session, order, user)


@router.post("/orders/{order_id}/sign")
def sign(
    order_id: int,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    return _out(session, workflow.sign(session=session, order_id=order_id, actor=user), user)


@router.post("/orders/{order_id}/progress")
def progress(
    order_id: int,
    body: TextIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    order = workflow.add_progress(session=session, order_id=order_id, actor=user, note=body.text)
    return _out(session, order, user)


@router.post("/orders/{order_id}/return")
def request_return(
    order_id: int,
    body: TextIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """退单 with a reason; the center reviews it."""
    order = workflow.request_return(
        session=session, order_id=order_id, actor=user, reason=body.text
    )
    return _out(session, order, user)


@router.post("/orders/{order_id}/return-review")
def review_return(
    order_id: int,
    body: ReviewIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    order = workflow.review_return(
        session=session, order_id=order_id, actor=user, approve=body.approve, note=body.note
    )
    return _out(session, order, user)


@router.post("/orders/{order_id}/answer")
def answer(
    order_id: int,
    body: TextIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    order = workflow.answer(session=session, order_id=order_id, actor=user, text=body.text)
    return _out(session, order, user)


@router.post("/orders/{order_id}/reject-answer")
def reject_answer(
    order_id: int,
    body: TextIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    order = workflow.reject_answer(session=session, order_id=order_id, actor=user, reason=body.text)
    return _out(session, order, user)


@router.post("/orders/{order_id}/close")
def close(
    order_id: int,
    body: CloseIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    order = workflow.close(session=session, order_id=order_id, actor=user, answer_text=body.answer)
    return _out(session, order, user)


@router.post("/orders/{order_id}/direct-answer")
def direct_answer(
    order_id: int,
    body: DirectAnswerIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """即问即答."""
    order = intake.answer_directly(
        session=session,
        order_id=order_id,
        actor=user,
        answer=body.answer,
        kb_article_id=body.kb_article_id,
    )
    return _out(session, order, user)


@router.post("/orders/{order_id}/supervise")
def supervise(
    order_id: int,
    body: TextIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """督办."""
    order = workflow.supervise(session=session, order_id=order_id, actor=user, note=body.text)
    return _out(session, order, user)


@router.post("/orders/{order_id}/callback")
def callback(
    order_id: int,
    body: CallbackIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """回访, with the citizen's rating when given."""
    order = workflow.record_callback(
        session=session,
        order_id=order_id,
        actor=user,
        reached=body.reached,
        note=body.note,
        level=body.level,
        comment=body.comment,
    )
    return _out(session, order, user)


@router.post("/orders/{order_id}/merge")
def merge(
    order_id: int,
    body: MergeIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    target = journal.get_order_by_number(session, body.into_number)
    order = intake.merge_order(session=session, order_id=order_id, into_id=target.id, actor=user)
    return _out(session, order, user)
