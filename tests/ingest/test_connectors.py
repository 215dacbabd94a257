"""File connectors: encodings (UTF-8, BOM, GBK/GB18030, neither), header checks, JSON lines,
Excel, SHA-256 and encoding on the run, idempotent re-loads, replay after a mapping fix."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func, select

from govloop.core.db import unit_of_work
from govloop.ingest import pipeline, service
from govloop.ingest.connectors import scan_file
from govloop.ingest.models import DeadLetter, IngestedRecord, IngestRun

MAPPING = {"编号": "record_id", "姓名": "name", "身份证号": "id_number", "出生日期": "birth_date"}
HEADER = "编号,姓名,身份证号,出生日期\n"
ROWS = [
    "P1,张伟,330106198001011234,1980-01-01\n",
    "P2,李娜,330106199002021235,1990-02-30\n",  # bad date
    "P3,王芳,,1975-05-05\n",
]


def _source(session, mapping=None):  # type: ignore[no-untyped-def]
    return pipeline.create_source(
        session=session,
        key="civil",
        name="民政局",
        kind="file",
        schema_name="person_record",
        mapping=MAPPING if mapping is None else mapping,
    )


def _load(path: Path, **kwargs):  # type: ignore[no-untyped-def]
    with unit_of_work() as s:
        source = pipeline.get_source(session=s, key="civil")
        return service.load_file(session=s, source=source, path=path, **kwargs)


def _stored() -> dict[str, IngestedRecord]:
    with unit_of_work(readonly=True) as s:
        return {r.event_id: r for r in s.scalars(select(IngestedRecord))}


def _dead() -> list[DeadLetter]:
    with unit_of_work(readonly=True) as s:
        return list(s.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def test_gbk_csv_with_chinese_headers_records_encoding_and_hash(db, tmp_path):
    path = tmp_path / "人口.csv"
    path.write_bytes((HEADER + "".join(ROWS)).encode("gbk"))
    with unit_of_work() as s:
        _source(s)
    result = _load(path)
    assert (result.counts.rows_in, result.counts.stored, result.counts.rejected) == (3, 2, 1)
    assert result.encoding == "gb18030"
    with unit_of_work(readonly=True) as s:
        run = s.get(IngestRun, result.run_id)
        assert run is not None
        assert run.encoding == "gb18030" and run.status == "done"
        assert run.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    stored = _stored()
    assert stored["P1"].payload["name"] == "张伟"
    assert (stored["P1"].file_name, stored["P1"].row_number) == ("人口.csv", 2)
    [dead] = _dead()
    assert dead.row_number == 3 and "出生日期" in dead.reason
    assert json.loads(dead.raw)["姓名"] == "李娜"  # the row as received, decoded
    # the same file again adds nothing
    again = _load(path)
    assert (again.counts.stored, again.counts.duplicates, again.counts.rejected) == (0, 2, 1)
    assert len(_stored()) == 2


def test_utf8_bom_and_a_stray_gbk_line(db, tmp_path):
    path = tmp_path / "mixed.csv"
    body = (HEADER + ROWS[0] + ROWS[2]).encode("utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + body + "P9,赵敏,,1970-01-01\n".encode("gbk"))
    assert scan_file(path).encoding == "utf-8-sig"
    with unit_of_work() as s:
        _source(s)
    result = _load(path)
    assert (result.counts.stored, result.counts.rejected) == (2, 1)
    [dead] = _dead()
    assert dead.reason_code == "bad_encoding" and dead.row_number == 4
    assert "\\x" in dead.raw  # the undecodable bytes are kept, escaped
    assert result.message and "无法按" in result.message


def test_a_file_in_neither_encoding_fails_and_keeps_every_line(db, tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes((HEADER + "".join(ROWS)).encode("utf-16"))
    with unit_of_work() as s:
        _source(s)
    result = _load(path)
    assert result.status == "failed"
    assert result.message and "既不是 UTF-8 也不是 GBK" in result.message
    assert result.counts.stored == 0
    dead = _dead()
    assert dead and all(d.reason_code == "bad_encoding" for d in dead)
    assert result.counts.rejected == len(dead) == result.counts.rows_in
    assert _stored() == {}


def test_missing_required_column_fails_then_replays_after_the_mapping_is_fixed(db, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("编号,名字\nP1,张伟\nP2,李娜\n", encoding="utf-8")
    with unit_of_work() as s:
        _source(s, mapping={"编号": "record_id", "姓名": "name"})
    result = _load(path)
    assert result.status == "failed"
    assert result.message and "缺少必填列：name（姓名）" in result.message
    assert "未声明的列：名字" in result.message
    dead = _dead()
    assert [d.reason_code for d in dead] == ["bad_header", "bad_header"]
    assert _stored() == {}
    with unit_of_work() as s:
        source = pipeline.get_source(session=s, key="civil")
        service.update_mapping(
            session=s, source=source, mapping={"编号": "record_id", "名字": "name"}
        )
        replay = service.replay_dead_letters(session=s, ids=[d.id for d in dead], by=None)
    assert sorted(replay.replayed) == sorted(d.id for d in dead) and not replay.still_open
    stored = _stored()
    assert stored["P2"].payload["name"] == "李娜"
    # lineage still points at the original file and row, through the replay run
    assert (stored["P2"].file_name, stored["P2"].row_number) == ("p.csv", 3)
    assert stored["P2"].run_id == replay.run_id
    for d in _dead():
        assert d.status == "replayed" and d.resolved_run_id == replay.run_id
        assert d.history[-1]["action"] == "replayed"


def test_jsonl_malformed_line_is_a_dead_letter_with_its_line_number(db, tmp_path):
    path = tmp_path / "p.jsonl"
    lines = [
        json.dumps({"record_id": "J1", "name": "周杰"}, ensure_ascii=False),
        '{"record_id": "J2", "name": ',
        "[1, 2]",
        json.dumps({"record_id": "J3", "name": "吴昊"}, ensure_ascii=False),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with unit_of_work() as s:
        _source(s, mapping={})
    result = _load(path)
    assert (result.counts.rows_in, result.counts.stored, result.counts.rejected) == (4, 2, 2)
    dead = {d.row_number: d for d in _dead()}
    assert set(dead) == {2, 3}
    assert dead[2].reason_code == "malformed_json" and "第 2 行" in dead[2].reason
    assert dead[2].raw == '{"record_id": "J2", "name": '


def test_xlsx_numbers_and_dates_become_text(db, tmp_path):
    from datetime import date

    path = tmp_path / "p.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["编号", "姓名", "出生日期"])
    sheet.append([1001, "陈静", date(1988, 8, 8)])
    sheet.append([1002, None, date(1990, 1, 1)])
    workbook.save(path)
    with unit_of_work() as s:
        _source(s)
    result = _load(path)
    assert (result.counts.stored, result.counts.rejected) == (1, 1)
    stored = _stored()
    assert stored["1001"].payload["birth_date"] == "1988-08-08"
    assert "缺少必填字段「名称/姓名」" in _dead()[0].reason
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(IngestRun)) == 1
