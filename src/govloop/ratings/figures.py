"""Rating figures: counts, shares and satisfaction per hall, window, staff and period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.clock import to_local
from govloop.ratings.models import (
    BAD_LEVELS,
    Rating,
    RatingLevel,
    RectificationCase,
)


@dataclass(frozen=True)
class RatingFigures:
    total: int
    satisfied: int
    bad: int
    satisfaction_rate: float | None
    bad_rate: float | None
    real_name_bad: int
    real_name_bad_called_back: int
    real_name_callback_rate: float | None
    cases: int
    rectified: int
    rectification_rate: float | None
    rectified_on_time: int
    on_time_rectification_rate: float | None


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def figures(
    *,
    session: Session,
    hall_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> RatingFigures:
    """Rating figures over non-excluded ratings given in [start, end)."""
    stmt = (
        select(Rating, RectificationCase)
        .outerjoin(RectificationCase, RectificationCase.rating_id == Rating.id)
        .where(~Rating.excluded)
    )
    if hall_id is not None:
        stmt = stmt.where(Rating.hall_id == hall_id)
    if start is not None:
        stmt = stmt.where(Rating.rated_at >= start)
    if end is not None:
        stmt = stmt.where(Rating.rated_at < end)
    rows = session.execute(stmt).all()
    total = len(rows)
    bad_rows = [(r, c) for r, c in rows if r.level in BAD_LEVELS]
    real_bad = [(r, c) for r, c in bad_rows if r.real_name]
    called_back = sum(1 for _, c in real_bad if c is not None and c.callback_at is not None)
    cases = [c for _, c in bad_rows if c is not None]
    rectified = [c for c in cases if c.rectified_at is not None]
    on_time = sum(
        1
        for c in rectified
        if c.rectified_at and to_local(c.rectified_at).date() <= c.rectification_due
    )
    return RatingFigures(
        total=total,
        satisfied=total - len(bad_rows),
        bad=len(bad_rows),
        satisfaction_rate=_rate(total - len(bad_rows), total),
        bad_rate=_rate(len(bad_rows), total),
        real_name_bad=len(real_bad),
        real_name_bad_called_back=called_back,
        real_name_callback_rate=_rate(called_back, len(real_bad)),
        cases=len(cases),
        rectified=len(rectified),
        rectification_rate=_rate(len(rectified), len(cases)),
        rectified_on_time=on_time,
        on_time_rectification_rate=_rate(on_time, len(rectified)),
    )


def level_counts(
    *,
    session: Session,
    hall_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[int, int]:
    """Non-excluded ratings per level (5 … 1) given in [start, end)."""
    stmt = select(Rating.level, func.count()).where(~Rating.excluded).group_by(Rating.level)
    if hall_id is not None:
        stmt = stmt.where(Rating.hall_id == hall_id)
    if start is not None:
        stmt = stmt.where(Rating.rated_at >= start)
    if end is not None:
        stmt = stmt.where(Rating.rated_at < end)
    counts = {int(level): int(n) for level, n in session.execute(stmt).all()}
    return {int(level): counts.get(int(level), 0) for level in sorted(RatingLevel, reverse=True)}
