"""Purpose-bound access: a grant opens for the staff member holding an open case, covers
only its subjects and the policy's fields (masked where the policy says), and ends with the
case or its time limit. Every refusal is recorded; nothing leaks in an error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from govloop.access import breakglass, cases, service
from govloop.access.models import Grant
from govloop.access.policy import MaskRule, policy
from govloop.audit import log as audit
from govloop.audit.models import AuditEntry
from govloop.core.auth import Role
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import RuleViolation
from govloop.hall import service as hall
from govloop.hall import windows as hall_windows
from govloop.subjects.models import SubjectMaster
from tests.factories import make_hall, make_user, refusal

NOON = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # a Tuesday, 12:00 in Beijing
ATTRS = {
    "name": "张三",
    "id_number": "11010519491231002X",
    "phone": "13800138000",
    "address": "北京市朝阳区建国路88号",
    "birth_date": "1949-12-31",
}


def _setup(session):  # type: ignore[no-untyped-def]
    world = make_hall(session)
    zhang = SubjectMaster(
        kind="person",
        identifier=ATTRS["id_number"],
        display_name="张三",
        attributes=ATTRS,
        provenance={},
    )
    other = SubjectMaster(
        kind="person",
        identifier=None,
        display_name="李四",
        attributes={"name": "李四"},
        provenance={},
    )
    session.add_all([zhang, other])
    session.flush()
    ticket = hall.issue_ticket(session=session, hall=world.hall, item=world.items["SB01"])
    cases.attach_subject(session=session, case_type="ticket", case_id=ticket.id, master_id=zhang.id)
    hall_windows.call_next(session=session, hall=world.hall, window_number=1, actor=world.staff[1])
    return world, ticket, zhang, other


def _audit_actions(session) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [
        (e.action, e.outcome) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
    ]


def test_masking_rules():
    rules = policy()
    assert rules.mask("id_number", "11010519491231002X") == "110105********002X"
    assert rules.mask("phone", "13800138000") == "138****8000"
    assert rules.mask("name", "张三") == "张*"
    assert rules.mask("name", "欧阳娜娜") == "欧***"
    assert rules.mask("address", "北京市朝阳区建国路88号") == "北京市朝阳区******"
    assert rules.mask("bank_card", "6222020200112233445") == "6222***********3445"
    assert MaskRule(6, 4).apply("123") == "1**"  # never shows a short value whole


def test_policy_is_minimum_necessary_per_item():
    key, fields = policy().fields_for("ticket", "GA01")
    assert key == "ticket:GA" and "id_number" in fields["person"].full
    key, fields = policy().fields_for("ticket", "SB01")
    assert key == "ticket:default" and fields["person"].full == {"name"}
    with pytest.raises(RuleViolation):
        policy().fields_for("parcel", None)


def test_grant_serves_only_granted_fields_masked_as_declared(db):
    with frozen(NOON), unit_of_work() as s:
        world, ticket, zhang, _other = _setup(s)
        result = service.open_grant(
            session=s,
            user=world.staff[1],
            case_type="ticket",
            case_id=ticket.id,
            purpose="社保业务办理",
        )
        assert result.token
        fetched = service.fetch(session=s, user=world.staff[1], token=result.token)
        view = fetched[0]
        assert view.id == zhang.id
        # ungranted fields are absent, not null
        assert view.values == {
            "name": "张三",
            "id_number": "110105********002X",
            "phone": "138****8000",
        }
        assert view.masked == ["id_number", "phone"]
        read = s.scalars(select(AuditEntry).where(AuditEntry.action == "read")).one()
        assert read.subject_id == zhang.id and read.fields == "id_number,name,phone"
        assert read.case_label and read.case_label.startswith(ticket.code)
        assert read.purpose == "社保业务办理"


def test_refusals_are_recorded_and_leak_nothing(db):
    with frozen(NOON), unit_of_work() as s:
        world, ticket, _zhang, other = _setup(s)
        # another staff member's case
        denied = refusal(
            service.open_grant,
            session=s,
            user=world.staff[2],
            case_type="ticket",
            case_id=ticket.id,
        )
        assert denied.code == "not_your_case"
        token = service.open_grant(
            session=s, user=world.staff[1], case_type="ticket", case_id=ticket.id
        ).token
        # a field outside the grant
        r = refusal(service.fetch, session=s, user=world.staff[1], token=token, fields=["address"])
        assert r.code == "field_not_granted"
        assert "address" in r.message and "建国路" not in r.message
        # a subject outside the case
        r = refusal(service.fetch, session=s, user=world.staff[1], token=token, subject_id=other.id)
        assert r.code == "subject_not_in_case"
        # someone else's grant token, and a forged one
        r = refusal(service.fetch, session=s, user=world.staff[2], token=token)
        assert r.code == "not_your_grant"
        r = refusal(service.fetch, session=s, user=world.staff[1], token="forged-token")
        assert r.code == "bad_grant_token"
        actions = _audit_actions(s)
        assert actions.count(("denied", "denied")) == 5
        assert all(
            e.fields in ("", "address")
            for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "denied"))
        )


def test_grant_ends_when_the_case_closes(db):
    with frozen(NOON), unit_of_work() as s:
        world, ticket, _zhang, _ = _setup(s)
        token = service.open_grant(
            session=s, user=world.staff[1], case_type="ticket", case_id=ticket.id
        ).token
        hall_windows.start_service(
            session=s, hall=world.hall, window_number=1, actor=world.staff[1]
        )
        hall_windows.finish_service(
            session=s, hall=world.hall, window_number=1, actor=world.staff[1]
        )
        r = refusal(service.fetch, session=s, user=world.staff[1], token=token)
        assert r.code == "grant_ended" and r.status_code == 410
        grant = s.scalars(select(Grant)).one()
        assert (grant.status, grant.end_reason) == ("ended", "case_closed")
        # a replayed token of the ended grant stays refused; the key is no longer issued
        again = refusal(service.device_key, session=s, user=world.staff[1], token=token)
        assert again.code == "grant_ended"
        # the closed case cannot be reopened for data
        reopened = refusal(
            service.open_grant,
            session=s,
            user=world.staff[1],
            case_type="ticket",
            case_id=ticket.id,
        )
        assert reopened.code == "case_closed"


def test_grant_expires_and_the_sweep_ends_it(db):
    with frozen(NOON) as clock, unit_of_work() as s:
        world, ticket, _zhang, _ = _setup(s)
        token = service.open_grant(
            session=s, user=world.staff[1], case_type="ticket", case_id=ticket.id
        ).token
        assert isinstance(service.device_key(session=s, user=world.staff[1], token=token), str)
        clock.advance(minutes=policy().grant_minutes["ticket"] + 1)
        assert service.sweep(session=s) == {"expired": 1, "case_closed": 0}
        r = refusal(service.fetch, session=s, user=world.staff[1], token=token)
        assert r.code == "grant_ended"
        assert audit.verify(session=s).ok


def test_break_glass_needs_a_reason_and_is_flagged(db):
    with frozen(NOON), unit_of_work() as s:
        world, _ticket, _zhang, other = _setup(s)
        with pytest.raises(RuleViolation):
            breakglass.request(session=s, user=world.staff[2], master_id=other.id, reason="急")
        result = breakglass.request(
            session=s,
            user=world.staff[2],
            master_id=other.id,
            reason="群众突发疾病，需要联系其家属",
        )
        assert result.grant and result.grant.review_status == "pending"
        view = service.fetch(session=s, user=world.staff[2], token=result.token)[0]
        assert view.values == {"name": "李四"}
        auditor = make_user(s, "auditor", Role.AUDITOR)
        service.review_break_glass(
            session=s,
            grant_id=result.grant.id,
            reviewer=auditor,
            verdict="accepted",
            note="情况属实",
        )
        assert ("break_glass", "ok") in _audit_actions(s)


def test_signing_out_ends_every_grant(db):
    with frozen(NOON), unit_of_work() as s:
        world, ticket, _zhang, _ = _setup(s)
        service.open_grant(session=s, user=world.staff[1], case_type="ticket", case_id=ticket.id)
        assert service.end_grants_of_user(session=s, user=world.staff[1]) == 1
        assert s.scalars(select(Grant)).one().end_reason == "signed_out"
