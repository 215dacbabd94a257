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
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.actions import assessments
from govloop.actions import scope as scope_rules
from govloop.actions.models import Action, ActionKind, ActionStatus, LoopEvent, LoopEventKind
from govloop.actions.schemas import ActionIn
from govloop.core.auth import Permission, has_permission
from govloop.core.clock import local_today, now
from govloop.core.errors import BadRequest, Conflict, NotFound, RuleViolation
from govloop.core.models import User
from govloop.indicators.framework import Framework
from govloop.indicators.service import framework_in_force
from govloop.insight.models import Anomaly, AnomalyStatus
from govloop.org.models import Hall

KINDS = tuple(k.value for k in ActionKind)
STATUSES = tuple(s.value for s in ActionStatus)
MAX_RECOMMENDATION_CHARS = 10_000
MAX_INDICATORS = 20
DEFAULT_DUE_DAYS = 14


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


def _check_indicators(
    framework: Framework, codes: list[str], scope: scope_rules.ResolvedScope
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
        reason = scope_rules.why_not_measurable(
            framework.nodes[code], scope.unit, bool(scope.slots)
        )
        if reason:
            reasons[code] = reason
    if len(reasons) == len(codes):
        explained = "；".join(
            f"{scope_rules.indicator_name(framework.nodes[c], c)}：{r}" for c, r in reasons.items()
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


def log(
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
    scope = scope_rules.resolve_scope(session=session, hall=hall, scope=data.scope)
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
    log(
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


def day_not_future(day: date | None, what: str) -> date:
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
    day = day_not_future(on, "实际开始日期")
    if action.ends_on is not None and day > action.ends_on:
        raise RuleViolation(
            f"实际开始日期 {day} 晚于措施的结束日期 {action.ends_on}", code="start_after_end"
        )
    planned = action.starts_on
    action.starts_on = day
    action.status = ActionStatus.ACTIVE
    log(
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
    day = day_not_future(on, "完成日期")
    if day < action.starts_on:
        raise RuleViolation(
            f"完成日期 {day} 早于实际开始日期 {action.starts_on}", code="complete_before_start"
        )
    planned_end = action.ends_on
    if action.ends_on is not None and day < action.ends_on:
        action.ends_on = day
    action.status = ActionStatus.COMPLETED
    log(
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


APPLICABLE = {ActionKind.OPEN_WINDOWS, ActionKind.APPOINTMENT_QUOTA}


def config_applied(
    *, session: Session, action: Action, actor: User, summary: str, changes: int
) -> LoopEvent:
    """The loop records that a decision was carried out in the configuration (windows
    opened, quotas set); the change log holds what exactly changed."""
    if action.kind not in APPLICABLE:
        raise RuleViolation("这类措施不在配置中执行", code="not_applicable")
    _require_status(action, {ActionStatus.PLANNED, ActionStatus.ACTIVE}, "在配置中执行")
    event = log(
        session,
        action,
        LoopEventKind.CONFIG_APPLIED,
        actor,
        {"summary": summary[:500], "changes": changes},
    )
    session.flush()
    return event


def cancel_action(*, session: Session, action: Action, actor: User, reason: str) -> Action:
    """planned or active → cancelled, with the reason."""
    _require_status(action, {ActionStatus.PLANNED, ActionStatus.ACTIVE}, "取消")
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise BadRequest("请说明取消的原因", code="reason_required")
    previous = action.status
    action.status = ActionStatus.CANCELLED
    log(
        session,
        action,
        LoopEventKind.ACTION_CANCELLED,
        actor,
        {"reason": reason, "previous_status": str(previous)},
    )
    session.flush()
    return action


# --- effect ----------------------------------------------------------------------------------


# --- reading ----------------------------------------------------------------------------------


STATUS_ZH = {
    ActionStatus.PLANNED: "计划中",
    ActionStatus.ACTIVE: "实施中",
    ActionStatus.COMPLETED: "已完成",
    ActionStatus.CANCELLED: "已取消",
}
