"""The citizen's side of the hotline: the web form and the mobile H5 page (with answers from
the knowledge base shown before submitting, 智能交互), progress lookup by order number and
phone, and the rating once the order is closed."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core import ratelimit
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, public
from govloop.core.errors import BadRequest, GovloopError, NotFound, TooManyRequests
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.input_guard import digits_int
from govloop.core.models import User
from govloop.hotline.models import DONE_STATUSES, Channel, OrderStatus, WorkOrder, WorkOrderEvent
from govloop.hotline.orders import intake, journal, workflow
from govloop.web.kit import page_user
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect), Depends(public)])
report_limit = ratelimit.for_client(ratelimit.HOTLINE_REPORT)
track_limit = ratelimit.for_client(ratelimit.HOTLINE_TRACK)

# What a citizen is told about each step; department names and internal notes stay inside.
PUBLIC_STEPS = {
    "order.accepted": N_("Your request was registered"),
    "order.dispatched": N_("Passed to the responsible unit"),
    "order.redispatched": N_("Passed to another unit"),
    "order.signed": N_("The unit has taken it on"),
    "order.answered": N_("The unit has answered"),
    "order.answered_directly": N_("Answered by the hotline"),
    "order.closed": N_("Completed"),
    "order.called_back": N_("The hotline called you back"),
    "order.rated": N_("You rated the service"),
    "order.merged": N_("Handled together with an earlier request on the same matter"),
}
LEVELS = [
    (5, N_("Very satisfied")),
    (4, N_("Satisfied")),
    (3, N_("Basically satisfied")),
    (2, N_("Dissatisfied")),
    (1, N_("Very dissatisfied")),
]


def _form_page(
    request: Request,
    mobile: bool,
    *,
    form: dict[str, str],
    error: str | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    response = render(
        request,
        "hotline/report.html",
        {"mobile": mobile, "form": form, "error": error},
        status_code=status,
    )
    response.headers.update(headers or {})
    return response


@router.get("/hotline/report", response_class=HTMLResponse)
def web_form(request: Request, _viewer: User | None = Depends(page_user)) -> Response:
    return _form_page(request, False, form={}, error=None)


@router.get("/m/hotline", response_class=HTMLResponse)
def h5_form(request: Request, _viewer: User | None = Depends(page_user)) -> Response:
    return _form_page(request, True, form={}, error=None)


@router.post("/hotline/report", response_class=HTMLResponse)
def submit(
    request: Request,
    content: str = Form("", max_length=8000),
    title: str = Form("", max_length=1000),
    caller_name: str = Form("", max_length=1000),
    caller_phone: str = Form("", max_length=40),
    district: str = Form("", max_length=1000),
    address: str = Form("", max_length=1000),
    confidential: str = Form(""),
    mobile: str = Form(""),
    _viewer: User | None = Depends(page_user),
    limit: ratelimit.ClientLimit = Depends(report_limit),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    form = {
        "content": content,
        "title": title,
        "caller_name": caller_name,
        "caller_phone": caller_phone,
        "district": district,
        "address": address,
        "confidential": confidential,
    }
    is_mobile = mobile == "1"
    try:
        limit.spend()  # refused on the form itself, so what was typed is not lost
        if not caller_phone.strip():
            # The phone is how the citizen follows the request and is called back.
            raise BadRequest(_("Please give a phone number so we can reach you"), code="no_phone")
        order = intake.create_order(
            session=session,
            data=intake.OrderInput(
                channel=Channel.H5 if is_mobile else Channel.WEB,
                content=content,
                title=title or None,
                caller_name=caller_name or None,
                caller_phone=caller_phone,
                district=district or None,
                address=address or None,
                confidential=confidential == "on",
            ),
            actor=None,
        )
    except GovloopError as exc:
        session.rollback()
        return _form_page(
            request,
            is_mobile,
            form=form,
            error=exc.message,
            status=exc.status_code,
            headers=exc.headers,
        )
    return render(
        request, "hotline/report_done.html", {"order": order, "mobile": is_mobile}, status_code=201
    )


def _find(session: Session, number: str, phone: str) -> WorkOrder:
    """The order, only for the phone it was registered with (no hint which one was wrong)."""
    order = session.scalar(select(WorkOrder).where(WorkOrder.number == number.strip()))
    if order is None or not order.caller_phone or order.caller_phone != phone.strip():
        raise NotFound(_("No request matches this number and phone"), code="no_match")
    return order


def _find_limited(
    session: Session, limit: ratelimit.ClientLimit, number: str, phone: str
) -> WorkOrder:
    """``_find`` with the client's failed look-ups limited: numbers are sequential, so
    without a limit a known phone (or number) is enough to find the other half."""
    limit.check()
    try:
        return _find(session, number, phone)
    except NotFound:
        limit.failed()
        raise


def _track_page(request: Request, context: dict[str, Any], exc: GovloopError) -> Response:
    context["error"] = exc.message
    response = render(request, "hotline/track.html", context, status_code=exc.status_code)
    response.headers.update(exc.headers)
    return response


def _track_context(session: Session, order: WorkOrder) -> dict[str, Any]:
    events = session.scalars(
        select(WorkOrderEvent)
        .where(WorkOrderEvent.order_id == order.id, WorkOrderEvent.kind.in_(list(PUBLIC_STEPS)))
        .order_by(WorkOrderEvent.at, WorkOrderEvent.id)
    )
    return {
        "order": order,
        "steps": [(e.at, PUBLIC_STEPS[e.kind]) for e in events],
        "rateable": order.status in DONE_STATUSES and order.rating_id is None,
        "levels": LEVELS,
        "merged_into": journal.get_order(session, order.merged_into_id).number
        if order.status == OrderStatus.MERGED and order.merged_into_id
        else None,
    }


@router.get("/hotline/track", response_class=HTMLResponse)
def track(
    request: Request,
    number: str = Query(default="", max_length=32),
    phone: str = Query(default="", max_length=20),
    _viewer: User | None = Depends(page_user),
    limit: ratelimit.ClientLimit = Depends(track_limit),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    context: dict[str, Any] = {"number": number, "phone": phone, "error": None, "order": None}
    if number or phone:
        try:
            context.update(_track_context(session, _find_limited(session, limit, number, phone)))
        except GovloopError as exc:
            return _track_page(request, context, exc)
    return render(request, "hotline/track.html", context)


@router.post("/hotline/track/rate", response_class=HTMLResponse)
def rate(
    request: Request,
    number: str = Form("", max_length=32),
    phone: str = Form("", max_length=20),
    level: str = Form("", max_length=2),
    comment: str = Form("", max_length=1000),
    _viewer: User | None = Depends(page_user),
    limit: ratelimit.ClientLimit = Depends(track_limit),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    context: dict[str, Any] = {"number": number, "phone": phone, "error": None, "order": None}
    try:
        order = _find_limited(session, limit, number, phone)
        stars = digits_int(level)
        if stars is None:
            raise BadRequest(_("Please choose how satisfied you are"), code="level_missing")
        workflow.rate(session=session, number=order.number, level=stars, comment=comment)
        context.update(_track_context(session, order), notice=_("Thank you for your rating"))
    except GovloopError as exc:
        session.rollback()
        # the look-up itself may be what failed; a refused one is not tried again
        with contextlib.suppress(GovloopError):
            if not isinstance(exc, TooManyRequests):
                context.update(_track_context(session, _find(session, number, phone)))
        return _track_page(request, context, exc)
    return render(request, "hotline/track.html", context)
