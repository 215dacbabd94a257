"""Access pages: the public policy, the window's case-data panel, the auditor's console and
the citizen's data tracker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.app import create_app
from govloop.core.auth import Role
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hall import service as hall
from govloop.hall import windows as hall_windows
from govloop.subjects.models import SubjectMaster
from tests.factories import make_hall, make_user
from tests.web.helpers import sign_in

NOON = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
ID = "11010519491231002X"
ATTRS = {
    "name": "张三",
    "id_number": ID,
    "phone": "13800138000",
    "address": "北京市朝阳区建国路88号",
}


@pytest.fixture
def client(db):
    with unit_of_work() as s:
        world = make_hall(s, code="H1")
        s.add(
            SubjectMaster(
                kind="person", identifier=ID, display_name="张三", attributes=ATTRS, provenance={}
            )
        )
        make_user(s, "auditor", Role.AUDITOR)
        hall.issue_ticket(session=s, hall=world.hall, item=world.items["SB01"])
        hall_windows.call_next(session=s, hall=world.hall, window_number=1, actor=world.staff[1])
    with frozen(NOON):
        yield TestClient(create_app(run_jobs=False))


def test_policy_page_is_public_and_shows_masking(client):
    r = client.get("/access/policy")
    assert (
        r.status_code == 200
        and "110105********002X" in r.text
        and 'data-case-type="ticket"' in r.text
    )


def test_window_identifies_the_applicant_and_sees_only_granted_fields(client):
    token = sign_in(client, "staff1")
    empty = client.get("/halls/H1/windows/1/case-data")
    assert empty.status_code == 200 and "data-subject" not in empty.text
    bad = client.post(
        "/halls/H1/windows/1/case-data/applicant",
        data={"id_number": "110105194912310021"},
        headers={"X-CSRF-Token": token},
    )
    assert "校验位" in bad.text
    r = client.post(
        "/halls/H1/windows/1/case-data/applicant",
        data={"id_number": ID},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 200
    assert "张三" in r.text and "110105********002X" in r.text and "138****8000" in r.text
    assert "建国路" not in r.text  # address is not granted for this item
    # another window's staff sees nothing of it
    other = TestClient(client.app)
    sign_in(other, "staff2")
    seen = other.get("/halls/H1/windows/1/case-data")
    assert "data-signed-out" in seen.text and "张三" not in seen.text and ID[:6] not in seen.text


def test_auditor_console_and_citizen_tracker(client):
    token = sign_in(client, "staff1")
    client.post(
        "/halls/H1/windows/1/case-data/applicant",
        data={"id_number": ID},
        headers={"X-CSRF-Token": token},
    )
    client.get("/halls/H1/windows/1/case-data")
    auditor = TestClient(client.app)
    sign_in(auditor, "auditor")
    console = auditor.get("/access/audit")
    assert console.status_code == 200 and 'data-verify="ok"' in console.text
    assert auditor.get("/api/v1/access/audit/verify").json()["ok"] is True
    assert client.get("/access/audit").status_code == 403  # staff are not auditors
    citizen = TestClient(client.app)
    page = citizen.get("/my-data")
    assert page.status_code == 200
    csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    wrong = citizen.post(
        "/my-data",
        data={"id_number": ID, "name": "张三", "phone": "13900000000", "csrf_token": csrf},
    )
    assert wrong.status_code == 404 and "未能核实身份" in wrong.text
    right = citizen.post(
        "/my-data",
        data={"id_number": ID, "name": "张三", "phone": "13800138000", "csrf_token": csrf},
    )
    assert right.status_code == 200 and 'data-accesses="2"' in right.text
    assert "事项SB01" in right.text


def test_auditor_console_shows_keys_and_checks_the_auditors_anchor(client, tmp_path, monkeypatch):
    from sqlalchemy import delete, update

    from govloop.audit import anchor
    from govloop.audit import keys as audit_keys
    from govloop.audit.models import AuditCheckpoint, AuditEntry, AuditHead
    from tests.access.audit_support import export, fill

    fill(25)
    folder = tmp_path / "auditor"
    assert export(folder).ok
    auditor = TestClient(client.app)
    token = sign_in(auditor, "auditor")
    page = auditor.get("/access/audit").text
    assert 'data-anchor="none"' in page  # no anchor configured on the server
    assert f'data-key-id="{audit_keys.current_id()}" data-trusted="yes"' in page
    uploaded = auditor.post(
        "/access/audit/anchor",
        files={"anchor_file": ("heads.jsonl", anchor.anchor_file(folder).read_bytes())},
        data={"csrf_token": token},
    )
    assert 'data-anchor="match"' in uploaded.text and 'data-anchor-last="25"' in uploaded.text
    with unit_of_work() as s:  # the tail with its checkpoints and head row
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 15))
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > 15))
        head = s.scalar(select(AuditEntry.hash).where(AuditEntry.seq == 15))
        s.execute(update(AuditHead).values(seq=15, hash=head))
    assert 'data-verify="ok"' in auditor.get("/access/audit").text  # the database alone
    pasted = auditor.post(
        "/access/audit/anchor",
        data={"anchor_text": anchor.anchor_file(folder).read_text(), "csrf_token": token},
    )
    assert 'data-anchor="mismatch"' in pasted.text
    assert 'data-problem="anchor_missing" data-seq="20"' in pasted.text
    monkeypatch.setenv("GOVLOOP_AUDIT_ANCHOR_DIR", str(folder))  # the server-side anchor
    configured = auditor.get("/access/audit").text
    assert 'data-verify="failed"' in configured and 'data-anchor="mismatch"' in configured
    assert auditor.post("/access/audit/anchor", data={"csrf_token": token}).status_code == 400
    staff_token = sign_in(client, "staff1")
    refused = client.post(
        "/access/audit/anchor", data={"anchor_text": "x"}, headers={"X-CSRF-Token": staff_token}
    )
    assert refused.status_code == 403  # staff are not auditors
