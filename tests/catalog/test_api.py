"""JSON API of tags and the knowledge graph: answers for stewards, clear errors and no
writes on bad input, and no access for other roles."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.catalog import tags
from govloop.catalog.models import TagAssignment, TagRun
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from tests.catalog import scenario
from tests.catalog.scenario import ELDER_ID, FIRM_A, NOW, YOUNG_ID
from tests.web.helpers import sign_in


@pytest.fixture
def client(db):
    with frozen(NOW):
        with unit_of_work() as s:
            scenario.build(s)
            tags.compute_tags(session=s)
        yield TestClient(create_app())


def _runs() -> tuple[int, int]:
    with unit_of_work(readonly=True) as s:
        return (
            s.scalar(select(func.count(TagRun.id))) or 0,
            s.scalar(select(func.count(TagAssignment.id))) or 0,
        )


def test_steward_reads_tags_graph_and_catalog(client):
    token = sign_in(client, "steward")
    listed = client.get("/api/tags").json()
    counts = {t["code"]: t["subjects"] for t in listed["tags"]}
    assert counts["elderly"] == 1 and counts["frequent_caller"] == 1
    subjects = client.get("/api/tags/elderly/subjects").json()
    assert subjects["total"] == 1 and subjects["subjects"][0]["subject"] == f"person:{ELDER_ID}"
    mine = client.get("/api/subjects/tags", params={"entity": f"person:{YOUNG_ID}"}).json()
    assert [t["tag"] for t in mine["tags"]] == ["frequent_caller"]

    hood = client.get(
        "/api/graph/neighborhood", params={"entity": f"enterprise:{FIRM_A}", "depth": 1}
    ).json()
    assert {e["label"] for e in hood["edges"]} == {"法定代表人", "项目单位"}
    assert hood["depth"] == 1 and not hood["truncated"]
    path = client.get(
        "/api/graph/path", params={"from": f"person:{ELDER_ID}", "to": f"enterprise:{FIRM_A}"}
    ).json()
    assert path["found"] and path["hops"] == 3

    datasets = {d["key"]: d for d in client.get("/api/catalog/datasets").json()}
    assert datasets["ingest.ga"]["rows"] == 5 and datasets["ingest.ga"]["quality"] is None
    measured = client.post(
        "/api/catalog/profile", params={"dataset": "ingest.ga"}, headers={"X-CSRF-Token": token}
    ).json()
    assert measured[0]["score"] == 0.4
    detail = client.get("/api/catalog/datasets/ingest.ga").json()
    assert detail["quality"]["score"] == 0.4 and detail["fields"][0]["name"] == "record_id"

    before = _runs()
    run = client.post("/api/tags/compute", headers={"X-CSRF-Token": token}).json()
    assert run["counts"]["elderly"] == 1
    assert _runs() == (before[0] + 1, before[1])


BAD_INPUT = [
    ("/api/tags/nope/subjects", {}, 404, "unknown_tag"),
    ("/api/subjects/tags", {"entity": "person:110105194912310021"}, 404, "unknown_entity"),
    ("/api/subjects/tags", {"entity": "nonsense"}, 400, "malformed_entity"),
    ("/api/graph/neighborhood", {"entity": "planet:1"}, 400, "unknown_entity_type"),
    ("/api/graph/neighborhood", {"entity": "person:1"}, 404, "unknown_entity"),
    ("/api/graph/neighborhood", {"entity": "item:SB01", "depth": 9}, 422, "invalid_request"),
    ("/api/graph/path", {"from": "item:SB01", "to": "x"}, 400, "malformed_entity"),
    ("/api/catalog/datasets/nope", {}, 404, "unknown_dataset"),
]


def test_bad_input_is_a_clear_error_and_changes_nothing(client):
    sign_in(client, "steward")
    before = _runs()
    for path, params, status, code in BAD_INPUT:
        r = client.get(path, params=params)
        assert r.status_code == status, (path, r.text)
        assert r.json()["error"] == code and r.json()["message"], path
    assert _runs() == before
    other = TestClient(create_app())
    sign_in(other, "staff1")
    r = other.get("/api/graph/neighborhood", params={"entity": "item:SB01"})
    assert r.status_code == 403 and r.json()["error"] == "permission_denied"
    assert TestClient(create_app()).get("/api/tags").status_code == 401
