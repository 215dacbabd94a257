"""Linking department records into masters: deterministic by identifier, the probabilistic
matcher's answers applied, survivorship with provenance, conflicts and remembered decisions,
stable master ids across incremental runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from govloop.core import auth
from govloop.core.db import unit_of_work
from govloop.ingest import pipeline
from govloop.ingest.pipeline import RawRow
from govloop.subjects import linking, service
from govloop.subjects.identifiers import id_check_char
from govloop.subjects.models import SubjectConflict, SubjectLink, SubjectMaster


def _id(first17: str) -> str:
    return first17 + id_check_char(first17)


ZHANG = _id("11010519800101123")
LI = _id("44030519900215222")


def _load(session, key: str, department: str, rows: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    try:
        source = pipeline.get_source(session=session, key=key)
    except Exception:
        source = pipeline.create_source(
            session=session,
            key=key,
            name=f"{department}人口记录",
            kind="file",
            schema_name="person_record",
            department=department,
        )
    run = pipeline.start_run(session=session, source=source, channel="file")
    pipeline.ingest_rows(
        session=session, source=source, run=run, rows=[RawRow(r, i) for i, r in enumerate(rows)]
    )


def exact_matcher(new_rows, existing_rows):  # type: ignore[no-untyped-def]
    """A test double for the Splink matcher: same name and birth date scores 0.99."""
    key = lambda r: (r["name"], r["birth_date"])  # noqa: E731
    pairs = []
    for i, row in enumerate(new_rows):
        for other in [*existing_rows, *new_rows[i + 1 :]]:
            if key(row) == key(other):
                pairs.append((row["record_key"], other["record_key"], 0.99))
    return pairs


def test_identifier_links_and_survivorship_with_provenance(db):
    with unit_of_work() as s:
        _load(
            s,
            "police",
            "公安局",
            [
                {
                    "record_id": "G1",
                    "name": "张三",
                    "id_number": ZHANG,
                    "birth_date": "1980-01-01",
                    "sex": "M",
                    "address": "北京市朝阳区建国路1号",
                },
            ],
        )
        _load(
            s,
            "civil",
            "民政局",
            [
                # the same person, full-width ID, newer phone
                {
                    "record_id": "M1",
                    "name": "张三",
                    "id_number": " " + ZHANG.lower() + " ",
                    "phone": "13800138000",
                    "updated_at": "2026-06-01T10:00:00",
                },
                # an invalid ID (one wrong digit): not linked by identifier
                {
                    "record_id": "M2",
                    "name": "李四",
                    "id_number": LI[:-2] + "00",
                    "birth_date": "1990-02-15",
                },
            ],
        )
        reports = linking.run_all(session=s, matcher=exact_matcher)
    person = reports[0]
    assert (person.records, person.by_identifier, person.invalid_identifiers) == (3, 2, 1)
    assert person.new_masters == 2
    with unit_of_work(readonly=True) as s:
        masters = {m.display_name: m for m in s.scalars(select(SubjectMaster))}
        zhang = masters["张三"]
        assert zhang.identifier == ZHANG and zhang.record_count == 2
        assert zhang.attributes["phone"] == "13800138000"
        assert zhang.provenance["phone"]["source"] == "civil"
        assert zhang.provenance["address"]["source"] == "police"
        assert masters["李四"].identifier is None


def test_conflicts_are_queued_and_decisions_remembered(db):
    with unit_of_work() as s:
        _load(
            s,
            "police",
            "公安局",
            [
                {"record_id": "G1", "name": "张三", "id_number": ZHANG, "birth_date": "1980-01-01"},
            ],
        )
        _load(
            s,
            "civil",
            "民政局",
            [
                {"record_id": "M1", "name": "张叁", "id_number": ZHANG, "birth_date": "1980-01-01"},
            ],
        )
        linking.run_all(session=s, matcher=exact_matcher)
    with unit_of_work() as s:
        conflicts = service.list_conflicts(session=s)
        assert [(c.field, sorted(x["value"] for x in c.candidates)) for c, _ in conflicts] == [
            ("name", ["张三", "张叁"])
        ]
        master = conflicts[0][1]
        # before a decision, the authority (公安局) wins by source priority
        assert master.attributes["name"] == "张三"
        assert master.provenance["name"]["rule"] == "priority"
        steward = auth.create_user(
            session=s, username="steward", password="other-Key-99", role="data_steward"
        )
        service.resolve_conflict(
            session=s,
            conflict_id=conflicts[0][0].id,
            value="张叁",
            actor=steward,
            note="经本人确认",
        )
        master_id = master.id
    with unit_of_work() as s:
        master = s.get(SubjectMaster, master_id)
        assert master is not None
        assert (
            master.attributes["name"] == "张叁" and master.provenance["name"]["rule"] == "decision"
        )
        # a re-run over the same candidates keeps the decision and opens nothing
        service.refresh_masters(session=s, master_ids=[master_id])
        assert master.attributes["name"] == "张叁"
        assert service.list_conflicts(session=s) == []
    with unit_of_work() as s:
        # a third spelling reopens the question
        _load(
            s,
            "social",
            "人社局",
            [
                {"record_id": "S1", "name": "張三", "id_number": ZHANG},
            ],
        )
        linking.run_all(session=s, matcher=exact_matcher)
        open_ones = service.list_conflicts(session=s)
        assert len(open_ones) == 1 and len(open_ones[0][0].candidates) == 3


def test_incremental_runs_keep_master_ids_stable(db):
    with unit_of_work() as s:
        _load(
            s,
            "police",
            "公安局",
            [
                {"record_id": "G1", "name": "张三", "id_number": ZHANG},
                {"record_id": "G2", "name": "王五", "birth_date": "1975-03-03"},
            ],
        )
        linking.run_all(session=s, matcher=exact_matcher)
    with unit_of_work(readonly=True) as s:
        before = {m.display_name: m.id for m in s.scalars(select(SubjectMaster))}
    with unit_of_work() as s:
        _load(
            s,
            "civil",
            "民政局",
            [
                {"record_id": "M1", "name": "张三", "id_number": ZHANG, "phone": "13900139000"},
                {
                    "record_id": "M2",
                    "name": "王五",
                    "birth_date": "1975-03-03",
                },  # matched by Splink
                {"record_id": "M3", "name": "赵六", "birth_date": "1988-08-08"},
                {"record_id": "M4", "name": "赵六", "birth_date": "1988-08-08"},  # same new person
            ],
        )
        report = linking.link_new_records(session=s, kind="person", matcher=exact_matcher)
        assert (report.records, report.by_identifier, report.probabilistic) == (4, 1, 2)
        assert report.new_masters == 1
        # nothing new: nothing to do
        assert (
            linking.link_new_records(session=s, kind="person", matcher=exact_matcher).records == 0
        )
    with unit_of_work(readonly=True) as s:
        after = {m.display_name: m.id for m in s.scalars(select(SubjectMaster))}
        assert {k: after[k] for k in before} == before
        assert set(after) == {"张三", "王五", "赵六"}
        methods = sorted(s.scalars(select(SubjectLink.method)))
        assert methods.count("probabilistic") == 2
        assert s.scalar(select(SubjectConflict.id)) is None
