"""Matters pages: 受理 at the window, the department's workbench and a matter's page, and
the citizen's progress page (办件编号 + phone, rate-limited) with its timeline."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.access import service as access_service
from govloop.core import ratelimit
from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, public
from govloop.core.errors import (
    GovloopError,
    NotFound,
    RecordedRefusal,
    RuleViolation,
    TooManyRequests,
)
from govloop.core.i18n import N_
from govloop.core.models import User
from govloop.hall.models import ServiceItem
from govloop.matters import actions, service, views, workflow
from govloop.matters.delivery import shipping
from govloop.matters.models import DeliveryMethod, Matter, MatterState
from govloop.notify import labels as notify_labels
from govloop.org import service as org_service
from govloop.ratings import service as ratings_service
from govloop.web.kit import page_renderer, page_user, posted_form, refuse, staff_page

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
citizen_router = APIRouter(
    include_in_schema=False, dependencies=[Depends(csrf_protect), Depends(public)]
)
handler_page = staff_page(Permission.MATTER_HANDLE)
operator_page = staff_page(Permission.WINDOW_OPERATE)
track_limit = ratelimit.for_client(ratelimit.MATTER_TRACK)

LABELS = {
    "state": {
        "accepted": N_("Accepted"),
        "reviewing": N_("Under review"),
        "correction": N_("Documents requested"),
        "granted": N_("Granted"),
        "refused": N_("Not granted"),
        "certifying": N_("Certificate being made"),
        "awaiting_pickup": N_("Ready for pickup"),
        "posted": N_("Posted"),
        "delivered": N_("Delivered"),
        "picked_up": N_("Collected"),
        "returned": N_("Returned to the applicant"),
    },
    "clock": {
        "no_limit": N_("No promised time limit"),
        "running": N_("On time"),
        "warning": N_("Due soon"),
        "overdue": N_("Overdue"),
        "stopped": N_("Clock stopped (documents requested)"),
        "done_on_time": N_("Decided on time"),
        "done_late": N_("Decided late"),
        "withdrawn": N_("Application returned"),
    },
    "delivery": {"pickup": N_("Pickup at the hall"), "post": N_("By post")},
    "source": {
        "window": N_("Hall window"),
        "online": N_("Online application"),
        "department": N_("Department system"),
    },
    # the words of the notifications log and the citizen's page
    "notify": notify_labels.STATUS_LABELS,
    "action": {
        "review": N_("Start review"),
        "correction": N_("Request documents"),
        "correction-received": N_("Corrected documents received"),
        "grant": N_("Grant"),
        "refuse": N_("Do not grant"),
        "certify": N_("Start making the certificate"),
        "ready": N_("Result ready for pickup"),
        "hand-over": N_("Collected by the applicant"),
        "return": N_("Return the application"),
    },
    "event": {
        "matter.accepted": N_("Accepted"),
        "matter.reviewing": N_("Review started"),
        "matter.correction": N_("Documents requested"),
        "matter.granted": N_("Granted"),
        "matter.refused": N_("Not granted"),
        "matter.certifying": N_("Certificate being made"),
        "matter.awaiting_pickup": N_("Ready for pickup"),
        "matter.posted": N_("Posted"),
        "matter.delivered": N_("Delivered"),
        "matter.picked_up": N_("Collected"),
        "matter.returned": N_("Returned to the applicant"),
        "matter.delivery_chosen": N_("Delivery chosen"),
        "matter.warning": N_("Due soon"),
        "matter.overdue": N_("Overdue"),
    },
    "template": notify_labels.TEMPLATE_LABELS,
}
page = page_renderer({"labels": LABELS})


def _department_scope(session: Session, user: User) -> int | None:
    if user.role == "admin":
        return None
    dept = org_service.department_of(session, user)
    return dept if dept is not None else -1


def _own(session: Session, user: User, number: str, lock: bool = False) -> Matter:
    matter = service.get_matter(session=session, number=number, lock=lock)
    if not workflow.is_department_staff(session, user, matter):
        raise NotFound("未找到该办件", code="unknown_matter")
    return matter


# --- 受理 at the window -------------------------------------------------------------------


def _accept_form(
    request: Request, session: Session, hall_code: str, number: int, **extra: Any
) -> HTMLResponse:
    hall = org_service.get_hall(session=session, code=hall_code)
    item: ServiceItem | None = None
    error = extra.pop("error", None)
    try:
        item = service.current_ticket_item(session=session, hall=hall, window_number=number)
    except GovloopError as exc:
        error = error or exc.message
    return page(
        request,
        "matters/accept.html",
        hall=hall,
        number=number,
        item=item,
        error=error,
        form=extra.pop("form", {}),
        status_code=extra.pop("status_code", 200 if item else 422),
    )


@router.get("/halls/{hall_code}/windows/{number}/matters/new", response_class=HTMLResponse)
def accept_form(
    request: Request,
    hall_code: str,
    number: int,
    user: User = Depends(operator_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _accept_form(request, session, hall_code, number)


@router.post("/halls/{hall_code}/windows/{number}/matters/new", response_class=HTMLResponse)
def accept_submit(
    request: Request,
    hall_code: str,
    number: int,
    form: Any = Depends(posted_form),
    user: User = Depends(operator_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    values = {
        k: str(form.get(k, ""))[:300]
        for k in (
            "applicant_name",
            "applicant_phone",
            "delivery_method",
            "delivery_name",
            "delivery_phone",
            "delivery_address",
        )
    }
    materials = [str(m)[:100] for m in form.getlist("materials")][:40]
    extra = str(form.get("materials_extra", ""))[:500]
    materials += [m.strip() for m in extra.replace("，", ",").split(",") if m.strip()]
    try:
        matter = service.accept_at_window(
            session=session,
            hall=org_service.get_hall(session=session, code=hall_code),
            window_number=number,
            actor=user,
            applicant=service.Applicant(
                name=values["applicant_name"],
                phone=values["applicant_phone"],
                materials=materials,
                delivery_method=values["delivery_method"] or DeliveryMethod.PICKUP,
                delivery_name=values["delivery_name"] or None,
                delivery_phone=values["delivery_phone"] or None,
                delivery_address=values["delivery_address"] or None,
            ),
        )
    except GovloopError as exc:
        return refuse(
            session,
            exc,
            lambda **kw: _accept_form(
                request, session, hall_code, number, form=values | {"materials": materials}, **kw
            ),
        )
    return RedirectResponse(
        f"/halls/{hall_code}/windows/{number}?accepted={matter.number}", status_code=303
    )


# --- the department's workbench -------------------------------------------------------------


@router.get("/matters", response_class=HTMLResponse)
def workbench(
    request: Request,
    state: str = Query(default="", max_length=24),
    q: str = Query(default="", max_length=40),
    user: User = Depends(handler_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    scope = _department_scope(session, user)
    rows = (
        service.search(session=session, query=q, department_id=scope)
        if q
        else service.workbench(session=session, department_id=scope, state=state or None)
    )
    return page(
        request,
        "matters/workbench.html",
        rows=[(m, views.clock_of(m), views.names(session, m)) for m in rows],
        counts=service.counts_by_state(session=session, department_id=scope),
        state=state,
        q=q,
        no_department=scope == -1,
    )


def _postable(session: Session, matter: Matter) -> bool:
    item = session.get(ServiceItem, matter.item_id)
    return bool(item and item.by_post)


def _detail(
    request: Request, session: Session, user: User, matter: Matter, **extra: Any
) -> HTMLResponse:
    context: dict[str, Any] = {
        "m": matter,
        "clock": views.clock_of(matter),
        "names": views.names(session, matter),
        "contact": views.masked_contact(matter),
        "events": service.events(session=session, matter=matter),
        "actor_names": org_service.user_names(
            session=session,
            ids={e.actor_id for e in service.events(session=session, matter=matter)},
        ),
        "shipments": views.shipments(session, matter),
        "notifications": views.notifications(session, matter),
        "actions": actions.available(matter),
        "may_post": workflow.may_post(matter) and matter.delivery_method == DeliveryMethod.POST,
        "item_postable": _postable(session, matter),
        "error": None,
        "notice": None,
    }
    context.update(extra)
    return page(
        request, "matters/detail.html", status_code=extra.pop("status_code", 200), **context
    )


@router.get("/matters/{number}", response_class=HTMLResponse)
def detail(
    request: Request,
    number: str,
    user: User = Depends(handler_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    return _detail(request, session, user, _own(session, user, number))


@router.post("/matters/{number}/contact", response_class=HTMLResponse)
def reveal_contact(
    request: Request,
    number: str,
    user: User = Depends(handler_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """The applicant's phone and address in full: through a grant on the matter as a case
    (open and held by this department), and written to the access log."""
    matter = _own(session, user, number)
    try:
        grant = access_service.open_grant(
            session=session,
            user=user,
            case_type="matter",
            case_id=matter.id,
            purpose=f"办件 {matter.number} 联系与寄递",
        ).grant
        access_service.record(
            session,
            user,
            "matter_contact_viewed",
            case_type="matter",
            case_id=matter.id,
            case_label=f"办件 {matter.number}",
            grant_id=grant.id,
        )
    except RecordedRefusal as refusal:
        return _detail(request, session, user, matter, error=refusal.message, status_code=403)
    full = {
        "name": matter.applicant_name,
        "phone": matter.applicant_phone,
        "address": matter.delivery_address or "",
    }
    return _detail(request, session, user, matter, contact=full, revealed=True)


@router.post("/matters/{number}/actions/{action}", response_class=HTMLResponse)
def act(
    request: Request,
    number: str,
    action: str,
    note: str = Form("", max_length=2000),
    materials: str = Form("", max_length=1000),
    in_person: str = Form(""),
    user: User = Depends(handler_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    matter = _own(session, user, number, lock=True)
    wanted = [m.strip() for m in materials.replace("，", ",").split(",") if m.strip()]
    try:
        actions.run(
            session=session,
            matter=matter,
            actor=user,
            action=action,
            note=note,
            materials=wanted,
            in_person=in_person == "on",
        )
    except GovloopError as exc:
        return refuse(
            session,
            exc,
            lambda **kw: _detail(request, session, user, _own(session, user, number), **kw),
        )
    return RedirectResponse(f"/matters/{matter.number}?done={action}", status_code=303)


@router.post("/matters/{number}/ship", response_class=HTMLResponse)
def ship(
    request: Request,
    number: str,
    user: User = Depends(handler_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """Hand the result to the courier: a waybill is made and the applicant told."""
    matter = _own(session, user, number, lock=True)
    try:
        shipping.ship(session=session, matter=matter, actor=user)
    except GovloopError as exc:
        return refuse(
            session,
            exc,
            lambda **kw: _detail(request, session, user, _own(session, user, number), **kw),
        )
    return RedirectResponse(f"/matters/{matter.number}?done=ship", status_code=303)


@router.post("/matters/{number}/delivery", response_class=HTMLResponse)
def delivery(
    request: Request,
    number: str,
    method: str = Form(..., max_length=16),
    name: str = Form("", max_length=100),
    phone: str = Form("", max_length=20),
    address: str = Form("", max_length=300),
    user: User = Depends(handler_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    matter = _own(session, user, number, lock=True)
    try:
        service.choose_delivery(
            session=session,
            matter=matter,
            method=method,
            actor=user,
            name=name or None,
            phone=phone or None,
            address=address or None,
        )
    except GovloopError as exc:
        return refuse(
            session,
            exc,
            lambda **kw: _detail(request, session, user, _own(session, user, number), **kw),
        )
    return RedirectResponse(f"/matters/{matter.number}?done=delivery", status_code=303)


# --- the citizen's progress page ------------------------------------------------------------


def _track_context(session: Session, matter: Matter) -> dict[str, Any]:
    closed = matter.state in (MatterState.DELIVERED, MatterState.PICKED_UP)
    item = session.get(ServiceItem, matter.item_id)
    return {
        "m": matter,
        "names": views.names(session, matter),
        "clock": views.clock_of(matter),
        "steps": views.public_timeline(session, matter),
        "rateable": closed
        and not ratings_service.matter_rated(session=session, source="matter", ref=matter.number),
        "may_choose_post": bool(item and item.by_post)
        and matter.delivery_method == DeliveryMethod.PICKUP
        and matter.state
        not in (
            MatterState.POSTED,
            MatterState.DELIVERED,
            MatterState.PICKED_UP,
            MatterState.RETURNED,
        ),
        "address_masked": views.masked_contact(matter)["address"],
    }


def _track_page(
    request: Request,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    response = page(request, "matters/track.html", status_code=status, **context)
    response.headers.update(headers or {})
    return response


def _find_limited(
    session: Session, limit: ratelimit.ClientLimit, number: str, phone: str
) -> Matter:
    limit.check()
    try:
        return service.find_for_citizen(session=session, number=number, phone=phone)
    except NotFound:
        limit.failed()
        raise


@citizen_router.get("/matters/track", response_class=HTMLResponse)
def track(
    request: Request,
    number: str = Query(default="", max_length=32),
    phone: str = Query(default="", max_length=20),
    _viewer: User | None = Depends(page_user),
    limit: ratelimit.ClientLimit = Depends(track_limit),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    context: dict[str, Any] = {"number": number, "phone": phone, "error": None, "m": None}
    if number or phone:
        try:
            context.update(_track_context(session, _find_limited(session, limit, number, phone)))
        except GovloopError as exc:
            context["error"] = exc.message
            return _track_page(request, context, exc.status_code, exc.headers)
    return _track_page(request, context)


def _citizen_action(
    request: Request,
    session: Session,
    limit: ratelimit.ClientLimit,
    number: str,
    phone: str,
    act: Any,
    notice: str,
) -> Response:
    context: dict[str, Any] = {"number": number, "phone": phone, "error": None, "m": None}
    try:
        matter = _find_limited(session, limit, number, phone)
        act(matter)
        context.update(_track_context(session, matter), notice=notice)
    except GovloopError as exc:
        session.rollback()
        with contextlib.suppress(GovloopError):
            if not isinstance(exc, TooManyRequests):
                context.update(
                    _track_context(
                        session,
                        service.find_for_citizen(session=session, number=number, phone=phone),
                    )
                )
        context["error"] = exc.message
        return _track_page(request, context, exc.status_code, exc.headers)
    return _track_page(request, context)


@citizen_router.post("/matters/track/delivery", response_class=HTMLResponse)
def track_delivery(
    request: Request,
    number: str = Form("", max_length=32),
    phone: str = Form("", max_length=20),
    name: str = Form("", max_length=100),
    address: str = Form("", max_length=300),
    _viewer: User | None = Depends(page_user),
    limit: ratelimit.ClientLimit = Depends(track_limit),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """The applicant switches to delivery by post (the item must allow it)."""
    return _citizen_action(
        request,
        session,
        limit,
        number,
        phone,
        lambda m: service.choose_delivery(
            session=session,
            matter=m,
            method=DeliveryMethod.POST,
            actor=None,
            name=name or None,
            address=address,
        ),
        "已改为邮寄，结果办好后将寄到您填写的地址",
    )


@citizen_router.post("/matters/track/rate", response_class=HTMLResponse)
def track_rate(
    request: Request,
    number: str = Form("", max_length=32),
    phone: str = Form("", max_length=20),
    level: str = Form("", max_length=2),
    comment: str = Form("", max_length=1000),
    _viewer: User | None = Depends(page_user),
    limit: ratelimit.ClientLimit = Depends(track_limit),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    def rate(m: Matter) -> None:
        if m.state not in (MatterState.DELIVERED, MatterState.PICKED_UP):
            raise RuleViolation("办件办结后才能评价", code="not_closed")
        ratings_service.rate_matter(
            session=session,
            source="matter",
            ref=m.number,
            department_id=m.department_id,
            item_id=m.item_id,
            staff_id=m.handler_id,
            data=ratings_service.RatingInput(
                level=int(level) if level.isdigit() else 0,
                channel="online",
                comment=comment,
                citizen_phone=m.applicant_phone,
            ),
        )

    return _citizen_action(request, session, limit, number, phone, rate, "感谢您的评价")
