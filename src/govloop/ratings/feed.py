"""The ratings' event feed, as the analytics store copies it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from govloop.core.feeds import EventFeed
from govloop.ratings.models import Rating, RatingEvent


def _events() -> Select[Any]:
    return select(
        RatingEvent.id,
        RatingEvent.kind,
        RatingEvent.at,
        RatingEvent.rating_id,
        RatingEvent.detail,
        Rating.hall_id,
        Rating.level,
        Rating.real_name,
        Rating.item_id,
        Rating.window_id,
        Rating.staff_id,
        Rating.department_id,
        Rating.rated_at,
        Rating.matter_source,
        Rating.matter_ref,
    ).join(Rating, Rating.id == RatingEvent.rating_id)


EVENTS = EventFeed("rating_events", RatingEvent.id, RatingEvent.at, _events)
