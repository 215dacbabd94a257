"""Column-wise loading of a CSV file: the results of the row pipeline (stored rows, their
normalization records and lineage, dead letters with their reasons, deduplication by
event id) with the work done a column at a time by pyarrow and numpy.

A cell is handled column-wise only when it is already in its normal form and the schema
certainly accepts it: an identifier of printable ASCII without lower-case letters, a text
without edge whitespace or characters JSON escapes, within its length limits, a choice
spelled as declared, a date ``YYYY-MM-DD`` or time ``YYYY-MM-DD[ T]HH:MM:SS`` that exists
in the calendar, or a blank optional cell. Such a cell normalizes to itself, so its row has
no normalization record and its stored JSON is built from the columns. A row with any
other cell goes through the row pipeline's own ``validate_row``, so its normalization
record, its stored values and its reason when refused are exactly the row pipeline's.

It applies to a CSV file that decodes whole in its encoding, has no double quote (so each
line is a row and each comma a field break, as ``csv.reader`` reads it), no stray carriage
return and no line longer than ``csv``'s field limit, and whose header the source accepts.
:func:`ingest_csv` returns None for any other file, which then takes the row path.
"""

from __future__ import annotations

import csv
import json
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.ingest.connectors import UTF8_BOM, FileInfo, Progress, line_blocks
from govloop.ingest.models import IngestRun, Source
from govloop.ingest.pipeline import (
    BATCH,
    RawRow,
    RunCounts,
    _plan,
    _sqlite_time,
    _Valid,
    dead_letter_row,
    finish_chunk,
    insert_rows,
    insert_sqlite_rows,
    raw_text,
    validate_row,
)
from govloop.ingest.schemas import DATE_FIELDS, IDENTIFIER_FIELDS, SEX_CODES

# Characters Python's str.strip() or pydantic's (Rust) trim removes, and zero-width marks:
# a text cell starting or ending with one takes the row path.
_SPACES = (
    "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff"
)
_PY_SPACES = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def _re2(chars: str) -> str:
    """A character-class body for RE2, every character written as \\x{...}."""
    return "".join("-" if c == "-" else f"\\x{{{ord(c):x}}}" for c in chars)


_JSON_ESCAPED = "\\x{0}-\\x{1f}\\x{7f}\\x{22}\\x{5c}"  # control characters, ", backslash
_EDGE = f"[^{_JSON_ESCAPED}{_re2(_SPACES)}]"
TEXT = f"^{_EDGE}(?:[^{_JSON_ESCAPED}]*{_EDGE})?$"
# printable ASCII without lower case, double quote or backslash: NFKC, removing spaces and
# upper-casing leave it as it is
IDENTIFIER = "^[\\x{21}\\x{23}-\\x{5b}\\x{5d}-\\x{60}\\x{7b}-\\x{7e}]+$"
DATE = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATETIME = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}$"
BATCH_LINES = BATCH  # lines per batch, as many as the row path's rows per chunk
# what read_csv skips: a line of nothing but commas and whitespace (str.isspace)
BLANK = f"^[,{_re2(_PY_SPACES)}]*$"


@dataclass(frozen=True)
class FieldRule:
    """How one declared field is checked column-wise."""

    kind: str  # identifier | text | choice | date | datetime | row (every cell by row)
    required: bool
    min_length: int = 0
    max_length: int | None = None
    choices: tuple[str, ...] = ()


def _unwrap_optional(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else None
    return annotation


def field_rules(model: Any) -> dict[str, FieldRule] | None:
    """A rule per declared field (kind ``row`` where every non-blank cell takes the row
    path: other types, other constraints, a field validator); None when the model's stored
    JSON cannot be built from the cells (a default other than None, a serializer, a model
    validator)."""
    decorators = model.__pydantic_decorators__
    if (
        decorators.model_validators
        or decorators.field_serializers
        or decorators.model_serializers
        or decorators.computed_fields
    ):
        return None
    validated = {
        name for decorator in decorators.field_validators.values() for name in decorator.info.fields
    }
    rules: dict[str, FieldRule] = {}
    for name, info in model.model_fields.items():
        required = info.is_required()
        if not required and (info.default is not None or info.default_factory is not None):
            return None  # pydantic would store the default for a blank cell
        rules[name] = FieldRule("row", required)
        known = {"MinLen": "min_length", "MaxLen": "max_length"}
        if name in validated or any(type(m).__name__ not in known for m in info.metadata):
            continue
        lengths = {
            type(m).__name__: int(getattr(m, known[type(m).__name__])) for m in info.metadata
        }
        annotation = _unwrap_optional(info.annotation)
        kind: str | None = None
        choices: tuple[str, ...] = ()
        if annotation is str and name not in DATE_FIELDS and name != "sex":
            # (normalize folds a date field's full-width digits and recodes sex, in text too)
            kind = "identifier" if name in IDENTIFIER_FIELDS else "text"
        elif annotation is datetime:
            kind = "datetime"
        elif annotation is date:
            kind = "date"
        elif typing.get_origin(annotation) is typing.Literal and name not in IDENTIFIER_FIELDS:
            values = typing.get_args(annotation)
            if all(isinstance(v, str) for v in values):
                kind = "choice"
                # spelled as declared, and not recoded by normalize (性别 男 → M)
                choices = tuple(
                    v
                    for v in values
                    if (name != "sex" or SEX_CODES.get(v, v) == v)
                    and not any(c in v for c in '"\\')
                    and v.isprintable()
                    and v == v.strip()
                )
        if kind is not None:
            rules[name] = FieldRule(
                kind, required, lengths.get("MinLen", 0), lengths.get("MaxLen"), choices
            )
    return rules


def _calendar(text: pa.Array, ok: np.ndarray, with_time: bool) -> np.ndarray:
    """Which of the well-shaped date (or time) strings exist: month 1–12, a day the month
    has, year from 1; hours below 24, minutes and seconds below 60."""
    if not ok.any():
        return ok
    width = 19 if with_time else 10
    filled = pc.if_else(pa.array(ok), text, "2000-01-01 00:00:00"[:width]).cast(pa.string())
    # every string now has ``width`` ASCII characters: read the digits straight from the
    # array's data buffer as a (rows × width) matrix
    start = np.frombuffer(filled.buffers()[1], dtype=np.int32)[filled.offset]
    digits = np.frombuffer(filled.buffers()[2], dtype=np.uint8)[start : start + len(ok) * width]
    matrix = digits.reshape(len(ok), width).astype(np.int64) - ord("0")

    def part(begin: int, end: int) -> np.ndarray:
        value = np.zeros(len(ok), dtype=np.int64)
        for column in range(begin, end):
            value = value * 10 + matrix[:, column]
        return value

    year, month, day = part(0, 4), part(5, 7), part(8, 10)
    months = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    days_in_month = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(
        np.int64
    )
    good = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days_in_month)
    if with_time:
        good &= (part(11, 13) < 24) & (part(14, 16) < 60) & (part(17, 19) < 60)
    return ok & good


def _accepts(rule: FieldRule, values: pa.Array) -> np.ndarray:
    """Cells (not blank) that the schema accepts as they are and normalize leaves alone."""
    if rule.kind == "choice":
        return np.asarray(pc.is_in(values, pa.array(rule.choices, pa.string())))
    pattern = {
        "identifier": IDENTIFIER,
        "text": TEXT,
        "date": DATE,
        "datetime": DATETIME,
    }[rule.kind]
    ok = np.asarray(pc.match_substring_regex(values, pattern))
    if rule.kind in {"date", "datetime"}:
        return _calendar(values, ok, rule.kind == "datetime")
    length = np.asarray(pc.utf8_length(values))
    ok &= length >= max(rule.min_length, 1)
    if rule.max_length is not None:
        ok &= length <= rule.max_length
    return ok


@dataclass
class _Layout:
    """What one file's header means for the columns: position → field, with rules."""

    header: list[str]
    fields: list[str]
    rules: dict[str, FieldRule]
    order: list[str]  # the model's fields in declaration order (the stored JSON's order)
    id_field: str
    time_field: str | None


def _layout(source: Source, header: list[str]) -> _Layout | None:
    plan = _plan(source)
    fields = [plan.mapping.get(h, h) for h in header]
    rules = field_rules(plan.model)
    if rules is None or len(set(header)) != len(header) or len(set(fields)) != len(fields):
        return None  # (duplicates: a later column would overwrite an earlier one)
    if any(f not in rules for f in fields) or plan.id_field not in fields:
        return None
    if rules[plan.id_field].kind not in {"identifier", "text"}:
        return None
    time_field = plan.time_field if plan.time_field in fields else None
    if time_field and rules[time_field].kind != "datetime":
        return None  # lineage's occurred_at is built from datetime text only
    return _Layout(header, fields, rules, list(rules), plan.id_field, time_field)


def eligible(info: FileInfo) -> bool:
    return (
        info.failure is None
        and info.bad_lines == 0
        and not info.quoted
        and not info.lone_cr
        and info.longest_line <= csv.field_size_limit()
    )


@dataclass
class _Lines:
    numbers: np.ndarray  # the line number of each line (the header is line 1)
    lines: pa.Array
    consumed: int  # bytes of the file read so far


def _line_batches(info: FileInfo, size: int) -> Iterator[_Lines]:
    """The file's lines after the header, decoded and without their line breaks, in
    batches of at most ``size``."""
    encoding = info.encoding or "utf-8"
    codec = encoding.removesuffix("-sig")
    first = 1
    consumed = 0
    for index, block in enumerate(line_blocks(info.path)):
        consumed += len(block)
        if index == 0 and encoding == "utf-8-sig":
            block = block.removeprefix(UTF8_BOM)
        text = block.decode(codec)
        lines = pc.list_flatten(pc.split_pattern(pa.array([text], pa.large_string()), "\n"))
        if text.endswith("\n"):
            lines = lines.slice(0, len(lines) - 1)
        if "\r" in text:
            lines = pc.replace_substring_regex(lines, "\r$", "")
        start = 1 if index == 0 else 0  # the header
        for offset in range(start, len(lines), size):
            part = lines.slice(offset, size)
            yield _Lines(np.arange(first + offset, first + offset + len(part)), part, consumed)
        first += len(lines)


@dataclass
class _Batch:
    """One batch's rows: ``numbers`` and ``cells`` (one array per header column) of the
    rows with as many cells as the header; ``bad`` = (line number, text) of the others."""

    numbers: np.ndarray
    cells: list[pa.Array]
    bad: list[tuple[int, str]]


def _split(part: _Lines, columns: int) -> _Batch:
    blank = np.asarray(pc.match_substring_regex(part.lines, BLANK))
    split = pc.split_pattern(part.lines, ",")
    counts = np.asarray(pc.list_value_length(split))
    good = ~blank & (counts == columns)
    bad = ~blank & (counts != columns)
    flat = pc.list_flatten(split.filter(pa.array(good)))
    rows = int(good.sum())
    cells = [
        flat.take(pa.array(np.arange(j, rows * columns, columns))).cast(pa.string())
        for j in range(columns)
    ]
    bad_lines = part.lines.filter(pa.array(bad)).to_numpy(zero_copy_only=False).tolist()
    return _Batch(
        part.numbers[good], cells, list(zip(part.numbers[bad].tolist(), bad_lines, strict=True))
    )


def _json_piece(field: str, values: pa.Array) -> pa.Array:
    # values are JSON-safe (no control character, quote or backslash): quoting is enough
    return pc.binary_join_element_wise(f',"{field}":"', values, '"', "")


def _ingest_batch(
    *, session: Session, source: Source, run: IngestRun, layout: _Layout, batch: _Batch
) -> RunCounts:
    n = len(batch.numbers)
    counts = RunCounts(rows_in=n + len(batch.bad))
    stamp = now()
    sqlite = session.connection().dialect.name == "sqlite"
    fast = np.ones(n, dtype=bool)
    present: dict[str, pa.Array] = {}  # field → stored value (null when blank)
    for field, values in zip(layout.fields, batch.cells, strict=True):
        rule = layout.rules[field]
        blank = np.asarray(pc.equal(values, ""))
        if rule.kind == "row":
            # only a blank optional cell (a missing value) can skip the row path
            fast &= blank if not rule.required else np.zeros(n, dtype=bool)
            continue
        accepted = _accepts(rule, values)
        fast &= accepted if rule.required else (accepted | blank)
        if rule.kind == "datetime":
            values = pc.replace_substring(values, " ", "T", max_replacements=1)
        present[field] = pc.if_else(pa.array(blank), pa.scalar(None, pa.string()), values)
    # rows whose required field is missing from the header cannot exist: the header check
    # refuses such a file before it gets here
    ids: list[str | None] = present[layout.id_field].to_numpy(zero_copy_only=False).tolist()
    occurred_text = present.get(layout.time_field) if layout.time_field else None
    numbers: list[int] = batch.numbers.tolist()
    payload_json: list[Any] = []
    payload_dicts: list[Any] = []
    occurred: list[Any] = []
    ordered = [f for f in layout.order if f in present]
    if sqlite:
        body = pc.binary_join_element_wise(
            *[_json_piece(f, present[f]) for f in ordered],
            "",
            null_handling="replace",
            null_replacement="",
        )
        payload_json = (
            pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(body, 1), "}", "")
            .to_numpy(zero_copy_only=False)
            .tolist()
        )
        occurred = (
            pc.binary_join_element_wise(
                pc.replace_substring(occurred_text, "T", " ", max_replacements=1), ".000000", ""
            )
            .to_numpy(zero_copy_only=False)
            .tolist()
            if occurred_text is not None
            else [None] * n
        )
        changes: list[Any] = ["{}"] * n
    else:
        columns = [(f, present[f].to_numpy(zero_copy_only=False).tolist()) for f in ordered]
        payload_dicts = [
            {f: column[i] for f, column in columns if column[i] is not None} for i in range(n)
        ]
        # only a fast row's time is known to be valid; the row path fills in the others
        times = (
            pc.if_else(pa.array(fast), occurred_text, pa.scalar(None, pa.string()))
            .to_numpy(zero_copy_only=False)
            .tolist()
            if occurred_text is not None
            else [None] * n
        )
        occurred = [datetime.fromisoformat(t).replace(tzinfo=UTC) if t else None for t in times]
        changes = [{}] * n
    dead: list[tuple[int, dict[str, Any]]] = [
        (
            number,
            dead_letter_row(
                source,
                run,
                stamp,
                number,
                text,
                "bad_columns",
                f"第 {number} 行有 {text.count(',') + 1} 列，表头有 {len(layout.header)} 列",
            ),
        )
        for number, text in batch.bad
    ]
    slow = np.flatnonzero(~fast)
    if len(slow):
        plan = _plan(source)
        taken = pa.array(slow)
        cells = list(
            zip(
                *(c.take(taken).to_numpy(zero_copy_only=False).tolist() for c in batch.cells),
                strict=True,
            )
        )
        for i, row_cells in zip(slow.tolist(), cells, strict=True):
            row = RawRow(dict(zip(layout.header, row_cells, strict=True)), numbers[i])
            result = validate_row(source, row, plan)
            if isinstance(result, tuple):
                ids[i] = None
                raw = raw_text(row)
                dead.append(
                    (numbers[i], dead_letter_row(source, run, stamp, numbers[i], raw, *result))
                )
                continue
            ids[i] = result.event_id
            _slow_values(result, i, sqlite, payload_json, payload_dicts, occurred, changes)
    # first occurrence of each event id in the batch, in row order, as the row path keeps
    payloads = payload_json if sqlite else payload_dicts
    if len(slow) or len(set(ids)) != n:
        keep: dict[str, int] = {}
        for i, event_id in enumerate(ids):
            if event_id is None:
                continue
            if event_id in keep:
                counts.duplicates += 1
            else:
                keep[event_id] = i
        rows = list(keep.values())
        ids = list(keep)
        occurred = [occurred[i] for i in rows]
        numbers = [numbers[i] for i in rows]
        changes = [changes[i] for i in rows]
        payloads = [payloads[i] for i in rows]
    # else: every row is valid and its event id is new in the batch, all are kept as they are
    if ids:
        common: dict[str, Any] = {
            "session": session,
            "source": source,
            "run_id": run.id,
            "file_name": run.file_name,
            "stamp": stamp,
            "event_ids": ids,
            "occurred": occurred,
            "numbers": numbers,
            "changes": changes,
            "payloads": payloads,
        }
        stored = insert_sqlite_rows(**common) if sqlite else insert_rows(**common)
        counts.duplicates += len(ids) - stored
        counts.stored += stored
    dead.sort(key=lambda item: item[0])
    finish_chunk(session=session, run=run, counts=counts, dead=[d for _, d in dead])
    return counts


def _slow_values(
    result: _Valid,
    i: int,
    sqlite: bool,
    payload_json: list[Any],
    payload_dicts: list[Any],
    occurred: list[Any],
    changes: list[Any],
) -> None:
    """Put a row validated by the row pipeline into the batch's columns, as it stores it."""
    if sqlite:
        payload_json[i] = result.payload_json()
        occurred[i] = _sqlite_time(result.occurred_at)
        changes[i] = json.dumps(result.changes) if result.changes else "{}"
    else:
        payload_dicts[i] = result.payload
        occurred[i] = result.occurred_at
        changes[i] = result.changes


def ingest_csv(
    *,
    session: Session,
    source: Source,
    run: IngestRun,
    info: FileInfo,
    header: list[str],
    progress: Progress | None = None,
    batch_size: int | None = None,
) -> RunCounts | None:
    """Load a CSV file column-wise; None (nothing done) when the file or the source's
    schema needs the row path. The header must be one the source accepts."""
    if not eligible(info):
        return None
    layout = _layout(source, header)
    if layout is None:
        return None
    total = RunCounts()
    with _page_cache(session):
        for part in _line_batches(info, batch_size or BATCH_LINES):
            batch = _split(part, len(header))
            total.add(
                _ingest_batch(session=session, source=source, run=run, layout=layout, batch=batch)
            )
            if progress:
                progress(part.consumed)
    return total


BULK_CACHE_KIB = 65_536


@contextmanager
def _page_cache(session: Session) -> Iterator[None]:
    """On SQLite, a 64 MiB page cache for the load (the default 2 MiB keeps evicting the
    pages of the records' indexes, which take keys in random order); restored after."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")
