"""Matters as access sees them: open until closed, held by the department handling them;
the policy's keys are item codes (or their department prefix), as for tickets."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.access.cases import CaseInfo, register_case_type
from govloop.access.models import CaseType
from govloop.core.errors import NotFound
from govloop.core.models import User
from govloop.hall.models import ServiceItem
from govloop.matters import workflow
from govloop.matters.models import CLOSED_STATES, Matter


def matter_case(session: Session, case_id: int, user: User) -> CaseInfo:
    matter = session.get(Matter, case_id)
    if matter is None:
        raise NotFound(f"未找到办件 {case_id}", code="unknown_case")
    code = session.scalar(select(ServiceItem.code).where(ServiceItem.id == matter.item_id))
    held = workflow.is_department_staff(session, user, matter) and user.role != "admin"
    return CaseInfo(
        CaseType.MATTER,
        case_id,
        matter.state not in CLOSED_STATES,
        held,
        code,
        f"办件 {matter.number}",
    )


register_case_type(CaseType.MATTER, matter_case)
