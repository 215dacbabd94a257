"""The deadline sweep: flags matters whose promised time is close (warned_at) or past
(overdue_at), once each, and tells the department's staff by message."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import local_tz, now
from govloop.core.errors import BadRequest
from govloop.matters import deadlines, workflow
from govloop.matters.models import CLOSED_STATES, DECIDED_STATES, Matter, MatterState
from govloop.notify import outbox
from govloop.notify.models import StaffContact
from govloop.org.models import DepartmentMember


@dataclass
class SweepReport:
    warned: int = 0
    overdue: int = 0


def _tell_department(session: Session, matter: Matter, kind: str) -> None:
    phones = session.scalars(
        select(StaffContact.phone)
        .join(DepartmentMember, DepartmentMember.user_id == StaffContact.user_id)
        .where(
            DepartmentMember.department_id == matter.department_id,
            StaffContact.phone.is_not(None),
        )
    ).all()
    due = (
        f"{matter.promised_due_at.astimezone(local_tz()):%m月%d日 %H:%M}"
        if matter.promised_due_at
        else ""
    )
    for phone in phones:
        try:
            outbox.enqueue(
                session=session,
                event_key=f"matter:{matter.id}:{kind}:{phone}",
                template="staff_due_soon",
                to=phone or "",
                params={"kind": "办件", "number": matter.number, "due": due},
                case=outbox.CaseRef("matter", matter.id),
            )
        except BadRequest:
            continue  # a contact that is not a mobile number: nothing to send


def sweep(*, session: Session) -> SweepReport:
    report = SweepReport()
    moment = now()
    open_states = [s for s in MatterState if s not in CLOSED_STATES and s not in DECIDED_STATES]
    rows = session.scalars(
        select(Matter).where(
            Matter.state.in_(open_states),
            Matter.state != MatterState.CORRECTION,
            Matter.promised_due_at.is_not(None),
            Matter.overdue_at.is_(None),
        )
    )
    for matter in rows:
        c = deadlines.clock(matter, moment)
        if c.state == deadlines.ClockState.OVERDUE:
            matter.overdue_at = moment
            workflow.record_event(session, matter, "matter.overdue", actor=None)
            _tell_department(session, matter, "overdue")
            report.overdue += 1
        elif c.state == deadlines.ClockState.WARNING and matter.warned_at is None:
            matter.warned_at = moment
            workflow.record_event(session, matter, "matter.warning", actor=None)
            _tell_department(session, matter, "warning")
            report.warned += 1
    return report
