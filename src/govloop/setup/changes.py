"""Recording and reading the configuration's change log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.models import User
from govloop.setup.models import ConfigChange


def record(
    session: Session,
    *,
    actor: User | None,
    source: str,
    kind: str,
    key: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> ConfigChange | None:
    """Log a change; nothing when before and after are the same (a repeated import)."""
    if before == after:
        return None
    action = "created" if before is None else "updated"
    if (
        after is not None
        and before is not None
        and after.get("archived")
        and not before.get("archived")
    ):
        action = "archived"
    change = ConfigChange(
        actor_id=actor.id if actor else None,
        source=source,
        kind=kind,
        key=key[:120],
        action=action,
        before=before,
        after=after,
    )
    session.add(change)
    return change


def history(session: Session, *, kind: str, key: str, limit: int = 100) -> list[ConfigChange]:
    """The changes of one object, newest first."""
    return list(
        session.scalars(
            select(ConfigChange)
            .where(ConfigChange.kind == kind, ConfigChange.key == key)
            .order_by(ConfigChange.id.desc())
            .limit(limit)
        )
    )


def recent(session: Session, *, limit: int = 50, kind: str | None = None) -> list[ConfigChange]:
    stmt = select(ConfigChange)
    if kind:
        stmt = stmt.where(ConfigChange.kind == kind)
    return list(session.scalars(stmt.order_by(ConfigChange.id.desc()).limit(limit)))


def as_dict(change: ConfigChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "at": change.at.isoformat(),
        "actor_id": change.actor_id,
        "source": change.source,
        "kind": change.kind,
        "key": change.key,
        "action": change.action,
        "before": change.before,
        "after": change.after,
    }
