"""The push API and the steward's JSON routes: per-row rejections as dead letters, refused
pushes kept as dead letters, malformed bodies refused without storing, permissions."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.db import unit_of_work
from govloop.ingest import pipeline
from govloop.ingest.models import DeadLetter, IngestedRecord, IngestRun
from tests.factories import make_user

EVENT = {
    "event_id": "E1",
    "hall_code": "H1",
    "ticket_code": "A001",
    "item_code": "GJJ01",
    "kind": "issued",
    "occurred_at": "2026-11-20T09:00:00+08:00",
}


@pytest.fixture
def world(db):
    with unit_of_work() as s:
        source = pipeline.create_source(
            session=s, key="hall-x", name="大厅", kind="http", schema_name="hall_event"
        )
        push_key = pipeline.issue_api_key(session=s, source=source)
        steward = make_user(s, "steward", Role.DATA_STEWARD)
        staff = make_user(s, "staff", Role.WINDOW_STAFF)
        tokens = {
            "steward": issue_api_token(session=s, user=steward, name="t"),
            "staff": issue_api_token(session=s, user=staff, name="t"),
        }
    return TestClient(create_app(run_jobs=False)), push_key, tokens


def _count(model) -> int:  # type: ignore[no-untyped-def]
    with unit_of_work(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_push_stores_valid_rows_and_dead_letters_the_rest(world):
    client, key, _ = world
    records = [EVENT, {**EVENT, "event_id": "E2", "kind": "teleported"}, EVENT, "not an object"]
    r = client.post(
        "/api/ingest/hall-x/batch", json={"records": records}, headers={"X-Source-Key": key}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["rows_in"], body["stored"], body["duplicates"], body["rejected"]) == (4, 1, 1, 2)
    with unit_of_work(readonly=True) as s:
        run = s.get(IngestRun, body["run_id"])
        assert run is not None and run.channel == "http" and run.stored == 1
        reasons = sorted(d.reason_code for d in s.scalars(select(DeadLetter)))
    assert reasons == ["invalid", "malformed_record"]
    # the same batch again adds nothing
    again = client.post(
        "/api/ingest/hall-x/batch", json={"records": [EVENT]}, headers={"X-Source-Key": key}
    )
    assert again.json()["stored"] == 0 and _count(IngestedRecord) == 1


def test_unknown_source_and_wrong_key_are_refused_and_kept(world):
    client, key, _ = world
    r = client.post(
        "/api/ingest/nobody/batch", json={"records": [EVENT, EVENT]}, headers={"X-Source-Key": key}
    )
    assert r.status_code == 404 and r.json()["error"] == "unknown_source"
    assert r.json()["dead_letters"] == 2
    r = client.post(
        "/api/ingest/hall-x/batch", json={"records": [EVENT]}, headers={"X-Source-Key": "gl_wrong"}
    )
    assert r.status_code == 403 and r.json()["error"] == "bad_source_key"
    r = client.post(
        "/api/ingest/hall-x/batch", content=b"{oops", headers={"X-Source-Key": "gl_wrong"}
    )
    assert r.status_code == 403
    with unit_of_work(readonly=True) as s:
        dead = list(s.scalars(select(DeadLetter).order_by(DeadLetter.id)))
    assert [(d.source_key, d.reason_code) for d in dead] == [
        ("nobody", "unknown_source"),
        ("nobody", "unknown_source"),
        ("hall-x", "bad_source_key"),
        ("hall-x", "bad_source_key"),
    ]
    assert json.loads(dead[0].raw)["event_id"] == "E1"
    assert dead[3].raw == "{oops"  # an unreadable body is kept whole
    assert _count(IngestedRecord) == 0


def test_malformed_body_is_422_and_stores_nothing(world):
    client, key, _ = world
    for body in (b"{not json", b'{"rows": []}', b"[]", b'{"records": {}}'):
        r = client.post("/api/ingest/hall-x/batch", content=body, headers={"X-Source-Key": key})
        assert r.status_code == 422 and r.json()["error"] == "malformed_body", body
    assert _count(DeadLetter) == 0 and _count(IngestRun) == 0


def test_steward_routes(world, tmp_path):
    client, _key, tokens = world
    steward = {"Authorization": f"Bearer {tokens['steward']}"}
    staff = {"Authorization": f"Bearer {tokens['staff']}"}
    assert client.get("/api/ingest/dead-letters", headers=staff).status_code == 403
    assert client.get("/api/ingest/runs").status_code == 401
    csv_text = (
        "event_id,hall_code,ticket_code,item_code,kind,occurred_at\n"
        "F1,H1,A1,I1,issued,2026-11-20 09:00\n"
        "F2,H1,A1,I1,nope,2026-11-20 09:01\n"
    )
    r = client.post(
        "/api/ingest/sources/hall-x/files",
        files={"file": ("events.csv", csv_text.encode("gbk"), "text/csv")},
        headers=steward,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["stored"], r.json()["rejected"]) == (1, 1)
    run = client.get(f"/api/ingest/runs/{r.json()['run_id']}", headers=steward).json()
    assert run["file_name"] == "events.csv" and len(run["dead_letters"]) == 1
    dead_id = run["dead_letters"][0]["id"]
    listed = client.get(
        "/api/ingest/dead-letters", params={"source": "hall-x", "status": "open"}, headers=steward
    ).json()
    assert [d["id"] for d in listed] == [dead_id]
    # replay as is: still fails, stays open with the reason in its history
    r = client.post("/api/ingest/dead-letters/replay", json={"ids": [dead_id]}, headers=steward)
    assert r.status_code == 200 and str(dead_id) in r.json()["still_open"]
    fixed = {
        "event_id": "F2",
        "hall_code": "H1",
        "ticket_code": "A1",
        "item_code": "I1",
        "kind": "called",
        "occurred_at": "2026-11-20 09:01",
    }
    r = client.post(
        "/api/ingest/dead-letters/replay",
        json={"ids": [dead_id], "corrected": fixed},
        headers=steward,
    )
    assert r.json()["replayed"] == [dead_id]
    one = client.get(f"/api/ingest/dead-letters/{dead_id}", headers=steward).json()
    assert one["status"] == "replayed" and one["resolved_by"] is not None
    assert [h["action"] for h in one["history"]] == ["replay_failed", "replayed"]
    r = client.post(
        f"/api/ingest/dead-letters/{dead_id}/discard", json={"reason": "x"}, headers=steward
    )
    assert r.status_code == 422  # already replayed
    assert client.get("/api/ingest/dead-letters/999", headers=steward).status_code == 404
