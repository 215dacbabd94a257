"""Work orders as access sees them: open until closed, held by the departments handling them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from govloop.access.cases import CaseInfo, register_case_type
from govloop.access.models import CaseType
from govloop.core.models import User
from govloop.hotline.orders import workflow


def work_order_case(session: Session, case_id: int, user: User) -> CaseInfo:
    o = workflow.order_case(session=session, order_id=case_id)
    unit = workflow.department_of_user(session=session, user=user)
    held = unit is not None and unit in o.department_ids
    return CaseInfo(CaseType.WORK_ORDER, case_id, o.open, held, o.category_group, o.label)


register_case_type(CaseType.WORK_ORDER, work_order_case)
