"""Cases and live grants follow a subject master when its records move to another master
(registered with subjects, which sits below access)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.access.models import CaseSubject, Grant, GrantStatus
from govloop.subjects import references


@references.register
def repoint_case_references(session: Session, old_id: int, new_id: int) -> tuple[int, int]:
    """Cases and live grants that refer to master ``old_id`` refer to ``new_id`` instead."""
    cases = 0
    already = {
        (c.case_type, c.case_id)
        for c in session.scalars(select(CaseSubject).where(CaseSubject.master_id == new_id))
    }
    for c in session.scalars(select(CaseSubject).where(CaseSubject.master_id == old_id)):
        if (c.case_type, c.case_id) in already:
            session.delete(c)  # the case already concerns the other master
        else:
            c.master_id = new_id
            already.add((c.case_type, c.case_id))
        cases += 1
    grants = 0
    live = session.scalars(
        select(Grant).where(Grant.status.in_((GrantStatus.ACTIVE, GrantStatus.PENDING)))
    )
    for g in live:
        subject_ids = list(g.subject_ids or [])
        if old_id in subject_ids:
            replaced: list[int] = []
            for s in subject_ids:
                s = new_id if s == old_id else s
                if s not in replaced:
                    replaced.append(s)
            g.subject_ids = replaced
            grants += 1
    session.flush()
    return cases, grants
