"""Cases as access sees them: is the case open, is this staff member the one holding it,
which policy entry applies, and which subjects it concerns. Each domain answers for its own
cases through its service; access never reads their tables."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.access.models import CaseSubject, CaseType
from govloop.core.errors import NotFound, RuleViolation
from govloop.core.models import User


@dataclass(frozen=True)
class CaseInfo:
    case_type: str
    case_id: int
    open: bool
    held_by_user: bool
    policy_key: str | None  # item code, category group or task type
    label: str


def case_info(*, session: Session, case_type: str, case_id: int, user: User) -> CaseInfo:
    if case_type == CaseType.TICKET:
        from govloop.hall import service as hall

        t = hall.ticket_case(session=session, ticket_id=case_id)
        return CaseInfo(case_type, case_id, t.open, t.staff_id == user.id, t.item_code, t.label)
    if case_type == CaseType.WORK_ORDER:
        from govloop.hotline.orders import workflow

        o = workflow.order_case(session=session, order_id=case_id)
        unit = workflow.department_of_user(session=session, user=user)
        held = unit is not None and unit in o.department_ids
        return CaseInfo(case_type, case_id, o.open, held, o.category_group, o.label)
    if case_type == CaseType.FIELD_TASK:
        from govloop.field import service as field

        f = field.task_case(session=session, task_id=case_id)
        return CaseInfo(case_type, case_id, f.open, f.assignee_id == user.id, f.task_type, f.label)
    raise RuleViolation(f"未知的办件类型：{case_type}", code="unknown_case_type")


def subjects_of(*, session: Session, case_type: str, case_id: int) -> list[int]:
    return list(
        session.scalars(
            select(CaseSubject.master_id)
            .where(CaseSubject.case_type == case_type, CaseSubject.case_id == case_id)
            .order_by(CaseSubject.id)
        )
    )


def attach_subject(
    *, session: Session, case_type: str, case_id: int, master_id: int, role: str = "applicant"
) -> None:
    """Record that a case concerns a subject (e.g. the applicant identified at the window)."""
    if case_type not in set(CaseType):
        raise RuleViolation(f"未知的办件类型：{case_type}", code="unknown_case_type")
    exists = session.scalar(
        select(CaseSubject.id).where(
            CaseSubject.case_type == case_type,
            CaseSubject.case_id == case_id,
            CaseSubject.master_id == master_id,
        )
    )
    if exists is None:
        session.add(
            CaseSubject(case_type=case_type, case_id=case_id, master_id=master_id, role=role)
        )
        session.flush()


def require_case(info: CaseInfo | None) -> CaseInfo:
    if info is None:
        raise NotFound("未找到办件", code="unknown_case")
    return info
