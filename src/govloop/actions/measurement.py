"""Measuring an action's effect: each target indicator before and after, on the action's scope."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from govloop.actions import effect as fx
from govloop.actions import scope as scope_rules
from govloop.actions import service
from govloop.actions.models import Action, ActionStatus, LoopEventKind
from govloop.core.clock import now
from govloop.core.errors import NotFound, RuleViolation
from govloop.core.models import User
from govloop.indicators.analytics import daily_measures, indicator_shape
from govloop.org.models import Hall


def effect_report(*, session: Session, hall: Hall, action: Action, today: date) -> dict[str, Any]:
    """The measured effect of an action on each target indicator (nothing is written)."""
    scope = scope_rules.resolve_scope(session=session, hall=hall, scope=action.scope, strict=False)
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
            name_zh=scope_rules.indicator_name(node, code),
            name_en=scope_rules.indicator_name(node, code, "en"),
            unit=(node.spec.unit or "") if node is not None and node.spec else "",
            higher_is_better=node.higher_is_better if node is not None else None,
        )
        if node is None or not node.is_leaf or node.tree is None:
            entry.update(reason="现行指标体系中已没有该指标", reason_code="indicator_gone")
        elif reason := scope_rules.why_not_measurable(node, scope.unit, by_slot):
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
        current = service.STATUS_ZH.get(ActionStatus(action.status), action.status)
        raise RuleViolation(
            f"措施当前为「{current}」：开始实施后才能评估效果", code="action_not_started"
        )
    day = service.day_not_future(today, "评估日期")
    hall = session.get(Hall, action.hall_id)
    if hall is None:  # pragma: no cover - the foreign key guarantees it
        raise NotFound("未找到措施所属的大厅", code="hall_not_found")
    report = effect_report(session=session, hall=hall, action=action, today=day)
    action.effect = report
    action.effect_measured_at = now()
    service.log(
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
