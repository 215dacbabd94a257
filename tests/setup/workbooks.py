"""Building 事项清单 workbooks for the tests, as a centre would fill the template in."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook

from govloop.setup import sheets

# Two departments under a parent, a hall with a lunch break that opens on Saturdays and one
# without, a general and a dedicated window, one quota, a clerk and a department handler.
GOOD: dict[str, list[tuple[Any, ...]]] = {
    sheets.DEPARTMENTS: [
        ("ZF", "市政府办公厅", ""),
        ("RSJ", "市人力资源和社会保障局", "ZF"),
        ("GAJ", "市公安局", "ZF"),
    ],
    sheets.HALLS: [
        ("CITY", "市民中心政务服务大厅", "市民大道 1 号", "09:00-12:00,13:30-17:00", "周六"),
        ("EAST", "东区便民服务中心", "", "08:30-17:30", "否"),
    ],
    sheets.ITEMS: [
        (
            "SB01",
            "社会保险参保登记",
            "RSJ",
            "A",
            20,
            5,
            12,
            "不收费",
            "身份证原件；参保登记表",
            "是",
            "否",
            "否",
        ),
        (
            "GA01",
            "居民身份证申领",
            "GAJ",
            "B",
            30,
            7,
            15,
            "20元",
            "户口簿；照片回执",
            "否",
            "是",
            "是",
        ),
    ],
    sheets.WINDOWS: [
        ("CITY", 1, "综合受理 1 号窗", "综合", "全部"),
        ("CITY", 2, "公安专窗", "专窗", "GA01"),
        ("EAST", 1, "社保专窗", "专窗", "SB01"),
    ],
    sheets.QUOTAS: [("CITY", "SB01", "周一", "09:00-09:30", 6)],
    sheets.USERS: [
        ("clerk1", "王小明", "window_staff", "RSJ", "CITY"),
        ("handler1", "李华", "承办单位", "GAJ", ""),
    ],
}


def workbook(rows: dict[str, list[tuple[Any, ...]]]) -> bytes:
    """The template with ``rows`` filled in below each header."""
    book = load_workbook(io.BytesIO(sheets.template()))
    for name, lines in rows.items():
        for line in lines:
            book[name].append(list(line))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_rows(**changes: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    """GOOD with some sheets replaced (keyword: the sheet's constant name in ``sheets``)."""
    out = dict(GOOD)
    for constant, lines in changes.items():
        out[getattr(sheets, constant)] = lines
    return out
