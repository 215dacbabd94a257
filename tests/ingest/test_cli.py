"""The `govloop ingest` commands: declare a source, load a file with a final count table,
list and replay dead letters, export to Parquet."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from govloop.cli import app
from govloop.core.db import unit_of_work
from govloop.ingest.models import DeadLetter, IngestedRecord

runner = CliRunner()


def test_add_source_load_replay_export(db, tmp_path):
    mapping = json.dumps({"编号": "record_id", "姓名": "name"}, ensure_ascii=False)
    r = runner.invoke(
        app,
        [
            "ingest",
            "add-source",
            "civil",
            "--name",
            "民政局",
            "--schema",
            "person_record",
            "--mapping",
            mapping,
        ],
    )
    assert r.exit_code == 0, r.output
    bad = runner.invoke(app, ["ingest", "add-source", "x", "--name", "x", "--schema", "nope"])
    assert bad.exit_code == 1 and "未知的数据模式" in bad.output
    key = runner.invoke(app, ["ingest", "issue-key", "civil"])
    assert key.exit_code == 0 and key.output.strip().startswith("gl_civil_")
    path = tmp_path / "p.csv"
    path.write_bytes("编号,姓名\nP1,张伟\nP2,\n".encode("gbk"))
    r = runner.invoke(app, ["ingest", "load", str(path), "--source", "civil", "--json"])
    assert r.exit_code == 0, r.output
    counts = json.loads(r.output.strip().splitlines()[-1])
    assert (counts["stored"], counts["rejected"], counts["encoding"]) == (1, 1, "gb18030")
    table = runner.invoke(app, ["ingest", "load", str(path), "--source", "civil"])
    assert table.exit_code == 0 and "重复" in table.output  # the final count table
    listed = runner.invoke(app, ["ingest", "dead-letters", "--source", "civil"])
    assert "缺少必填字段「名称/姓名」" in listed.output
    with unit_of_work(readonly=True) as s:
        dead_id = s.scalar(select(DeadLetter.id).where(DeadLetter.row_number == 3))
    r = runner.invoke(
        app, ["ingest", "replay", str(dead_id), "--corrected", '{"编号": "P2", "姓名": "李娜"}']
    )
    assert r.exit_code == 0 and "已存储 1 条" in r.output, r.output
    with unit_of_work(readonly=True) as s:
        assert set(s.scalars(select(IngestedRecord.event_id))) == {"P1", "P2"}
    r = runner.invoke(app, ["ingest", "export", "--data-dir", str(tmp_path / "data")])
    assert r.exit_code == 0 and "已导出 2 条记录" in r.output
    assert runner.invoke(app, ["ingest", "sources"]).exit_code == 0
    assert "#" in runner.invoke(app, ["ingest", "runs"]).output
