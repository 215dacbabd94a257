"""Configuration changes that take effect from a day. They are checked when entered (so a
mistake is seen at once), kept until their day, and then applied by the timed duty with the
rules in force that day; one that no longer passes is marked failed with its problems and
changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import local_today, now
from govloop.core.errors import BadRequest, NotFound, RuleViolation
from govloop.core.models import User
from govloop.org import in_force
from govloop.setup import service, sheets
from govloop.setup.apply import apply, record_versions
from govloop.setup.models import ScheduledChange
from govloop.setup.validate import Plan, check

# what may wait for its day: the sheets whose rows change how the hall runs
SCHEDULABLE = (sheets.HALLS, sheets.WINDOWS, sheets.ITEMS, sheets.QUOTAS)


def save_rows(
    *,
    session: Session,
    sheet: str,
    rows: Sequence[dict[str, Any]],
    effective_on: date | None,
    actor: User | None,
    source: str,
) -> tuple[service.ImportResult, ScheduledChange | None]:
    """Apply now (no day, or today or earlier), or keep for ``effective_on``."""
    if effective_on is None or effective_on <= local_today():
        return service.apply_rows(
            session=session, sheet=sheet, rows=rows, actor=actor, source=source
        ), None
    if sheet not in SCHEDULABLE:
        raise BadRequest("这类配置只能立即生效", code="not_schedulable")
    typed = service.typed_sheet(sheet, rows)
    plan = check(session, {sheet: typed})
    result = service.ImportResult(problems=plan.problems, rows={sheet: len(rows)})
    if plan.problems:
        return result, None
    change = ScheduledChange(
        sheet=sheet,
        rows=[dict(r) for r in typed.rows],
        effective_on=effective_on,
        status="pending",
        created_by=actor.id if actor else None,
        source=source,
    )
    session.add(change)
    session.flush()
    _plan_versions(session, plan, change, actor)
    return result, change


def _plan_versions(
    session: Session, plan: Plan, change: ScheduledChange, actor: User | None
) -> None:
    """Plans for the change's day and later see it now: the states it will put in force are
    worked out by applying it in a savepoint that is rolled back, then kept as versions
    from its day, bound to it (cancelled or failed, they go with it)."""
    savepoint = session.begin_nested()
    applied = apply(session, plan, actor=actor, source="scheduled", dry_run=True)
    savepoint.rollback()
    record_versions(session, applied, change.effective_on, scheduled_id=change.id)


def pending(session: Session, *, sheet: str | None = None) -> list[ScheduledChange]:
    stmt = select(ScheduledChange).where(ScheduledChange.status == "pending")
    if sheet:
        stmt = stmt.where(ScheduledChange.sheet == sheet)
    return list(session.scalars(stmt.order_by(ScheduledChange.effective_on, ScheduledChange.id)))


def cancel(*, session: Session, change_id: int) -> ScheduledChange:
    change = session.get(ScheduledChange, change_id, with_for_update=True)
    if change is None:
        raise NotFound("未找到该预约生效的修改", code="unknown_scheduled_change")
    if change.status != "pending":
        raise RuleViolation("该修改已生效或已取消", code="not_pending")
    change.status, change.done_at = "cancelled", now()
    in_force.drop_scheduled(session, change.id)
    return change


def apply_due(*, session: Session, today: date | None = None) -> dict[str, int]:
    """Apply every pending change whose day has come, oldest day first. Each is applied in a
    savepoint: one that fails changes nothing and is marked with its problems."""
    today = today or local_today()
    done = {"applied": 0, "failed": 0}
    due = session.scalars(
        select(ScheduledChange)
        .where(ScheduledChange.status == "pending", ScheduledChange.effective_on <= today)
        .order_by(ScheduledChange.effective_on, ScheduledChange.id)
        .with_for_update(skip_locked=True)
    ).all()
    for change in due:
        actor = session.get(User, change.created_by) if change.created_by else None
        savepoint = session.begin_nested()
        result = service.apply_rows(
            session=session,
            sheet=change.sheet,
            rows=change.rows,
            actor=actor,
            source="scheduled",
            effective_on=change.effective_on,
        )
        if result.ok:
            savepoint.commit()
            change.status = "applied"
            done["applied"] += 1
        else:
            savepoint.rollback()
            in_force.drop_scheduled(session, change.id)
            change.status = "failed"
            change.problems = result.as_dict()["problems"]
            done["failed"] += 1
        change.done_at = now()
    session.flush()
    return done
