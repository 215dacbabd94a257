"""Queue rules of the service hall: issuing, calling, serving, transferring, closing.

Every state change appends a :class:`HallEvent` in the same transaction.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from govloop.core.clock import now, to_local
from govloop.core.errors import BadRequest, NotFound, RuleViolation
from govloop.core.events import touch
from govloop.core.models import User
from govloop.hall import notifications as hall_notifications
from govloop.hall import repository as repo
from govloop.hall import waits as hall_waits
from govloop.hall.models import (
    ACTIVE_STATUSES,
    CITIZEN_PRIORITY,
    EventKind,
    HallEvent,
    PriorityCategory,
    ServiceItem,
    Ticket,
    TicketCounter,
    TicketStatus,
    Window,
)
from govloop.org import hours
from govloop.org.models import DEFAULT_PRIORITY_RULE, Department, Hall

TICKET_CODE_RE = re.compile(r"^[A-Z]{1,2}\d{3,4}$")


# --- lookups -------------------------------------------------------------------------


def get_item(*, session: Session, code: str) -> ServiceItem:
    item = repo.item_by_code(session, code)
    if item is None or not item.active:
        raise NotFound(f"未找到事项：{code}", code="item_not_found")
    return item


def get_window(*, session: Session, hall: Hall, number: int, lock: bool = False) -> Window:
    window = repo.window_by_number(session, hall.id, number, lock=lock)
    if window is None or not window.active:
        raise NotFound(f"未找到 {number} 号窗口", code="window_not_found")
    return window


def parse_ticket_code(code: str) -> str:
    normalized = code.strip().upper()
    if not TICKET_CODE_RE.match(normalized):
        raise BadRequest(f"号码格式不正确：{code!r}（例如 A023）", code="malformed_ticket_code")
    return normalized


def get_ticket(
    *, session: Session, hall: Hall, code: str, day: date | None = None, lock: bool = False
) -> Ticket:
    """A ticket by its printed number (A023). The number is public, shown on the display
    board: whoever presents it may see where the ticket stands, never act on it."""
    normalized = parse_ticket_code(code)
    ticket = repo.ticket_by_code(session, hall.id, day or service_day(hall), normalized, lock=lock)
    if ticket is None:
        raise NotFound(f"今天没有 {normalized} 号", code="ticket_not_found")
    return ticket


def get_ticket_by_public_id(*, session: Session, public_id: str, lock: bool = False) -> Ticket:
    """A ticket by its secret link (the QR code on the slip): whoever holds it is the
    ticket's citizen and may act on it (cancel, rate)."""
    ticket = repo.ticket_by_public_id(session, public_id, lock=lock)
    if ticket is None:
        raise NotFound("未找到该号票", code="ticket_not_found")
    return ticket


def service_day(hall: Hall, at: datetime | None = None) -> date:
    return to_local(at or now()).date()


# --- events --------------------------------------------------------------------------


def record_event(
    session: Session,
    *,
    hall_id: int,
    kind: EventKind,
    ticket: Ticket | None = None,
    window: Window | None = None,
    staff_id: int | None = None,
    appointment_id: int | None = None,
    item_id: int | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> HallEvent:
    event = HallEvent(
        hall_id=hall_id,
        kind=kind.value,
        at=at or now(),
        ticket_id=ticket.id if ticket else None,
        appointment_id=appointment_id
        if appointment_id
        else (ticket.appointment_id if ticket else None),
        item_id=item_id if item_id else (ticket.item_id if ticket else None),
        window_id=window.id if window else (ticket.window_id if ticket else None),
        staff_id=staff_id,
        detail=detail or {},
    )
    session.add(event)
    touch(session, f"hall:{hall_id}")
    return event


# --- issuing -------------------------------------------------------------------------


def priority_boost(hall: Hall, category: str | None) -> timedelta:
    if not category:
        return timedelta(0)
    rule = {**DEFAULT_PRIORITY_RULE, **(hall.priority_rule or {})}
    return timedelta(minutes=float(rule.get(category, 0)))


def next_number(session: Session, *, hall_id: int, day: date, prefix: str) -> int:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = TicketCounter.__table__
    assert isinstance(table, Table)
    stmt = (
        insert(table)
        .values(hall_id=hall_id, service_date=day, prefix=prefix, last_number=1)
        .on_conflict_do_update(
            index_elements=["hall_id", "service_date", "prefix"],
            set_={"last_number": table.c.last_number + 1},
        )
        .returning(table.c.last_number)
    )
    return int(session.execute(stmt).scalar_one())


def check_open(hall: Hall, at: datetime) -> None:
    """Refuse a ticket on a day the hall does not serve, or outside its opening periods."""
    if not hall.enforce_hours:
        return
    local = to_local(at)
    if not hours.serves_on(hall, local.date()):
        raise RuleViolation(
            f"今天（{local.date().isoformat()}）不办公，请在工作日前来", code="hall_closed_day"
        )
    if hours.period_at(hall, local.time()) is None:
        periods = hours.periods_of(hall)
        later = [p for p in periods if p.start > local.time()]
        if later and local.time() >= periods[0].end:
            raise RuleViolation(
                f"午间休息，{later[0].start:%H:%M} 开始取号（办公时间 {hours.describe(hall)}）",
                code="hall_closed_break",
            )
        raise RuleViolation(f"不在办公时间（{hours.describe(hall)}）", code="hall_closed_hours")


def issue_ticket(
    *,
    session: Session,
    hall: Hall,
    item: ServiceItem,
    priority: str | None = None,
    channel: str = "kiosk",
    arrived_at: datetime | None = None,
    appointment_id: int | None = None,
    check_hours: bool = True,
    notify_phone: str | None = None,
    notify_ahead: int | None = None,
) -> Ticket:
    """取号: number the ticket, rank it by the priority rule and estimate its wait.
    ``notify_phone``: the citizen asks for an SMS when ``notify_ahead`` (default 3) or
    fewer are ahead (到号提醒, see ``hall/notifications.py``)."""
    if priority is not None and priority not in {p.value for p in PriorityCategory}:
        raise BadRequest(f"未知的优先类别：{priority}", code="unknown_priority")
    notify_phone, notify_ahead = hall_notifications.clean_turn_request(notify_phone, notify_ahead)
    moment = now()
    if check_hours:
        check_open(hall, moment)
    day = service_day(hall, moment)
    number = next_number(session, hall_id=hall.id, day=day, prefix=item.ticket_prefix)
    arrival = arrived_at or moment
    ticket = Ticket(
        hall_id=hall.id,
        service_date=day,
        code=f"{item.ticket_prefix}{number:03d}",
        public_id=secrets.token_urlsafe(12),
        item_id=item.id,
        status=TicketStatus.WAITING,
        priority=priority,
        channel=channel,
        arrived_at=arrival,
        rank_at=arrival - priority_boost(hall, priority),
        issued_at=moment,
        appointment_id=appointment_id,
        recall_count=0,
        no_show_count=0,
        notify_phone=notify_phone,
        notify_ahead=notify_ahead,
    )
    session.add(ticket)
    session.flush()
    estimate = hall_waits.estimate_wait(session=session, ticket=ticket)
    ticket.eta_seconds = estimate.wait.expected_s
    ticket.eta_low_seconds = estimate.wait.low_s
    ticket.eta_high_seconds = estimate.wait.high_s
    record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.ISSUED,
        ticket=ticket,
        detail={"code": ticket.code, "priority": priority, "channel": channel},
        at=moment,
    )
    session.flush()
    hall_waits.remember_position(session, estimate)
    return ticket


def cancel_ticket(*, session: Session, ticket: Ticket, actor: User | None = None) -> Ticket:
    """取消 a waiting ticket: by its citizen (``actor`` None; the caller found the ticket
    by its secret link) or by hall staff on the citizen's behalf, recorded with who did it.

    Authorization is the caller's: routes reach here only through the ticket's secret
    link or with staff rights.
    """
    if ticket.status != TicketStatus.WAITING:
        raise RuleViolation("只有等候中的号可以取消", code="ticket_not_waiting")
    reason = "staff" if actor is not None else "citizen"
    ticket.status = TicketStatus.CANCELLED
    ticket.closed_reason = reason
    record_event(
        session,
        hall_id=ticket.hall_id,
        kind=EventKind.CANCELLED,
        ticket=ticket,
        staff_id=actor.id if actor is not None else None,
        detail={"reason": reason},
    )
    return ticket


# --- windows -------------------------------------------------------------------------


# --- estimates -----------------------------------------------------------------------


# --- end of day ----------------------------------------------------------------------


def is_citizen_priority(category: str | None) -> bool:
    return category in {p.value for p in CITIZEN_PRIORITY}


# --- for other domains ---------------------------------------------------------------


@dataclass(frozen=True)
class VisitContext:
    """Who and what a ticket's visit involved, for ratings and other domains."""

    ticket_id: int
    hall_id: int
    item_id: int
    department_id: int
    window_id: int | None
    staff_id: int | None
    status: str
    code: str


def visit_context(*, session: Session, ticket: Ticket) -> VisitContext:
    item = session.get(ServiceItem, ticket.item_id)
    assert item is not None
    return VisitContext(
        ticket_id=ticket.id,
        hall_id=ticket.hall_id,
        item_id=ticket.item_id,
        department_id=item.department_id,
        window_id=ticket.window_id,
        staff_id=ticket.staff_id,
        status=ticket.status,
        code=ticket.code,
    )


def last_finished_ticket(*, session: Session, hall: Hall, window_number: int) -> Ticket | None:
    """The window's most recent finished ticket today (what its rating pad asks about)."""
    window = get_window(session=session, hall=hall, number=window_number)
    return session.scalar(
        select(Ticket)
        .where(
            Ticket.window_id == window.id,
            Ticket.status == TicketStatus.FINISHED,
            Ticket.service_date == service_day(hall),
        )
        .order_by(Ticket.finished_at.desc())
        .limit(1)
    )


_NAME_COLUMNS: dict[str, Any] = {
    "hall": (Hall.id, Hall.name),
    "department": (Department.id, Department.name),
    "window": (Window.id, Window.name),
    "item": (ServiceItem.id, ServiceItem.name),
    "ticket": (Ticket.id, Ticket.code),
    "staff": (User.id, User.display_name),
}


def display_names(*, session: Session, kind: str, ids: set[int | None]) -> dict[int, str]:
    """Display names of hall objects by id (ticket: its code), for other domains' pages."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    id_col, name_col = _NAME_COLUMNS[kind]
    return {i: n for i, n in session.execute(select(id_col, name_col).where(id_col.in_(wanted)))}


@dataclass(frozen=True)
class TicketCase:
    """A ticket as a case for purpose-bound data access: open while it is at a window."""

    ticket_id: int
    open: bool
    staff_id: int | None
    item_code: str
    label: str


def ticket_case(*, session: Session, ticket_id: int) -> TicketCase:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"未找到号票 {ticket_id}", code="unknown_ticket")
    item = session.get(ServiceItem, ticket.item_id)
    assert item is not None
    return TicketCase(
        ticket.id,
        ticket.status in ACTIVE_STATUSES,
        ticket.staff_id,
        item.code,
        f"{ticket.code} {item.name}",
    )
