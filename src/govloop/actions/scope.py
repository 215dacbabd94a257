"""What an action covers: a hall, a window or an item, and time slots; which indicators can be
measured on that scope."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from govloop.actions.schemas import ScopeIn
from govloop.core.errors import BadRequest, NotFound
from govloop.hall.overview import HallLayoutInfo, hall_layout
from govloop.indicators.facts import FACTS_SQL
from govloop.indicators.framework import Node
from govloop.indicators.measures import MEASURES, RELATIONS
from govloop.indicators.service import framework_in_force
from govloop.org.models import Hall

SLOT_MINUTES = 30


SLOT_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class ResolvedScope:
    """An action's scope checked against the hall: whom it treats, whom it is compared with."""

    unit: str  # "item" | "window" | "hall": the objects whose indicators are compared
    items: list[str]
    windows: list[int]
    slots: list[str]
    weekdays: list[int]
    treated: dict[int, str] = field(default_factory=dict)  # object id → label
    control: dict[int, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # names no longer in the hall (lenient)

    @property
    def slot_indexes(self) -> set[int]:
        return {slot_index(s) for s in self.slots}

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "windows": self.windows,
            "slots": self.slots,
            "weekdays": self.weekdays,
        }


def slot_index(text: str) -> int:
    hours, minutes = text.split(":")
    return (int(hours) * 60 + int(minutes)) // SLOT_MINUTES


def hall_slots(hall: Hall) -> list[str]:
    """The hall's 30-minute slots, "HH:MM", from opening to closing."""
    first = (hall.opens_at.hour * 60 + hall.opens_at.minute) // SLOT_MINUTES
    last = -(-(hall.closes_at.hour * 60 + hall.closes_at.minute) // SLOT_MINUTES)
    return [f"{s * SLOT_MINUTES // 60:02d}:{s * SLOT_MINUTES % 60:02d}" for s in range(first, last)]


def _normalize_slot(text: str) -> str:
    match = SLOT_RE.match(text.strip())
    if not match or int(match.group(2)) % SLOT_MINUTES:
        raise BadRequest(
            f"时段格式不正确：{text!r}（按半小时填写，例如 09:00、14:30）", code="invalid_slot"
        )
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def resolve_scope(
    *, session: Session, hall: Hall, scope: ScopeIn | dict[str, Any], strict: bool = True
) -> ResolvedScope:
    """Check a scope against the hall's layout. ``strict``: refuse unknown items and
    windows (creating); otherwise leave them out and list them (measuring later)."""
    data = scope if isinstance(scope, ScopeIn) else ScopeIn.model_validate(scope or {})
    layout: HallLayoutInfo = hall_layout(session=session, hall=hall)
    items_by_code = {i.code: i for i in layout.items.values()}
    windows_by_number = {w.number: w for w in layout.windows if w.active}
    unknown: list[str] = []

    items = list(dict.fromkeys(c.strip() for c in data.items if c.strip()))
    missing_items = [c for c in items if c not in items_by_code]
    if missing_items and strict:
        raise NotFound(
            f"本大厅不办理事项：{'、'.join(missing_items)}",
            code="item_not_found",
            items=missing_items,
        )
    unknown += [f"item:{c}" for c in missing_items]
    items = [c for c in items if c in items_by_code]

    windows = sorted(set(data.windows))
    missing_windows = [n for n in windows if n not in windows_by_number]
    if missing_windows and strict:
        raise NotFound(
            f"本大厅没有在用的窗口：{'、'.join(f'{n} 号' for n in missing_windows)}",
            code="window_not_found",
            windows=missing_windows,
        )
    unknown += [f"window:{n}" for n in missing_windows]
    windows = [n for n in windows if n in windows_by_number]

    slots = sorted(set(_normalize_slot(s) for s in data.slots), key=slot_index)
    opening = hall_slots(hall)
    outside = [s for s in slots if s not in opening]
    if outside:
        raise BadRequest(
            f"时段不在大厅办公时间内（{hall.opens_at:%H:%M}–{hall.closes_at:%H:%M}）："
            + "、".join(outside),
            code="slot_outside_hours",
        )
    bad_days = [d for d in data.weekdays if not 0 <= d <= 6]
    if bad_days:
        raise BadRequest("星期用 0（周一）到 6（周日）表示", code="invalid_weekday")
    weekdays = sorted(set(data.weekdays))

    treated: dict[int, str] = {}
    control: dict[int, str] = {}
    if items:
        unit = "item"
        chosen = {items_by_code[c].id for c in items}
        for info in sorted(layout.items.values(), key=lambda i: i.code):
            (treated if info.id in chosen else control)[info.id] = f"{info.code} {info.name}"
    elif windows:
        unit = "window"
        for w in sorted(windows_by_number.values(), key=lambda w: w.number):
            label = f"{w.number} 号窗口 {w.name}"
            (treated if w.number in windows else control)[w.id] = label
    else:
        unit = "hall"
        treated[hall.id] = hall.name
    return ResolvedScope(unit, items, windows, slots, weekdays, treated, control, unknown)


def why_not_measurable(node: Node, unit: str, by_slot: bool) -> str | None:
    """Why an indicator cannot be measured for a scope (None: it can)."""
    relations = sorted({MEASURES[ref.name].relation for ref in node.measures})
    if not relations:
        return "指标没有可计算的度量"
    no_source = sorted({RELATIONS[r].event_table for r in relations if r not in FACTS_SQL})
    if no_source:
        return f"尚无数据来源（{'、'.join(no_source)} 未接入）"
    if unit != "hall" and unit not in node.applies_to:
        return f"不适用于{UNIT_ZH[unit]}（适用于：{'、'.join(sorted(node.applies_to))}）"
    if by_slot and not all(RELATIONS[r].slotted for r in relations):
        return "不能按时段计算（数据没有时段）"
    return None


def indicator_name(node: Node | None, code: str, locale: str = "zh_CN") -> str:
    if node is None or node.spec is None:
        return code
    return node.spec.name.en if locale == "en" else node.spec.name.zh


def indicator_catalogue(*, session: Session) -> list[dict[str, Any]]:
    """The leaf indicators of the framework in force, for the action form."""
    _version, framework = framework_in_force(session=session)
    out = []
    for node in framework.leaves():
        relations = {MEASURES[ref.name].relation for ref in node.measures}
        out.append(
            {
                "code": node.code,
                "name_zh": indicator_name(node, node.code),
                "name_en": indicator_name(node, node.code, "en"),
                "dimension": node.dimension,
                "unit": node.spec.unit if node.spec else "",
                "higher_is_better": node.higher_is_better,
                "applies_to": sorted(node.applies_to),
                "has_source": all(r in FACTS_SQL for r in relations),
                "by_slot": all(RELATIONS[r].slotted for r in relations),
            }
        )
    return out


UNIT_ZH = {"item": "单个事项", "window": "单个窗口", "hall": "整个大厅"}
