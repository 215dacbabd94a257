"""Scorecard exports: the Excel workbook, the A4 landscape PDF and the CLI command."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from govloop.cli import app as cli
from govloop.core.db import unit_of_work
from govloop.indicators import export_reports, scorecards
from tests.indicators.test_pages import client, data_dir, monday  # noqa: F401

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def cards():
    with unit_of_work() as s:
        return scorecards.scorecards(
            session=s, hall_code="H1", kinds=["staff", "window"], period_text="2026-11"
        )


def test_xlsx_has_a_sheet_per_kind_with_the_values(client):  # noqa: F811
    r = client.get("/indicators/scorecards.xlsx?hall=H1&object=staff&object=window&period=2026-11")
    assert r.status_code == 200, r.text
    assert "scorecards-H1-2026-11.xlsx" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["工作人员", "窗口"]
    expected = {c.object_kind: c for c in cards()}
    ws = wb["窗口"]
    assert "2026-11" in ws["B2"].value and ws["B3"].value == "v1"
    assert ws.freeze_panes == "C8"
    header = [c.value for c in ws[7]]
    assert header[:5] == ["排名", "对象", "综合得分", "上期得分", "较上期"]
    card = expected["window"]
    for i, row in enumerate(card.rows, start=8):
        assert ws.cell(row=i, column=1).value == row.rank
        assert ws.cell(row=i, column=2).value == row.label
        assert ws.cell(row=i, column=3).value == pytest.approx(row.overall)
        assert ws.cell(row=i, column=3).number_format == "0.0"
    col = header.index("平均等候时长（min）") + 1
    assert ws.cell(row=8, column=col).value == pytest.approx(
        card.rows[0].indicators["wait_mean"].value
    )
    assert len(ws.conditional_formatting) > 0
    # every kind when none is asked for
    r = client.get("/indicators/scorecards.xlsx?hall=H1&period=2026-11")
    assert load_workbook(io.BytesIO(r.content)).sheetnames == [
        "工作人员",
        "窗口",
        "部门",
        "事项",
        "大厅",
    ]


def test_pdf_is_a4_landscape_with_pages(client, tmp_path):  # noqa: F811
    r = client.get("/indicators/scorecards.pdf?hall=H1&object=window&period=2026-11")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    body = r.content
    assert body.startswith(b"%PDF")
    assert b"/Type /Page" in body and b"STSong-Light" in body
    assert b"/MediaBox [ 0 0 841.8898 595.2756 ]" in body  # A4 landscape
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: page 1 not rendered")
    pdf = tmp_path / "scorecards.pdf"
    pdf.write_bytes(body)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = ARTIFACTS / f"scorecards-pdf-{Path(str(tmp_path)).name}"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(prefix)], check=True
    )
    assert list(ARTIFACTS.glob(prefix.name + "*.png"))


def test_builders_handle_an_empty_month(monday):  # noqa: F811
    with unit_of_work() as s:
        empty = scorecards.scorecards(
            session=s, hall_code="H1", kinds=["staff"], period_text="2025-03"
        )
    assert empty[0].rows == []
    assert export_reports.build_pdf(empty).startswith(b"%PDF")
    wb = load_workbook(io.BytesIO(export_reports.build_xlsx(empty)))
    assert wb["工作人员"]["B8"].value == "本周期没有数据"


def test_cli_export_writes_a_file(monday, tmp_path):  # noqa: F811
    runner = CliRunner()
    out = tmp_path / "k.xlsx"
    args = ["indicators", "export", "--hall", "H1", "--period", "2026-11"]
    result = runner.invoke(cli, [*args, "--format", "xlsx", "--out", str(out), "--object", "staff"])
    assert result.exit_code == 0, result.output
    assert load_workbook(out).sheetnames == ["工作人员"]
    pdf = tmp_path / "k.pdf"
    result = runner.invoke(cli, [*args, "--format", "pdf", "--out", str(pdf)])
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    result = runner.invoke(cli, [*args, "--format", "doc", "--out", str(pdf)])
    assert result.exit_code == 1 and "未知的导出格式" in result.output
    result = runner.invoke(
        cli, ["indicators", "export", "--hall", "XX", "--period", "2026-11", "--out", str(pdf)]
    )
    assert result.exit_code == 1 and "未找到服务大厅" in result.output


def test_xlsx_writes_names_that_look_like_formulas_as_plain_strings():
    attack = "=cmd|' /C calc'!A0"
    card = scorecards.Scorecard(
        hall_code="H1",
        hall_name=attack,
        object_kind="staff",
        period="2026-11",
        start=date(2026, 11, 1),
        end=date(2026, 11, 30),
        previous_period=None,
        framework_version=1,
        materialized=True,
        dimensions=[scorecards.DimensionColumn("reliability", "@可靠性", "Reliability")],
        indicators=[],
        rows=[
            scorecards.ScorecardRow(
                object_id=1,
                label="+张三",
                overall=-3.5,
                overall_rag="red",
                rank=1,
                previous=None,
                delta=None,
                dimensions={},
                indicators={},
            )
        ],
    )
    ws = load_workbook(io.BytesIO(export_reports.build_xlsx([card])))["工作人员"]
    assert not [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert ws["A1"].value.startswith("'=cmd") and ws["A1"].data_type == "s"
    assert (ws["B8"].value, ws["B8"].data_type) == ("'+张三", "s")
    assert ws["C8"].value == -3.5  # numbers stay numbers
    assert "'@可靠性得分" in [c.value for c in ws[7]]
