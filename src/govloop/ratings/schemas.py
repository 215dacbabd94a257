"""Request and response shapes of the ratings API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from govloop.core.clock import to_local
from govloop.ratings.figures import RatingFigures
from govloop.ratings.models import LEVEL_LABELS, Rating, RatingLevel, RectificationCase
from govloop.ratings.rectification import is_overdue
from govloop.ratings.service import RatingInput


class RatingIn(BaseModel):
    level: int = Field(ge=1, le=5, description="1 非常不满意 … 5 非常满意")
    channel: str = Field(default="qr", max_length=16)
    dimension_scores: dict[str, int] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    comment: str = Field(default="", max_length=1000)
    citizen_name: str | None = Field(default=None, max_length=100)
    citizen_phone: str | None = Field(default=None, max_length=20)

    def to_input(self) -> RatingInput:
        return RatingInput(
            level=self.level,
            channel=self.channel,
            dimension_scores=self.dimension_scores,
            tags=self.tags,
            comment=self.comment,
            citizen_name=self.citizen_name,
            citizen_phone=self.citizen_phone,
        )


class MatterRatingIn(RatingIn):
    source: str = Field(min_length=1, max_length=32, description="e.g. hotline, online")
    ref: str = Field(min_length=1, max_length=64)
    department_code: str | None = Field(default=None, max_length=32)
    item_code: str | None = Field(default=None, max_length=32)


class NoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


class RectifyIn(BaseModel):
    evidence: str = Field(min_length=1, max_length=4000)
    result: str = Field(min_length=1, max_length=4000)


class AppealIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class ReviewIn(BaseModel):
    uphold: bool
    note: str = Field(min_length=1, max_length=2000)


def rating_out(r: Rating) -> dict[str, Any]:
    return {
        "id": r.id,
        "ticket_id": r.ticket_id,
        "matter_source": r.matter_source,
        "matter_ref": r.matter_ref,
        "channel": r.channel,
        "level": r.level,
        "level_label": LEVEL_LABELS[RatingLevel(r.level)],
        "dimension_scores": r.dimension_scores,
        "tags": r.tags,
        "comment": r.comment,
        "real_name": r.real_name,
        "hall_id": r.hall_id,
        "item_id": r.item_id,
        "window_id": r.window_id,
        "staff_id": r.staff_id,
        "department_id": r.department_id,
        "rated_at": to_local(r.rated_at).isoformat(),
        "excluded": r.excluded,
    }


def case_out(c: RectificationCase) -> dict[str, Any]:
    def iso(v: Any) -> str | None:
        return to_local(v).isoformat() if v else None

    return {
        "id": c.id,
        "rating_id": c.rating_id,
        "status": c.status,
        "department_id": c.department_id,
        "staff_id": c.staff_id,
        "opened_at": iso(c.opened_at),
        "callback_due": c.callback_due.isoformat(),
        "rectification_due": c.rectification_due.isoformat(),
        "due_dates_estimated": c.due_dates_estimated,
        "callback_at": iso(c.callback_at),
        "callback_note": c.callback_note,
        "rectified_at": iso(c.rectified_at),
        "evidence": c.evidence,
        "result": c.result,
        "closed_at": iso(c.closed_at),
        "appeal_reason": c.appeal_reason,
        "review_decision": c.review_decision,
        "review_note": c.review_note,
        "overdue": is_overdue(c),
    }


def figures_out(f: RatingFigures) -> dict[str, Any]:
    return dict(f.__dict__)
