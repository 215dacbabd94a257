"""The column-wise CSV path gives what the row path gives: the same stored rows (payload,
normalization record, lineage, in the same order), the same dead letters with the same
reasons, the same run counts, on UTF-8 (LF and CRLF) and GBK files full of hard cases; a
second load stores nothing. Files it does not take (quotes, a stray undecodable line, a
refused header) go the row path unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from govloop.core.db import unit_of_work
from govloop.ingest import columnar, pipeline, service
from govloop.ingest.models import DeadLetter, IngestedRecord, IngestRun

MAPPING = {
    "记录编号": "record_id",
    "姓名": "name",
    "身份证号": "id_number",
    "出生日期": "birth_date",
    "性别": "sex",
    "电话": "phone",
    "地址": "address",
    "更新时间": "updated_at",
}
HEADER = ",".join(MAPPING)
LONG_ADDRESS = "北京市朝阳区" * 50  # 300 characters: the most the schema allows
LINES = [
    "P001,张伟,110105194912310021,1949-12-31,M,13912345678,北京市东城区,2026-11-05 08:12:00",
    "P002,李娜,110105194912310022,1949-12-31,F,,北京市,2026-11-05T08:12:00",  # bad checksum
    "P003,王芳,１１０１０５１９４９１２３１００２x,１９４９－１２－３１,女,139 1234 5678,地址,",
    "Ｐ004,赵敏,,1980-02-30,M,,,",  # full-width id, a date that does not exist
    "P005, 钱七 ,,,1,,,",  # spaces around the name, sex coded 1
    "",
    "   ",
    ",,,,,,,",
    "P001,张伟,110105194912310021,1949-12-31,M,13912345678,北京市东城区,2026-11-05 08:12:00",
    "P006,,,,,,,",  # name missing
    "P007,孙八,,,X,,,",  # not a sex code
    "P008,周九,,,,,,2026-11-05 24:00:00",
    "P009,吴十,,,,,,2026-11-05",  # a date where a time is declared
    "P010," + "名" * 101 + ",,,,,,",  # too long
    "P011,郑一," + "1" * 33 + ",,,,,",  # too long
    "P012,王二,,,,," + LONG_ADDRESS + "区,",  # 301 characters
    "P013,冯三,,,,," + LONG_ADDRESS + ",",
    "P014,陈四,,,,",  # too few columns
    "P015,褚五,,,,,,,,多余",  # too many columns
    "p016,卫六,,,,,,",  # lower-case id
    "P017,蒋七\t,,,,,,",  # a tab at the end
    "P018,沈八\\x,,,,,,",  # a backslash (escaped in JSON)
    "P019,韩九,,,m,,,",
    "P020,杨十,,,,,,2026-11-05 08:12:00.5",
    "P021,朱一,11010519491231002X,,,,,",
    "P022,秦二,,,,,北京市\u3000朝阳区,",  # an ideographic space inside
    "P023,尤三,,,,,\u3000北京,",  # … and at the edge
    "P024,许四,,0000-01-01,,,,",
    "P025,何五,,2024-02-29,,,,",
    "P026,吕六,,2023-02-29,,,,",
    "P027,施七,,,,1391234567890123456789012345678901,,",  # phone too long
    "P028,张八,,,,,,2026-02-29 08:00:00",
    "P029,李九,,,F,,,2026-11-05 23:59:59",
    "P030,王十,,,,,,2026-11-05 23:59:60",
    "P002,李娜二,,,,,,",  # same id, other values: a duplicate, the first one is kept
]


def _write(path: Path, lines: list[str], encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes(newline.join([HEADER, *lines, ""]).encode(encoding))
    return path


def _load(key: str, path: Path, *, columnwise: bool, monkeypatch) -> tuple[Any, bool]:  # type: ignore[no-untyped-def]
    """Load through the column-wise path, or force the row path; (result, column-wise used)."""
    used: list[bool] = []
    real = columnar.ingest_csv

    def spy(**kwargs: Any) -> Any:
        counts = real(**kwargs) if columnwise else None
        used.append(counts is not None)
        return counts

    monkeypatch.setattr(columnar, "ingest_csv", spy)
    with unit_of_work() as s:
        source = pipeline.get_source(session=s, key=key)
        result = service.load_file(session=s, source=source, path=path, file_name="人口.csv")
    monkeypatch.setattr(columnar, "ingest_csv", real)
    return result, any(used)


def _snapshot(key: str) -> dict[str, Any]:
    """Everything a load leaves for a source, without ids and times of the run itself."""
    with unit_of_work(readonly=True) as s:
        source = pipeline.get_source(session=s, key=key)
        records = s.scalars(
            select(IngestedRecord)
            .where(IngestedRecord.source_id == source.id)
            .order_by(IngestedRecord.id)
        )
        dead = s.scalars(
            select(DeadLetter).where(DeadLetter.source_id == source.id).order_by(DeadLetter.id)
        )
        runs = s.scalars(
            select(IngestRun).where(IngestRun.source_id == source.id).order_by(IngestRun.id)
        )
        text: list[Any] = []
        if s.get_bind().dialect.name == "sqlite":  # the stored JSON text itself
            text = list(
                s.connection().exec_driver_sql(
                    "SELECT payload, changes, occurred_at FROM ingest_records "
                    f"WHERE source_id = {int(source.id)} ORDER BY id"
                )
            )
        return {
            "records": [
                (
                    r.event_id,
                    r.schema_name,
                    r.occurred_at,
                    r.payload,
                    r.changes,
                    r.file_name,
                    r.row_number,
                )
                for r in records
            ],
            "text": text,
            "dead": [
                (d.row_number, d.raw, d.reason_code, d.reason, d.file_name, d.status) for d in dead
            ],
            "runs": [
                (r.rows_in, r.stored, r.duplicates, r.rejected, r.status, r.message, r.encoding)
                for r in runs
            ],
        }


def _counts(result: Any) -> tuple[int, int, int, int]:
    c = result.counts
    return (c.rows_in, c.stored, c.duplicates, c.rejected)


def _compare(path: Path, monkeypatch, *, expect_columnwise: bool) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with unit_of_work() as s:
        for key in ("by-column", "by-row"):
            pipeline.create_source(
                session=s,
                key=key,
                name=key,
                kind="file",
                schema_name="person_record",
                mapping=MAPPING,
            )
    for _ in range(2):  # the second load of the same file must store nothing
        by_column, used = _load("by-column", path, columnwise=True, monkeypatch=monkeypatch)
        by_row, _unused = _load("by-row", path, columnwise=False, monkeypatch=monkeypatch)
        assert used is expect_columnwise
        assert _counts(by_column) == _counts(by_row)
        assert (by_column.status, by_column.message) == (by_row.status, by_row.message)
    assert by_column.counts.stored == 0
    assert by_column.counts.duplicates + by_column.counts.rejected == by_column.counts.rows_in
    column, row = _snapshot("by-column"), _snapshot("by-row")
    assert column == row
    return column


@pytest.mark.parametrize(
    ("encoding", "newline"), [("utf-8", "\n"), ("utf-8", "\r\n"), ("gbk", "\n")]
)
def test_hard_cases_give_the_row_paths_results(db, tmp_path, monkeypatch, encoding, newline):
    monkeypatch.setattr(columnar, "BATCH_LINES", 7)  # duplicates across batches too
    path = _write(tmp_path / "p.csv", LINES, encoding, newline)
    seen = _compare(path, monkeypatch, expect_columnwise=True)
    stored = {r[0]: r for r in seen["records"]}
    # what the hard cases must come to (the row path's behaviour, checked above, is the same)
    assert stored["P002"][3]["id_number"] == "110105194912310022"  # checksums are not checked
    assert stored["P002"][3]["name"] == "李娜"  # the first of the duplicates
    assert stored["P003"][4]["id_number"][1] == "11010519491231002X"
    assert stored["P003"][3]["birth_date"] == "1949-12-31" and stored["P003"][3]["sex"] == "F"
    assert stored["P016"][4] == {"record_id": ["p016", "P016"]}
    assert stored["P018"][3]["name"] == "沈八\\x"
    assert stored["P013"][3]["address"] == LONG_ADDRESS
    assert "P004" not in stored and "Ｐ004" not in stored
    reasons = {d[0]: (d[2], d[3]) for d in seen["dead"]}
    assert reasons[19] == ("bad_columns", "第 19 行有 6 列，表头有 8 列")
    assert reasons[20][0] == "bad_columns"
    assert "超过 100 个字符" in reasons[15][1] and "超过 300 个字符" in reasons[17][1]
    assert "缺少必填字段「名称/姓名」" in reasons[11][1]
    # blank lines (6–8) are layout, not rows; every other line is counted once
    assert seen["runs"][0][0] == len(LINES) - 3
    assert not {6, 7, 8} & set(reasons)


def test_canonical_rows_never_take_the_row_path(db, tmp_path, monkeypatch):
    calls: list[int] = []
    real = columnar.validate_row
    monkeypatch.setattr(columnar, "validate_row", lambda *a, **k: calls.append(1) or real(*a, **k))
    lines = [
        f"Q{i:05d},张{i},11010519491231{i:04d},1990-01-0{i % 9 + 1},{'MF'[i % 2]},"
        f"1391234{i:04d},北京市{i}号,2026-11-05 08:{i % 60:02d}:00"
        for i in range(50)
    ]
    path = _write(tmp_path / "clean.csv", lines)
    seen = _compare(path, monkeypatch, expect_columnwise=True)
    assert calls == []
    assert len(seen["records"]) == 50 and seen["dead"] == []


@pytest.mark.parametrize("case", ["quoted", "stray_gbk_line", "missing_column", "extra_column"])
def test_files_it_does_not_take_go_the_row_path(db, tmp_path, monkeypatch, case):
    path = tmp_path / "p.csv"
    if case == "quoted":
        _write(path, [*LINES[:5], 'P040,"欧阳, 九",,,,,,', *LINES[8:]])
    elif case == "stray_gbk_line":
        _write(path, LINES)
        path.write_bytes(path.read_bytes() + "P041,赵敏,,,,,,\n".encode("gbk"))
    elif case == "missing_column":
        path.write_text("记录编号,身份证号\nP1,110105194912310021\n", encoding="utf-8")
    else:
        path.write_text(HEADER + ",籍贯\n" + LINES[0] + ",北京\n", encoding="utf-8")
    seen = _compare(path, monkeypatch, expect_columnwise=False)
    assert seen["runs"][0][0] > 0
