"""Demo of purpose-bound access: a month of window staff opening the applicant's data for
the ticket they serve, through the real grant and audit code with the clock set back, plus
the cases an auditor should look at (a break-glass use, a refused look-up outside any case,
a late-evening access). Returns a citizen whose data tracker has entries."""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.access import breakglass, cases, service
from govloop.access.cases import CaseInfo
from govloop.access.models import Grant
from govloop.core.clock import frozen
from govloop.core.errors import RecordedRefusal
from govloop.core.models import User
from govloop.hall import service as hall
from govloop.hall.models import Ticket, TicketStatus
from govloop.subjects.models import SubjectMaster


@dataclass(frozen=True)
class AccessDemo:
    grants: int
    reads: int
    citizen: tuple[str, str, str] | None  # id number, name, phone for /my-data

    def summary(self) -> str:
        return (
            f"数据授权：{self.grants} 个办件授权，{self.reads} 次受控查看，全部写入防篡改审计日志"
        )


def _persons(session: Session, limit: int) -> list[SubjectMaster]:
    return [
        m
        for m in session.scalars(
            select(SubjectMaster)
            .where(SubjectMaster.kind == "person", SubjectMaster.identifier.is_not(None))
            .order_by(SubjectMaster.id)
            .limit(limit * 3)
        )
        if m.attributes.get("phone") and m.attributes.get("name")
    ][:limit]


def seed_demo(*, session: Session, seed: int, hall_id: int, days: int = 30) -> AccessDemo:
    if session.scalar(select(Grant.id).limit(1)) is not None:
        return AccessDemo(0, 0, None)
    rng = random.Random(seed)
    persons = _persons(session, 120)
    finished = list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.hall_id == hall_id,
                Ticket.status == TicketStatus.FINISHED,
                Ticket.staff_id.is_not(None),
                Ticket.called_at.is_not(None),
            )
            .order_by(Ticket.id.desc())
            .limit(4000)
        )
    )
    if not persons or not finished:
        return AccessDemo(0, 0, None)
    newest = finished[0].called_at
    assert newest is not None
    recent = [t for t in finished if t.called_at and t.called_at >= newest - timedelta(days=days)]
    picked = sorted(rng.sample(recent, min(400, len(recent))), key=lambda t: t.called_at or newest)
    staff = {u.id: u for u in session.scalars(select(User))}
    grants = reads = 0
    tracked = persons[0]
    # the history is written as it happened: the clock walks through the past tickets, and
    # whatever clock was in force before comes back afterwards
    with frozen(picked[0].called_at or newest) as clock:
        for i, ticket in enumerate(picked):
            assert ticket.called_at is not None and ticket.staff_id is not None
            person = tracked if i % 25 == 0 else rng.choice(persons)
            user = staff[ticket.staff_id]
            clock.current = ticket.called_at + timedelta(seconds=20)
            cases.attach_subject(
                session=session, case_type="ticket", case_id=ticket.id, master_id=person.id
            )
            # History: the ticket was open and held by this staff member at that time, so
            # the grant and the reads are written as the service wrote them then.
            item = hall.ticket_case(session=session, ticket_id=ticket.id)
            info = CaseInfo("ticket", ticket.id, True, True, item.item_code, item.label)
            result = service._issue_grant(session, user, info, "")
            grants += 1
            reads += len(service._read(session, user, result.grant, None, None))
            clock.current = (ticket.finished_at or clock.current) + timedelta(seconds=5)
            service.end_grant(session=session, grant=result.grant, reason="case_closed")
        # what an auditor should see
        someone = staff[picked[-1].staff_id or 0]
        clock.current = (picked[-1].finished_at or newest) + timedelta(hours=6)  # late evening
        with contextlib.suppress(RecordedRefusal):  # served or refused, both are logged
            breakglass.request(
                session=session,
                user=someone,
                master_id=rng.choice(persons).id,
                reason="群众来电反映证件遗失，需要核对其登记的联系电话",
            )
        other = rng.choice(picked[:-1])
        # two refusals, recorded in the access log as they would be in service
        with contextlib.suppress(RecordedRefusal):
            service.fetch(session=session, user=someone, token="a-guessed-token")
        with contextlib.suppress(RecordedRefusal):
            service.open_grant(session=session, user=someone, case_type="ticket", case_id=other.id)
    attrs = tracked.attributes
    return AccessDemo(grants, reads, (tracked.identifier or "", attrs["name"], attrs["phone"]))
