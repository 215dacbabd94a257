"""Device pages and API: the demo fleet, badges and uptime, the timeline, revoke with CSRF,
permissions, device keys, and the HTTP heartbeat for devices without MQTT (key checked
before the body is read, refusals that store nothing)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from govloop.app import create_app
from govloop.cli import app as cli
from govloop.core.auth import Role
from govloop.core.db import unit_of_work
from govloop.core.errors import NotAuthenticated
from govloop.demo.devices import seed_demo
from govloop.demo.hall.seed import HALL_CODE
from govloop.ingest.devices import service as devices
from govloop.ingest.models import DeadLetter, Device, DeviceEvent, IngestedRecord, IngestRun
from tests.factories import make_hall, make_user
from tests.ingest.helpers import lazy_chunks, post_streamed
from tests.web.helpers import sign_in


@pytest.fixture
def client(db):
    with unit_of_work() as s:
        make_hall(s, code=HALL_CODE)
        summary = seed_demo(session=s, seed=3)
        assert "21 台设备" in summary and "在线率" in summary
        make_user(s, "devmgr", Role.HALL_MANAGER)
        make_user(s, "devstaff", Role.WINDOW_STAFF)
    return TestClient(create_app(run_jobs=False))


def test_demo_fleet_has_a_month_of_history(client):
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count(Device.id))) == 21
        assert s.scalar(select(func.count(Device.id)).where(Device.revoked)) == 1
        kinds = set(s.scalars(select(DeviceEvent.kind)))
        assert {"registered", "online", "offline", "fault", "revoked"} <= kinds
        view = devices.overview(session=s)
        month = [r.month for r in view.rows if r.month]
        up = sum(m.up_s for m in month) / sum(m.expected_s for m in month)
        assert 0.85 < up < 1.0  # realistic: mostly up, some outages
    with unit_of_work() as s:  # seeding twice adds nothing
        assert "未重复生成" in seed_demo(session=s, seed=3)


def test_devices_page_detail_and_revoke_with_csrf(client):
    sign_in(client, "devstaff")
    page = client.get("/devices")
    assert page.status_code == 200
    assert page.text.count("data-device=") == 21
    assert 'data-state="revoked"' in page.text and 'id="device-uptime"' in page.text
    assert "data-revoke" not in page.text  # staff may look, not revoke
    detail = client.get("/devices/PJQ-05-OLD")
    assert 'data-event="revoked"' in detail.text and "设备老化" in detail.text
    client.cookies.clear()
    token = sign_in(client, "devmgr")
    assert 'data-revoke="QHJ-01"' in client.get("/devices").text
    refused = client.post("/devices/QHJ-01/revoke", data={"reason": "报废"})
    assert refused.status_code == 403  # no CSRF token
    done = client.post(
        "/devices/QHJ-01/revoke",
        data={"csrf_token": token, "reason": "报废"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with unit_of_work(readonly=True) as s:
        assert devices.get_device(session=s, code="QHJ-01").revoked


def test_api_register_list_revoke_and_http_heartbeat(client):
    token = sign_in(client, "devstaff")
    headers = {"X-CSRF-Token": token}
    refused = client.post(
        "/api/devices", json={"code": "N1", "kind": "display", "name": "新屏"}, headers=headers
    )
    assert refused.status_code == 403
    client.cookies.clear()
    token = sign_in(client, "devmgr")
    headers = {"X-CSRF-Token": token}
    made = client.post(
        "/api/devices",
        json={"code": "n1", "kind": "display", "name": "新屏", "hall_code": HALL_CODE},
        headers=headers,
    )
    assert made.status_code == 201 and made.json()["code"] == "N1"
    bad = client.post(
        "/api/devices", json={"code": "N2", "kind": "fax", "name": "x"}, headers=headers
    )
    assert bad.status_code == 400
    listed = client.get("/api/devices", params={"hall": HALL_CODE}).json()
    assert len(listed["devices"]) == 22 and listed["revoked"] == 1
    key = made.json()["key"]
    assert key.startswith("gd_")
    body = {"event_id": "h-1", "occurred_at": "2026-03-02T10:00:00+08:00"}
    # a device: no session cookie, its key in a header
    device = TestClient(create_app(run_jobs=False), headers={"X-Device-Key": key})
    ok = device.post("/api/devices/N1/heartbeat", content=json.dumps(body))
    assert ok.status_code == 200 and ok.json()["stored"] == 1
    assert client.get("/api/devices/N1").json()["online"] is True
    broken = device.post("/api/devices/N1/heartbeat", content=b"{oops")
    assert broken.status_code == 422 and broken.json()["rejected"] == 1
    revoked = client.post("/api/devices/N1/revoke", json={"reason": "试用结束"}, headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    late = device.post("/api/devices/N1/heartbeat", content=json.dumps(body | {"event_id": "h-2"}))
    assert late.status_code == 403 and late.json()["error"] == "device_revoked"
    with unit_of_work(readonly=True) as s:
        codes = set(s.scalars(select(DeadLetter.reason_code)))
    assert codes == {"not_json"}  # the revoked device's message was refused, not kept


def _stored() -> tuple[int, int, int]:
    with unit_of_work(readonly=True) as s:
        return (
            s.scalar(select(func.count()).select_from(DeadLetter)) or 0,
            s.scalar(select(func.count()).select_from(IngestRun)) or 0,
            s.scalar(select(func.count()).select_from(IngestedRecord)) or 0,
        )


def test_heartbeats_need_the_device_key_and_refusals_read_and_store_nothing(client):
    token = sign_in(client, "devmgr")
    headers = {"X-CSRF-Token": token}
    made = client.post(
        "/api/devices", json={"code": "K1", "kind": "display", "name": "屏"}, headers=headers
    )
    key = made.json()["key"]
    before = _stored()
    app = client.app
    answers = []
    for code, sent_key in [
        ("K1", None),  # no key
        ("K1", "gd_wrong"),
        ("NOBODY", key),  # unknown device, even with a real key
        ("QHJ-01", key),  # a demo device registered without a key, with K1's key
        ("QHJ-01", None),
    ]:
        headers_sent = {"X-Device-Key": sent_key} if sent_key else {}
        sent = post_streamed(
            app, f"/api/devices/{code}/heartbeat", lazy_chunks(20 * 1024 * 1024), headers_sent
        )
        assert sent.chunks_read == 0, code
        answers.append((sent.status, sent.body))
    refusal = {"error": "bad_device_key", "message": devices.DEVICE_REFUSED}
    assert answers == [(401, refusal)] * 5
    assert _stored() == before
    # the key holder's message is capped at 64 KB while it streams in
    big = post_streamed(
        app, "/api/devices/K1/heartbeat", lazy_chunks(20 * 1024 * 1024), {"X-Device-Key": key}
    )
    assert big.status == 413 and big.chunks_read == 2
    assert _stored() == before
    # a new key replaces the old one; staff may not issue keys
    client.cookies.clear()
    staff_token = sign_in(client, "devstaff")
    refused = client.post("/api/devices/K1/key", headers={"X-CSRF-Token": staff_token})
    assert refused.status_code == 403
    client.cookies.clear()
    token = sign_in(client, "devmgr")
    newer = client.post("/api/devices/K1/key", headers={"X-CSRF-Token": token}).json()["key"]
    body = json.dumps({"event_id": "k-1", "occurred_at": "2026-03-02T10:00:00+08:00"})
    device = TestClient(create_app(run_jobs=False))
    old = device.post("/api/devices/K1/heartbeat", content=body, headers={"X-Device-Key": key})
    assert old.status_code == 401
    ok = device.post("/api/devices/K1/heartbeat", content=body, headers={"X-Device-Key": newer})
    assert ok.status_code == 200 and ok.json()["stored"] == 1


def test_cli_register_shows_the_key_once_and_issues_new_ones(client):
    runner = CliRunner()
    made = runner.invoke(cli, ["devices", "register", "C1", "--kind", "display", "--name", "屏"])
    assert made.exit_code == 0, made.output
    first = made.output.split("只显示这一次）：")[1].strip()
    again = runner.invoke(cli, ["devices", "issue-key", "C1"])
    assert again.exit_code == 0, again.output
    second = again.output.split("：")[-1].strip()
    assert first.startswith("gd_") and second.startswith("gd_") and first != second
    with unit_of_work() as s:
        with pytest.raises(NotAuthenticated):
            devices.authenticate_device(session=s, code="C1", key=first)
        assert devices.authenticate_device(session=s, code="c1", key=second).code == "C1"
    revoked = runner.invoke(cli, ["devices", "issue-key", "PJQ-05-OLD"])
    assert revoked.exit_code == 1 and "已注销" in revoked.output


def test_a_manager_registers_a_device_from_the_page_and_sees_its_key_once(client):
    token = sign_in(client, "devmgr")
    page = client.get("/devices")
    assert "data-register-device" in page.text
    form = {"csrf_token": token, "code": "QHJ-NEW-01", "name": "新取号机", "kind": "ticket_machine"}
    made = client.post("/devices", data=form | {"hall_code": HALL_CODE})
    assert made.status_code == 201
    assert 'data-registered="QHJ-NEW-01"' in made.text and "只显示这一次" in made.text
    key = made.text.split("data-device-key>")[1].split("<")[0]
    with unit_of_work(readonly=True) as s:
        device = devices.authenticate_device(session=s, code="QHJ-NEW-01", key=key)
        assert device.hall_id is not None
    again = client.get("/devices")
    assert key not in again.text  # shown once
    # the same code twice, and bad input: refused with the reason, nothing stored
    dup = client.post("/devices", data=form | {"hall_code": HALL_CODE})
    assert dup.status_code == 409 and "已登记" in dup.text
    bad = client.post("/devices", data=form | {"code": "A/B", "hall_code": ""})
    assert bad.status_code == 400 and "设备编码" in bad.text
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count(Device.id)).where(Device.code == "A/B")) == 0


def test_staff_cannot_register_a_device(client):
    token = sign_in(client, "devstaff")
    form = {"csrf_token": token, "code": "X-1", "name": "x", "kind": "display", "hall_code": ""}
    refused = client.post("/devices", data=form)
    assert refused.status_code == 403
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count(Device.id)).where(Device.code == "X-1")) == 0
