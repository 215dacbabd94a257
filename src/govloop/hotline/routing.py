"""Routing suggestions: which category and department an order belongs to.

The dispatch catalogue's keyword rules answer when no trained model is available.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.hotline.models import HotlineCategory


@dataclass(frozen=True)
class Suggestion:
    category_id: int
    category_code: str
    department_id: int | None
    confidence: float  # 0..1
    source: str  # "model" | "catalogue"


def suggest_from_catalogue(*, session: Session, text: str) -> Suggestion | None:
    """The category whose keywords occur most often; confidence is its share of all hits."""
    hits: list[tuple[int, HotlineCategory]] = []
    for category in session.scalars(select(HotlineCategory).where(HotlineCategory.active)):
        count = sum(text.count(word) for word in category.keywords if word)
        if count:
            hits.append((count, category))
    if not hits:
        return None
    hits.sort(key=lambda h: (-h[0], h[1].code))
    best_count, best = hits[0]
    return Suggestion(
        category_id=best.id,
        category_code=best.code,
        department_id=best.department_id,
        confidence=round(best_count / sum(h[0] for h in hits), 3),
        source="catalogue",
    )


def suggest(*, session: Session, text: str) -> Suggestion | None:
    return suggest_from_catalogue(session=session, text=text)
