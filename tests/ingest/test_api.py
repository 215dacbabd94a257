"""The push API and the steward's JSON routes: per-row rejections as dead letters; pushes
without the source's key refused before the body is read and without storing; size and
row limits; malformed bodies refused without storing; permissions."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.db import unit_of_work
from govloop.core.settings import get_settings
from govloop.ingest import pipeline
from govloop.ingest.models import DeadLetter, IngestedRecord, IngestRun
from tests.factories import make_user
from tests.ingest.helpers import lazy_chunks, post_streamed
from tests.web.helpers import sign_in

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


def _nothing_stored() -> None:
    assert (_count(DeadLetter), _count(IngestRun), _count(IngestedRecord)) == (0, 0, 0)


def test_refused_pushes_read_no_body_and_store_nothing(world):
    client, key, _ = world
    with unit_of_work() as s:
        quiet = pipeline.create_source(
            session=s, key="quiet", name="停用", kind="http", schema_name="hall_event"
        )
        quiet_key = pipeline.issue_api_key(session=s, source=quiet)
        quiet.active = False
    app = client.app
    answers = []
    for path, headers in [
        ("/api/ingest/nobody/batch", {"X-Source-Key": key}),  # unknown source
        ("/api/ingest/hall-x/batch", {"X-Source-Key": "gl_hall-x_wrong"}),
        ("/api/ingest/hall-x/batch", {}),  # no key
        ("/api/ingest/hall-x/batch", {"X-Source-Key": quiet_key}),  # another source's key
        ("/api/ingest/quiet/batch", {"X-Source-Key": quiet_key}),  # inactive source
    ]:
        sent = post_streamed(app, path, lazy_chunks(20 * 1024 * 1024), headers)
        assert sent.chunks_read == 0, path  # refused from the headers: not a byte read
        answers.append((sent.status, sent.body))
    assert answers == [(401, {"error": "bad_source_key", "message": pipeline.PUSH_REFUSED})] * 5
    # the test client (whole bodies) gets the same answer, and nothing is kept
    r = client.post(
        "/api/ingest/nobody/batch", json={"records": [EVENT] * 3}, headers={"X-Source-Key": key}
    )
    assert (r.status_code, r.json()["error"]) == (401, "bad_source_key")
    _nothing_stored()


def test_oversized_push_is_refused_while_streaming(world, monkeypatch):
    client, key, _ = world
    monkeypatch.setattr(get_settings(), "ingest_max_body_bytes", 256 * 1024)
    # 20 MB without a declared length: refused once the limit is passed, not after
    sent = post_streamed(
        client.app, "/api/ingest/hall-x/batch", lazy_chunks(20 * 1024 * 1024), {"X-Source-Key": key}
    )
    assert sent.status == 413 and sent.body["error"] == "payload_too_large"
    assert "256 KB" in sent.body["message"]
    assert sent.chunks_read == 5  # 5 × 64 KB read of 320 chunks
    # a declared length over the limit: refused before reading
    declared = post_streamed(
        client.app,
        "/api/ingest/hall-x/batch",
        lazy_chunks(20 * 1024 * 1024),
        {"X-Source-Key": key, "Content-Length": str(20 * 1024 * 1024)},
    )
    assert declared.status == 413 and declared.chunks_read == 0
    big = {"records": [{**EVENT, "event_id": f"E{i}", "note": "x" * 100} for i in range(2000)]}
    r = client.post("/api/ingest/hall-x/batch", json=big, headers={"X-Source-Key": key})
    assert r.status_code == 413
    _nothing_stored()


def test_too_many_records_are_refused_whole(world, monkeypatch):
    client, key, _ = world
    # 80 KB of empty records: 20,000 rows once became 20,000 dead letters
    empty = b'{"records": [' + b",".join([b"{}"] * 20_000) + b"]}"
    r = client.post("/api/ingest/hall-x/batch", content=empty, headers={"X-Source-Key": key})
    assert r.status_code == 422 and r.json()["error"] == "batch_too_large"
    monkeypatch.setattr(get_settings(), "ingest_max_rows", 2)
    records = [EVENT, {**EVENT, "event_id": "E2"}, {**EVENT, "event_id": "E3"}]
    r = client.post(
        "/api/ingest/hall-x/batch", json={"records": records}, headers={"X-Source-Key": key}
    )
    assert r.status_code == 422 and "每批最多 2 条记录" in r.json()["message"]
    _nothing_stored()
    ok = client.post(
        "/api/ingest/hall-x/batch", json={"records": records[:2]}, headers={"X-Source-Key": key}
    )
    assert ok.status_code == 200 and ok.json()["stored"] == 2


def test_uploads_are_capped(world, monkeypatch):
    client, _key, tokens = world
    monkeypatch.setattr(get_settings(), "ingest_max_upload_bytes", 4096)
    steward = {"Authorization": f"Bearer {tokens['steward']}"}
    header = "event_id,hall_code,ticket_code,item_code,kind,occurred_at\n"
    row = "F{},H1,A1,I1,issued,2026-11-20 09:00\n"
    small = header + row.format(1)
    big = header + "".join(row.format(i) for i in range(200))  # about 7 KB
    r = client.post(
        "/api/ingest/sources/hall-x/files",
        files={"file": ("big.csv", big.encode(), "text/csv")},
        headers=steward,
    )
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    _nothing_stored()
    with unit_of_work() as s:
        make_user(s, "pagesteward", Role.DATA_STEWARD)
    token = sign_in(client, "pagesteward")
    page = client.post(
        "/ingest/upload",
        data={"source": "hall-x", "csrf_token": token},
        files={"file": ("big.csv", big.encode(), "text/csv")},
    )
    assert page.status_code == 413 and "4 KB" in page.text
    _nothing_stored()
    fine = client.post(
        "/ingest/upload",
        data={"source": "hall-x", "csrf_token": token},
        files={"file": ("small.csv", small.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert fine.status_code == 303 and _count(IngestedRecord) == 1


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
