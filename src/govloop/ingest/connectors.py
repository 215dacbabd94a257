"""File connectors: CSV (UTF-8, UTF-8 with BOM, GB18030/GBK), Excel (.xlsx) and JSON lines.

Each connector streams :class:`RawRow` objects keyed by the file's own column names, so a
large file never sits in memory. A row the connector cannot read (an undecodable line, a
malformed JSON line, a file whose header lacks required columns) is still yielded, with
``error`` set, so the pipeline puts it in the dead-letter store: nothing is dropped.

Encoding is decided by a strict decode cascade over every line (UTF-8 first, since GBK
text is almost never valid UTF-8, then GB18030, a superset of GBK). Lines the chosen
encoding cannot decode become dead letters with their bytes shown escaped; a file that is
neither encoding (its header does not decode, or most lines do not) fails as a whole.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np

from govloop.core.input_guard import InputRefused, loads_json
from govloop.ingest.pipeline import RawRow
from govloop.ingest.schemas import SCHEMAS

Progress = Callable[[int], None]  # called with the bytes (or rows, for Excel) consumed so far

UTF8_BOM = b"\xef\xbb\xbf"
ENCODINGS = ("utf-8", "gb18030")
_LONE_CR = re.compile(rb"\r(?!\n)")


@dataclass
class FileInfo:
    """What a scan of the file found before its rows are read."""

    path: Path
    size: int
    sha256: str
    encoding: str | None = None  # None for .xlsx
    bad_lines: int = 0
    lines: int = 0
    failure: str | None = None  # set when the file as a whole cannot be read
    longest_line: int = 0  # bytes, with its line break
    quoted: bool = False  # a double quote somewhere: fields may span lines
    lone_cr: bool = False  # a carriage return not followed by a line feed


@dataclass
class HeaderCheck:
    missing: list[str] = field(default_factory=list)  # required schema fields not provided
    undeclared: list[str] = field(default_factory=list)  # columns the schema does not know

    @property
    def message(self) -> str | None:
        parts = []
        if self.missing:
            parts.append(f"缺少必填列：{'、'.join(self.missing)}")
        if self.undeclared:
            parts.append(f"未声明的列：{'、'.join(self.undeclared)}")
        return "；".join(parts) or None


def file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return "xlsx"
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    return "csv"


def _decode(line: bytes, encoding: str) -> str | None:
    if b"\x00" in line:  # UTF-16 or binary: "decodes" as UTF-8 but is not text we can read
        return None
    try:
        return line.decode(encoding)
    except UnicodeDecodeError:
        return None


def _decodes(line: bytes, encoding: str) -> bool:
    return _decode(line, encoding) is not None


BLOCK = 4 << 20  # bytes read at a time; blocks end at a line break


def line_blocks(path: Path, size: int = BLOCK) -> Iterator[bytes]:
    """The file in blocks of whole lines (the last block may lack its final line break)."""
    with path.open("rb") as fh:
        carry = b""
        while chunk := fh.read(size):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            carry = data[cut:]
            yield data[:cut]
        if carry:
            yield carry


def _bad_lines(block: bytes, encoding: str, first: bool) -> tuple[int, bool]:
    """(lines of the block that do not decode, whether its first line does). A block that
    decodes whole has no bad line: UTF-8 and GB18030 sequences never contain a line break."""
    if b"\x00" not in block and _decodes(block, encoding):
        return 0, True
    lines = block.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    bad = [not _decodes(line, encoding) for line in lines]
    return sum(bad), not (first and bad[0])


def scan_file(path: Path) -> FileInfo:
    """SHA-256 of the file and its encoding, decided over every line (one streaming pass,
    a block of lines at a time), and the layout facts the column-wise reader needs."""
    digest = hashlib.sha256()
    size = 0
    lines = 0
    longest = 0
    quoted = lone_cr = False
    bad = dict.fromkeys(ENCODINGS, 0)
    header_ok = dict.fromkeys(ENCODINGS, True)
    bom = False
    for number, block in enumerate(line_blocks(path)):
        digest.update(block)
        size += len(block)
        breaks = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
        lines += len(breaks) + (0 if block.endswith(b"\n") else 1)
        ends = np.append(breaks, len(block) - 1)
        longest = max(longest, int(np.diff(ends, prepend=-1).max()))
        quoted = quoted or b'"' in block
        lone_cr = lone_cr or _LONE_CR.search(block) is not None
        if number == 0 and block.startswith(UTF8_BOM):
            bom = True
            block = block[3:]
        count, first_ok = _bad_lines(block, "utf-8", number == 0)
        bad["utf-8"] += count
        header_ok["utf-8"] = header_ok["utf-8"] and first_ok
    if bad["utf-8"] and not bom and file_kind(path) != "xlsx":
        # only a file that is not clean UTF-8 needs the second candidate counted
        for number, block in enumerate(line_blocks(path)):
            count, first_ok = _bad_lines(block, "gb18030", number == 0)
            bad["gb18030"] += count
            header_ok["gb18030"] = header_ok["gb18030"] and first_ok
    info = FileInfo(
        path=path,
        size=size,
        sha256=digest.hexdigest(),
        lines=lines,
        longest_line=longest,
        quoted=quoted,
        lone_cr=lone_cr,
    )
    if file_kind(path) == "xlsx":
        return info
    if bom:
        info.encoding, info.bad_lines = "utf-8-sig", bad["utf-8"]
    else:
        # the encoding that reads the header and the most lines; UTF-8 wins ties
        usable = [e for e in ENCODINGS if header_ok[e]]
        best = min(usable or ENCODINGS, key=lambda e: bad[e])
        info.encoding, info.bad_lines = best, bad[best]
        if not usable or bad[best] * 2 > max(lines, 1):
            info.failure = (
                "文件编码无法识别：既不是 UTF-8 也不是 GBK/GB18030"
                f"（{lines} 行中有 {bad[best]} 行无法解码）"
            )
    return info


def check_header(columns: list[str], *, schema_name: str, mapping: dict[str, str]) -> HeaderCheck:
    """Required fields missing after mapping, and columns the schema does not declare."""
    model = SCHEMAS[schema_name][0]
    fields = model.model_fields
    mapped = {mapping.get(c, c) for c in columns}
    missing = [
        f"{name}（{_source_name(name, mapping)}）" if _source_name(name, mapping) else name
        for name, info in fields.items()
        if info.is_required() and name not in mapped
    ]
    undeclared = [c for c in columns if mapping.get(c, c) not in fields]
    return HeaderCheck(missing=missing, undeclared=undeclared)


def _source_name(field_name: str, mapping: dict[str, str]) -> str | None:
    names = [column for column, target in mapping.items() if target == field_name]
    return "/".join(names) or None


def _escaped(line: bytes) -> str:
    # bytes that are not UTF-8 shown as \xNN; NUL too (PostgreSQL text cannot hold it)
    text = line.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
    return text.replace("\x00", "\\x00")


# --- CSV ----------------------------------------------------------------------------------


def read_csv(
    info: FileInfo,
    *,
    header_error: Callable[[list[str]], str | None] | None = None,
    progress: Progress | None = None,
) -> Iterator[RawRow]:
    """Rows of a CSV file as dicts keyed by its header; row numbers are line numbers (the
    header is line 1). Undecodable lines, and every row when the file cannot be read or its
    header is refused, are yielded as errors."""
    encoding = info.encoding or "utf-8"
    codec = encoding.removesuffix("-sig")
    failure = info.failure
    pending: list[RawRow] = []
    with info.path.open("rb") as fh:
        consumed = 0
        line_number = 0

        def text_lines() -> Iterator[str]:
            nonlocal consumed, line_number
            for line in fh:
                consumed += len(line)
                line_number += 1
                if line_number == 1 and encoding == "utf-8-sig":
                    line = line.removeprefix(UTF8_BOM)
                text = _decode(line, codec)
                if text is None:
                    pending.append(
                        RawRow(
                            {},
                            line_number,
                            raw=_escaped(line),
                            error=("bad_encoding", f"第 {line_number} 行无法按 {encoding} 解码"),
                        )
                    )
                    continue
                yield text

        if failure:
            for line in fh:
                line_number += 1
                consumed += len(line)
                yield RawRow({}, line_number, raw=_escaped(line), error=("bad_encoding", failure))
                if progress:
                    progress(consumed)
            return
        reader = csv.reader(text_lines())
        header: list[str] | None = None
        refused: str | None = None
        for cells in reader:
            yield from pending
            pending.clear()
            if header is None:
                header = [c.strip().lstrip("\ufeff") for c in cells]
                refused = header_error(header) if header_error else None
                continue
            if not "".join(cells).strip():
                continue  # an empty line (or one of bare commas) is layout, not a row
            number = line_number
            if refused:
                yield RawRow(
                    dict(zip(header, cells, strict=False)), number, error=("bad_header", refused)
                )
            elif len(cells) != len(header):
                yield RawRow(
                    {},
                    number,
                    raw=",".join(cells),
                    error=(
                        "bad_columns",
                        f"第 {number} 行有 {len(cells)} 列，表头有 {len(header)} 列",
                    ),
                )
            else:
                yield RawRow(dict(zip(header, cells, strict=True)), number)
            if progress and number % 2000 == 0:
                progress(consumed)
        yield from pending
        if progress:
            progress(consumed)


def csv_header(info: FileInfo) -> list[str]:
    if info.failure:
        return []
    encoding = info.encoding or "utf-8"
    with info.path.open(encoding=encoding, newline="", errors="replace") as fh:
        first = next(csv.reader(fh), [])
    return [c.strip().lstrip("\ufeff") for c in first]


# --- Excel --------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """Excel cells as the text a CSV export would carry: numbers that are whole stay whole
    (a record id typed as 1001 must not become "1001.0"), times as ISO text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


def xlsx_header(path: Path) -> list[str]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(min_row=1, max_row=1, values_only=True):
            return [str(c).strip() if c is not None else "" for c in row]
        return []
    finally:
        workbook.close()


def read_xlsx(
    path: Path,
    *,
    header_error: Callable[[list[str]], str | None] | None = None,
    progress: Progress | None = None,
) -> Iterator[RawRow]:
    """Rows of the first sheet (openpyxl read-only mode streams the sheet)."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        header: list[str] | None = None
        refused: str | None = None
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if header is None:
                header = [str(c).strip() if c is not None else "" for c in row]
                refused = header_error(header) if header_error else None
                continue
            cells = [_cell(c) for c in row]
            if not any(c not in (None, "") for c in cells):
                continue
            values = {h: v for h, v in zip(header, cells, strict=False) if h}
            if refused:
                yield RawRow(values, number, error=("bad_header", refused))
            else:
                yield RawRow(values, number)
            if progress and number % 2000 == 0:
                progress(number)
    finally:
        workbook.close()


# --- JSON lines ---------------------------------------------------------------------------


def read_jsonl(info: FileInfo, *, progress: Progress | None = None) -> Iterator[RawRow]:
    """One JSON object per line; a malformed line is a dead letter with its line number."""
    consumed = 0
    with info.path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            consumed += len(line)
            if progress and number % 2000 == 0:
                progress(consumed)
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                yield RawRow(
                    {},
                    number,
                    raw=_escaped(line),
                    error=("bad_encoding", f"第 {number} 行不是 UTF-8 编码（JSON 行须为 UTF-8）"),
                )
                continue
            try:
                value = loads_json(text)
            except InputRefused as exc:
                yield RawRow(
                    {},
                    number,
                    raw=text.rstrip("\r\n").replace("\x00", "\\x00"),
                    error=("malformed_json", f"第 {number} 行：{exc.problem.message}"),
                )
                continue
            except json.JSONDecodeError as exc:
                yield RawRow(
                    {},
                    number,
                    raw=text.rstrip("\r\n"),
                    error=(
                        "malformed_json",
                        f"第 {number} 行不是合法的 JSON：{exc.msg}（第 {exc.colno} 列）",
                    ),
                )
                continue
            if not isinstance(value, dict):
                yield RawRow(
                    {},
                    number,
                    raw=text.rstrip("\r\n"),
                    error=("malformed_json", f"第 {number} 行不是 JSON 对象"),
                )
                continue
            yield RawRow(value, number)
    if progress:
        progress(consumed)
