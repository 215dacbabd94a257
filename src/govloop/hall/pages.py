"""Server-rendered pages of the service hall: kiosk, display board, my ticket, window
workbench, manager console and appointment booking.

Routes are thin: parse the form, authorize through a dependency, call the same service
functions as the JSON API, render. Business errors propagate to the application's
handlers (a friendly page, or a fragment for HTMX) and roll the unit of work back; the
few forms that are re-shown with the citizen's input render the message inline after
rolling back.
"""

from __future__ import annotations

import re
from typing import Any

import segno
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, public, secret_link
from govloop.core.errors import BadRequest, GovloopError
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.input_guard import digits_int
from govloop.core.models import User
from govloop.core.settings import get_settings
from govloop.hall import appointments, overview, service
from govloop.hall import notifications as hall_notifications
from govloop.hall import waits as hall_waits
from govloop.hall import windows as hall_windows
from govloop.hall.api import ticket_limit
from govloop.hall.models import CITIZEN_PRIORITY, Outcome
from govloop.org import service as org_service
from govloop.org.models import Hall
from govloop.web.kit import is_htmx, page_renderer, page_user, staff_page

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


LABELS: dict[str, dict[str, str]] = {
    "ticket_status": {
        "waiting": N_("Waiting"),
        "called": N_("Called"),
        "serving": N_("Being served"),
        "finished": N_("Completed"),
        "no_show": N_("Missed (no-show)"),
        "cancelled": N_("Cancelled"),
        "closed": N_("Closed at end of day"),
        "carried_over": N_("Carried over to next working day"),
    },
    "window_state": {
        "logged_out": N_("Window closed"),
        "idle": N_("Window free"),
        "serving": N_("Serving"),
        "calling": N_("Calling the ticket"),
        "paused": N_("Paused"),
    },
    "outcome": {
        "done": N_("Complete"),
        "needs_documents": N_("Documents to be supplemented"),
        "referred": N_("Referred elsewhere"),
        "accepted": N_("Accepted for processing"),
    },
    "priority": {
        "elderly": N_("Senior citizen"),
        "disabled": N_("Person with disability"),
        "pregnant": N_("Pregnant woman"),
        "military": N_("Military / veteran"),
        "appointment": N_("Appointment"),
        "carried_over": N_("Carried over"),
    },
    "closed_reason": {
        "citizen": N_("given up by the ticket holder"),
        "staff": N_("cancelled by hall staff"),
    },
    "channel": {
        "kiosk": N_("Kiosk"),
        "appointment": N_("Appointment check-in"),
        "api": N_("Ticket taken online"),
        "carry_over": N_("Carried over"),
    },
    "weekday": {
        "0": N_("Mon"),
        "1": N_("Tue"),
        "2": N_("Wed"),
        "3": N_("Thu"),
        "4": N_("Fri"),
        "5": N_("Sat"),
        "6": N_("Sun"),
    },
}

WINDOW_ACTIONS = (
    "sign-in",
    "sign-out",
    "call-next",
    "recall",
    "start",
    "finish",
    "no-show",
    "transfer",
    "pause",
    "resume",
)
# 受理 has its own form (the matter it opens), linked beside these buttons
OUTCOMES = [o.value for o in Outcome if o != Outcome.ACCEPTED]


operator_page = staff_page(Permission.WINDOW_OPERATE)
manager_page = staff_page(Permission.HALL_MANAGE)


_render = page_renderer({"labels": LABELS}, lambda request: {"timezone": get_settings().timezone})


def page(
    request: Request,
    name: str,
    hall: Hall | None = None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return _render(request, name, hall=hall, status_code=status_code, **context)


def hall_by_code(session: Session, code: str) -> Hall:
    return org_service.get_hall(session=session, code=code)


def qr_svg(url: str) -> Markup:
    """The slip's link as an inline SVG QR code (segno escapes nothing we pass in)."""
    qr = segno.make(url, error="m")
    return Markup(qr.svg_inline(scale=4, border=2, dark="#1f2937", omitsize=True))


def _ticket_link(request: Request, public_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/t/{public_id}"


def _slip(
    request: Request,
    hall: Hall,
    card: dict[str, Any],
    **extra: Any,
) -> HTMLResponse:
    link = _ticket_link(request, card["public_id"])
    context = {"ticket": card, "link": link, "qr": qr_svg(link), **extra}
    if is_htmx(request):
        return page(request, "hall/_slip.html", hall, **context)
    return page(request, "hall/slip.html", hall, **context)


# --- kiosk 取号 ------------------------------------------------------------------------


@router.get("/halls/{hall_code}/kiosk", response_class=HTMLResponse, dependencies=[Depends(public)])
def kiosk(
    request: Request,
    hall_code: str,
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    snapshot = overview.display_snapshot(session=session, hall=hall)
    return page(
        request,
        "hall/kiosk.html",
        hall,
        catalogue=overview.item_catalogue(session=session, hall=hall),
        priorities=[p.value for p in CITIZEN_PRIORITY],
        snapshot=snapshot,
        turn_notify_choices=hall_notifications.AHEAD_CHOICES,
        turn_notify_default=hall_notifications.DEFAULT_AHEAD,
    )


@router.post(
    "/halls/{hall_code}/kiosk/tickets", response_class=HTMLResponse, dependencies=[Depends(public)]
)
def kiosk_issue(
    request: Request,
    hall_code: str,
    item_code: str = Form(""),
    priority: str = Form(""),
    notify_phone: str = Form("", max_length=20),
    notify_ahead: str = Form("", max_length=4),
    viewer: User | None = Depends(page_user),
    _limit: None = Depends(ticket_limit),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    if not item_code.strip():
        raise BadRequest(_("Please choose a service item"), code="item_missing")
    if priority and priority not in {p.value for p in CITIZEN_PRIORITY}:
        raise BadRequest(_("Unknown priority lane"), code="unknown_priority")
    ahead = digits_int(notify_ahead.strip()) if notify_ahead.strip() else None
    if notify_ahead.strip() and ahead is None:
        raise BadRequest(_("Choose how many people ahead to be told at"), code="bad_notify_ahead")
    item = service.get_item(session=session, code=item_code.strip())
    ticket = service.issue_ticket(
        session=session,
        hall=hall,
        item=item,
        priority=priority or None,
        channel="kiosk",
        notify_phone=notify_phone.strip() or None,
        notify_ahead=ahead,
    )
    position = hall_waits.estimate_wait(session=session, ticket=ticket)
    card = overview.ticket_card(session=session, ticket=ticket, position=position, holder=True)
    return _slip(request, hall, card)


@router.post(
    "/halls/{hall_code}/kiosk/check-in",
    response_class=HTMLResponse,
    dependencies=[Depends(secret_link)],
)
def kiosk_check_in(
    request: Request,
    hall_code: str,
    code: str = Form(""),
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    code = re.sub(r"\s", "", code)
    if not code:
        raise BadRequest(_("Please enter your appointment code"), code="code_missing")
    _appointment, ticket, late = appointments.check_in(session=session, hall=hall, code=code)
    position = hall_waits.estimate_wait(session=session, ticket=ticket)
    card = overview.ticket_card(session=session, ticket=ticket, position=position, holder=True)
    return _slip(request, hall, card, checked_in=True, late=late)


# --- display board 大屏 -----------------------------------------------------------------


@router.get(
    "/halls/{hall_code}/display", response_class=HTMLResponse, dependencies=[Depends(public)]
)
def display(
    request: Request,
    hall_code: str,
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    return page(
        request,
        "hall/display.html",
        hall,
        snapshot=overview.display_snapshot(session=session, hall=hall),
    )


# --- my ticket 我的号 -------------------------------------------------------------------
# By the printed number (typed in): where the ticket stands, for anyone. By the secret
# link (/t/…, the QR code on the slip): the citizen's own page, to rate or cancel.


def _my_ticket_context(
    session: Session, hall: Hall, code: str | None
) -> tuple[dict[str, Any], int]:
    if code is None or not code.strip():
        return {"ticket": None, "code": "", "error": None}, 200
    try:
        ticket = service.get_ticket(session=session, hall=hall, code=code)
    except GovloopError as exc:
        return {"ticket": None, "code": code, "error": exc.message}, exc.status_code
    card = overview.public_ticket_card(session=session, ticket=ticket)
    return {"ticket": card, "code": ticket.code, "error": None}, 200


@router.get(
    "/halls/{hall_code}/my-ticket", response_class=HTMLResponse, dependencies=[Depends(public)]
)
def my_ticket(
    request: Request,
    hall_code: str,
    code: str | None = Query(None, max_length=16),
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    context, status = _my_ticket_context(session, hall, code)
    panel_url = f"/halls/{hall.code}/my-ticket/panel?code={context['code']}"
    return page(
        request, "hall/my_ticket.html", hall, status_code=status, panel_url=panel_url, **context
    )


@router.get(
    "/halls/{hall_code}/my-ticket/panel",
    response_class=HTMLResponse,
    dependencies=[Depends(public)],
)
def my_ticket_panel(
    request: Request,
    hall_code: str,
    code: str = Query(max_length=16),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    ticket = service.get_ticket(session=session, hall=hall, code=code)
    card = overview.public_ticket_card(session=session, ticket=ticket)
    return page(request, "hall/_ticket_panel.html", hall, ticket=card)


@router.get("/t/{public_id}", response_class=HTMLResponse, dependencies=[Depends(secret_link)])
def ticket_short_link(
    request: Request,
    public_id: str,
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    ticket = service.get_ticket_by_public_id(session=session, public_id=public_id[:32])
    hall = session.get(Hall, ticket.hall_id)
    card = overview.ticket_card(session=session, ticket=ticket, holder=True)
    return page(
        request,
        "hall/my_ticket.html",
        hall,
        ticket=card,
        code=ticket.code,
        error=None,
        panel_url=f"/t/{ticket.public_id}/panel",
    )


@router.get(
    "/t/{public_id}/panel", response_class=HTMLResponse, dependencies=[Depends(secret_link)]
)
def ticket_short_link_panel(
    request: Request,
    public_id: str,
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    ticket = service.get_ticket_by_public_id(session=session, public_id=public_id[:32])
    hall = session.get(Hall, ticket.hall_id)
    card = overview.ticket_card(session=session, ticket=ticket, holder=True)
    return page(request, "hall/_ticket_panel.html", hall, ticket=card)


@router.post(
    "/t/{public_id}/cancel", response_class=HTMLResponse, dependencies=[Depends(secret_link)]
)
def ticket_short_link_cancel(
    request: Request,
    public_id: str,
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """The citizen gives up a waiting ticket from the page its secret link opens."""
    ticket = service.get_ticket_by_public_id(session=session, public_id=public_id[:32], lock=True)
    service.cancel_ticket(session=session, ticket=ticket)
    if not is_htmx(request):
        return RedirectResponse(f"/t/{ticket.public_id}", status_code=303)
    hall = session.get(Hall, ticket.hall_id)
    card = overview.ticket_card(session=session, ticket=ticket, holder=True)
    return page(request, "hall/_ticket_panel.html", hall, ticket=card)


# --- window workbench 窗口 --------------------------------------------------------------


def _window_panel(
    request: Request, session: Session, hall: Hall, number: int, user: User, **extra: Any
) -> HTMLResponse:
    window = service.get_window(session=session, hall=hall, number=number)
    panel = overview.window_panel(session=session, hall=hall, window=window, viewer=user)
    return page(request, "hall/_window_panel.html", hall, panel=panel, outcomes=OUTCOMES, **extra)


@router.get("/halls/{hall_code}/windows/{number}", response_class=HTMLResponse)
def window_page(
    request: Request,
    hall_code: str,
    number: int,
    user: User = Depends(operator_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    hall = hall_by_code(session, hall_code)
    window = service.get_window(session=session, hall=hall, number=number)
    panel = overview.window_panel(session=session, hall=hall, window=window, viewer=user)
    # back from 受理: the matter number to tell the applicant (they track progress with it)
    accepted = request.query_params.get("accepted", "")
    accepted_notice = (
        _("Accepted. Matter number: %(number)s") % {"number": accepted}
        if accepted.isdigit() and len(accepted) <= 32
        else None
    )
    return page(
        request,
        "hall/window.html",
        hall,
        panel=panel,
        outcomes=OUTCOMES,
        notice=None,
        accepted_notice=accepted_notice,
    )


@router.get("/halls/{hall_code}/windows/{number}/panel", response_class=HTMLResponse)
def window_panel(
    request: Request,
    hall_code: str,
    number: int,
    user: User = Depends(operator_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _window_panel(
        request, session, hall_by_code(session, hall_code), number, user, notice=None
    )


def _optional_window_number(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    number = digits_int(value)
    if number is None or number < 1:
        raise BadRequest(_("Window number must be a positive number"), code="bad_window")
    return number


CASE_CHANGING_ACTIONS = frozenset(
    {"sign-in", "sign-out", "call-next", "finish", "no-show", "transfer"}
)


@router.post("/halls/{hall_code}/windows/{number}/{action}", response_class=HTMLResponse)
def window_action(
    request: Request,
    hall_code: str,
    number: int,
    action: str,
    outcome: str = Form(Outcome.DONE.value),
    reason: str = Form("", max_length=200),
    to_item_code: str = Form("", max_length=32),
    to_window: str = Form("", max_length=8),
    user: User = Depends(operator_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    if action not in WINDOW_ACTIONS:
        raise BadRequest(_("Unknown window action"), code="unknown_action")
    hall = hall_by_code(session, hall_code)
    args: dict[str, Any] = {"session": session, "hall": hall, "window_number": number}
    notice: str
    if action == "sign-in":
        hall_windows.sign_in(**args, actor=user)
        notice = _("Signed in to window %(n)s") % {"n": number}
    elif action == "sign-out":
        hall_windows.sign_out(**args, actor=user)
        notice = _("Signed out of window %(n)s") % {"n": number}
    elif action == "call-next":
        ticket = hall_windows.call_next(**args, actor=user)
        notice = _("Called %(code)s") % {"code": ticket.code}
    elif action == "recall":
        ticket = hall_windows.recall(**args, actor=user)
        notice = _("Recalled %(code)s") % {"code": ticket.code}
    elif action == "start":
        ticket = hall_windows.start_service(**args, actor=user)
        notice = _("Started serving %(code)s") % {"code": ticket.code}
    elif action == "finish":
        ticket = hall_windows.finish_service(**args, actor=user, outcome=outcome)
        notice = _("%(code)s finished") % {"code": ticket.code}
    elif action == "no-show":
        ticket = hall_windows.mark_no_show(**args, actor=user)
        notice = (
            _("%(code)s did not come; put back in the queue")
            if ticket.status == "waiting"
            else _("%(code)s marked as no-show")
        ) % {"code": ticket.code}
    elif action == "transfer":
        ticket = hall_windows.transfer(
            **args,
            actor=user,
            to_item_code=to_item_code.strip() or None,
            to_window_number=_optional_window_number(to_window),
        )
        notice = _("%(code)s transferred") % {"code": ticket.code}
    elif action == "pause":
        hall_windows.pause(**args, actor=user, reason=reason.strip())
        notice = _("Window paused")
    else:
        hall_windows.resume(**args, actor=user)
        notice = _("Window resumed")
    if not is_htmx(request):
        return RedirectResponse(f"/halls/{hall.code}/windows/{number}", status_code=303)
    response = _window_panel(request, session, hall, number, user, notice=notice)
    if action in CASE_CHANGING_ACTIONS:  # the case-data card reloads for the new ticket
        response.headers["HX-Trigger"] = "govloop:case-changed"
    return response


# --- manager console 大厅管理 -----------------------------------------------------------


# --- appointments 预约 -----------------------------------------------------------------
