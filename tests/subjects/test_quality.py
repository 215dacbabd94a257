"""Data quality (GB/T 36344-2018): X = A / B per source, field and dimension, samples of the
failing rows, stored runs for trends, and the feedback workbook."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook

from govloop.core.db import unit_of_work
from govloop.ingest import pipeline, service
from govloop.ingest.pipeline import RawRow
from govloop.subjects import feedback, linking, quality
from govloop.subjects.identifiers import id_check_char

TODAY = date(2026, 12, 4)


def _id(first17: str) -> str:
    return first17 + id_check_char(first17)


GOOD = _id("11010519800101123")  # born 1980-01-01, 17th digit 3: a man
OTHER = _id("44030519900215222")


def _seed(session) -> None:  # type: ignore[no-untyped-def]
    source = pipeline.create_source(
        session=session,
        key="civil",
        name="民政局人口记录",
        kind="file",
        schema_name="person_record",
        department="民政局",
    )
    run = pipeline.start_run(session=session, source=source, channel="file", file_name="p.csv")
    rows = [
        {
            "record_id": "A",
            "name": "张三",
            "id_number": GOOD,
            "birth_date": "1980-01-01",
            "sex": "M",
            "phone": "13800138000",
            "updated_at": "2026-10-01T00:00:00",
        },
        # full-width ID (normalized on the way in: a normativity failure), wrong sex
        {
            "record_id": "B",
            "name": "李四",
            "id_number": "４４０３０５" + OTHER[6:],
            "sex": "M",
            "updated_at": "2020-01-01T00:00:00",
        },
        # an ID with a wrong check digit, a bad phone, birth date missing
        {"record_id": "C", "name": "王五", "id_number": GOOD[:-1] + "0", "phone": "12345"},
        {"record_id": "D", "name": ""},  # rejected: name is required
    ]
    pipeline.ingest_rows(
        session=session,
        source=source,
        run=run,
        rows=[RawRow(r, i + 2) for i, r in enumerate(rows)],
    )


def _by(results, field, dimension):  # type: ignore[no-untyped-def]
    return next(r for r in results if r.field == field and r.dimension == dimension)


def test_every_sub_metric_is_a_over_b_with_samples(db):
    with unit_of_work() as s:
        _seed(s)
        linking.run_all(session=s, matcher=lambda new, old: [])
        run = quality.run_assessment(session=s, today=TODAY)
        results = quality.results_of(session=s, run_id=run.id)
    assert run.records == 3
    birth = _by(results, "birth_date", "completeness")
    assert (birth.passed, birth.total, birth.score) == (1, 3, 1 / 3)
    id_format = _by(results, "id_number", "normativity")
    assert (id_format.passed, id_format.total) == (2, 3)
    assert id_format.samples[0]["record_key"] == "B"
    assert id_format.samples[0]["value"].startswith("４４０３０５")  # the value as received
    id_accuracy = _by(results, "id_number", "accuracy")
    assert (id_accuracy.passed, id_accuracy.total) == (2, 3)
    assert "校验位" in id_accuracy.samples[0]["problem"]
    assert (id_accuracy.samples[0]["file_name"], id_accuracy.samples[0]["row_number"]) == (
        "p.csv",
        4,
    )
    sex = _by(results, "sex", "accuracy")
    assert (sex.passed, sex.total) == (1, 2) and "性别" in sex.samples[0]["problem"]
    phone = _by(results, "phone", "accuracy")
    assert (phone.passed, phone.total) == (1, 2)
    fresh = _by(results, "updated_at", "timeliness")
    assert (fresh.passed, fresh.total) == (1, 2)
    delivered = _by(results, "*", "accessibility")
    assert (delivered.passed, delivered.total) == (3, 4)
    consistency = _by(results, "name", "consistency")
    assert consistency.passed == consistency.total == 3
    summary = quality.summarize(results)["civil"]
    assert set(summary) == set(quality.DIMENSIONS)
    assert summary["accessibility"] == 0.75


def test_runs_are_kept_for_trends(db):
    with unit_of_work() as s:
        _seed(s)
        quality.run_assessment(session=s, today=TODAY)
        quality.run_assessment(session=s, today=TODAY)
        history = quality.trend(session=s)
    assert len(history) == 2 and set(history[0][1]) == {"civil"}
    assert 0 < history[1][1]["civil"] < 1


def test_feedback_workbook_lists_every_problem_and_rejected_row(db):
    with unit_of_work() as s:
        _seed(s)
        data = feedback.feedback_workbook(session=s, source_key="civil", today=TODAY)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["质量概况", "问题数据", "未入库记录"]
    problems = list(wb["问题数据"].iter_rows(min_row=2, values_only=True))
    keys = {(row[0], row[3], row[4]) for row in problems}
    assert ("C", "身份证号码", "准确性") in keys
    assert ("B", "身份证号码", "规范性") in keys
    assert ("C", "出生日期", "完整性") in keys
    rejected = list(wb["未入库记录"].iter_rows(min_row=2, values_only=True))
    assert len(rejected) == 1 and "名称/姓名" in rejected[0][3]


def test_feedback_workbook_writes_formula_like_text_as_plain_strings(db, tmp_path):
    """A CSV row with ``=cmd|' /C calc'!A0`` must not become a formula in the workbook
    the department opens."""
    path = tmp_path / "=cmd.csv"
    path.write_text(
        "record_id,name,phone\n"
        "=cmd|' /C calc'!A0,王五,=HYPERLINK(\"http://e.cn\")\n"
        "@SUM(A1),赵六,-1234\n",
        encoding="utf-8",
    )
    with unit_of_work() as s:
        source = pipeline.create_source(
            session=s, key="civil", name="民政局", kind="file", schema_name="person_record"
        )
        service.load_file(session=s, source=source, path=path)
        data = feedback.feedback_workbook(session=s, source_key="civil", today=TODAY)
    wb = load_workbook(io.BytesIO(data))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert not [t for t in texts if t.startswith(("=", "+", "-", "@"))]
    problems = {c.value: c for c in wb["问题数据"]["A"]}
    attack = problems["'=CMD|'/CCALC'!A0"]  # the record id, as normalized on the way in
    assert attack.data_type == "s"
    assert wb["问题数据"]["B2"].value == "'=cmd.csv"
    assert '\'=HYPERLINK("http://e.cn")' in texts
    assert "'@SUM(A1)" in texts and "'-1234" in texts
