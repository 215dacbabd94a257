"""Tickets as access sees them: open while being served, held by the clerk serving them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from govloop.access.cases import CaseInfo, register_case_type
from govloop.access.models import CaseType
from govloop.core.models import User
from govloop.hall import service


def ticket_case(session: Session, case_id: int, user: User) -> CaseInfo:
    t = service.ticket_case(session=session, ticket_id=case_id)
    return CaseInfo(CaseType.TICKET, case_id, t.open, t.staff_id == user.id, t.item_code, t.label)


register_case_type(CaseType.TICKET, ticket_case)
