"""What the hall tells citizens by SMS: an appointment booked, its reminder the day before,
"your turn is near" (到号提醒) and the invitation to rate a finished visit.

Each message is written to the outbox (``notify.outbox``) in the transaction of the change
that causes it, under a key naming that event, so one event gives one message however often
the code runs. A citizen without a phone gives no message.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from govloop.access.models import CaseType
from govloop.core.clock import now, to_local
from govloop.core.errors import BadRequest
from govloop.core.settings import get_settings
from govloop.hall import repository as repo
from govloop.hall.models import (
    Appointment,
    AppointmentStatus,
    ServiceItem,
    Ticket,
    TicketStatus,
)
from govloop.notify import outbox
from govloop.notify.models import Notification
from govloop.org.models import Hall

# "Your turn is near" at this many tickets ahead unless the citizen chooses (1 … MAX_AHEAD).
DEFAULT_AHEAD = 3
MAX_AHEAD = 10
# what the kiosk offers to choose from
AHEAD_CHOICES = (1, 2, 3, 5, 10)
# Reminders for tomorrow's appointments go out from this local time on, not at midnight.
REMINDER_FROM = time(9, 0)
# The rating page a ticket's secret link opens (ratings/pages.py: ``/r/{public_id}``).
RATING_PATH = "/r/{public_id}"
APPOINTMENT_CASE = "appointment"


def _day(day: date) -> str:
    return f"{day.month}月{day.day}日"


def _slot(appointment: Appointment) -> str:
    return f"{appointment.slot_start:%H:%M}-{appointment.slot_end:%H:%M}"


def _appointment_params(session: Session, appointment: Appointment) -> dict[str, str]:
    hall = session.get(Hall, appointment.hall_id)
    item = session.get(ServiceItem, appointment.item_id)
    assert hall is not None and item is not None
    return {
        "hall": hall.name,
        "day": _day(appointment.service_date),
        "slot": _slot(appointment),
        "item": item.name,
        "code": appointment.code,
    }


# --- appointments --------------------------------------------------------------------


def appointment_booked(*, session: Session, appointment: Appointment) -> None:
    """预约成功: the confirmation with the appointment code, to the phone it was booked with."""
    if not appointment.citizen_phone:
        return
    outbox.enqueue(
        session=session,
        event_key=f"appointment:{appointment.id}:booked",
        template="appointment_booked",
        to=appointment.citizen_phone,
        params=_appointment_params(session, appointment),
        case=outbox.CaseRef(APPOINTMENT_CASE, appointment.id),
    )


def _reminder_key(appointment_id: int) -> str:
    return f"appointment:{appointment_id}:reminder"


def remind_tomorrow(*, session: Session, hall: Hall, at: datetime | None = None) -> list[str]:
    """The day before: one reminder per booked appointment of tomorrow (local day), from
    ``REMINDER_FROM`` on. Appointments booked today are left out (their confirmation has just
    gone out). Run every half minute by the hall's duty: the reminders already written are
    looked up in one query, so a second run writes nothing. Returns the codes reminded."""
    moment = at or now()
    local = to_local(moment)
    if local.time() < REMINDER_FROM:
        return []
    today = local.date()
    start_of_today = datetime.combine(today, time(0), tzinfo=local.tzinfo)
    due = session.scalars(
        select(Appointment)
        .where(
            Appointment.hall_id == hall.id,
            Appointment.service_date == today + timedelta(days=1),
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.booked_at < start_of_today,
        )
        .order_by(Appointment.id)
    ).all()
    if not due:
        return []
    done = set(
        session.scalars(
            select(Notification.event_key).where(
                Notification.event_key.in_([_reminder_key(a.id) for a in due])
            )
        )
    )
    reminded = []
    for appointment in due:
        if _reminder_key(appointment.id) in done or not appointment.citizen_phone:
            continue
        outbox.enqueue(
            session=session,
            event_key=_reminder_key(appointment.id),
            template="appointment_reminder",
            to=appointment.citizen_phone,
            params=_appointment_params(session, appointment),
            case=outbox.CaseRef(APPOINTMENT_CASE, appointment.id),
        )
        reminded.append(appointment.code)
    return reminded


# --- "your turn is near" 到号提醒 -------------------------------------------------------


def masked_phone(phone: str | None) -> str:
    """13812341234 → 138****1234, as a slip or page shows a phone."""
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "*" * len(phone)


def clean_turn_request(phone: str | None, ahead: int | None) -> tuple[str | None, int | None]:
    """The kiosk's optional phone and "tell me at N ahead": (None, None) without a phone;
    a clear refusal for a phone that cannot take an SMS or an N out of range."""
    number = outbox.normalise_phone(phone or "")
    if not number:
        return None, None
    if not outbox.valid_address("sms", number):
        raise BadRequest("请填写正确的手机号码（11 位）", code="invalid_phone")
    chosen = DEFAULT_AHEAD if ahead is None else ahead
    if not 1 <= chosen <= MAX_AHEAD:
        raise BadRequest(
            f"提醒人数须在 1 到 {MAX_AHEAD} 之间", code="bad_notify_ahead", max=MAX_AHEAD
        )
    return number, chosen


_TURN_PENDING = select(Ticket).where(
    Ticket.hall_id == bindparam("hall_id"),
    Ticket.service_date == bindparam("service_date"),
    Ticket.notify_phone.is_not(None),
    Ticket.turn_notified_at.is_(None),
    Ticket.status == TicketStatus.WAITING,
)
# On PostgreSQL a waiting ticket another window is calling right now is locked: skipped
# (it is being called), never waited for (two windows checking each other's tickets would
# deadlock). On SQLite writers are serialized anyway.
_TURN_PENDING_SKIP_LOCKED = _TURN_PENDING.with_for_update(skip_locked=True)


def check_turn_near(*, session: Session, hall: Hall, service_date: date) -> list[str]:
    """After a call: tickets whose holder asked for "your turn is near" and now have at most
    the chosen number ahead get it, once. The hot path pays one query on the partial index of
    pending requests; the queue is counted only when someone asked. Returns the codes told."""
    postgres = session.get_bind().dialect.name == "postgresql"
    pending = session.scalars(
        _TURN_PENDING_SKIP_LOCKED if postgres else _TURN_PENDING,
        {"hall_id": hall.id, "service_date": service_date},
    ).all()
    if not pending:
        return []
    items_by_window, _states = repo.windows_and_items_of_hall(session, hall.id)
    told = []
    for ticket in pending:
        # The same count as the ticket's own page: waiting tickets ranked before it that
        # compete for the windows serving its item (waits._queue_inputs).
        serving = {w for w, ids in items_by_window.items() if ticket.item_id in ids}
        if ticket.target_window_id:
            serving &= {ticket.target_window_id}
        competing = (
            set().union(*(items_by_window[w] for w in serving)) if serving else {ticket.item_id}
        )
        threshold = ticket.notify_ahead or DEFAULT_AHEAD
        ahead = repo.count_ahead_up_to(
            session, ticket=ticket, item_ids=competing, window_ids=serving, up_to=threshold + 1
        )
        if ahead > threshold:
            continue
        assert ticket.notify_phone is not None
        ticket.turn_notified_at = now()
        outbox.enqueue(
            session=session,
            event_key=f"ticket:{ticket.id}:turn_near",
            template="turn_near",
            to=ticket.notify_phone,
            params={"hall": hall.name, "code": ticket.code, "ahead": ahead},
            case=outbox.CaseRef(CaseType.TICKET, ticket.id),
        )
        told.append(ticket.code)
    return told


# --- rating invitation 评价邀请 ----------------------------------------------------------


def rating_link(public_id: str) -> str:
    """The rating page of a ticket, as a citizen outside the hall reaches it."""
    base = get_settings().public_base_url.rstrip("/")
    return base + RATING_PATH.format(public_id=public_id)


def citizen_phone(session: Session, ticket: Ticket) -> str | None:
    """The phone the citizen left: at the kiosk, else with the appointment checked in."""
    if ticket.notify_phone:
        return ticket.notify_phone
    if ticket.appointment_id is None:
        return None
    return session.scalar(
        select(Appointment.citizen_phone).where(Appointment.id == ticket.appointment_id)
    )


def rating_invitation(*, session: Session, ticket: Ticket, hall: Hall) -> None:
    """After a finished visit, the link to rate it (好差评), when a phone is known."""
    phone = citizen_phone(session, ticket)
    if not phone or not outbox.valid_address("sms", outbox.normalise_phone(phone)):
        return
    item = session.get(ServiceItem, ticket.item_id)
    assert item is not None
    outbox.enqueue(
        session=session,
        event_key=f"ticket:{ticket.id}:rating_invitation",
        template="rating_invitation",
        to=phone,
        params={"hall": hall.name, "item": item.name, "link": rating_link(ticket.public_id)},
        case=outbox.CaseRef(CaseType.TICKET, ticket.id),
    )
