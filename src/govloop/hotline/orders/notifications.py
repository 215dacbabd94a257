"""What the hotline tells citizens and staff by SMS: an order registered (受理) and answered
(办结), to the caller's mobile; an order dispatched to a unit, and an order about to be
overdue, to the unit's members with a phone on record (``notify.models.StaffContact``).

Each message goes to the outbox in the transaction of the change that causes it, under a key
naming that event (and, for staff, the person), so one event gives one message. Messages
carry the order number, never the caller's name or ID number.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.access.models import CaseType
from govloop.core.clock import to_local
from govloop.core.models import User
from govloop.hotline.models import Assignment, Channel, HotlineCategory, WorkOrder
from govloop.notify import outbox
from govloop.notify.models import StaffContact
from govloop.org.models import Department, DepartmentMember

ORDER_KIND = "工单"


def _case(order: WorkOrder) -> outbox.CaseRef:
    return outbox.CaseRef(CaseType.WORK_ORDER, order.id)


def caller_mobile(order: WorkOrder) -> str | None:
    """The caller's phone when it can take an SMS (a landline cannot)."""
    phone = outbox.normalise_phone(order.caller_phone or "")
    return phone if phone and outbox.valid_address("sms", phone) else None


def due_text(moment: datetime) -> str:
    """A deadline as staff read it: time limits end at local midnight, shown as 24:00 of the
    day before (12月8日24:00), never as 0:00 of the next day."""
    local = to_local(moment)
    if local.time() == time(0):
        day = local.date() - timedelta(days=1)
        return f"{day.month}月{day.day}日24:00"
    return f"{local.month}月{local.day}日{local:%H:%M}"


# --- to the citizen ------------------------------------------------------------------


def order_accepted(*, session: Session, order: WorkOrder) -> None:
    """受理: the order number, so the caller can follow it. An order opened by the caller's
    own SMS is answered by that reply instead (``sms_inbound``)."""
    phone = caller_mobile(order)
    if phone is None or order.channel == Channel.SMS:
        return
    outbox.enqueue(
        session=session,
        event_key=f"work_order:{order.id}:accepted",
        template="order_accepted",
        to=phone,
        params={"number": order.number},
        case=_case(order),
    )


def order_replied(*, session: Session, order: WorkOrder) -> None:
    """办结 with an answer (the unit's, reviewed by the center, or the agent's own at
    intake): once per order, even when a closed order is reopened and closed again."""
    phone = caller_mobile(order)
    if phone is None:
        return
    outbox.enqueue(
        session=session,
        event_key=f"work_order:{order.id}:replied",
        template="order_replied",
        to=phone,
        params={"number": order.number},
        case=_case(order),
    )


# --- to staff ------------------------------------------------------------------------


def member_phones(session: Session, department_ids: Iterable[int]) -> list[tuple[int, int, str]]:
    """(department id, user id, phone) of the active members of these units with a phone on
    record, in one query."""
    wanted = sorted(set(department_ids))
    if not wanted:
        return []
    rows = session.execute(
        select(DepartmentMember.department_id, StaffContact.user_id, StaffContact.phone)
        .join(StaffContact, StaffContact.user_id == DepartmentMember.user_id)
        .join(User, User.id == DepartmentMember.user_id)
        .where(
            DepartmentMember.department_id.in_(wanted),
            StaffContact.phone.is_not(None),
            User.active,
        )
        .order_by(DepartmentMember.department_id, StaffContact.user_id)
    ).all()
    out = []
    for department_id, user_id, phone in rows:
        number = outbox.normalise_phone(phone or "")
        if outbox.valid_address("sms", number):
            out.append((department_id, user_id, number))
    return out


def order_dispatched(
    *, session: Session, order: WorkOrder, assignments: Iterable[Assignment]
) -> int:
    """派单 (and 改派): every member of each unit the order went to, once per dispatch of
    it to that unit. Returns the messages written."""
    parts = {a.department_id: a for a in assignments}
    if not parts:
        return 0
    names = dict(
        session.execute(
            select(Department.id, Department.name).where(Department.id.in_(list(parts)))
        ).all()
    )
    category = session.get(HotlineCategory, order.category_id) if order.category_id else None
    due = due_text(order.sign_due_at) if order.sign_due_at else "尽快"
    written = 0
    for department_id, user_id, phone in member_phones(session, parts):
        assignment = parts[department_id]
        outbox.enqueue(
            session=session,
            event_key=f"work_order:{order.id}:dispatch:{assignment.id}:user:{user_id}",
            template="staff_order_dispatched",
            to=phone,
            params={
                "number": order.number,
                "category": category.name if category else "未分类",
                "department": names.get(department_id, ""),
                "due": due,
            },
            case=_case(order),
        )
        written += 1
    return written


def order_due_soon(*, session: Session, order: WorkOrder) -> int:
    """The time limit is close (the deadline sweep's ``sla.warning``): the lead unit's
    members, once per order and deadline. Returns the messages written."""
    if order.due_at is None or order.department_id is None:
        return 0
    stamp = int(order.due_at.timestamp())
    written = 0
    for _department_id, user_id, phone in member_phones(session, [order.department_id]):
        outbox.enqueue(
            session=session,
            event_key=f"work_order:{order.id}:due_soon:{stamp}:user:{user_id}",
            template="staff_due_soon",
            to=phone,
            params={"kind": ORDER_KIND, "number": order.number, "due": due_text(order.due_at)},
            case=_case(order),
        )
        written += 1
    return written
