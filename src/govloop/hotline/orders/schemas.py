"""Request and response shapes of the work-order API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from govloop.core.clock import to_local
from govloop.hotline.models import WorkOrderEvent
from govloop.hotline.orders.intake import OrderInput
from govloop.hotline.orders.queries import OrderView

# Generous transport limits; the services give the precise, friendly message.
_TEXT = 8000


class OrderIn(BaseModel):
    channel: str = Field(default="phone", max_length=16)
    content: str = Field(max_length=_TEXT)
    title: str | None = Field(default=None, max_length=1000)
    order_type: str | None = Field(default=None, max_length=16)
    urgency: str = Field(default="normal", max_length=16)
    category_code: str | None = Field(default=None, max_length=32)
    caller_name: str | None = Field(default=None, max_length=1000)
    caller_phone: str | None = Field(default=None, max_length=40)
    caller_email: str | None = Field(default=None, max_length=1000)
    confidential: bool = False
    district: str | None = Field(default=None, max_length=1000)
    address: str | None = Field(default=None, max_length=1000)
    lat: float | None = None
    long: float | None = None
    external_ref: str | None = Field(default=None, max_length=200)

    def to_input(self) -> OrderInput:
        return OrderInput(**self.model_dump())


class DispatchIn(BaseModel):
    department_code: str = Field(max_length=32)
    assist_department_codes: list[str] = Field(default_factory=list, max_length=10)
    category_code: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=_TEXT)


class TextIn(BaseModel):
    text: str = Field(max_length=_TEXT)


class ReviewIn(BaseModel):
    approve: bool
    note: str | None = Field(default=None, max_length=_TEXT)


class CloseIn(BaseModel):
    answer: str | None = Field(default=None, max_length=_TEXT)


class CallbackIn(BaseModel):
    reached: bool
    note: str | None = Field(default=None, max_length=_TEXT)
    level: int | None = Field(default=None, ge=1, le=5)
    comment: str = Field(default="", max_length=1000)


class MergeIn(BaseModel):
    into_number: str = Field(max_length=32)


class DirectAnswerIn(BaseModel):
    answer: str = Field(max_length=_TEXT)
    kb_article_id: int | None = None


def _iso(value: Any) -> str | None:
    return to_local(value).isoformat() if value else None


def order_out(view: OrderView) -> dict[str, Any]:
    o = view.order
    out: dict[str, Any] = {
        "id": o.id,
        "number": o.number,
        "channel": o.channel,
        "order_type": o.order_type,
        "urgency": o.urgency,
        "status": o.status,
        "title": o.title,
        "content": o.content,
        "category": view.category_code,
        "category_name": view.category,
        "department": view.department,
        "district": o.district,
        "address": o.address,
        "lat": o.lat,
        "long": o.long,
        "confidential": o.confidential,
        "suggestion": {
            "category": view.suggested_category,
            "department": view.suggested_department,
            "confidence": o.suggestion_confidence,
            "source": o.suggestion_source,
        },
        "created_at": _iso(o.created_at),
        "dispatched_at": _iso(o.dispatched_at),
        "sign_due_at": _iso(o.sign_due_at),
        "signed_at": _iso(o.signed_at),
        "due_at": _iso(o.due_at),
        "due_estimated": o.due_estimated,
        "answered_at": _iso(o.answered_at),
        "answer": o.answer,
        "closed_at": _iso(o.closed_at),
        "callback_result": o.callback_result,
        "supervision_count": o.supervision_count,
        "merged_into_id": o.merged_into_id,
        "clock": {
            "handling": view.handling.state,
            "signing": view.signing.state,
            "remaining_hours": round(view.handling.remaining.total_seconds() / 3600, 1)
            if view.handling.remaining is not None
            else None,
        },
        "assignments": [
            {
                **a,
                "dispatched_at": _iso(a["dispatched_at"]),
                "signed_at": _iso(a["signed_at"]),
                "answered_at": _iso(a["answered_at"]),
            }
            for a in view.assignments
        ],
    }
    # Absent, not null, when the viewer may not see the caller (保密).
    out.update(view.caller())
    return out


def event_out(event: WorkOrderEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "at": _iso(event.at),
        "actor_id": event.actor_id,
        "department_id": event.department_id,
        "detail": event.detail,
    }
