"""Exports show text as text: formula-like cell text is neutralised and stored as a string."""

from __future__ import annotations

import io

from openpyxl import Workbook, load_workbook

from govloop.core.spreadsheet import neutralise, neutralise_row, workbook_bytes

ATTACK = "=cmd|' /C calc'!A0"


def test_neutralise_prefixes_every_formula_start_and_leaves_the_rest():
    for text in (ATTACK, "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "＝1+1"):
        assert neutralise(text) == "'" + text
    for value in ("张三", "a=b", "", None, -5, 3.5):
        assert neutralise(value) == value
    assert neutralise_row([ATTACK, 1, "x"]) == ["'" + ATTACK, 1, "x"]


def test_workbook_cells_read_back_as_strings_not_formulas():
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([ATTACK, "#N/A", "张三", -5])
    ws["A2"] = "=1+1"
    assert ws["A1"].data_type == "f"  # what openpyxl would otherwise write
    back = load_workbook(io.BytesIO(workbook_bytes(wb))).active
    assert back is not None
    assert [(c.value, c.data_type) for c in back[1]] == [
        ("'" + ATTACK, "s"),
        ("#N/A", "s"),
        ("张三", "s"),
        (-5, "n"),
    ]
    assert (back["A2"].value, back["A2"].data_type) == ("'=1+1", "s")
