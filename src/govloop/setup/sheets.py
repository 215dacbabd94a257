"""The 事项清单 workbook: its sheets and columns, reading it (Excel, or one CSV per sheet in
UTF-8 or GBK) and writing it (the empty template, or the current configuration)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from govloop.core.errors import BadRequest
from govloop.core.spreadsheet import workbook_bytes

DEPARTMENTS, HALLS, ITEMS, WINDOWS, QUOTAS, USERS = (
    "部门",
    "大厅",
    "事项",
    "窗口",
    "预约号源",
    "人员",
)

COLUMNS: dict[str, tuple[str, ...]] = {
    DEPARTMENTS: ("部门编码", "部门名称", "上级部门编码"),
    HALLS: ("大厅编码", "大厅名称", "地址", "工作日开放时间", "周末开放"),
    ITEMS: (
        "事项编码",
        "事项名称",
        "部门编码",
        "取号前缀",
        "法定时限(工作日)",
        "承诺时限(工作日)",
        "平均办理分钟",
        "收费标准",
        "申请材料",
        "可网办",
        "可自助",
        "可邮寄",
    ),
    WINDOWS: ("大厅编码", "窗口号", "窗口名称", "窗口类型", "可办事项"),
    QUOTAS: ("大厅编码", "事项编码", "星期", "时段", "号源数"),
    USERS: ("用户名", "姓名", "角色", "部门编码", "大厅编码"),
}
# the order sheets are checked and applied in: what a row refers to comes first
ORDER = (DEPARTMENTS, HALLS, ITEMS, WINDOWS, QUOTAS, USERS)

EXAMPLES: dict[str, tuple[str, ...]] = {
    DEPARTMENTS: ("RSJ", "市人力资源和社会保障局", ""),
    HALLS: ("CITY", "市民中心政务服务大厅", "市民大道 1 号", "09:00-12:00,13:30-17:00", "周六"),
    ITEMS: (
        "SB01",
        "社会保险参保登记",
        "RSJ",
        "A",
        "20",
        "5",
        "12",
        "不收费",
        "身份证原件；参保登记表",
        "是",
        "否",
        "否",
    ),
    WINDOWS: ("CITY", "1", "综合受理 1 号窗", "综合", "全部"),
    QUOTAS: ("CITY", "SB01", "周一", "09:00-09:30", "6"),
    USERS: ("zhangsan", "张三", "window_staff", "RSJ", "CITY"),
}

XLSX_MAGIC = b"PK\x03\x04"


@dataclass
class Sheet:
    """The data rows of one sheet: ``rows[i]`` is spreadsheet row ``numbers[i]`` (the
    header is row 1), each a mapping from column name to the cell's text."""

    name: str
    rows: list[dict[str, str]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)

    def entries(self) -> list[tuple[int, dict[str, str]]]:
        return list(zip(self.numbers, self.rows, strict=True))


def cell_text(value: Any) -> str:
    """A cell as text: whole numbers without ``.0``, times as HH:MM, the rest stripped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, time):
        return f"{value:%H:%M}"
    text = str(value).strip()
    # a cell an export neutralised ('=…) reads back as the text it was
    return text[1:] if text.startswith("'") and len(text) > 1 else text


def _sheet(name: str, lines: Iterable[Sequence[Any]]) -> Sheet:
    rows = iter(lines)
    header = [cell_text(h) for h in next(rows, [])]
    expected = COLUMNS[name]
    missing = [c for c in expected if c not in header]
    if missing:
        raise BadRequest(
            f"工作表“{name}”缺少列：{'、'.join(missing)}（列名须与模板一致）",
            code="missing_columns",
            sheet=name,
            columns=missing,
        )
    index = {c: header.index(c) for c in expected}
    sheet = Sheet(name)
    for number, line in enumerate(rows, start=2):
        cells = list(line)
        values = {c: cell_text(cells[i]) if i < len(cells) else "" for c, i in index.items()}
        if any(values.values()):  # blank lines in a spreadsheet are not rows
            sheet.rows.append(values)
            sheet.numbers.append(number)
    return sheet


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadRequest("CSV 文件既不是 UTF-8 也不是 GBK 编码", code="bad_encoding")


def read_xlsx(data: bytes) -> dict[str, Sheet]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise BadRequest(
            "无法读取该 Excel 文件，请使用模板另存为 .xlsx", code="bad_workbook"
        ) from exc
    sheets = {
        name: _sheet(name, book[name].iter_rows(values_only=True))
        for name in ORDER
        if name in book.sheetnames
    }
    book.close()
    if not sheets:
        raise BadRequest(
            f"工作簿中没有可导入的工作表（应为：{'、'.join(ORDER)}）", code="no_sheets"
        )
    return sheets


def read_csv(name: str, data: bytes) -> Sheet:
    """One sheet from a CSV file named after it (``事项.csv``)."""
    sheet = Path(name).stem.strip()
    if sheet not in COLUMNS:
        raise BadRequest(
            f"CSV 文件名“{name}”应为工作表名之一：{'、'.join(ORDER)}", code="unknown_sheet"
        )
    return _sheet(sheet, csv.reader(io.StringIO(_decode(data))))


def read_files(files: Sequence[tuple[str, bytes]]) -> dict[str, Sheet]:
    """An .xlsx workbook, or one CSV file per sheet."""
    if not files:
        raise BadRequest("请选择要导入的 .xlsx 工作簿或 CSV 文件", code="no_file")
    if len(files) == 1 and (files[0][1].startswith(XLSX_MAGIC) or files[0][0].endswith(".xlsx")):
        return read_xlsx(files[0][1])
    sheets: dict[str, Sheet] = {}
    for name, data in files:
        if data.startswith(XLSX_MAGIC):
            raise BadRequest("一次只能导入一个 Excel 工作簿", code="one_workbook")
        sheet = read_csv(name, data)
        if sheet.name in sheets:
            raise BadRequest(f"工作表“{sheet.name}”上传了两次", code="duplicate_sheet")
        sheets[sheet.name] = sheet
    return sheets


def write(rows: dict[str, list[tuple[Any, ...]]]) -> bytes:
    """A workbook with every sheet of the template, header first, then ``rows``."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for name in ORDER:
        sheet = book.create_sheet(name)
        sheet.append(list(COLUMNS[name]))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows.get(name, []):
            sheet.append(["" if v is None else v for v in row])
        for i, column in enumerate(COLUMNS[name], start=1):
            sheet.column_dimensions[sheet.cell(1, i).column_letter].width = max(
                12, len(column) * 2 + 4
            )
    return workbook_bytes(book)


GUIDE_SHEET = "填写说明"
GUIDE = (
    "每个工作表的第一行是列名，请勿修改；从第二行起每行一条。"
    "编码是唯一标识：再次导入同一文件不会重复创建。",
    "工作日开放时间：用逗号分隔的时段，如 09:00-12:00,13:30-17:00（午休不取号）。"
    "周末开放：否、周六 或 周六,周日。",
    "申请材料用全角分号“；”分隔；可网办、可自助、可邮寄填 是 或 否；时限以工作日计。",
    "窗口类型：综合 或 专窗；可办事项：事项编码，用逗号分隔，或填 全部。",
    "预约号源：星期填 周一…周日 或 每天；时段如 09:00-09:30；号源数为正整数。",
    "人员角色：admin、hall_manager、window_staff、hotline_agent、department_handler、"
    "data_steward、auditor、field_staff，或其中文名称。新用户的一次性密码只显示一次。",
    "整个工作簿先全部检查：任何一行有错，都不会导入任何内容。",
)


def template() -> bytes:
    """The empty template: every sheet's header, and a sheet that explains each column with
    an example row (the reader ignores it)."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(write({})))
    guide = book.create_sheet(GUIDE_SHEET)
    guide.column_dimensions["A"].width = 110
    for line in GUIDE:
        guide.append([line])
    guide.append([])
    for name in ORDER:
        guide.append([f"示例 · {name}"])
        guide.append(list(COLUMNS[name]))
        guide.append(list(EXAMPLES[name]))
        guide.append([])
    return workbook_bytes(book)
