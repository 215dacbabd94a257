"""Tickets as access sees them: open while being served, held by the clerk serving them;
and the policy's item keys (GA, RS…) in words, from the catalogue."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.access.cases import CaseInfo, register_case_type, register_policy_keys
from govloop.access.models import CaseType
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.hall import service
from govloop.hall.models import ServiceItem
from govloop.org.models import Department

NAMES_SHOWN = 3


def ticket_case(session: Session, case_id: int, user: User) -> CaseInfo:
    t = service.ticket_case(session=session, ticket_id=case_id)
    return CaseInfo(CaseType.TICKET, case_id, t.open, t.staff_id == user.id, t.item_code, t.label)


def item_key_labels(session: Session, keys: list[str]) -> dict[str, str]:
    """A key is an item code or a department prefix (GA01 → GA), as the policy matches them:
    named by the department and the first items it covers."""
    rows = session.execute(
        select(ServiceItem.code, ServiceItem.name, Department.name)
        .join(Department, Department.id == ServiceItem.department_id)
        .where(ServiceItem.active.is_(True))
        .order_by(ServiceItem.code)
    ).all()
    labels = {}
    for key in keys:
        covered = [r for r in rows if key in (r[0], r[0].rstrip("0123456789").rstrip("-"))]
        if not covered:
            labels[key] = _("No item in the catalogue yet (code %(key)s)") % {"key": key}
            continue
        department = Counter(r[2] for r in covered).most_common(1)[0][0]
        names = "、".join(r[1] for r in covered[:NAMES_SHOWN])
        more = len(covered) - NAMES_SHOWN
        if more > 0:
            names = _("%(names)s and %(n)s more") % {"names": names, "n": more}
        labels[key] = f"{department}：{names}"
    return labels


register_case_type(CaseType.TICKET, ticket_case)
register_policy_keys(CaseType.TICKET, item_key_labels)
