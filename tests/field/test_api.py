"""The workbench API: device header on every call, grant token for case data and keys,
clear refusals that leak nothing and are recorded, no caching of case data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.access.models import Grant
from govloop.app import create_app
from govloop.audit.models import AuditEntry
from govloop.core.auth import issue_api_token
from govloop.core.db import unit_of_work
from govloop.field.models import FieldDevice, FieldSubmission
from tests.field.helpers import DEVICE_1, DEVICE_2, PERSON, make_world, visit_values

API = "/api/v1/field"


@pytest.fixture
def api(db):  # type: ignore[no-untyped-def]
    with unit_of_work() as s:
        w = make_world(s)
        ids = {"visit": w.visit.id, "others": w.others_task.id, "device": w.device.id}
        tokens = {
            "staff": issue_api_token(session=s, user=w.staff, name="t"),
            "other": issue_api_token(session=s, user=w.other, name="t"),
            "manager": issue_api_token(session=s, user=w.manager, name="t"),
        }
    client = TestClient(create_app(run_jobs=False))
    client.ids = ids  # type: ignore[attr-defined]
    client.tokens = tokens  # type: ignore[attr-defined]
    return client


def h(client, who="staff", device=DEVICE_1, grant=None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {client.tokens[who]}", "X-Device-Id": device}
    if grant:
        headers["X-Grant-Token"] = grant
    return headers


def denied_count() -> int:
    with unit_of_work() as s:
        return s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.outcome == "denied")
        )


def test_tasks_grant_case_and_key(api):
    r = api.get(f"{API}/tasks", headers=h(api))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [t["task_type"] for t in body["tasks"]] == ["visit", "inspection"]
    assert body["forms"]["visit"]["label"] == "上门走访"
    assert r.headers["cache-control"] == "no-store"
    visit = api.ids["visit"]
    g = api.post(f"{API}/tasks/{visit}/grant", headers=h(api))
    assert g.status_code == 200, g.text
    token = g.json()["token"]
    case = api.get(f"{API}/case", headers=h(api, grant=token))
    assert case.status_code == 200 and case.headers["cache-control"] == "no-store"
    values = case.json()["subjects"][0]["values"]
    assert values["name"] == PERSON["name"] and "bank_card" not in values
    assert values["id_number"] == "330106********002X"
    key = api.get(f"{API}/key", headers=h(api, grant=token))
    assert key.status_code == 200 and len(key.json()["key"]) == 64


def test_forged_replayed_and_expired_tokens(api):
    visit = api.ids["visit"]
    before = denied_count()
    forged = api.get(f"{API}/case", headers=h(api, grant="forged-token"))
    assert forged.status_code == 403 and forged.json()["error"] == "bad_grant_token"
    first = api.post(f"{API}/tasks/{visit}/grant", headers=h(api)).json()["token"]
    second = api.post(f"{API}/tasks/{visit}/grant", headers=h(api)).json()["token"]
    replayed = api.get(f"{API}/key", headers=h(api, grant=first))
    assert replayed.status_code == 403 and replayed.json()["error"] == "bad_grant_token"
    # the grant's time passes
    with unit_of_work() as s:
        grant = s.scalars(select(Grant)).one()
        grant.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    gone = api.get(f"{API}/key", headers=h(api, grant=second))
    assert gone.status_code == 410 and gone.json() == {
        "error": "grant_ended",
        "message": "授权已过期",
    }
    assert api.get(f"{API}/case", headers=h(api, grant=second)).status_code == 410
    assert denied_count() == before + 4
    live = api.post(f"{API}/grants/status", json={"grant_ids": [grant.id]}, headers=h(api)).json()
    assert live == {"live": {str(grant.id): False}}


def test_another_staff_members_task_leaks_nothing(api):
    others = api.ids["others"]
    r = api.post(f"{API}/tasks/{others}/grant", headers=h(api))
    assert r.status_code == 403 and r.json()["error"] == "not_your_case"
    assert PERSON["name"] not in r.text and PERSON["address"] not in r.text
    d = api.get(f"{API}/tasks/{others}", headers=h(api))
    assert d.status_code == 403 and d.json()["error"] == "not_your_case"
    s = api.post(
        f"{API}/tasks/{others}/submissions",
        json={"client_id": "c-others-01", "base_version": 1, "values": {}},
        headers=h(api),
    )
    assert s.status_code == 403 and denied_count() == 3


def test_submit_validation_idempotency_and_conflict(api):
    visit = api.ids["visit"]
    bad = api.post(
        f"{API}/tasks/{visit}/submissions",
        json={"client_id": "c-api-0001", "base_version": 1, "values": {"living_condition": "好"}},
        headers=h(api),
    )
    assert bad.status_code == 422
    assert bad.json()["details"]["fields"]["met_in_person"] == "必填"
    body = {"client_id": "c-api-0002", "base_version": 1, "values": visit_values()}
    first = api.post(f"{API}/tasks/{visit}/submissions", json=body, headers=h(api))
    assert first.status_code == 201 and first.json()["status"] == "stored"
    again = api.post(f"{API}/tasks/{visit}/submissions", json=body, headers=h(api))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    late = api.post(
        f"{API}/tasks/{visit}/submissions",
        json={**body, "client_id": "c-api-0003"},
        headers=h(api),
    )
    assert late.status_code == 201 and late.json()["status"] == "conflict"
    assert "已办结" in late.json()["conflict"]
    with unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(FieldSubmission)) == 2


def test_revoked_device_is_refused_everywhere(api):
    assert api.get(f"{API}/devices", headers=h(api)).status_code == 403  # staff: not managers
    devices = api.get(f"{API}/devices", headers=h(api, "manager")).json()
    assert [d["device_id"] for d in devices] == [DEVICE_1]
    r = api.post(f"{API}/devices/{api.ids['device']}/revoke", headers=h(api, "manager"))
    assert r.status_code == 200 and r.json()["revoked"] is True
    before = denied_count()
    for method, path in [
        ("get", "/tasks"),
        ("post", f"/tasks/{api.ids['visit']}/grant"),
        ("get", "/key"),
        ("get", "/case"),
    ]:
        resp = getattr(api, method)(f"{API}{path}", headers=h(api, grant="x"))
        assert resp.status_code == 403 and resp.headers["cache-control"] == "no-store"
        assert resp.json() == {
            "error": "device_revoked",
            "message": "本设备已被管理员停用，不能再访问任务和办件数据",
        }
    assert denied_count() == before + 4


def test_device_registration_and_unknown_device(api):
    r = api.get(f"{API}/tasks", headers=h(api, "other", device=DEVICE_2))
    assert r.status_code == 403 and r.json()["error"] == "device_unregistered"
    reg = api.post(
        f"{API}/devices",
        json={"device_id": DEVICE_2, "name": "Android"},
        headers=h(api, "other", device=DEVICE_2),
    )
    assert reg.status_code == 200
    assert api.get(f"{API}/tasks", headers=h(api, "other", device=DEVICE_2)).status_code == 200
    # another person's device id answers exactly like an unknown one, on every call
    unknown_id = "f0f0f0f0-0000-4000-8000-000000000009"
    calls = [
        lambda device: api.get(f"{API}/tasks", headers=h(api, device=device)),
        lambda device: api.post(
            f"{API}/grants/status", json={"grant_ids": []}, headers=h(api, device=device)
        ),
    ]
    for call in calls:
        foreign, unknown = call(DEVICE_2), call(unknown_id)
        assert foreign.status_code == unknown.status_code == 403
        assert (
            foreign.json()
            == unknown.json()
            == {
                "error": "device_unregistered",
                "message": "本设备尚未登记，请重新打开工作台",
            }
        )
    # and registering it is registering one's own device, as with an unknown id
    for device_id in (DEVICE_2, unknown_id):
        reg = api.post(f"{API}/devices", json={"device_id": device_id}, headers=h(api))
        assert reg.status_code == 200 and reg.json()["device_id"] == device_id
    assert api.get(f"{API}/tasks", headers=h(api, device=DEVICE_2)).status_code == 200
    bad = api.post(f"{API}/devices", json={"device_id": "x"}, headers=h(api))
    assert bad.status_code == 422
    with unit_of_work() as s:
        owners = s.execute(select(FieldDevice.device_id, FieldDevice.user_id)).all()
    assert len(owners) == 4 and len({u for d, u in owners if d == DEVICE_2}) == 2


def test_pages_shell_manifest_worker_and_logout(api):
    assert api.get("/field/manifest.webmanifest").json()["scope"] == "/field/"
    sw = api.get("/field/sw.js")
    assert sw.status_code == 200 and "javascript" in sw.headers["content-type"]
    assert "__VERSION__" not in sw.text and "/api/" in sw.text
    anonymous = api.get("/field/", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    # sign in with a cookie session, open a grant, sign out: grants end, site data cleared
    page = api.get("/login")
    csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    api.post(
        "/login",
        data={"username": "field1", "password": "correct-horse-battery", "csrf_token": csrf},
    )
    shell = api.get("/field/")
    assert shell.status_code == 200 and "外勤工作台" in shell.text
    g = api.post(
        f"{API}/tasks/{api.ids['visit']}/grant",
        headers={"X-Device-Id": DEVICE_1, "X-CSRF-Token": csrf},
    )
    assert g.status_code == 200, g.text
    out = api.post("/field/logout", headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
    assert out.status_code == 200 and out.headers["clear-site-data"] == '"cache", "storage"'
    with unit_of_work() as s:
        assert s.scalars(select(Grant)).one().end_reason == "signed_out"
    assert api.get("/field/", follow_redirects=False).status_code == 303
