"""The pipeline core: validation, normalization with a record of changes, idempotency and
dead letters; rows_in always equals stored + duplicates + rejected."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from govloop.core.db import unit_of_work
from govloop.core.errors import Conflict, NotAuthenticated, RuleViolation
from govloop.ingest import pipeline
from govloop.ingest.models import DeadLetter, IngestedRecord, IngestRun
from govloop.ingest.pipeline import RawRow

MAPPING = {
    "记录编号": "record_id",
    "姓名": "name",
    "身份证号": "id_number",
    "出生日期": "birth_date",
}


def _rows() -> list[RawRow]:
    return [
        RawRow({"记录编号": "P1", "姓名": "张三", "身份证号": "１１０１０５ 19491231002x"}, 2),
        RawRow({"记录编号": "P2", "姓名": "李四", "出生日期": "1980-02-30"}, 3),  # bad date
        RawRow({"记录编号": "P3", "姓名": ""}, 4),  # name missing
        RawRow({"记录编号": "P1", "姓名": "张三"}, 5),  # same id again in the same file
        RawRow({"记录编号": "P4", "姓名": "王五", "籍贯": "北京"}, 6),  # undeclared column
        RawRow({"记录编号": "P5", "姓名": "赵六", "出生日期": "1990-05-01"}, 7),
    ]


def _source(session):  # type: ignore[no-untyped-def]
    return pipeline.create_source(
        session=session,
        key="civil",
        name="民政局人口记录",
        kind="file",
        schema_name="person_record",
        mapping=MAPPING,
        department="民政局",
    )


def test_rows_are_validated_normalized_and_dead_lettered(db):
    with unit_of_work() as s:
        source = _source(s)
        run = pipeline.start_run(session=s, source=source, channel="file", file_name="a.csv")
        counts = pipeline.ingest_rows(session=s, source=source, run=run, rows=_rows())
        pipeline.finish_run(session=s, run=run)
    assert (counts.rows_in, counts.stored, counts.duplicates, counts.rejected) == (6, 2, 1, 3)
    with unit_of_work(readonly=True) as s:
        stored = {r.event_id: r for r in s.scalars(select(IngestedRecord))}
        assert set(stored) == {"P1", "P5"}
        p1 = stored["P1"]
        # full-width digits, the space and the lower-case x are normalized, and recorded
        assert p1.payload["id_number"] == "11010519491231002X"
        assert p1.changes["id_number"] == ["１１０１０５ 19491231002x", "11010519491231002X"]
        assert (p1.file_name, p1.row_number) == ("a.csv", 2)
        dead = {d.row_number: d for d in s.scalars(select(DeadLetter))}
        assert set(dead) == {3, 4, 6}
        assert "出生日期" in dead[3].reason
        assert "缺少必填字段「名称/姓名」" in dead[4].reason
        assert "未声明的字段「籍贯」" in dead[6].reason
        assert json.loads(dead[3].raw)["出生日期"] == "1980-02-30"  # the row as received
        run = s.scalars(select(IngestRun)).one()
        assert (run.rows_in, run.stored, run.duplicates, run.rejected) == (6, 2, 1, 3)
        assert run.status == "done" and run.finished_at is not None


def test_replaying_the_same_rows_adds_nothing(db):
    with unit_of_work() as s:
        source = _source(s)
        for _ in range(2):
            run = pipeline.start_run(session=s, source=source, channel="file")
            counts = pipeline.ingest_rows(session=s, source=source, run=run, rows=_rows())
    assert (counts.stored, counts.duplicates, counts.rejected) == (0, 3, 3)
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(IngestedRecord)) == 2


def test_source_rules_and_push_keys(db):
    with unit_of_work() as s:
        source = _source(s)
        with pytest.raises(Conflict):
            _source(s)
        with pytest.raises(RuleViolation):
            pipeline.create_source(session=s, key="x", name="x", kind="file", schema_name="nope")
        with pytest.raises(RuleViolation):
            pipeline.create_source(
                session=s,
                key="y",
                name="y",
                kind="file",
                schema_name="person_record",
                mapping={"姓名": "full_name"},
            )
        key = pipeline.issue_api_key(session=s, source=source)
        pushing = pipeline.pushing_source
        assert pushing(session=s, source_key="civil", api_key=key).id == source.id
        newer = pipeline.issue_api_key(session=s, source=source)
        other = pipeline.create_source(
            session=s, key="other", name="o", kind="http", schema_name="person_record"
        )
        other_key = pipeline.issue_api_key(session=s, source=other)
        refusals = [
            ("civil", key),  # replaced
            ("civil", None),
            ("civil", other_key),  # another source's key
            ("nobody", newer),  # unknown source
        ]
        for source_key, api_key in refusals:
            with pytest.raises(NotAuthenticated) as refused:
                pushing(session=s, source_key=source_key, api_key=api_key)
            assert (refused.value.code, refused.value.message) == (
                "bad_source_key",
                pipeline.PUSH_REFUSED,
            )
        assert pushing(session=s, source_key="civil", api_key=newer).key == "civil"
        source.active = False
        with pytest.raises(NotAuthenticated):
            pushing(session=s, source_key="civil", api_key=newer)
        source.active = True
