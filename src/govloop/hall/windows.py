"""Window operations: sign-in and out, pause, call next, recall, serve, finish, no-show and
transfer. Each checks that the window is the actor's own and records an event."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.errors import BadRequest, Conflict, PermissionDenied, RuleViolation
from govloop.core.models import User
from govloop.hall import notifications as hall_notifications
from govloop.hall import repository as repo
from govloop.hall import service
from govloop.hall.models import (
    EventKind,
    Outcome,
    ServiceItem,
    Ticket,
    TicketStatus,
    Window,
    WindowState,
)
from govloop.org.models import Hall


def _own_window(window: Window, actor: User) -> None:
    if window.staff_id != actor.id:
        raise PermissionDenied(
            f"您没有签入 {window.number} 号窗口，不能在该窗口操作", code="not_your_window"
        )


def _set_state(window: Window, state: WindowState) -> None:
    window.state = state
    window.state_since = now()


def sign_in(*, session: Session, hall: Hall, window_number: int, actor: User) -> Window:
    window = service.get_window(session=session, hall=hall, number=window_number, lock=True)
    if window.staff_id == actor.id:
        return window
    if window.staff_id is not None:
        raise Conflict(f"{window.number} 号窗口已有人员签入", code="window_taken")
    elsewhere = session.scalar(select(Window).where(Window.staff_id == actor.id))
    if elsewhere is not None:
        raise Conflict(f"您已签入 {elsewhere.number} 号窗口，请先签退", code="signed_in_elsewhere")
    window.staff_id = actor.id
    _set_state(window, WindowState.IDLE)
    service.record_event(
        session, hall_id=hall.id, kind=EventKind.WINDOW_SIGNED_IN, window=window, staff_id=actor.id
    )
    return window


def sign_out(*, session: Session, hall: Hall, window_number: int, actor: User) -> Window:
    window = service.get_window(session=session, hall=hall, number=window_number, lock=True)
    _own_window(window, actor)
    if repo.active_ticket_of_window(session, window.id):
        raise RuleViolation("请先办结或处理当前号再签退", code="window_busy")
    window.staff_id = None
    _set_state(window, WindowState.LOGGED_OUT)
    service.record_event(
        session, hall_id=hall.id, kind=EventKind.WINDOW_SIGNED_OUT, window=window, staff_id=actor.id
    )
    return window


def pause(
    *, session: Session, hall: Hall, window_number: int, actor: User, reason: str = ""
) -> Window:
    window = service.get_window(session=session, hall=hall, number=window_number, lock=True)
    _own_window(window, actor)
    if repo.active_ticket_of_window(session, window.id):
        raise RuleViolation("请先办结当前号再暂停", code="window_busy")
    if window.state == WindowState.PAUSED:
        raise RuleViolation("窗口已暂停", code="already_paused")
    _set_state(window, WindowState.PAUSED)
    service.record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.WINDOW_PAUSED,
        window=window,
        staff_id=actor.id,
        detail={"reason": reason},
    )
    return window


def resume(*, session: Session, hall: Hall, window_number: int, actor: User) -> Window:
    window = service.get_window(session=session, hall=hall, number=window_number, lock=True)
    _own_window(window, actor)
    if window.state != WindowState.PAUSED:
        raise RuleViolation("窗口没有暂停", code="not_paused")
    _set_state(window, WindowState.IDLE)
    service.record_event(
        session, hall_id=hall.id, kind=EventKind.WINDOW_RESUMED, window=window, staff_id=actor.id
    )
    return window


def call_next(*, session: Session, hall: Hall, window_number: int, actor: User) -> Ticket:
    """叫号: the first eligible ticket by queue rank, across the items the window serves.

    The window row is locked first, so one window never holds two tickets; the ticket
    is taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent windows never
    call the same ticket. SQLite serializes writers with ``BEGIN IMMEDIATE``.
    """
    window = service.get_window(session=session, hall=hall, number=window_number, lock=True)
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
        service_date=service.service_day(hall),
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
    service.record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.CALLED,
        ticket=ticket,
        window=window,
        staff_id=actor.id,
        detail={"code": ticket.code, "window": window.number},
        at=moment,
    )
    hall_notifications.check_turn_near(session=session, hall=hall, service_date=ticket.service_date)
    return ticket


def _current_ticket(
    session: Session, hall: Hall, window_number: int, actor: User
) -> tuple[Window, Ticket]:
    window = service.get_window(session=session, hall=hall, number=window_number, lock=True)
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
    service.record_event(
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
    service.record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.STARTED,
        ticket=ticket,
        window=window,
        staff_id=actor.id,
    )
    return ticket


def finish_service(
    *,
    session: Session,
    hall: Hall,
    window_number: int,
    actor: User,
    outcome: str = Outcome.DONE,
    opening_matter: bool = False,
) -> Ticket:
    """``opening_matter``: the matters domain finishes the ticket as 受理 in the transaction
    that opens its matter; an "accepted" outcome without a matter is refused."""
    try:
        result = Outcome(outcome)
    except ValueError:
        raise BadRequest(
            f"未知的办理结果：{outcome}", code="unknown_outcome", allowed=[o.value for o in Outcome]
        ) from None
    if result == Outcome.ACCEPTED and not opening_matter:
        raise RuleViolation(
            "受理须登记办件（申请人、联系电话、收取的材料），请使用“受理并登记办件”",
            code="matter_form_required",
        )
    window, ticket = _current_ticket(session, hall, window_number, actor)
    if ticket.status != TicketStatus.SERVING:
        raise RuleViolation(f"{ticket.code} 号尚未开始办理，不能办结", code="not_serving")
    ticket.status = TicketStatus.FINISHED
    ticket.finished_at = now()
    ticket.outcome = result
    _set_state(window, WindowState.IDLE)
    service.record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.FINISHED,
        ticket=ticket,
        window=window,
        staff_id=actor.id,
        detail={"outcome": result.value},
    )
    hall_notifications.rating_invitation(session=session, ticket=ticket, hall=hall)
    return ticket


def mark_no_show(*, session: Session, hall: Hall, window_number: int, actor: User) -> Ticket:
    """过号. Within the hall's grace the ticket goes back to the queue (过号重排)."""
    window, ticket = _current_ticket(session, hall, window_number, actor)
    if ticket.status != TicketStatus.CALLED:
        raise RuleViolation("已开始办理的号不能过号", code="already_started")
    ticket.no_show_count += 1
    moment = now()
    requeue = ticket.no_show_count <= hall.no_show_grace_recalls
    service.record_event(
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
        service.record_event(
            session, hall_id=hall.id, kind=EventKind.REQUEUED, ticket=ticket, at=moment
        )
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
        service.get_item(session=session, code=to_item_code)
        if to_item_code
        else session.get(ServiceItem, ticket.item_id)
    )
    assert item is not None
    target: Window | None = None
    if to_window_number is not None:
        target = service.get_window(session=session, hall=hall, number=to_window_number)
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
    ticket.rank_at = ticket.arrived_at - service.priority_boost(hall, ticket.priority)
    _set_state(window, WindowState.IDLE)
    service.record_event(
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


def current_ticket_id(
    *, session: Session, hall: Hall, window_number: int, actor: User
) -> int | None:
    """The ticket the actor's window is calling or serving, if any (no locks: a read)."""
    window = service.get_window(session=session, hall=hall, number=window_number)
    _own_window(window, actor)
    ticket = repo.active_ticket_of_window(session, window.id)
    return ticket.id if ticket is not None else None
