"""Device pages and API: the demo fleet, badges and uptime, the timeline, revoke with CSRF,
permissions, and the HTTP heartbeat for devices without MQTT."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role
from govloop.core.db import unit_of_work
from govloop.hall.demo import HALL_CODE
from govloop.ingest import devices
from govloop.ingest.devices_demo import seed_demo
from govloop.ingest.models import DeadLetter, Device, DeviceEvent
from tests.factories import make_hall, make_user
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
    body = {"event_id": "h-1", "occurred_at": "2026-03-02T10:00:00+08:00"}
    device = TestClient(create_app(run_jobs=False))  # a device: no session cookie
    ok = device.post("/api/devices/N1/heartbeat", content=json.dumps(body))
    assert ok.status_code == 200 and ok.json()["stored"] == 1
    assert client.get("/api/devices/N1").json()["online"] is True
    broken = device.post("/api/devices/N1/heartbeat", content=b"{oops")
    assert broken.status_code == 422 and broken.json()["rejected"] == 1
    revoked = client.post("/api/devices/N1/revoke", json={"reason": "试用结束"}, headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    late = device.post("/api/devices/N1/heartbeat", content=json.dumps(body | {"event_id": "h-2"}))
    assert late.status_code == 422
    with unit_of_work(readonly=True) as s:
        codes = set(s.scalars(select(DeadLetter.reason_code)))
    assert codes == {"not_json", "device_revoked"}
