"""Catalog quality, tags and the knowledge graph on a small, fully known world."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from govloop.catalog import graph, service, tags
from govloop.catalog.models import TagAssignment, TagRun
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest, NotFound
from tests.catalog import scenario
from tests.catalog.scenario import (
    ELDER_ID,
    FIRM_A,
    FIRM_B,
    NOW,
    REP_ONLY_ID,
    YOUNG_ID,
)


@pytest.fixture
def world(db):
    with frozen(NOW), unit_of_work() as s:
        scenario.build(s)


def test_tags_follow_the_rules_answer_queries_and_refuse_bad_input(world):
    with frozen(NOW), unit_of_work() as s:
        first = tags.compute_tags(session=s)
        assert first.counts == {
            "elderly": 1,
            "frequent_visitor": 1,
            "repeat_visits": 1,
            "frequent_caller": 1,
            "multi_project_enterprise": 1,
        }
        rows = {(a.tag_code, a.subject_key): a for a in s.scalars(select(TagAssignment)).all()}
        assert rows[("elderly", ELDER_ID)].evidence == {"age": 76, "birth_date": "1950-05-01"}
        # four visits in 90 days (the fifth was 100 days ago); only the shared phone's five
        # visits identify nobody
        assert rows[("frequent_visitor", ELDER_ID)].evidence["visits"] == 4
        assert rows[("repeat_visits", ELDER_ID)].evidence["items"] == [
            {"item_code": "SB01", "item_name": "事项SB01", "visits": 4}
        ]
        assert rows[("frequent_caller", YOUNG_ID)].evidence["calls"] == 3
        assert rows[("multi_project_enterprise", FIRM_A)].evidence == {"projects": 2}
        assert all(a.rule_version == 1 and a.run_id == first.id for a in rows.values())
        second = tags.compute_tags(session=s)
        assert second.id != first.id
        assert s.scalar(select(func.count(TagAssignment.id))) == 5
        assert s.scalar(select(func.count(TagRun.id))) == 2
        rule, total, rows = tags.subjects_with_tag(session=s, code="elderly")
        assert (rule.name, total, [r.subject_label for r in rows]) == ("老年人", 1, ["林老伯"])
        name, mine = tags.tags_of_subject(session=s, entity=f"person:{ELDER_ID}")
        assert name == "林老伯"
        assert [a.tag_code for a in mine] == ["elderly", "frequent_visitor", "repeat_visits"]
        with pytest.raises(NotFound) as unknown_tag:
            tags.subjects_with_tag(session=s, code="nope")
        assert unknown_tag.value.code == "unknown_tag"
        with pytest.raises(NotFound) as unknown:
            tags.tags_of_subject(session=s, entity="person:110105194912310021")
        assert unknown.value.code == "unknown_entity"
        for bad, code in (("person", "malformed_entity"), ("window:1", "unknown_entity_type")):
            with pytest.raises(BadRequest) as refused:
                tags.tags_of_subject(session=s, entity=bad)
            assert refused.value.code == code


@pytest.mark.parametrize(
    "text",
    [
        "tags: [{code: x1, name: a, name_en: a, subject: person, version: 1, rule: nope}]",
        "tags: [{code: x1, name: a, name_en: a, subject: person, version: 1,"
        " rule: age_at_least, params: {years: -3}}]",
        "tags: [{code: x1, name: a, name_en: a, subject: enterprise, version: 1,"
        " rule: age_at_least, params: {years: 60}}]",
        "tags: [{code: x1, name: a, name_en: a, subject: person, version: 1,"
        " rule: age_at_least, params: {years: 60, extra: 1}}]",
        "tags: {code: x1}",
        "tags: [oops",
    ],
)
def test_bad_rule_files_are_refused_whole(text):
    with pytest.raises(BadRequest) as refused:
        tags.parse_rules(text)
    assert refused.value.code == "invalid_tag_rules"


def test_shipped_rules_parse():
    codes = [r.code for r in tags.shipped_rules().rules]
    assert {"elderly", "frequent_visitor", "repeat_visits"} <= set(codes)


def test_quality_is_measured_not_invented(world):
    with frozen(NOW), unit_of_work() as s:
        keys = {d.key for d in service.all_datasets(session=s)}
        assert {"hall.tickets", "hotline.work_orders", "ingest.ga", "ingest.fgw"} <= keys
        entry = service.catalog_entry(session=s, key="ingest.ga")
        assert [f.name for f in entry.dataset.fields][:3] == ["record_id", "id_number", "name"]
        assert entry.fresh.rows == 5 and entry.profile is None
        assert entry.fresh.newest_at == NOW - timedelta(hours=3)
        assert entry.fresh.age == timedelta(hours=3)
        (profile,) = service.profile_datasets(session=s, keys=["ingest.ga"])
        checks = {c["code"]: c for c in profile.checks}
        # 王某: mistyped ID, no phone; 赵甲/赵乙: no ID
        assert checks["id_valid"] == {"code": "id_valid", "passed": 4, "failed": 1}
        assert checks["id_present"]["failed"] == 2
        assert checks["phone_valid"]["failed"] == 1
        assert (profile.rows, profile.passed, profile.score) == (5, 2, 0.4)
        tickets = service.profile_datasets(session=s, keys=["hall.tickets"])[0]
        assert tickets.rows == 11 and tickets.score == 1.0
        with pytest.raises(NotFound):
            service.profile_datasets(session=s, keys=["nope"])


def test_graph_neighborhood_and_path(world):
    with frozen(NOW), unit_of_work(readonly=True) as s:
        view = graph.neighborhood(session=s, entity=f"enterprise:{FIRM_A}", depth=1)
        ids = {n["id"] for n in view.nodes}
        assert ids == {
            f"enterprise:{FIRM_A}",
            f"person:{YOUNG_ID}",
            "project:P-001",
            "project:P-002",
        }
        assert {e["relation"] for e in view.edges} == {"legal_rep", "project_owner"}
        # the elder and the young woman both applied for SB01 (and met the same staff)
        found = graph.path(session=s, source=f"person:{ELDER_ID}", target=f"enterprise:{FIRM_A}")
        chain = [n["id"] for n in found.nodes]
        assert (chain[0], chain[2], chain[3]) == (
            f"person:{ELDER_ID}",
            f"person:{YOUNG_ID}",
            f"enterprise:{FIRM_A}",
        )
        assert len(found.edges) == 3
        # a legal representative with no population record is still a person node
        rep = graph.neighborhood(session=s, entity=f"person:{REP_ONLY_ID}", depth=1)
        assert f"enterprise:{FIRM_B}" in {n["id"] for n in rep.nodes}
        lonely = graph.path(session=s, source=f"enterprise:{FIRM_B}", target=f"person:{ELDER_ID}")
        assert lonely.nodes == [] and lonely.edges == []
        small = graph.neighborhood(session=s, entity="item:SB01", depth=2, max_nodes=3)
        assert small.truncated and len(small.nodes) == 3 and small.total_nodes > 3
        with pytest.raises(NotFound):
            graph.neighborhood(session=s, entity="person:110105194912310021")
        with pytest.raises(BadRequest):
            graph.path(session=s, source="nonsense", target=f"person:{ELDER_ID}")
        assert graph.search(session=s, query="林老")[0]["id"] == f"person:{ELDER_ID}"
