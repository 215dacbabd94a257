"""The ratings' event log: every rating and case change is one row, with who and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.events import touch
from govloop.core.models import User
from govloop.ratings.models import (
    Rating,
    RatingEvent,
    RectificationCase,
)


def record(
    session: Session,
    kind: str,
    rating: Rating,
    *,
    case: RectificationCase | None = None,
    actor: User | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        RatingEvent(
            kind=kind,
            at=now(),
            rating_id=rating.id,
            case_id=case.id if case else None,
            actor_id=actor.id if actor else None,
            detail=detail or {},
        )
    )
    touch(session, "ratings")
