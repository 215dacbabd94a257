"""Spreadsheet exports that show text as text (no formula injection).

A cell text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken
by Excel and WPS as a formula, so a value that came from outside (a department's CSV row,
a name typed into a form) could run something on the computer of whoever opens the export:
``=cmd|' /C calc'!A0``. Every export goes through this module: :func:`neutralise` puts an
apostrophe before such a text (the OWASP advice for CSV; kept as part of the text, so the
cell stays inert even after it is edited or the sheet is saved as CSV again), and
:func:`workbook_bytes` does that to every text cell of a workbook and stores each one as a
string, never as a formula, before saving.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # openpyxl is loaded by the exports that build a workbook
    from openpyxl import Workbook

# full-width forms too: an input method in Chinese mode types them, and they are easily
# turned into the ASCII ones
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def neutralise(value: Any) -> Any:
    """The value to write in a cell (worksheet or CSV): a text a spreadsheet would take as a
    formula gets a leading apostrophe; anything else (numbers, dates, None) is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_row(values: Iterable[Any]) -> list[Any]:
    """A row for ``csv.writer`` or ``Worksheet.append``."""
    return [neutralise(v) for v in values]


def workbook_bytes(workbook: Workbook) -> bytes:
    """The workbook as .xlsx bytes, every text cell neutralised and typed as a string."""
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.value = neutralise(cell.value)
                    cell.data_type = "s"  # not "f" (formula) nor "e" (an error code)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
