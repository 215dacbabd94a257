"""Scorecard exports: an Excel workbook (openpyxl) and an A4 landscape PDF (reportlab).

Both take scorecards built by :mod:`govloop.indicators.scorecards` and return bytes.
Chinese text in the PDF uses reportlab's built-in CID font STSong-Light (no font file).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from govloop.core.clock import now, to_local
from govloop.core.spreadsheet import workbook_bytes
from govloop.indicators.scorecards import Rag, Scorecard

RAG_FILL = {"green": "C6EFCE", "amber": "FFEB9C", "red": "FFC7CE"}
RAG_TEXT = {"green": "达标", "amber": "接近", "red": "未达标"}
CJK_FONT = "STSong-Light"


def _trend(delta: float | None) -> str:
    if delta is None:
        return "—"
    if abs(delta) < 0.05:
        return "→ 0.0"
    return f"▲ +{delta:.1f}" if delta > 0 else f"▼ {delta:.1f}"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def filename(hall_code: str, period: str, ext: str) -> str:
    return f"scorecards-{hall_code}-{period}.{ext}"


# --- Excel ---------------------------------------------------------------------------------


def build_xlsx(cards: Sequence[Scorecard], *, generated: datetime | None = None) -> bytes:
    """A sheet per object kind: header rows (hall, period, version), a frozen table header,
    number formats and RAG fills by conditional formatting on a status column per figure."""
    from openpyxl import Workbook
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    stamp = to_local(generated or now()).strftime("%Y-%m-%d %H:%M")
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DCE6F1")
    for card in cards:
        ws = wb.create_sheet(title=card.kind_name_zh)
        ws["A1"] = f"{card.hall_name}（{card.hall_code}）· {card.kind_name_zh}月度考评"
        ws["A1"].font = Font(bold=True, size=14)
        ws["A2"] = "考评周期"
        ws["B2"] = f"{card.period}（{card.start.isoformat()} 至 {card.end.isoformat()}）"
        ws["A3"] = "指标体系版本"
        ws["B3"] = f"v{card.framework_version}" if card.framework_version else "默认（未入库）"
        ws["A4"] = "生成时间"
        ws["B4"] = stamp
        ws["A5"] = "颜色说明"
        ws["B5"] = "绿：达到目标；黄：差距在目标的 10% 以内；红：差距超过 10%"
        header_row = 7
        headers: list[str] = ["排名", "对象", "综合得分", "上期得分", "较上期"]
        headers += [f"{d.name_zh}得分" for d in card.dimensions]
        for ind in card.indicators:
            unit = f"（{ind.unit}）" if ind.unit else ""
            headers += [f"{ind.name_zh}{unit}", f"{ind.name_zh}目标"]
        # status columns (hidden) drive the conditional fills
        first_status = len(headers) + 1
        status_of: dict[int, int] = {}  # data column → its status column
        figure_cols = [3] + [6 + i for i in range(len(card.dimensions))]
        figure_cols += [6 + len(card.dimensions) + 2 * i for i in range(len(card.indicators))]
        for offset, col in enumerate(figure_cols):
            status_of[col] = first_status + offset
            headers.append(f"状态:{headers[col - 1]}")
        for col, text in enumerate(headers, start=1):
            cell = ws.cell(row=header_row, column=col, value=text)
            cell.font = bold
            cell.fill = head_fill
            cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        for r, row in enumerate(card.rows, start=header_row + 1):
            ws.cell(row=r, column=1, value=row.rank)
            ws.cell(row=r, column=2, value=row.label)
            values: list[tuple[float | None, str, Rag | None]] = [
                (row.overall, "0.0", row.overall_rag),
                (row.previous, "0.0", None),
                (row.delta, "+0.0;-0.0;0.0", None),
            ]
            for d in card.dimensions:
                s, status = row.dimensions.get(d.code, (None, None))
                values.append((s, "0.0", status))
            for ind in card.indicators:
                cell = row.indicators.get(ind.code)
                fmt = "0.0%" if ind.unit in ("%", "ratio") or ind.code.endswith("_rate") else "0.00"
                values.append((cell.value if cell else None, fmt, cell.rag if cell else None))
                values.append((cell.target if cell else None, fmt, None))
            statuses: dict[int, Rag | None] = {}
            for c, (value, fmt, status) in enumerate(values, start=3):
                target = ws.cell(row=r, column=c, value=value)
                target.number_format = fmt
                if c in status_of:
                    statuses[c] = status
            for c, status in statuses.items():
                ws.cell(row=r, column=status_of[c], value=RAG_TEXT[status] if status else None)
        last = header_row + max(len(card.rows), 1)
        for col, status_col in status_of.items():
            letter = get_column_letter(col)
            status_letter = get_column_letter(status_col)
            ref = f"{letter}{header_row + 1}:{letter}{last}"
            for rag_name, color in RAG_FILL.items():
                ws.conditional_formatting.add(
                    ref,
                    FormulaRule(
                        formula=[f'${status_letter}{header_row + 1}="{RAG_TEXT[rag_name]}"'],
                        fill=PatternFill("solid", start_color=color, end_color=color),
                    ),
                )
        ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
        ws.column_dimensions["A"].width = 12
        ws.column_dimensions["B"].width = 22
        for col in range(3, len(headers) + 1):
            ws.column_dimensions[get_column_letter(col)].width = 13
        ws.row_dimensions[header_row].height = 45
        for status_col in status_of.values():
            ws.column_dimensions[get_column_letter(status_col)].hidden = True
        if not card.rows:
            ws.cell(row=header_row + 1, column=2, value="本周期没有数据")
    if not wb.worksheets:
        wb.create_sheet("考评")
    # names of halls, staff, windows and items are typed by people: text stays text
    return workbook_bytes(wb)


# --- PDF -----------------------------------------------------------------------------------


def build_pdf(cards: Sequence[Scorecard], *, generated: datetime | None = None) -> bytes:
    """A4 landscape: per object kind a title, the period and framework version, and a
    table of overall, trend and dimension scores with RAG colours, then the indicators."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import (
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    stamp = to_local(generated or now()).strftime("%Y-%m-%d %H:%M")
    title = ParagraphStyle("title", fontName=CJK_FONT, fontSize=16, leading=22, spaceAfter=4)
    meta = ParagraphStyle("meta", fontName=CJK_FONT, fontSize=9, leading=13)
    cell_style = ParagraphStyle("cell", fontName=CJK_FONT, fontSize=7.5, leading=9)
    fills = {k: colors.HexColor("#" + v) for k, v in RAG_FILL.items()}

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title="月度考评",
        author="govloop",
    )
    story: list[Any] = []
    for n, card in enumerate(cards):
        if n:
            story.append(PageBreak())
        story.append(
            Paragraph(f"{card.hall_name}｜{card.kind_name_zh}月度考评（{card.period}）", title)
        )
        version = f"v{card.framework_version}" if card.framework_version else "默认"
        story.append(
            Paragraph(
                f"考评周期 {card.start.isoformat()} 至 {card.end.isoformat()}｜"
                f"指标体系 {version}｜对比上期 {card.previous_period or '—'}｜生成于 {stamp}"
                "｜绿：达标；黄：差距在 10% 以内；红：差距超过 10%",
                meta,
            )
        )
        story.append(Spacer(1, 4 * mm))
        if not card.rows:
            story.append(Paragraph("本周期没有数据。", meta))
            continue
        header = ["排名", "对象", "综合得分", "较上期"] + [d.name_zh for d in card.dimensions]
        data: list[list[object]] = [[Paragraph(h, cell_style) for h in header]]
        style = [
            ("FONT", (0, 0), (-1, -1), CJK_FONT, 8),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DCE6F1")),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9CA3AF")),
            ("ALIGN", (2, 1), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
        for r, row in enumerate(card.rows, start=1):
            line: list[object] = [
                str(row.rank or "—"),
                Paragraph(row.label, cell_style),
                _fmt(row.overall, 1),
                _trend(row.delta),
            ]
            if row.overall_rag:
                style.append(("BACKGROUND", (2, r), (2, r), fills[row.overall_rag]))
            for c, d in enumerate(card.dimensions, start=4):
                s, status = row.dimensions.get(d.code, (None, None))
                line.append(_fmt(s, 1))
                if status:
                    style.append(("BACKGROUND", (c, r), (c, r), fills[status]))
            data.append(line)
        widths = [12 * mm, 45 * mm, 22 * mm, 22 * mm] + [24 * mm] * len(card.dimensions)
        table = Table(data, colWidths=widths, repeatRows=1)
        table.setStyle(TableStyle(style))
        story.append(table)
        story.append(Spacer(1, 5 * mm))
        # indicators: one row per indicator, one column per object (at most 8 per table)
        for chunk_start in range(0, len(card.rows), 8):
            chunk = card.rows[chunk_start : chunk_start + 8]
            head = ["指标", "目标"] + [r.label for r in chunk]
            idata: list[list[object]] = [[Paragraph(h, cell_style) for h in head]]
            istyle = [*style[:4], ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
            for i, ind in enumerate(card.indicators, start=1):
                unit = f"（{ind.unit}）" if ind.unit else ""
                targets = {
                    row.indicators[ind.code].target for row in chunk if ind.code in row.indicators
                }
                targets.discard(None)
                target = _fmt(next(iter(targets))) if len(targets) == 1 else "按对象"
                line = [Paragraph(f"{ind.name_zh}{unit}", cell_style), target]
                for c, row in enumerate(chunk, start=2):
                    cell = row.indicators.get(ind.code)
                    line.append(_fmt(cell.value if cell else None))
                    if cell and cell.rag:
                        istyle.append(("BACKGROUND", (c, i), (c, i), fills[cell.rag]))
                idata.append(line)
            iwidths = [52 * mm, 18 * mm] + [25 * mm] * len(chunk)
            itable = Table(idata, colWidths=iwidths, repeatRows=1)
            itable.setStyle(TableStyle(istyle))
            story.append(itable)
            story.append(Spacer(1, 4 * mm))
    if not story:
        story.append(Paragraph("没有可导出的考评。", meta))
    doc.build(story)
    return buffer.getvalue()
