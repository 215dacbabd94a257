"""Adapters for other vendors' queue exports: one vendor row → govloop ``hall_event`` rows.

Layout ``queue_ticket_csv`` — the ticket export of a typical Chinese queue-calling system
(排队叫号系统「业务流水导出」), one row per ticket, CSV (UTF-8 or GBK) or .xlsx:

============  ==========================================  ==================================
column        meaning                                     example
============  ==========================================  ==================================
流水号        the vendor's row id, unique per export site  ``20261120-000123`` (required)
网点编码      the hall (网点 / 大厅) code                   ``H1`` (required)
票号          ticket number shown to the citizen           ``A012`` (required)
业务类型编码  the vendor's business code = item code       ``GJJ01`` (required)
取号时间      ticket issued                                ``2026-11-20 09:01:15`` (required)
叫号时间      first call                                   blank when never called
开始办理时间  handling started at the window               blank when not served
结束时间      handling finished, or the no-show / cancel   blank while waiting
窗口号        window number                                ``3``
工号          staff number of the window officer           ``GH0107``
状态          已办结 / 过号 / 弃号 / 办理中 / 已叫号 / 等待中  (required)
============  ==========================================  ==================================

Times are Beijing time, ``YYYY-MM-DD HH:MM[:SS]`` or with ``/`` between the date parts.
Each ticket row becomes the events it proves happened, in order:

* ``issued`` at 取号时间 — always;
* ``called`` at 叫号时间 and ``started`` at 开始办理时间 — when present;
* ``finished`` at 结束时间 when 状态 is 已办结; ``no_show`` when 过号 (at 结束时间, else
  叫号时间); ``cancelled`` when 弃号 (at 结束时间, else 取号时间).

Event ids are ``<流水号>:<KIND>`` (e.g. ``20261120-000123:FINISHED``), so importing the
same export again adds nothing.
A ticket row that cannot be mapped (an unknown 状态, an unreadable time, a missing 流水号)
becomes one dead letter holding the whole vendor row; replaying it runs it through this
adapter again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from govloop.ingest.pipeline import RawRow
from govloop.ingest.schemas import normalize_identifier


@dataclass(frozen=True)
class VendorLayout:
    key: str
    name: str
    schema_name: str
    id_column: str
    required: tuple[str, ...]


QUEUE_TICKET_CSV = VendorLayout(
    key="queue_ticket_csv",
    name="排队叫号系统业务流水导出（一票一行）",
    schema_name="hall_event",
    id_column="流水号",
    required=("流水号", "网点编码", "票号", "业务类型编码", "取号时间", "状态"),
)
LAYOUTS: dict[str, VendorLayout] = {QUEUE_TICKET_CSV.key: QUEUE_TICKET_CSV}

STATUSES = {"已办结", "过号", "弃号", "办理中", "已叫号", "等待中"}
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")


class VendorRowError(ValueError):
    pass


def get_layout(key: str) -> VendorLayout:
    try:
        return LAYOUTS[key]
    except KeyError:
        raise VendorRowError(f"未知的厂商导出格式：{key}（可用：{'、'.join(LAYOUTS)}）") from None


def missing_columns(layout: VendorLayout, columns: Iterable[str]) -> list[str]:
    present = set(columns)
    return [c for c in layout.required if c not in present]


def layout_of(values: dict[str, object]) -> VendorLayout | None:
    """The layout a dead-lettered vendor row came in, recognised by its columns."""
    for layout in LAYOUTS.values():
        if layout.id_column in values and not missing_columns(layout, values):
            return layout
    return None


def _text(values: dict[str, object], column: str) -> str:
    value = values.get(column)
    return "" if value is None else str(value).strip()


def _time(values: dict[str, object], column: str) -> str | None:
    text = _text(values, column).replace("/", "-")
    if not text:
        return None
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).isoformat()
        except ValueError:
            continue
    raise VendorRowError(f"{column} 不是可识别的时间：{_text(values, column)}")


def ticket_events(values: dict[str, object]) -> list[dict[str, object]]:
    """The hall events one ticket row proves; raises VendorRowError with the reason."""
    missing = [c for c in QUEUE_TICKET_CSV.required if not _text(values, c)]
    if missing:
        raise VendorRowError(f"缺少必填列的值：{'、'.join(missing)}")
    status = _text(values, "状态")
    if status not in STATUSES:
        raise VendorRowError(f"未知的状态：{status}（可用：{'、'.join(sorted(STATUSES))}）")
    # already in the pipeline's identifier form (NFKC, no spaces, upper case), so the
    # normalization has nothing to change on every event
    row_id = normalize_identifier(_text(values, "流水号"))
    issued = _time(values, "取号时间")
    called = _time(values, "叫号时间")
    started = _time(values, "开始办理时间")
    ended = _time(values, "结束时间")
    window = _text(values, "窗口号")
    staff = _text(values, "工号")
    base = {
        "hall_code": _text(values, "网点编码"),
        "ticket_code": _text(values, "票号"),
        "item_code": _text(values, "业务类型编码"),
    }
    at_window = {k: v for k, v in (("window_number", window), ("staff_code", staff)) if v}
    steps: list[tuple[str, str | None, bool]] = [
        ("issued", issued, False),
        ("called", called, True),
        ("started", started, True),
    ]
    if status == "已办结":
        if not ended:
            raise VendorRowError("状态为已办结但没有结束时间")
        steps.append(("finished", ended, True))
    elif status == "过号":
        steps.append(("no_show", ended or called, True))
    elif status == "弃号":
        steps.append(("cancelled", ended or issued, False))
    events = []
    for kind, at, with_window in steps:
        if at is None:
            continue
        event: dict[str, object] = {
            "event_id": f"{row_id}:{kind.upper()}",
            "kind": kind,
            "occurred_at": at,
            **base,
        }
        if with_window:
            event.update(at_window)
        events.append(event)
    return events


def expand(layout: VendorLayout, rows: Iterable[RawRow]) -> Iterator[RawRow]:
    """Vendor rows → hall_event rows (with the vendor's row number for lineage). A row the
    adapter cannot map, or one a connector already refused, passes on as an error."""
    if layout is not QUEUE_TICKET_CSV:
        raise VendorRowError(f"未实现的厂商导出格式：{layout.key}")
    for row in rows:
        if row.error is not None:
            yield row
            continue
        try:
            events = ticket_events(row.values)
        except VendorRowError as exc:
            yield RawRow(
                row.values,
                row.row_number,
                raw=json.dumps(row.values, ensure_ascii=False, default=str),
                error=("vendor_row", f"{layout.name}：{exc}"),
            )
            continue
        for event in events:
            yield RawRow(event, row.row_number)
