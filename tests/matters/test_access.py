"""A matter is a case for purpose-bound access: the window's identified applicant follows
the ticket into the matter; the department holding it opens a grant while it is open, and
sees the policy's fields of that person; nobody else does, and not after it closes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from govloop.access import cases
from govloop.access import service as access
from govloop.audit.models import AuditEntry
from govloop.core.errors import RecordedRefusal
from govloop.hall.models import Ticket
from govloop.matters import workflow
from govloop.subjects.models import SubjectMaster

ATTRS = {"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000"}


def test_grant_on_a_matter_covers_the_window_applicant_and_ends_with_it(ms):
    s, mw, _ = ms
    zhang = SubjectMaster(
        kind="person",
        identifier=ATTRS["id_number"],
        display_name="张三",
        attributes=ATTRS,
        provenance={},
    )
    s.add(zhang)
    s.flush()
    # identified at the window while the ticket is served, then accepted
    from govloop.matters import service
    from tests.matters.conftest import serve_one

    serve_one(s, mw)
    ticket_id = s.scalar(select(Ticket.id).where(Ticket.status == "serving"))
    cases.attach_subject(session=s, case_type="ticket", case_id=ticket_id, master_id=zhang.id)
    matter = service.accept_at_window(
        session=s,
        hall=mw.world.hall,
        window_number=1,
        actor=mw.world.staff[1],
        applicant=service.Applicant(name="张三", phone="13800138000"),
    )
    assert cases.subjects_of(session=s, case_type="matter", case_id=matter.id) == [zhang.id]
    result = access.open_grant(session=s, user=mw.handler, case_type="matter", case_id=matter.id)
    assert result.grant.subject_ids == [zhang.id]
    views = access.fetch(session=s, user=mw.handler, token=result.token)
    # the matter policy's default: name and phone in full, the ID number masked
    assert views[0].values["name"] == "张三" and views[0].values["phone"] == "13800138000"
    assert "id_number" in views[0].masked and views[0].values["id_number"] != ATTRS["id_number"]
    with pytest.raises(RecordedRefusal) as exc:
        access.open_grant(session=s, user=mw.outsider, case_type="matter", case_id=matter.id)
    assert exc.value.code == "not_your_case"
    workflow.return_application(session=s, matter=matter, actor=mw.handler, reason="申请人撤回")
    with pytest.raises(RecordedRefusal) as exc:
        access.open_grant(session=s, user=mw.handler, case_type="matter", case_id=matter.id)
    assert exc.value.code == "case_closed"
    recorded = s.scalars(select(AuditEntry.action)).all()
    assert "grant_opened" in recorded
