"""Queue rules of the service hall: issuing, calling, serving, transferring, closing.

Every state change appends a :class:`HallEvent` in the same transaction.
"""

from __future__ import annotations

import re
import secrets
import threading
import time as _time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from govloop.core import calendar
from govloop.core.clock import local_tz, now, to_local
from govloop.core.errors import BadRequest, Conflict, NotFound, PermissionDenied, RuleViolation
from govloop.core.events import touch
from govloop.core.models import User
from govloop.hall import repository as repo
from govloop.hall.estimates import (
    WaitEstimate,
    WaitInputs,
    estimate_abandon_rate,
    queue_length_predictor,
)
from govloop.hall.models import (
    ACTIVE_STATUSES,
    CITIZEN_PRIORITY,
    EventKind,
    HallEvent,
    Outcome,
    PriorityCategory,
    ServiceItem,
    Ticket,
    TicketCounter,
    TicketStatus,
    Window,
    WindowState,
)
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


def _next_number(session: Session, *, hall_id: int, day: date, prefix: str) -> int:
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
    if not hall.enforce_hours:
        return
    local = to_local(at)
    info = calendar.day_info(local.date())
    if not info.is_workday:
        raise RuleViolation(
            f"今天（{local.date().isoformat()}）不办公，请在工作日前来", code="hall_closed_day"
        )
    if not (hall.opens_at <= local.time() < hall.closes_at):
        raise RuleViolation(
            f"不在办公时间（{hall.opens_at:%H:%M}–{hall.closes_at:%H:%M}）",
            code="hall_closed_hours",
        )


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
) -> Ticket:
    """取号: number the ticket, rank it by the priority rule and estimate its wait."""
    if priority is not None and priority not in {p.value for p in PriorityCategory}:
        raise BadRequest(f"未知的优先类别：{priority}", code="unknown_priority")
    moment = now()
    if check_hours:
        check_open(hall, moment)
    day = service_day(hall, moment)
    number = _next_number(session, hall_id=hall.id, day=day, prefix=item.ticket_prefix)
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
    )
    session.add(ticket)
    session.flush()
    estimate = estimate_wait(session=session, ticket=ticket)
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
    _remember_position(session, estimate)
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


def _own_window(window: Window, actor: User) -> None:
    if window.staff_id != actor.id:
        raise PermissionDenied(
            f"您没有签入 {window.number} 号窗口，不能在该窗口操作", code="not_your_window"
        )


def _set_state(window: Window, state: WindowState) -> None:
    window.state = state
    window.state_since = now()


def sign_in(*, session: Session, hall: Hall, window_number: int, actor: User) -> Window:
    window = get_window(session=session, hall=hall, number=window_number, lock=True)
    if window.staff_id == actor.id:
        return window
    if window.staff_id is not None:
        raise Conflict(f"{window.number} 号窗口已有人员签入", code="window_taken")
    elsewhere = session.scalar(select(Window).where(Window.staff_id == actor.id))
    if elsewhere is not None:
        raise Conflict(f"您已签入 {elsewhere.number} 号窗口，请先签退", code="signed_in_elsewhere")
    window.staff_id = actor.id
    _set_state(window, WindowState.IDLE)
    record_event(
        session, hall_id=hall.id, kind=EventKind.WINDOW_SIGNED_IN, window=window, staff_id=actor.id
    )
    return window


def sign_out(*, session: Session, hall: Hall, window_number: int, actor: User) -> Window:
    window = get_window(session=session, hall=hall, number=window_number, lock=True)
    _own_window(window, actor)
    if repo.active_ticket_of_window(session, window.id):
        raise RuleViolation("请先办结或处理当前号再签退", code="window_busy")
    window.staff_id = None
    _set_state(window, WindowState.LOGGED_OUT)
    record_event(
        session, hall_id=hall.id, kind=EventKind.WINDOW_SIGNED_OUT, window=window, staff_id=actor.id
    )
    return window


def pause(
    *, session: Session, hall: Hall, window_number: int, actor: User, reason: str = ""
) -> Window:
    window = get_window(session=session, hall=hall, number=window_number, lock=True)
    _own_window(window, actor)
    if repo.active_ticket_of_window(session, window.id):
        raise RuleViolation("请先办结当前号再暂停", code="window_busy")
    if window.state == WindowState.PAUSED:
        raise RuleViolation("窗口已暂停", code="already_paused")
    _set_state(window, WindowState.PAUSED)
    record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.WINDOW_PAUSED,
        window=window,
        staff_id=actor.id,
        detail={"reason": reason},
    )
    return window


def resume(*, session: Session, hall: Hall, window_number: int, actor: User) -> Window:
    window = get_window(session=session, hall=hall, number=window_number, lock=True)
    _own_window(window, actor)
    if window.state != WindowState.PAUSED:
        raise RuleViolation("窗口没有暂停", code="not_paused")
    _set_state(window, WindowState.IDLE)
    record_event(
        session, hall_id=hall.id, kind=EventKind.WINDOW_RESUMED, window=window, staff_id=actor.id
    )
    return window


def call_next(*, session: Session, hall: Hall, window_number: int, actor: User) -> Ticket:
    """叫号: the first eligible ticket by queue rank, across the items the window serves.

    The window row is locked first, so one window never holds two tickets; the ticket
    is taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent windows never
    call the same ticket. SQLite serializes writers with ``BEGIN IMMEDIATE``.
    """
    window = get_window(session=session, hall=hall, number=window_number, lock=True)
    _own_window(window, actor)
    if window.state == WindowState.PAUSED:
        raise RuleViolation("窗口暂停中，请先恢复", code="window_paused")
    current = repo.active_ticket_of_window(session, window.id)
    if current is not None:
        raise RuleViolation(
            f"请先处理当前的 {current.code} 号", code="window_busy", current=current.code
        )
    item_ids = repo.item_ids_of_window(session, window)
    dialect = session.get_bind().dialect.name
    ticket = repo.next_waiting_ticket(
        session,
        hall_id=hall.id,
        service_date=service_day(hall),
        window_id=window.id,
        item_ids=item_ids,
        skip_locked=dialect == "postgresql",
    )
    if ticket is None:
        raise RuleViolation("当前没有等候的号", code="queue_empty")
    moment = now()
    ticket.status = TicketStatus.CALLED
    ticket.called_at = moment
    ticket.window_id = window.id
    ticket.staff_id = actor.id
    ticket.target_window_id = None
    _set_state(window, WindowState.SERVING)
    record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.CALLED,
        ticket=ticket,
        window=window,
        staff_id=actor.id,
        detail={"code": ticket.code, "window": window.number},
        at=moment,
    )
    return ticket


def _current_ticket(
    session: Session, hall: Hall, window_number: int, actor: User
) -> tuple[Window, Ticket]:
    window = get_window(session=session, hall=hall, number=window_number, lock=True)
    _own_window(window, actor)
    ticket = repo.active_ticket_of_window(session, window.id, lock=True)
    if ticket is None:
        raise RuleViolation("窗口当前没有叫到的号", code="no_current_ticket")
    return window, ticket


def recall(*, session: Session, hall: Hall, window_number: int, actor: User) -> Ticket:
    window, ticket = _current_ticket(session, hall, window_number, actor)
    if ticket.status != TicketStatus.CALLED:
        raise RuleViolation("已开始办理，无需重呼", code="already_started")
    ticket.recall_count += 1
    record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.RECALLED,
        ticket=ticket,
        window=window,
        staff_id=actor.id,
        detail={"code": ticket.code, "window": window.number, "recall": ticket.recall_count},
    )
    return ticket


def start_service(*, session: Session, hall: Hall, window_number: int, actor: User) -> Ticket:
    window, ticket = _current_ticket(session, hall, window_number, actor)
    if ticket.status != TicketStatus.CALLED:
        raise RuleViolation("该号已在办理中", code="already_started")
    ticket.status = TicketStatus.SERVING
    ticket.started_at = now()
    record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.STARTED,
        ticket=ticket,
        window=window,
        staff_id=actor.id,
    )
    return ticket


def finish_service(
    *, session: Session, hall: Hall, window_number: int, actor: User, outcome: str = Outcome.DONE
) -> Ticket:
    try:
        result = Outcome(outcome)
    except ValueError:
        raise BadRequest(
            f"未知的办理结果：{outcome}", code="unknown_outcome", allowed=[o.value for o in Outcome]
        ) from None
    window, ticket = _current_ticket(session, hall, window_number, actor)
    if ticket.status != TicketStatus.SERVING:
        raise RuleViolation(f"{ticket.code} 号尚未开始办理，不能办结", code="not_serving")
    ticket.status = TicketStatus.FINISHED
    ticket.finished_at = now()
    ticket.outcome = result
    _set_state(window, WindowState.IDLE)
    record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.FINISHED,
        ticket=ticket,
        window=window,
        staff_id=actor.id,
        detail={"outcome": result.value},
    )
    return ticket


def mark_no_show(*, session: Session, hall: Hall, window_number: int, actor: User) -> Ticket:
    """过号. Within the hall's grace the ticket goes back to the queue (过号重排)."""
    window, ticket = _current_ticket(session, hall, window_number, actor)
    if ticket.status != TicketStatus.CALLED:
        raise RuleViolation("已开始办理的号不能过号", code="already_started")
    ticket.no_show_count += 1
    moment = now()
    requeue = ticket.no_show_count <= hall.no_show_grace_recalls
    record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.NO_SHOW,
        ticket=ticket,
        window=window,
        staff_id=actor.id,
        detail={"code": ticket.code, "requeued": requeue},
        at=moment,
    )
    if requeue:
        # Back in line behind everyone waiting now, ahead of later arrivals.
        ticket.status = TicketStatus.WAITING
        ticket.rank_at = moment
        ticket.window_id = None
        ticket.staff_id = None
        record_event(session, hall_id=hall.id, kind=EventKind.REQUEUED, ticket=ticket, at=moment)
    else:
        ticket.status = TicketStatus.NO_SHOW
    _set_state(window, WindowState.IDLE)
    return ticket


def transfer(
    *,
    session: Session,
    hall: Hall,
    window_number: int,
    actor: User,
    to_item_code: str | None = None,
    to_window_number: int | None = None,
) -> Ticket:
    """转移 to another item and/or window, keeping the original arrival time."""
    if not to_item_code and to_window_number is None:
        raise BadRequest("请指定转移到的事项或窗口", code="transfer_target_missing")
    window, ticket = _current_ticket(session, hall, window_number, actor)
    item = (
        get_item(session=session, code=to_item_code)
        if to_item_code
        else session.get(ServiceItem, ticket.item_id)
    )
    assert item is not None
    target: Window | None = None
    if to_window_number is not None:
        target = get_window(session=session, hall=hall, number=to_window_number)
        if target.id == window.id:
            raise RuleViolation("不能转移到本窗口", code="transfer_to_self")
        if item.id not in repo.item_ids_of_window(session, target):
            raise RuleViolation(
                f"{target.number} 号窗口不办理该事项", code="window_does_not_serve_item"
            )
    elif not any(item.id in ids for ids in repo.item_map_of_hall(session, hall.id).values()):
        raise RuleViolation("大厅没有窗口办理该事项", code="item_not_served")
    from_item, from_window = ticket.item_id, window.number
    ticket.item_id = item.id
    ticket.status = TicketStatus.WAITING
    ticket.target_window_id = target.id if target else None
    ticket.window_id = None
    ticket.staff_id = None
    ticket.called_at = None
    ticket.started_at = None
    # The original arrival keeps its place; a transferred ticket is not sent to the back.
    ticket.rank_at = ticket.arrived_at - priority_boost(hall, ticket.priority)
    _set_state(window, WindowState.IDLE)
    record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.TRANSFERRED,
        ticket=ticket,
        window=window,
        staff_id=actor.id,
        detail={
            "code": ticket.code,
            "from_item_id": from_item,
            "to_item_id": item.id,
            "from_window": from_window,
            "to_window": target.number if target else None,
        },
    )
    return ticket


# --- estimates -----------------------------------------------------------------------


@dataclass(frozen=True)
class TicketPosition:
    ticket: Ticket
    ahead: int
    inputs: WaitInputs
    wait: WaitEstimate


_stats_cache: dict[tuple[int, frozenset[int]], tuple[float, float, float]] = {}
_stats_lock = threading.Lock()
STATS_TTL_S = 15.0


def _service_stats(session: Session, hall: Hall, item_ids: set[int]) -> tuple[float, float]:
    """(mean occupancy seconds, abandonment rate), cached briefly: they move slowly."""
    key = (hall.id, frozenset(item_ids))
    with _stats_lock:
        hit = _stats_cache.get(key)
    if hit and _time.monotonic() - hit[0] < STATS_TTL_S:
        return hit[1], hit[2]
    occupancies = repo.recent_occupancies(session, item_ids=item_ids)
    if occupancies:
        mean = sum(occupancies) / len(occupancies)
    else:
        items = session.scalars(select(ServiceItem).where(ServiceItem.id.in_(item_ids))).all()
        mean = 60.0 * sum(i.promised_minutes for i in items) / max(len(items), 1)
    waits = repo.recent_waits(session, hall_id=hall.id, since=now() - timedelta(days=14))
    theta = estimate_abandon_rate(sum(1 for _, ns in waits if ns), sum(w for w, _ in waits))
    with _stats_lock:
        _stats_cache[key] = (_time.monotonic(), mean, theta)
    return mean, theta


def clear_stats_cache() -> None:
    with _stats_lock:
        _stats_cache.clear()


# The estimate made while issuing a ticket, kept until the session changes anything, so the
# slip shown in the same request is the one stored on the ticket without estimating twice.
_POSITION_MEMO = "govloop.hall.position"


@event.listens_for(Session, "after_flush")
def _forget_position(session: Session, _flush_context: Any) -> None:
    session.info.pop(_POSITION_MEMO, None)


def _remember_position(session: Session, position: TicketPosition) -> None:
    session.info[_POSITION_MEMO] = (session.get_transaction(), position)


def _remembered_position(session: Session, ticket: Ticket) -> TicketPosition | None:
    memo = session.info.get(_POSITION_MEMO)
    if memo is None:
        return None
    transaction, position = memo
    if (
        position.ticket is not ticket
        or transaction is not session.get_transaction()
        or session.new
        or session.dirty
        or session.deleted
    ):
        return None
    return position


def estimate_wait(*, session: Session, ticket: Ticket) -> TicketPosition:
    remembered = _remembered_position(session, ticket)
    if remembered is not None:
        return remembered
    hall = session.get(Hall, ticket.hall_id)
    assert hall is not None
    items_by_window, states = repo.windows_and_items_of_hall(session, hall.id)
    serving = {wid for wid, ids in items_by_window.items() if ticket.item_id in ids}
    if ticket.target_window_id:
        serving &= {ticket.target_window_id}
    competing_items = (
        set().union(*(items_by_window[w] for w in serving)) if serving else {ticket.item_id}
    )
    open_states = [
        states[w] for w in serving if states[w] in (WindowState.IDLE, WindowState.SERVING)
    ]
    idle = sum(1 for state in open_states if state == WindowState.IDLE)
    ahead = repo.count_ahead(session, ticket=ticket, item_ids=competing_items, window_ids=serving)
    mean, theta = _service_stats(session, hall, competing_items)
    inputs = WaitInputs(
        ahead=ahead, servers=len(open_states), idle=idle, mean_service_s=mean, abandon_rate=theta
    )
    return TicketPosition(
        ticket=ticket, ahead=ahead, inputs=inputs, wait=queue_length_predictor(inputs)
    )


# --- end of day ----------------------------------------------------------------------


def close_day(
    *,
    session: Session,
    hall: Hall,
    actor: User | None,
    day: date | None = None,
    reason: str = "营业结束",
    carry_over_codes: list[str] | None = None,
    carry_over_all: bool = False,
) -> dict[str, Any]:
    """Close every ticket still waiting, with a reason; carry some to the next working day.

    ``actor`` is None when the closing-time job closes the queue.
    """
    day = day or service_day(hall)
    wanted = {parse_ticket_code(c) for c in (carry_over_codes or [])}
    waiting = repo.waiting_tickets(session, hall_id=hall.id, service_date=day)
    unknown = wanted - {t.code for t in waiting}
    if unknown:
        raise BadRequest(
            f"这些号不在等候中：{', '.join(sorted(unknown))}",
            code="not_waiting",
            codes=sorted(unknown),
        )
    to_carry = [t.code for t in waiting if carry_over_all or t.code in wanted]
    carried = carry_over(session=session, hall=hall, actor=actor, day=day, codes=to_carry)
    closed = []
    for ticket in waiting:
        if ticket.code in to_carry:
            continue
        ticket.status = TicketStatus.CLOSED
        ticket.closed_reason = reason
        record_event(
            session,
            hall_id=hall.id,
            kind=EventKind.CLOSED,
            ticket=ticket,
            staff_id=actor.id if actor else None,
            detail={"reason": reason},
        )
        closed.append(ticket.code)
    return {"day": day.isoformat(), "closed": closed, "carried_over": carried}


def carry_over(
    *, session: Session, hall: Hall, actor: User | None, day: date, codes: list[str]
) -> list[dict[str, str]]:
    """顺延: move waiting or closed tickets of ``day`` to the front of the next working day."""
    wanted = {parse_ticket_code(c) for c in codes}
    tickets = [
        t
        for t in session.scalars(
            select(Ticket).where(
                Ticket.hall_id == hall.id,
                Ticket.service_date == day,
                Ticket.code.in_(wanted),
                Ticket.status.in_([TicketStatus.WAITING, TicketStatus.CLOSED]),
            )
        )
    ]
    missing = wanted - {t.code for t in tickets}
    if missing:
        raise BadRequest(
            f"这些号不能顺延（不存在、已办理或已顺延）：{', '.join(sorted(missing))}",
            code="not_carriable",
            codes=sorted(missing),
        )
    next_day = calendar.next_workday(day)
    opens = datetime.combine(next_day, hall.opens_at, tzinfo=local_tz())
    carried = []
    for ticket in sorted(tickets, key=lambda t: (t.rank_at, t.id)):
        new = _carry_over(session, hall=hall, ticket=ticket, next_day=next_day, opens=opens)
        carried.append({"from": ticket.code, "to": new.code, "day": next_day.isoformat()})
    return carried


def _carry_over(
    session: Session, *, hall: Hall, ticket: Ticket, next_day: date, opens: datetime
) -> Ticket:
    item = session.get(ServiceItem, ticket.item_id)
    assert item is not None
    number = _next_number(session, hall_id=hall.id, day=next_day, prefix=item.ticket_prefix)
    category = PriorityCategory.CARRIED_OVER
    new = Ticket(
        hall_id=hall.id,
        service_date=next_day,
        code=f"{item.ticket_prefix}{number:03d}",
        public_id=secrets.token_urlsafe(12),
        item_id=item.id,
        status=TicketStatus.WAITING,
        priority=category,
        channel="carry_over",
        arrived_at=opens,
        rank_at=opens - priority_boost(hall, category),
        issued_at=now(),
        carried_from_id=ticket.id,
        recall_count=0,
        no_show_count=0,
    )
    session.add(new)
    session.flush()
    ticket.status = TicketStatus.CARRIED_OVER
    ticket.closed_reason = f"顺延至 {next_day.isoformat()} {new.code}"
    record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.CARRIED_OVER,
        ticket=ticket,
        detail={"to_code": new.code, "to_day": next_day.isoformat(), "to_ticket_id": new.id},
    )
    record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.ISSUED,
        ticket=new,
        detail={
            "code": new.code,
            "priority": category.value,
            "channel": "carry_over",
            "from_code": ticket.code,
        },
    )
    return new


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


def current_ticket_id(
    *, session: Session, hall: Hall, window_number: int, actor: User
) -> int | None:
    """The ticket the actor's window is calling or serving, if any (no locks: a read)."""
    window = get_window(session=session, hall=hall, number=window_number)
    _own_window(window, actor)
    ticket = repo.active_ticket_of_window(session, window.id)
    return ticket.id if ticket is not None else None
