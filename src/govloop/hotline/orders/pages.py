"""Pages of the hotline center and the departments: the workbench, intake (受理) with
routing and knowledge-base suggestions, the order list, and one order with the actions the
viewer may take next.

Every action posts to ``/hotline/orders/{id}/act/{action}``; a refusal rolls the unit of
work back and shows the order again with the service's message, so it never writes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from govloop.core.auth import Permission
from govloop.core.clock import local_tz, now
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import BadRequest, GovloopError
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.input_guard import digits_int
from govloop.core.models import User
from govloop.hotline.models import (
    OPEN_STATUSES,
    Assignment,
    AssignmentStatus,
    Channel,
    HotlineCategory,
    OrderStatus,
    OrderType,
    Urgency,
    WorkOrder,
)
from govloop.hotline.orders import intake, journal, queries, routing, sla, workflow
from govloop.org.models import Department
from govloop.web.kit import page_renderer, posted_form, refuse, staff_page

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


hotline_page = staff_page(Permission.HOTLINE_HANDLE)


LABELS: dict[str, dict[str, str]] = {
    "status": {
        "accepted": N_("Accepted"),
        "dispatched": N_("Dispatched"),
        "signed": N_("Signed for"),
        "in_progress": N_("In progress"),
        "answered": N_("Answered"),
        "closed": N_("Closed"),
        "called_back": N_("Called back"),
        "rated": N_("Rated"),
        "merged": N_("Merged"),
    },
    "type": {
        "enquiry": N_("Enquiry"),
        "help": N_("Request for help"),
        "complaint": N_("Complaint"),
        "report": N_("Report"),
        "suggestion": N_("Suggestion"),
        "praise": N_("Praise"),
    },
    "channel": {
        "phone": N_("Phone"),
        "web": N_("Web form"),
        "h5": N_("Mobile H5"),
        "email": N_("Email"),
        "open311": N_("Open311"),
        "sms": N_("SMS"),
    },
    "urgency": {"normal": N_("Normal"), "urgent": N_("Urgent")},
    "clock": {
        "not_started": N_("Not dispatched"),
        "running": N_("On time"),
        "warning": N_("Due soon"),
        "overdue": N_("Overdue"),
        "done_on_time": N_("Closed on time"),
        "done_late": N_("Closed late"),
    },
    "role": {"lead": N_("Lead unit"), "assist": N_("Assisting unit")},
    "assignment": {
        "dispatched": N_("Waiting to be signed for"),
        "signed": N_("Signed for"),
        "return_requested": N_("Return requested"),
        "returned": N_("Returned"),
        "answered": N_("Answered"),
        "withdrawn": N_("Withdrawn"),
    },
    "event": {
        "order.accepted": N_("Accepted"),
        "order.dispatched": N_("Dispatched"),
        "order.redispatched": N_("Re-dispatched"),
        "order.signed": N_("Signed for"),
        "order.progress": N_("Progress noted"),
        "order.return_requested": N_("Return requested"),
        "order.return_approved": N_("Return approved"),
        "order.return_rejected": N_("Return rejected"),
        "order.answered": N_("Answered"),
        "order.answer_rejected": N_("Answer sent back"),
        "order.answered_directly": N_("Answered at intake"),
        "order.closed": N_("Closed"),
        "order.supervised": N_("Supervised"),
        "order.called_back": N_("Called back"),
        "order.rated": N_("Rated"),
        "order.merged": N_("Merged into another order"),
        "order.absorbed": N_("Duplicate merged in"),
        "sla.warning": N_("Time limit close"),
        "sla.overdue": N_("Time limit passed"),
    },
}

NOTICES = {
    "created": N_("Order registered"),
    "dispatch": N_("Order dispatched"),
    "sign": N_("Signed for"),
    "progress": N_("Progress noted"),
    "return": N_("Return requested; the center will review it"),
    "review": N_("Return reviewed"),
    "answer": N_("Answer sent"),
    "reject_answer": N_("Answer sent back to the unit"),
    "close": N_("Order closed"),
    "direct": N_("Answered and closed"),
    "supervise": N_("Supervision recorded"),
    "callback": N_("Callback recorded"),
    "merge": N_("Merged as a duplicate"),
}


page = page_renderer({"labels": LABELS})


def _choices(session: Session) -> dict[str, Any]:
    return {
        "categories": list(
            session.scalars(
                select(HotlineCategory)
                .where(HotlineCategory.active)
                .order_by(HotlineCategory.group_name, HotlineCategory.code)
            )
        ),
        "departments": list(session.scalars(select(Department).order_by(Department.code))),
        "order_types": [t.value for t in OrderType],
        "channels": [c.value for c in Channel],
        "urgencies": [u.value for u in Urgency],
    }


# --- workbench -----------------------------------------------------------------------------


def _center_queues(session: Session) -> dict[str, list[WorkOrder]]:
    def orders(*conditions: Any, limit: int = 20) -> list[WorkOrder]:
        return list(
            session.scalars(
                select(WorkOrder).where(*conditions).order_by(WorkOrder.created_at).limit(limit)
            )
        )

    return_pending = select(Assignment.order_id).where(
        Assignment.status == AssignmentStatus.RETURN_REQUESTED
    )
    return {
        "to_dispatch": orders(WorkOrder.status == OrderStatus.ACCEPTED),
        "returns": orders(WorkOrder.id.in_(return_pending)),
        "answered": orders(WorkOrder.status == OrderStatus.ANSWERED),
        "overdue": orders(
            WorkOrder.status.in_(list(OPEN_STATUSES)),
            WorkOrder.due_at < now(),
        ),
        "callback": orders(WorkOrder.status == OrderStatus.CLOSED, WorkOrder.callback_at.is_(None)),
    }


def _department_queues(session: Session, department_id: int) -> dict[str, list[WorkOrder]]:
    def orders(*statuses: str) -> list[WorkOrder]:
        mine = select(Assignment.order_id).where(
            Assignment.department_id == department_id, Assignment.status.in_(statuses)
        )
        return list(
            session.scalars(
                select(WorkOrder)
                .where(WorkOrder.id.in_(mine))
                .order_by(WorkOrder.due_at.is_(None), WorkOrder.due_at)
                .limit(50)
            )
        )

    return {
        "to_sign": orders(AssignmentStatus.DISPATCHED),
        "handling": orders(AssignmentStatus.SIGNED),
        "waiting": orders(AssignmentStatus.RETURN_REQUESTED, AssignmentStatus.ANSWERED),
    }


@router.get("/hotline", response_class=HTMLResponse)
def workbench(
    request: Request,
    user: User = Depends(hotline_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    if journal.is_center(user):
        counts = dict(
            session.execute(
                select(WorkOrder.status, func.count(WorkOrder.id)).group_by(WorkOrder.status)
            ).all()
        )
        return page(
            request,
            "hotline/workbench.html",
            center=True,
            queues=_center_queues(session),
            counts=counts,
            overdue_total=session.scalar(
                select(func.count(WorkOrder.id)).where(
                    WorkOrder.status.in_(list(OPEN_STATUSES)), WorkOrder.due_at < now()
                )
            ),
            clock=_clock_fn(),
        )
    department_id = journal.require_department(session, user)
    return page(
        request,
        "hotline/workbench.html",
        center=False,
        department=session.get(Department, department_id),
        queues=_department_queues(session, department_id),
        clock=_clock_fn(),
    )


def _clock_fn() -> Callable[[WorkOrder], Any]:
    moment = now()
    return lambda order: sla.handling_clock(order, moment)


# --- intake 受理 -----------------------------------------------------------------------------


@router.get("/hotline/orders/new", response_class=HTMLResponse)
def new_order_form(
    request: Request,
    user: User = Depends(hotline_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    journal.require_center(user)
    return page(request, "hotline/new_order.html", form={}, error=None, **_choices(session))


@router.get("/hotline/orders/suggest", response_class=HTMLResponse)
def suggest_partial(
    request: Request,
    content: str = Query(default="", max_length=4000),
    user: User = Depends(hotline_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    """The routing suggestion while the agent types: category, unit and confidence."""
    found = routing.suggest(session=session, text=content) if content.strip() else None
    category = session.get(HotlineCategory, found.category_id) if found else None
    department = (
        session.get(Department, found.department_id) if found and found.department_id else None
    )
    return page(
        request,
        "hotline/_suggestion.html",
        suggestion=found,
        category=category,
        department=department,
    )


@router.post("/hotline/orders/new", response_class=HTMLResponse)
def create_order(
    request: Request,
    posted: FormData = Depends(posted_form),
    user: User = Depends(hotline_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    form = {k: str(v) for k, v in posted.items()}
    try:
        journal.require_center(user)
        order = intake.create_order(session=session, data=_order_input(form), actor=user)
    except GovloopError as exc:
        return refuse(
            session,
            exc,
            lambda **refusal: page(
                request,
                "hotline/new_order.html",
                form=form,
                **_choices(session),
                **refusal,
            ),
        )
    return RedirectResponse(f"/hotline/orders/{order.id}?done=created", status_code=303)


def _order_input(form: dict[str, str]) -> intake.OrderInput:
    def number(name: str) -> float | None:
        raw = form.get(name, "").strip()
        if not raw:
            return None
        try:
            return float(raw)
        except ValueError:
            raise BadRequest(
                _("Latitude and longitude must be numbers"), code="bad_number"
            ) from None

    return intake.OrderInput(
        channel=form.get("channel") or Channel.PHONE,
        content=form.get("content", ""),
        title=form.get("title") or None,
        order_type=form.get("order_type") or None,
        urgency=form.get("urgency") or Urgency.NORMAL,
        category_code=form.get("category_code") or None,
        caller_name=form.get("caller_name") or None,
        caller_phone=form.get("caller_phone") or None,
        caller_email=form.get("caller_email") or None,
        confidential=form.get("confidential") == "on",
        district=form.get("district") or None,
        address=form.get("address") or None,
        lat=number("lat"),
        long=number("long"),
    )


# --- list and one order ----------------------------------------------------------------------


@router.get("/hotline/orders", response_class=HTMLResponse)
def order_list(
    request: Request,
    status: str = Query(default="", max_length=16),
    overdue: bool = False,
    q: str = Query(default="", max_length=100),
    category: str = Query(default="", max_length=32),
    since: str = Query(default="", max_length=10),
    page_no: int = Query(default=1, ge=1, alias="page"),
    user: User = Depends(hotline_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    error = None
    start = None
    if since:
        try:
            start = datetime.combine(date.fromisoformat(since), time(0), local_tz())
        except ValueError:
            error = _("Please enter a date as YYYY-MM-DD")
    category_id = None
    if category:
        found = session.scalar(select(HotlineCategory.id).where(HotlineCategory.code == category))
        category_id = found if found is not None else -1
    filters = queries.OrderFilter(
        status=status or None,
        overdue=overdue,
        text=q or None,
        category_id=category_id,
        since=start,
    )
    size = 50
    try:
        rows, total = queries.list_orders(
            session=session, viewer=user, filters=filters, limit=size, offset=(page_no - 1) * size
        )
    except GovloopError as exc:
        rows, total, error = [], 0, exc.message
    return page(
        request,
        "hotline/orders.html",
        orders=rows,
        total=total,
        page_no=page_no,
        pages=max(1, -(-total // size)),
        filters={
            "status": status,
            "overdue": overdue,
            "q": q,
            "category": category,
            "since": since,
        },
        error=error,
        clock=_clock_fn(),
        names=queries.names(session),
        **_choices(session),
    )


def _order_page(
    request: Request,
    session: Session,
    order_id: int,
    user: User,
    *,
    notice: str | None = None,
    error: str | None = None,
    failed: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    order = journal.get_order(session, order_id)
    view = queries.view(session, order, user)
    center = journal.is_center(user)
    my_department = None if center else journal.department_of(session, user)
    mine = next(
        (
            a
            for a in view.assignments
            if a["department_id"] == my_department
            and a["status"] in (s.value for s in workflow.LIVE_ASSIGNMENT)
        ),
        None,
    )
    departments, _categories = queries.names(session)
    return page(
        request,
        "hotline/order.html",
        view=view,
        order=order,
        center=center,
        mine=mine,
        timeline=queries.timeline(session, order),
        duplicates=intake.find_duplicates(session=session, order=order)
        if center and order.status in OPEN_STATUSES
        else [],
        department_names=departments,
        notice=notice,
        error=error,
        failed=failed,
        form=form or {},
        status_code=status_code,
        **_choices(session),
    )


@router.get("/hotline/orders/{order_id}", response_class=HTMLResponse)
def order_page(
    request: Request,
    order_id: int,
    done: str = Query(default="", max_length=20),
    user: User = Depends(hotline_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    notice = _(NOTICES[done]) if done in NOTICES else None
    return _order_page(request, session, order_id, user, notice=notice)


def _department_id(session: Session, code: str) -> int:
    found = session.scalar(select(Department.id).where(Department.code == code))
    if found is None:
        raise BadRequest(_("Please choose a unit"), code="unknown_department")
    return found


def _action(
    action: str, session: Session, order_id: int, user: User, form: dict[str, Any]
) -> object:
    text = str(form.get("text", ""))
    if action == "dispatch":
        category = str(form.get("category_code") or "")
        return workflow.dispatch(
            session=session,
            order_id=order_id,
            actor=user,
            department_id=_department_id(session, str(form.get("department_code", ""))),
            assist_department_ids=[_department_id(session, c) for c in form.get("assist", []) if c],
            category_id=intake.get_category(session, category).id if category else None,
            note=text or None,
        )
    simple: dict[str, Callable[[], object]] = {
        "sign": lambda: workflow.sign(session=session, order_id=order_id, actor=user),
        "progress": lambda: workflow.add_progress(
            session=session, order_id=order_id, actor=user, note=text
        ),
        "return": lambda: workflow.request_return(
            session=session, order_id=order_id, actor=user, reason=text
        ),
        "review": lambda: workflow.review_return(
            session=session,
            order_id=order_id,
            actor=user,
            approve=form.get("decision") == "approve",
            note=text or None,
        ),
        "answer": lambda: workflow.answer(
            session=session, order_id=order_id, actor=user, text=text
        ),
        "reject_answer": lambda: workflow.reject_answer(
            session=session, order_id=order_id, actor=user, reason=text
        ),
        "close": lambda: workflow.close(
            session=session, order_id=order_id, actor=user, answer_text=text or None
        ),
        "direct": lambda: intake.answer_directly(
            session=session,
            order_id=order_id,
            actor=user,
            answer=text,
            kb_article_id=digits_int(str(form.get("kb_article_id", ""))),
        ),
        "supervise": lambda: workflow.supervise(
            session=session, order_id=order_id, actor=user, note=text
        ),
        "callback": lambda: workflow.record_callback(
            session=session,
            order_id=order_id,
            actor=user,
            reached=form.get("reached") == "yes",
            note=text or None,
            level=digits_int(str(form.get("level", ""))),
        ),
        "merge": lambda: intake.merge_order(
            session=session,
            order_id=order_id,
            into_id=journal.get_order_by_number(session, str(form.get("into", "")).strip()).id,
            actor=user,
        ),
    }
    if action not in simple:
        raise BadRequest(_("Unknown action"), code="unknown_action")
    return simple[action]()


@router.post("/hotline/orders/{order_id}/act/{action}", response_class=HTMLResponse)
def order_action(
    request: Request,
    order_id: int,
    action: str,
    user: User = Depends(hotline_page),
    raw: FormData = Depends(posted_form),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    form: dict[str, Any] = {k: str(v) for k, v in raw.items()}
    form["assist"] = [str(v) for v in raw.getlist("assist")]
    try:
        _action(action, session, order_id, user, form)
    except GovloopError as exc:
        return refuse(
            session,
            exc,
            lambda **refusal: _order_page(
                request,
                session,
                order_id,
                user,
                failed=action,
                form={k: v for k, v in form.items() if isinstance(v, str)},
                **refusal,
            ),
        )
    return RedirectResponse(f"/hotline/orders/{order_id}?done={action}", status_code=303)
