"""Server-rendered pages of 好差评: the window's rating pad (评价器), rating by link or QR
code, rectification cases (差评整改) with the rating figures, and the SERVQUAL web survey.

Routes are thin: parse the form, authorize through a dependency, call the ratings
services, render. Forms the citizen or staff member fills in are shown again with the
service's message when it refuses; the unit of work is rolled back first, so a refusal
never writes anything.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, secret_link
from govloop.core.errors import BadRequest, Conflict, GovloopError, NotFound
from govloop.core.i18n import gettext_ as _
from govloop.core.input_guard import digits_int
from govloop.core.models import User
from govloop.core.settings import get_settings
from govloop.hall import overview
from govloop.hall import service as hall_service
from govloop.hall.models import Ticket
from govloop.ingest.models import Device
from govloop.org import service as org_service
from govloop.org.models import Hall
from govloop.ratings import pad_pairing, service
from govloop.ratings import views as rating_views
from govloop.ratings.models import BAD_LEVELS, Dimension, RatingChannel
from govloop.ratings.pad_pairing import paired_pad
from govloop.ratings.service import RatingInput
from govloop.web.kit import is_htmx, page_renderer, page_user, posted_form, staff_page

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


# Stored tag values are the national wording; the page shows a translated label.
TAGS: list[tuple[str, str, bool]] = [
    ("热情周到", N_("Warm and attentive"), True),
    ("高效快捷", N_("Quick and efficient"), True),
    ("一次办好", N_("Done in one visit"), True),
    ("等候太久", N_("Waited too long"), False),
    ("态度不好", N_("Poor attitude"), False),
    ("材料要求不清", N_("Unclear document requirements"), False),
]
TAG_VALUES = {value for value, _label, _good in TAGS}

LABELS: dict[str, dict[str, str]] = {
    "level": {
        "5": N_("Very satisfied"),
        "4": N_("Satisfied"),
        "3": N_("Basically satisfied"),
        "2": N_("Dissatisfied"),
        "1": N_("Very dissatisfied"),
    },
    "dimension": {
        "tangibles": N_("Tangibles"),
        "reliability": N_("Reliability"),
        "responsiveness": N_("Responsiveness"),
        "assurance": N_("Assurance"),
        "empathy": N_("Empathy"),
    },
    "dimension_hint": {
        "tangibles": N_("Hall, facilities and staff appearance"),
        "reliability": N_("Done right and as promised"),
        "responsiveness": N_("Prompt help, short waits"),
        "assurance": N_("Competent, courteous, trustworthy"),
        "empathy": N_("Care for each person's needs"),
    },
    "channel": {
        "pad": N_("Rating pad"),
        "qr": N_("QR code / link"),
        "my_ticket": N_("My ticket page"),
        "hotline": N_("Hotline callback"),
        "online": N_("Online service"),
    },
    "case_status": {
        "open": N_("Awaiting callback"),
        "called_back": N_("Called back, to rectify"),
        "rectified": N_("Rectified, to close"),
        "closed": N_("Done and closed"),
        "appealed": N_("Under appeal"),
        "excluded": N_("Appeal upheld (excluded)"),
    },
    "event": {
        "rating.submitted": N_("Rating submitted"),
        "case.opened": N_("Rectification case opened"),
        "case.called_back": N_("Citizen called back"),
        "case.rectified": N_("Rectification recorded"),
        "case.closed": N_("Case closed"),
        "case.appealed": N_("Appeal filed"),
        "case.appeal_upheld": N_("Appeal upheld: rating excluded"),
        "case.appeal_rejected": N_("Appeal rejected"),
    },
    "survey_status": {
        "draft": N_("Draft"),
        "published": N_("Published"),
        "closed": N_("Ended"),
    },
}
LEVELS = [5, 4, 3, 2, 1]
DIMENSIONS = [d.value for d in Dimension]


viewer_page = staff_page(Permission.HALL_VIEW)
# acting on a case (callback, rectification, appeal) is never the auditor's, who only views
operator_page = staff_page(Permission.WINDOW_OPERATE)
manager_page = staff_page(Permission.HALL_MANAGE)


page = page_renderer(
    {
        "labels": LABELS,
        "tags": TAGS,
        "levels": LEVELS,
        "dimensions": DIMENSIONS,
        "bad_levels": [int(level) for level in BAD_LEVELS],
    },
    lambda request: {"timezone": get_settings().timezone},
)


def _rating_input(
    *,
    level: str,
    channel: RatingChannel,
    tags: list[str],
    comment: str,
    phone: str,
    dimension_scores: dict[str, int] | None = None,
) -> RatingInput:
    stars = digits_int(level)
    if stars is None:
        raise BadRequest(_("Please choose how satisfied you are"), code="level_missing")
    unknown = [t for t in tags if t not in TAG_VALUES]
    if unknown:
        raise BadRequest(_("Unknown rating tag"), code="unknown_tag")
    return RatingInput(
        level=stars,
        channel=channel,
        dimension_scores=dimension_scores or {},
        tags=list(dict.fromkeys(tags)),
        comment=comment,
        citizen_phone=phone.strip() or None,
    )


def _form_state(
    level: str, tags: list[str], comment: str, phone: str, **extra: Any
) -> dict[str, Any]:
    return {"level": level, "tags": tags, "comment": comment, "phone": phone, **extra}


# --- rating pad 评价器 ------------------------------------------------------------------


def _pad_context(session: Session, hall: Hall, number: int) -> dict[str, Any]:
    window = hall_service.get_window(session=session, hall=hall, number=number)
    ticket = rating_views.pad_ticket(session=session, hall=hall, window_number=number)
    return {
        "hall": hall,
        "window": window,
        "window_staff": rating_views.staff_name(session=session, user_id=window.staff_id),
        "ticket": overview.ticket_card(session=session, ticket=ticket) if ticket else None,
        "ticket_staff": rating_views.staff_name(session=session, user_id=ticket.staff_id)
        if ticket
        else None,
        "state": "form" if ticket else "idle",
        "form": {},
        "error": None,
    }


def _unpaired(
    request: Request, session: Session, hall_code: str, number: int, error: str | None = None
) -> Response:
    """The pairing form, answered with 401: this browser is not a paired pad (an unknown
    hall or window gets the same 401, without the form)."""
    try:
        hall = org_service.get_hall(session=session, code=hall_code)
        window = hall_service.get_window(session=session, hall=hall, number=number)
    except NotFound:
        message = _("This rating pad is not paired")
        return page(request, "error.html", status_code=401, status=401, message=message)
    template = "ratings/_pad_body.html" if is_htmx(request) else "ratings/pad.html"
    context = {"hall": hall, "window": window, "state": "unpaired", "error": error}
    return page(request, template, status_code=401, **context)


@router.get("/halls/{hall_code}/windows/{number}/pad", response_class=HTMLResponse)
def pad(
    request: Request,
    hall_code: str,
    number: int,
    device: Device | None = Depends(paired_pad),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    if device is None:
        return _unpaired(request, session, hall_code, number)
    hall = org_service.get_hall(session=session, code=hall_code)
    return page(request, "ratings/pad.html", **_pad_context(session, hall, number))


@router.post(
    "/halls/{hall_code}/windows/{number}/pad/pair",
    response_class=HTMLResponse,
    dependencies=[Depends(pad_pairing.pairing_form)],
)
def pad_pair(
    request: Request,
    hall_code: str,
    number: int,
    device_code: str = Form("", max_length=64),
    device_key: str = Form("", max_length=200),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    """Pair this browser as one of the hall's rating pads (device code and key)."""
    try:
        hall = org_service.get_hall(session=session, code=hall_code)
        hall_service.get_window(session=session, hall=hall, number=number)
        pad_pairing.pair(
            request=request, session=session, hall_id=hall.id, code=device_code, key=device_key
        )
    except GovloopError as exc:
        return _unpaired(request, session, hall_code, number, error=exc.message)
    return RedirectResponse(f"/halls/{hall.code}/windows/{number}/pad", status_code=303)


@router.get("/halls/{hall_code}/windows/{number}/pad/panel", response_class=HTMLResponse)
def pad_panel(
    request: Request,
    hall_code: str,
    number: int,
    current: str = Query("", max_length=32),
    device: Device | None = Depends(paired_pad),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    """The pad's body; 204 (no swap) while it already shows what it should."""
    if device is None:
        return _unpaired(request, session, hall_code, number)
    hall = org_service.get_hall(session=session, code=hall_code)
    context = _pad_context(session, hall, number)
    shown = context["ticket"]["code"] if context["ticket"] else ""
    if shown == current and "current" in request.query_params:
        return Response(status_code=204)
    return page(request, "ratings/_pad_body.html", **context)


@router.post("/halls/{hall_code}/windows/{number}/pad/rate", response_class=HTMLResponse)
def pad_rate(
    request: Request,
    hall_code: str,
    number: int,
    code: str = Form("", max_length=16),
    level: str = Form("", max_length=2),
    tags: list[str] = Form(default_factory=list),
    comment: str = Form("", max_length=1000),
    phone: str = Form("", max_length=32),
    device: Device | None = Depends(paired_pad),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    if device is None:
        return _unpaired(request, session, hall_code, number)
    hall = org_service.get_hall(session=session, code=hall_code)
    template = "ratings/_pad_body.html" if is_htmx(request) else "ratings/pad.html"
    try:
        window = hall_service.get_window(session=session, hall=hall, number=number)
        # Today's visit by its number: the pad shows the number, never the citizen's link.
        ticket = hall_service.get_ticket(session=session, hall=hall, code=code)
        if ticket.window_id != window.id:
            raise BadRequest(_("This visit was not served at this window"), code="other_window")
        data = _rating_input(
            level=level, channel=RatingChannel.PAD, tags=tags, comment=comment, phone=phone
        )
        rating = service.rate_ticket(session=session, ticket=ticket, data=data)
    except GovloopError as exc:
        session.rollback()  # nothing of the attempt is kept
        context = _pad_context(session, hall, number)
        if isinstance(exc, Conflict):
            context.update(state="message", message=exc.message)
        elif context["ticket"] and context["ticket"]["code"] == code.strip().upper():
            context.update(error=exc.message, form=_form_state(level, tags, comment, phone))
        else:
            context.update(state="message", message=exc.message)
        return page(request, template, status_code=exc.status_code, **context)
    context = _pad_context(session, hall, number)
    context.update(state="thanks", bad=rating.level in BAD_LEVELS, real_name=rating.real_name)
    return page(request, template, **context)


# --- rate by link or QR code 扫码评价 -----------------------------------------------------


def _link_context(session: Session, ticket: Ticket, via: str) -> dict[str, Any]:
    return {
        "hall": session.get(Hall, ticket.hall_id),
        # The page its link opened: the citizen holds the link, the form posts back to it.
        "ticket": overview.ticket_card(session=session, ticket=ticket, holder=True),
        "via": "my_ticket" if via == "my_ticket" else "",
        "state": rating_views.ticket_rating_state(session=session, ticket=ticket),
        "form": {"dims": {}},
        "error": None,
        "message": None,
    }


@router.get("/r/{public_id}", response_class=HTMLResponse, dependencies=[Depends(secret_link)])
def rate_link(
    request: Request,
    public_id: str,
    via: str = Query("", max_length=16),
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    ticket = hall_service.get_ticket_by_public_id(session=session, public_id=public_id[:32])
    return page(request, "ratings/rate.html", **_link_context(session, ticket, via))


def _dimension_scores(dims: dict[str, str]) -> dict[str, int]:
    scores: dict[str, int] = {}
    for dim in DIMENSIONS:
        value = dims.get(dim, "").strip()
        if not value:
            continue
        stars = digits_int(value)
        if stars is None:
            raise BadRequest(_("Scores are 1 to 5 stars"), code="bad_score")
        scores[dim] = stars
    return scores


@router.post("/r/{public_id}", response_class=HTMLResponse, dependencies=[Depends(secret_link)])
def rate_link_submit(
    request: Request,
    public_id: str,
    viewer: User | None = Depends(page_user),
    form: FormData = Depends(posted_form),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    via = str(form.get("via", ""))[:16]
    level = str(form.get("level", ""))[:2]
    tags = [str(t)[:20] for t in form.getlist("tags")][:20]
    comment = str(form.get("comment", ""))[:1000]
    phone = str(form.get("phone", ""))[:32]
    dims = {d: str(form.get(f"dim_{d}", ""))[:2] for d in DIMENSIONS}
    ticket = hall_service.get_ticket_by_public_id(session=session, public_id=public_id[:32])
    channel = RatingChannel.MY_TICKET if via == "my_ticket" else RatingChannel.QR
    try:
        data = _rating_input(
            level=level,
            channel=channel,
            tags=tags,
            comment=comment,
            phone=phone,
            dimension_scores=_dimension_scores(dims),
        )
        rating = service.rate_ticket(session=session, ticket=ticket, data=data)
    except GovloopError as exc:
        session.rollback()
        context = _link_context(session, ticket, via)
        if context["state"] == "rateable":
            context.update(
                error=exc.message, form=_form_state(level, tags, comment, phone, dims=dims)
            )
        else:
            context.update(message=exc.message)
        return page(request, "ratings/rate.html", status_code=exc.status_code, **context)
    context = _link_context(session, ticket, via)
    context.update(state="thanks", bad=rating.level in BAD_LEVELS, real_name=rating.real_name)
    return page(request, "ratings/rate.html", **context)


# --- rectification cases 差评整改 and figures ---------------------------------------------


# --- SERVQUAL survey 问卷 ----------------------------------------------------------------
