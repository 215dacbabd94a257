"""Archiving instead of deleting: nothing with history is removed. An archived item leaves
the kiosk and the windows but stays in the tickets, figures and exports of its past; a
window with a ticket at it, or an item with tickets waiting, cannot be archived yet."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.clock import local_today
from govloop.core.errors import NotFound, RuleViolation
from govloop.core.models import User
from govloop.hall.models import ACTIVE_STATUSES, ServiceItem, Ticket, TicketStatus, Window
from govloop.org import in_force
from govloop.org.models import Department, Hall
from govloop.setup import apply, changes


def _hall(session: Session, code: str) -> Hall:
    hall = session.scalar(select(Hall).where(Hall.code == code))
    if hall is None:
        raise NotFound(f"未找到大厅“{code}”", code="unknown_hall")
    return hall


def archive_item(*, session: Session, code: str, actor: User | None, source: str) -> ServiceItem:
    item = session.scalar(select(ServiceItem).where(ServiceItem.code == code).with_for_update())
    if item is None:
        raise NotFound(f"未找到事项“{code}”", code="unknown_item")
    if not item.active:
        raise RuleViolation(f"事项“{code}”已归档", code="already_archived")
    waiting = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(
            Ticket.item_id == item.id, Ticket.status.in_((TicketStatus.WAITING, *ACTIVE_STATUSES))
        )
    )
    if waiting:
        raise RuleViolation(
            f"事项“{item.name}”还有 {waiting} 张未办完的号票，办完后再归档", code="item_in_use"
        )
    item.active = False
    _log(
        session, actor, source, "item", code, {"active": True}, {"active": False, "archived": True}
    )
    return item


def archive_window(
    *, session: Session, hall_code: str, number: int, actor: User | None, source: str
) -> Window:
    hall = _hall(session, hall_code)
    window = session.scalar(
        select(Window).where(Window.hall_id == hall.id, Window.number == number).with_for_update()
    )
    if window is None:
        raise NotFound(f"大厅“{hall_code}”没有 {number} 号窗口", code="unknown_window")
    if not window.active:
        raise RuleViolation(f"{number} 号窗口已归档", code="already_archived")
    busy = session.scalar(
        select(Ticket.code).where(Ticket.window_id == window.id, Ticket.status.in_(ACTIVE_STATUSES))
    )
    if busy:
        raise RuleViolation(
            f"{number} 号窗口正在办理 {busy} 号，办完后再归档", code="window_in_service"
        )
    snapshot = apply.window_snapshot(session, window)
    window.active = False
    key = in_force.window_key(hall_code, number)
    in_force.record(
        session,
        kind=in_force.WINDOW,
        key=key,
        hall_code=hall_code,
        valid_from=local_today(),
        state=snapshot | {"active": False},
        before=snapshot,
    )
    _log(
        session, actor, source, "window", key, {"active": True}, {"active": False, "archived": True}
    )
    return window


def archive_department(
    *, session: Session, code: str, actor: User | None, source: str
) -> Department:
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise NotFound(f"未找到部门“{code}”", code="unknown_department")
    items = session.scalar(
        select(func.count())
        .select_from(ServiceItem)
        .where(ServiceItem.department_id == dept.id, ServiceItem.active)
    )
    if items:
        raise RuleViolation(
            f"部门“{dept.name}”还有 {items} 个在用事项，请先归档或移交这些事项",
            code="department_in_use",
        )
    dept.archived = True
    _log(session, actor, source, "department", code, {"archived": False}, {"archived": True})
    return dept


def set_calendar(
    *,
    session: Session,
    hall_code: str,
    closed: list[date],
    extra: list[date],
    actor: User | None,
    source: str,
) -> Hall:
    """The hall's own closures and extra working days, beyond the national calendar."""
    both = sorted(set(closed) & set(extra))
    if both:
        raise RuleViolation(
            f"{both[0].isoformat()} 不能既是闭厅日又是加班日", code="closed_and_extra"
        )
    hall = _hall(session, hall_code)
    before = {
        "closed_days": list(hall.closed_days or []),
        "extra_days": list(hall.extra_days or []),
    }
    after = {
        "closed_days": sorted(d.isoformat() for d in set(closed)),
        "extra_days": sorted(d.isoformat() for d in set(extra)),
    }
    hall.closed_days, hall.extra_days = after["closed_days"], after["extra_days"]
    _log(session, actor, source, "hall", hall_code, before, after)
    return hall


def _log(
    session: Session,
    actor: User | None,
    source: str,
    kind: str,
    key: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    changes.record(
        session, actor=actor, source=source, kind=kind, key=key, before=before, after=after
    )
