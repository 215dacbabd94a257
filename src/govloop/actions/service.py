"""Actions (措施): what a manager decides to do about an anomaly or a recommendation, its
life cycle (planned → active → completed, or cancelled), and the measurement of its
effect on the indicators it targets.

An action names its scope (items, windows, 30-minute slots, weekdays) and the indicators
that should move. It is refused, with the reason, when none of its indicators can be
measured for that scope: an action whose effect cannot be measured cannot close the
loop. Every change is appended to ``loop_events`` in the same transaction.

The effect is measured on the analytics store (through ``govloop.indicators.analytics``)
by :mod:`govloop.actions.effect`: a difference in differences against the hall's other
items or windows, or the seasonal expectation when the action is hall-wide.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from govloop.actions import assessments
from govloop.actions import effect as fx
from govloop.actions.models import Action, ActionKind, ActionStatus, LoopEvent, LoopEventKind
from govloop.actions.schemas import ActionIn, ScopeIn
from govloop.core.auth import Permission, has_permission
from govloop.core.clock import local_today, now
from govloop.core.errors import BadRequest, Conflict, NotFound, RuleViolation
from govloop.core.models import User
from govloop.hall.overview import HallLayoutInfo, hall_layout
from govloop.indicators.analytics import daily_measures, indicator_shape
from govloop.indicators.facts import FACTS_SQL
from govloop.indicators.framework import Framework, Node
from govloop.indicators.measures import MEASURES, RELATIONS
from govloop.indicators.service import framework_in_force
from govloop.insight.models import Anomaly, AnomalyStatus
from govloop.org import service as org_service
from govloop.org.models import Hall

KINDS = tuple(k.value for k in ActionKind)
STATUSES = tuple(s.value for s in ActionStatus)
SLOT_MINUTES = 30
SLOT_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MAX_RECOMMENDATION_CHARS = 10_000
MAX_INDICATORS = 20
DEFAULT_DUE_DAYS = 14

STATUS_ZH = {
    ActionStatus.PLANNED: "计划中",
    ActionStatus.ACTIVE: "实施中",
    ActionStatus.COMPLETED: "已完成",
    ActionStatus.CANCELLED: "已取消",
}
UNIT_ZH = {"item": "单个事项", "window": "单个窗口", "hall": "整个大厅"}


# --- lookups -----------------------------------------------------------------------------


def get_action(*, session: Session, hall: Hall, action_id: int, lock: bool = False) -> Action:
    query = select(Action).where(Action.id == action_id, Action.hall_id == hall.id)
    if lock:
        query = query.with_for_update()
    action = session.scalar(query)
    if action is None:
        raise NotFound(f"未找到措施 #{action_id}", code="action_not_found")
    return action


def list_actions(*, session: Session, hall: Hall, status: str | None = None) -> list[Action]:
    query = select(Action).where(Action.hall_id == hall.id)
    if status:
        if status not in STATUSES:
            raise BadRequest(f"未知的措施状态：{status}", code="unknown_status", statuses=STATUSES)
        query = query.where(Action.status == status)
    return list(session.scalars(query.order_by(Action.created_at.desc(), Action.id.desc())))


def owner_choices(*, session: Session) -> list[User]:
    """Who can own an action: active hall staff (anyone who may see the hall)."""
    users = session.scalars(select(User).where(User.active).order_by(User.username))
    return [u for u in users if has_permission(u, Permission.HALL_VIEW)]


# --- scope and indicators -----------------------------------------------------------------


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


def _check_indicators(
    framework: Framework, codes: list[str], scope: ResolvedScope
) -> tuple[list[str], dict[str, str]]:
    codes = list(dict.fromkeys(c.strip() for c in codes if c and c.strip()))
    if not codes:
        raise RuleViolation(
            "请至少选择一个目标指标：没有可度量的指标，就无法评估措施的效果",
            code="no_measurable_indicator",
        )
    if len(codes) > MAX_INDICATORS:
        raise BadRequest(f"目标指标最多 {MAX_INDICATORS} 个", code="too_many_indicators")
    unknown = [c for c in codes if c not in framework.nodes or not framework.nodes[c].is_leaf]
    if unknown:
        raise NotFound(
            f"现行指标体系中没有指标：{'、'.join(unknown)}",
            code="indicator_not_found",
            indicators=unknown,
        )
    reasons = {}
    for code in codes:
        reason = why_not_measurable(framework.nodes[code], scope.unit, bool(scope.slots))
        if reason:
            reasons[code] = reason
    if len(reasons) == len(codes):
        explained = "；".join(
            f"{indicator_name(framework.nodes[c], c)}：{r}" for c, r in reasons.items()
        )
        raise RuleViolation(
            f"措施没有可度量的目标指标，无法评估效果。{explained}。"
            "请改选适用于该范围、有数据来源的指标，或调整措施范围",
            code="no_measurable_indicator",
            reasons=reasons,
        )
    return codes, reasons


def _check_owner(session: Session, owner_id: int | None) -> User:
    if owner_id is None:
        raise BadRequest("请指定负责人", code="owner_required")
    owner = session.get(User, owner_id)
    if owner is None or not owner.active:
        raise NotFound(f"未找到负责人（用户 #{owner_id}）", code="owner_not_found")
    if not has_permission(owner, Permission.HALL_VIEW):
        raise RuleViolation("负责人须为大厅工作人员", code="owner_not_staff")
    return owner


def _check_recommendation(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    if payload is None:
        return None
    try:
        text = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise BadRequest("建议内容不是有效的 JSON", code="invalid_recommendation") from None
    if len(text) > MAX_RECOMMENDATION_CHARS:
        raise BadRequest("建议内容过长", code="recommendation_too_long")
    return dict(json.loads(text))


def _linkable_anomaly(session: Session, hall: Hall, anomaly_id: int) -> Anomaly:
    anomaly = assessments.get_anomaly(session=session, anomaly_id=anomaly_id, hall_id=hall.id)
    if anomaly.status == AnomalyStatus.OPEN:
        raise RuleViolation(
            "请先评估该异常（合理或不合理），再据此制定措施", code="anomaly_not_assessed"
        )
    if anomaly.status == AnomalyStatus.REASONABLE:
        raise RuleViolation(
            "该异常已评估为合理，无需采取措施；如需采取措施，请先重新评估为不合理",
            code="anomaly_reasonable",
        )
    return anomaly


# --- life cycle ----------------------------------------------------------------------------


def _log(
    session: Session,
    action: Action,
    kind: LoopEventKind,
    actor: User | None,
    detail: dict[str, Any],
) -> LoopEvent:
    event = LoopEvent(
        hall_id=action.hall_id,
        kind=kind,
        anomaly_id=action.anomaly_id,
        action_id=action.id,
        actor_id=actor.id if actor else None,
        at=now(),
        detail=detail,
    )
    session.add(event)
    return event


def create_action(*, session: Session, hall: Hall, data: ActionIn, actor: User) -> Action:
    """Record a decision. Everything is checked before anything is written."""
    title = data.title.strip()
    if not title:
        raise BadRequest("请填写措施名称", code="title_required")
    if data.kind not in KINDS:
        raise BadRequest(f"未知的措施类型：{data.kind}", code="unknown_kind", kinds=list(KINDS))
    decision = data.decision.strip()
    if not decision:
        raise BadRequest("请写明决策内容：做什么、为什么", code="decision_required")
    owner = _check_owner(session, data.owner_id)
    if data.starts_on is None:
        raise BadRequest("请填写开始日期", code="start_required")
    if data.due_date is None:
        raise BadRequest("请填写完成期限", code="due_date_required")
    if data.ends_on is not None and data.ends_on < data.starts_on:
        raise BadRequest(
            f"结束日期 {data.ends_on} 早于开始日期 {data.starts_on}", code="end_before_start"
        )
    if data.due_date < data.starts_on:
        raise BadRequest(
            f"完成期限 {data.due_date} 早于开始日期 {data.starts_on}", code="due_before_start"
        )
    scope = resolve_scope(session=session, hall=hall, scope=data.scope)
    _version, framework = framework_in_force(session=session)
    indicators, unmeasurable = _check_indicators(framework, data.indicators, scope)
    anomaly = (
        _linkable_anomaly(session, hall, data.anomaly_id) if data.anomaly_id is not None else None
    )
    recommendation = _check_recommendation(data.recommendation)

    action = Action(
        hall_id=hall.id,
        title=title,
        kind=data.kind,
        decision=decision,
        owner_id=owner.id,
        due_date=data.due_date,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        scope=scope.as_dict(),
        indicators=indicators,
        status=ActionStatus.PLANNED,
        anomaly_id=anomaly.id if anomaly else None,
        recommendation=recommendation,
        created_by=actor.id,
        created_at=now(),
    )
    session.add(action)
    session.flush()
    _log(
        session,
        action,
        LoopEventKind.ACTION_CREATED,
        actor,
        {
            "title": title,
            "kind": data.kind,
            "owner_id": owner.id,
            "starts_on": data.starts_on.isoformat(),
            "due_date": data.due_date.isoformat(),
            "ends_on": data.ends_on.isoformat() if data.ends_on else None,
            "scope": scope.as_dict(),
            "indicators": indicators,
            "not_measurable": unmeasurable,
            "from_recommendation": recommendation is not None,
        },
    )
    session.flush()
    return action


def _require_status(action: Action, allowed: set[ActionStatus], verb: str) -> None:
    if action.status not in allowed:
        current = STATUS_ZH.get(ActionStatus(action.status), action.status)
        raise Conflict(
            f"措施 #{action.id} 当前为「{current}」，不能{verb}",
            code="invalid_transition",
            status=action.status,
        )


def _day_not_future(day: date | None, what: str) -> date:
    today = local_today()
    day = day or today
    if day > today:
        raise BadRequest(f"{what}不能晚于今天（{today}）", code="date_in_future")
    return day


def start_action(
    *, session: Session, action: Action, actor: User, on: date | None = None, note: str = ""
) -> Action:
    """planned → active. ``on`` is the day it actually started; the effect is measured
    from that day."""
    _require_status(action, {ActionStatus.PLANNED}, "开始实施")
    day = _day_not_future(on, "实际开始日期")
    if action.ends_on is not None and day > action.ends_on:
        raise RuleViolation(
            f"实际开始日期 {day} 晚于措施的结束日期 {action.ends_on}", code="start_after_end"
        )
    planned = action.starts_on
    action.starts_on = day
    action.status = ActionStatus.ACTIVE
    _log(
        session,
        action,
        LoopEventKind.ACTION_STARTED,
        actor,
        {"on": day.isoformat(), "planned_start": planned.isoformat(), "note": note.strip()},
    )
    session.flush()
    return action


def complete_action(
    *, session: Session, action: Action, actor: User, on: date | None = None, note: str = ""
) -> Action:
    """active → completed. A time-boxed action completed before its end date ends that day."""
    _require_status(action, {ActionStatus.ACTIVE}, "标记完成")
    day = _day_not_future(on, "完成日期")
    if day < action.starts_on:
        raise RuleViolation(
            f"完成日期 {day} 早于实际开始日期 {action.starts_on}", code="complete_before_start"
        )
    planned_end = action.ends_on
    if action.ends_on is not None and day < action.ends_on:
        action.ends_on = day
    action.status = ActionStatus.COMPLETED
    _log(
        session,
        action,
        LoopEventKind.ACTION_COMPLETED,
        actor,
        {
            "on": day.isoformat(),
            "planned_end": planned_end.isoformat() if planned_end else None,
            "ends_on": action.ends_on.isoformat() if action.ends_on else None,
            "note": note.strip(),
        },
    )
    session.flush()
    return action


def cancel_action(*, session: Session, action: Action, actor: User, reason: str) -> Action:
    """planned or active → cancelled, with the reason."""
    _require_status(action, {ActionStatus.PLANNED, ActionStatus.ACTIVE}, "取消")
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise BadRequest("请说明取消的原因", code="reason_required")
    previous = action.status
    action.status = ActionStatus.CANCELLED
    _log(
        session,
        action,
        LoopEventKind.ACTION_CANCELLED,
        actor,
        {"reason": reason, "previous_status": str(previous)},
    )
    session.flush()
    return action


# --- effect ----------------------------------------------------------------------------------


def effect_report(*, session: Session, hall: Hall, action: Action, today: date) -> dict[str, Any]:
    """The measured effect of an action on each target indicator (nothing is written)."""
    scope = resolve_scope(session=session, hall=hall, scope=action.scope, strict=False)
    windows = fx.periods(action.starts_on, action.ends_on, today)
    by_slot = bool(scope.slots)
    kinds = ["hall"] if scope.unit == "hall" else [scope.unit, "hall"]
    measures = daily_measures(
        session=session, hall_id=hall.id, days=windows.days(), kinds=kinds, by_slot=by_slot
    )
    frame, framework = measures.frame, measures.framework
    eligible = {
        d
        for d in fx.open_days(frame)
        if windows.before_start <= d <= (windows.after_end or windows.before_end)
        and (not scope.weekdays or d.weekday() in scope.weekdays)
    }
    slots = scope.slot_indexes if by_slot else None
    treated_rows = fx.rows_of(frame, scope.unit, set(scope.treated), slots)
    control_rows = (
        fx.rows_of(frame, scope.unit, set(scope.control), slots) if scope.control else None
    )
    results = []
    for code in action.indicators:
        node = framework.nodes.get(code)
        entry = fx.blank_entry(
            code,
            name_zh=indicator_name(node, code),
            name_en=indicator_name(node, code, "en"),
            unit=(node.spec.unit or "") if node is not None and node.spec else "",
            higher_is_better=node.higher_is_better if node is not None else None,
        )
        if node is None or not node.is_leaf or node.tree is None:
            entry.update(reason="现行指标体系中已没有该指标", reason_code="indicator_gone")
        elif reason := why_not_measurable(node, scope.unit, by_slot):
            entry.update(reason=reason, reason_code="not_measurable")
        else:
            entry.update(
                fx.indicator_effect(
                    node.tree,
                    node.measures,
                    code=code,
                    weight=indicator_shape(node).denominator,
                    higher_is_better=node.higher_is_better,
                    treated_rows=treated_rows,
                    control_rows=control_rows,
                    starts_on=action.starts_on,
                    eligible=eligible,
                )
            )
        results.append(entry)
    return {
        "measured_on": today.isoformat(),
        "unit": scope.unit,
        "treated": list(scope.treated.values()),
        "control": list(scope.control.values()),
        "unknown_scope": scope.unknown,
        "slots": scope.slots,
        "weekdays": scope.weekdays,
        "before": {
            "start": windows.before_start.isoformat(),
            "end": windows.before_end.isoformat(),
        },
        "after": {
            "start": windows.after_start.isoformat(),
            "end": windows.after_end.isoformat() if windows.after_end else None,
            "truncated": windows.truncated,
        },
        "open_days": len(eligible),
        "confidence": fx.CONFIDENCE,
        "replicates": fx.REPLICATES,
        "seed": fx.SEED,
        "min_days": fx.MIN_DAYS,
        "summary": fx.summary(results),
        "indicators": results,
    }


def measure_effect(
    *, session: Session, action: Action, today: date | None = None, actor: User | None = None
) -> dict[str, Any]:
    """Measure the action's effect as of ``today`` (default: today), store it on the
    action and log it."""
    if action.status not in (ActionStatus.ACTIVE, ActionStatus.COMPLETED):
        current = STATUS_ZH.get(ActionStatus(action.status), action.status)
        raise RuleViolation(
            f"措施当前为「{current}」：开始实施后才能评估效果", code="action_not_started"
        )
    day = _day_not_future(today, "评估日期")
    hall = session.get(Hall, action.hall_id)
    if hall is None:  # pragma: no cover - the foreign key guarantees it
        raise NotFound("未找到措施所属的大厅", code="hall_not_found")
    report = effect_report(session=session, hall=hall, action=action, today=day)
    action.effect = report
    action.effect_measured_at = now()
    _log(
        session,
        action,
        LoopEventKind.EFFECT_MEASURED,
        actor,
        {
            "measured_on": report["measured_on"],
            "summary": report["summary"],
            "indicators": {
                r["code"]: {
                    "status": r["status"],
                    "effect": r["effect"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                    "verdict": r["verdict"],
                }
                for r in report["indicators"]
            },
        },
    )
    session.flush()
    return report


# --- reading ----------------------------------------------------------------------------------


def action_out(action: Action, *, names: dict[int, str] | None = None) -> dict[str, Any]:
    names = names or {}
    return {
        "id": action.id,
        "title": action.title,
        "kind": action.kind,
        "decision": action.decision,
        "status": action.status,
        "owner_id": action.owner_id,
        "owner": names.get(action.owner_id) if action.owner_id else None,
        "due_date": action.due_date.isoformat(),
        "starts_on": action.starts_on.isoformat(),
        "ends_on": action.ends_on.isoformat() if action.ends_on else None,
        "scope": action.scope,
        "indicators": action.indicators,
        "anomaly_id": action.anomaly_id,
        "recommendation": action.recommendation,
        "effect": action.effect,
        "effect_measured_at": (
            action.effect_measured_at.isoformat() if action.effect_measured_at else None
        ),
        "created_by": action.created_by,
        "created_at": action.created_at.isoformat(),
    }


def timeline(*, session: Session, action: Action) -> list[dict[str, Any]]:
    """The loop events of an action and of the anomaly it answers, oldest first."""
    condition = LoopEvent.action_id == action.id
    if action.anomaly_id is not None:
        condition = or_(
            condition,
            (LoopEvent.anomaly_id == action.anomaly_id) & LoopEvent.action_id.is_(None),
        )
    events = list(
        session.scalars(select(LoopEvent).where(condition).order_by(LoopEvent.at, LoopEvent.id))
    )
    names = org_service.user_names(session=session, ids={e.actor_id for e in events})
    return [
        {
            "id": e.id,
            "kind": e.kind,
            "at": e.at,
            "actor": names.get(e.actor_id) if e.actor_id else None,
            "anomaly_id": e.anomaly_id,
            "action_id": e.action_id,
            "detail": e.detail,
        }
        for e in events
    ]


def needs_action(*, session: Session, anomaly: Anomaly) -> bool:
    """An unreasonable anomaly needs an action until a (not cancelled) one answers it."""
    if anomaly.status != AnomalyStatus.UNREASONABLE:
        return False
    linked = session.scalar(
        select(func.count())
        .select_from(Action)
        .where(Action.anomaly_id == anomaly.id, Action.status != ActionStatus.CANCELLED)
    )
    return not linked


def assessment_out(*, session: Session, anomaly: Anomaly) -> dict[str, Any]:
    return {
        "id": anomaly.id,
        "indicator": anomaly.indicator_code,
        "day": anomaly.day.isoformat(),
        "status": anomaly.status,
        "comment": anomaly.comment,
        "assessed_by": anomaly.assessed_by,
        "assessed_at": anomaly.assessed_at.isoformat() if anomaly.assessed_at else None,
        "needs_action": needs_action(session=session, anomaly=anomaly),
    }


def loop_overview(*, session: Session, hall: Hall) -> dict[str, Any]:
    """Everything the loop page shows: anomalies by stage, and the actions."""
    actions = list_actions(session=session, hall=hall)
    live = [a for a in actions if a.status != ActionStatus.CANCELLED]
    by_anomaly: dict[int, list[Action]] = {}
    for a in live:
        if a.anomaly_id is not None:
            by_anomaly.setdefault(a.anomaly_id, []).append(a)
    to_assess = assessments.anomalies_of_hall(
        session=session, hall_id=hall.id, statuses=[AnomalyStatus.OPEN], limit=50
    )
    unreasonable = assessments.anomalies_of_hall(
        session=session, hall_id=hall.id, statuses=[AnomalyStatus.UNREASONABLE], limit=200
    )
    reasonable = assessments.anomalies_of_hall(
        session=session, hall_id=hall.id, statuses=[AnomalyStatus.REASONABLE], limit=10
    )
    names = org_service.user_names(
        session=session,
        ids={a.owner_id for a in actions} | {x.assessed_by for x in unreasonable + reasonable},
    )
    return {
        "to_assess": to_assess,
        "needing_action": [x for x in unreasonable if x.id not in by_anomaly],
        "acted_on": [x for x in unreasonable if x.id in by_anomaly],
        "reasonable": reasonable,
        "actions": actions,
        "actions_by_anomaly": by_anomaly,
        "names": names,
        "counts": {
            "to_assess": len(to_assess),
            "needing_action": sum(1 for x in unreasonable if x.id not in by_anomaly),
            "active": sum(1 for a in actions if a.status == ActionStatus.ACTIVE),
            "planned": sum(1 for a in actions if a.status == ActionStatus.PLANNED),
            "measured": sum(1 for a in actions if a.effect),
        },
    }


def draft_from_anomaly(
    *, session: Session, hall: Hall, anomaly_id: int, today: date | None = None
) -> dict[str, Any]:
    """Form defaults for an action answering an anomaly."""
    anomaly = assessments.get_anomaly(session=session, anomaly_id=anomaly_id, hall_id=hall.id)
    _version, framework = framework_in_force(session=session)
    node = framework.nodes.get(anomaly.indicator_code)
    leaf = node is not None and node.is_leaf
    today = today or local_today()
    name = indicator_name(node, anomaly.indicator_code) if leaf else anomaly.indicator_code
    return {
        "title": f"整改 {anomaly.day} {name}异常",
        "kind": ActionKind.OTHER.value,
        "decision": anomaly.comment,
        "indicators": [anomaly.indicator_code] if leaf else [],
        "starts_on": today.isoformat(),
        "due_date": (today + timedelta(days=DEFAULT_DUE_DAYS)).isoformat(),
        "anomaly_id": anomaly.id,
    }


def default_dates(today: date | None = None) -> dict[str, str]:
    today = today or local_today()
    return {
        "starts_on": today.isoformat(),
        "due_date": (today + timedelta(days=DEFAULT_DUE_DAYS)).isoformat(),
    }
