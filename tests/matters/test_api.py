"""The matters API: 受理 at a window, the department's steps, the citizen's look-up; bad
input gets a clear 4xx and changes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hall.models import Ticket
from govloop.matters.models import Matter, MatterEvent
from tests.matters.conftest import MONDAY_10, build, serve_one

ACCEPT = "/api/v1/halls/H1/windows/1/accept"


@pytest.fixture
def api(db):
    with frozen(MONDAY_10) as clock:
        with unit_of_work() as s:
            mw = build(s)
            serve_one(s, mw)
            tokens = {
                "clerk": issue_api_token(session=s, user=mw.world.staff[1], name="t"),
                "handler": issue_api_token(session=s, user=mw.handler, name="t"),
                "outsider": issue_api_token(session=s, user=mw.outsider, name="t"),
            }
        client = TestClient(create_app())
        client.tokens = tokens  # type: ignore[attr-defined]
        client.clock = clock  # type: ignore[attr-defined]
        yield client


def h(client, who, key=None):
    headers = {"Authorization": f"Bearer {client.tokens[who]}"}
    if key:
        headers["Idempotency-Key"] = f"matter-test-{key}"
    return headers


def counts():
    with unit_of_work() as s:
        return (
            s.scalar(select(func.count()).select_from(Matter)),
            s.scalar(select(func.count()).select_from(MatterEvent)),
            s.scalar(select(Ticket.status)),
        )


BODY = {"applicant_name": "王芳", "applicant_phone": "13912345678", "materials": ["身份证"]}


def test_accept_then_steps_then_citizen_lookup(api):
    r = api.post(ACCEPT, json=BODY, headers=h(api, "clerk", "k1"))
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    assert r.json()["applicant"]["phone"] == "139****5678"  # masked without a grant
    again = api.post(ACCEPT, json=BODY, headers=h(api, "clerk", "k1"))
    assert again.json()["number"] == number and counts()[0] == 1  # a retry is a replay
    r = api.post(f"/api/v1/matters/{number}/actions/review", headers=h(api, "handler", "k2"))
    assert r.status_code == 200 and r.json()["state"] == "reviewing"
    r = api.post(
        f"/api/v1/matters/{number}/actions/correction",
        json={"materials": ["户口簿"], "note": "缺户口簿"},
        headers=h(api, "handler", "k3"),
    )
    assert r.json()["clock"] == "stopped"
    r = api.get(f"/api/v1/public/matters/{number}", params={"phone": "13912345678"})
    assert r.status_code == 200
    labels = [s["label"] for s in r.json()["timeline"]]
    assert labels[0] == "申请已受理" and "需要补正材料（办理时限暂停）" in labels
    assert "王芳" not in r.text and "13912345678" not in r.text


def test_bad_input_changes_nothing(api):
    before = counts()
    r = api.post(ACCEPT, json=BODY | {"applicant_phone": "12345"}, headers=h(api, "clerk"))
    assert r.status_code == 400 and r.json()["error"] == "bad_phone"
    r = api.post(ACCEPT, json=BODY | {"extra": 1}, headers=h(api, "clerk"))
    assert r.status_code == 422
    r = api.post(
        ACCEPT,
        json=BODY | {"delivery_method": "post", "delivery_address": "短"},
        headers=h(api, "clerk"),
    )
    assert r.status_code == 400 and r.json()["error"] == "bad_address"
    assert counts() == before and before[2] == "serving"


def test_other_departments_and_unknown_numbers_look_the_same(api):
    number = api.post(ACCEPT, json=BODY, headers=h(api, "clerk")).json()["number"]
    mine = api.get(f"/api/v1/matters/{number}", headers=h(api, "outsider"))
    unknown = api.get("/api/v1/matters/20990101", headers=h(api, "outsider"))
    assert mine.status_code == unknown.status_code == 404
    assert mine.json() == unknown.json()
    r = api.post(f"/api/v1/matters/{number}/actions/review", headers=h(api, "outsider"))
    assert r.status_code == 404
    r = api.post(f"/api/v1/matters/{number}/actions/fly", headers=h(api, "handler"))
    assert r.status_code == 404 and r.json()["error"] == "unknown_action"
    r = api.post(f"/api/v1/matters/{number}/actions/grant", headers=h(api, "handler"))
    assert r.status_code == 422 and r.json()["error"] == "bad_transition"


def test_citizen_lookup_same_answer_and_rate_limited(api):
    number = api.post(ACCEPT, json=BODY, headers=h(api, "clerk")).json()["number"]
    wrong_phone = api.get(f"/api/v1/public/matters/{number}", params={"phone": "13900000000"})
    wrong_number = api.get("/api/v1/public/matters/1", params={"phone": "13912345678"})
    assert wrong_phone.status_code == wrong_number.status_code == 404
    assert wrong_phone.json() == wrong_number.json()
    statuses = [
        api.get("/api/v1/public/matters/1", params={"phone": "13912345678"}).status_code
        for _ in range(12)
    ]
    assert statuses[-1] == 429
    # refused even with the right pair once the budget is spent
    r = api.get(f"/api/v1/public/matters/{number}", params={"phone": "13912345678"})
    assert r.status_code == 429


def test_post_delivery_and_shipping(api):
    number = api.post(
        ACCEPT,
        json=BODY
        | {"delivery_method": "post", "delivery_address": "北京市朝阳区建国路88号3单元502"},
        headers=h(api, "clerk"),
    ).json()["number"]
    for step in ("review", "grant", "certify"):
        assert (
            api.post(
                f"/api/v1/matters/{number}/actions/{step}", headers=h(api, "handler")
            ).status_code
            == 200
        )
    r = api.post(f"/api/v1/matters/{number}/ship", headers=h(api, "handler", "s1"))
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "posted" and r.json()["shipment"]["waybill"]
    detail = api.get(f"/api/v1/matters/{number}", headers=h(api, "handler")).json()
    assert detail["shipments"][0]["waybill"] == r.json()["shipment"]["waybill"]
    assert {n["template"] for n in detail["notifications"]} >= {"matter_accepted", "waybill_sent"}
