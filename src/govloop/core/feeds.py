"""Event feeds: how a domain publishes its append-only event log to the analytics exporter.

A domain declares the statement that reads its events (its own tables only, the event id
first); the exporter pages through it by id. The exporter never reads a domain's tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from govloop.core.clock import now


@dataclass(frozen=True)
class EventFeed:
    name: str
    id_column: Any
    at_column: Any
    statement: Callable[[], Select[Any]]

    def newest_id(self, session: Session, settle_seconds: float = 0) -> int:
        """The newest event id, keeping back events younger than ``settle_seconds`` (on
        PostgreSQL an older transaction may still commit a lower id)."""
        stmt = select(func.max(self.id_column))
        if settle_seconds > 0:
            stmt = stmt.where(self.at_column <= now() - timedelta(seconds=settle_seconds))
        return int(session.scalar(stmt) or 0)

    def chunks(self, session: Session, after: int, upto: int, size: int) -> Iterator[list[Any]]:
        """Events with ``after < id <= upto``, oldest first, ``size`` at a time."""
        last = after
        stmt = self.statement()
        while last < upto:
            rows = session.execute(
                stmt.where(self.id_column > last, self.id_column <= upto)
                .order_by(self.id_column)
                .limit(size)
            ).all()
            if not rows:
                return
            yield list(rows)
            last = rows[-1][0]
