"""Field tasks as access sees them: open until done, held by the assignee."""

from __future__ import annotations

from sqlalchemy.orm import Session

from govloop.access.cases import CaseInfo, register_case_type, register_policy_keys
from govloop.access.models import CaseType
from govloop.core.models import User
from govloop.field import service


def field_task_case(session: Session, case_id: int, user: User) -> CaseInfo:
    f = service.task_case(session=session, task_id=case_id)
    return CaseInfo(
        CaseType.FIELD_TASK, case_id, f.open, f.assignee_id == user.id, f.task_type, f.label
    )


def task_type_labels(_session: Session, keys: list[str]) -> dict[str, str]:
    return {k: service.TYPE_LABELS[k] for k in keys if k in service.TYPE_LABELS}


register_case_type(CaseType.FIELD_TASK, field_task_case)
register_policy_keys(CaseType.FIELD_TASK, task_type_labels)
