"""问题数据反馈清单: the problem records to send back to a source department, as Excel.

One workbook per source: a summary sheet (X = A / B per dimension), the stored records with a
failing check (one row per problem, with the file and row it came from), and the rows that
were never stored (open dead letters) with the reason.
"""

from __future__ import annotations

from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from govloop.core.clock import to_local
from govloop.core.errors import NotFound
from govloop.core.spreadsheet import workbook_bytes
from govloop.ingest import records as ingest_records
from govloop.ingest.schemas import FIELD_NAMES
from govloop.subjects.quality import DIMENSIONS, assess, dimension_scores

HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFF")

# the declared fields in words (ingest's table), and the one field only subjects hold
FIELD_LABELS = {**FIELD_NAMES, "bank_card": "银行卡号"}


def _sheet(ws: Worksheet, headers: list[str], widths: list[int]) -> None:
    ws.append(headers)
    for cell in ws[1]:
        cell.fill = HEADER_FILL
        cell.font = HEADER_FONT
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.freeze_panes = "A2"


def feedback_workbook(*, session: Session, source_key: str, today: date | None = None) -> bytes:
    reports = {r.source_key: r for r in assess(session=session, today=today)}
    rejected = ingest_records.open_dead_letters(session=session, source_key=source_key)
    report = reports.get(source_key)
    if report is None and not rejected:
        raise NotFound(f"数据源 {source_key} 没有主题数据", code="unknown_source")
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = "质量概况"
    _sheet(summary, ["维度", "得分 X = A / B"], [16, 18])
    if report is not None:
        for dimension, score in dimension_scores(report).items():
            summary.append([DIMENSIONS[dimension], None if score is None else round(score, 4)])
    problems = wb.create_sheet("问题数据")
    _sheet(
        problems,
        ["记录编号", "来源文件", "行号", "字段", "质量维度", "原值", "问题"],
        [18, 24, 8, 18, 10, 28, 48],
    )
    if report is not None:
        failures = sorted(
            (p for tally in report.tallies.values() for p in tally.failures),
            key=lambda p: (p.record.id, p.field),
        )
        for p in failures:
            problems.append(
                [
                    p.record.event_id,
                    p.record.file_name,
                    p.record.row_number,
                    FIELD_LABELS.get(p.field, p.field),
                    DIMENSIONS[p.dimension],
                    None if p.value is None else str(p.value),
                    p.problem,
                ]
            )
    problems.auto_filter.ref = problems.dimensions
    dead = wb.create_sheet("未入库记录")
    _sheet(dead, ["来源文件", "行号", "原始内容", "原因", "接收时间"], [24, 8, 60, 48, 20])
    for row in rejected:
        dead.append(
            [
                row.file_name,
                row.row_number,
                row.raw[:2000],
                row.reason,
                to_local(row.created_at).strftime("%Y-%m-%d %H:%M"),
            ]
        )
    # department data goes back to the department: text stays text (no formulas)
    return workbook_bytes(wb)
