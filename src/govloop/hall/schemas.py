"""Request and response shapes of the hall API."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from pydantic import BaseModel, Field

from govloop.core.clock import to_local
from govloop.hall.models import Outcome, PriorityCategory
from govloop.hall.waits import TicketPosition


class IssueTicketIn(BaseModel):
    item_code: str = Field(min_length=1, max_length=32)
    priority: PriorityCategory | None = None
    # 到号提醒: an SMS to this mobile when ``notify_ahead`` (default 3) or fewer are ahead
    notify_phone: str | None = Field(default=None, max_length=20)
    notify_ahead: int | None = Field(default=None, ge=1, le=10)


class FinishIn(BaseModel):
    outcome: Outcome = Outcome.DONE


class TransferIn(BaseModel):
    to_item_code: str | None = Field(default=None, max_length=32)
    to_window: int | None = Field(default=None, ge=1)


class PauseIn(BaseModel):
    reason: str = Field(default="", max_length=200)


class CloseDayIn(BaseModel):
    reason: str = Field(default="营业结束", min_length=1, max_length=200)
    carry_over: list[str] = Field(default_factory=list)
    carry_over_all: bool = False


class CarryOverIn(BaseModel):
    day: date
    codes: list[str] = Field(min_length=1, max_length=500)


class BookIn(BaseModel):
    item_code: str = Field(min_length=1, max_length=32)
    day: date
    slot_start: time
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=5, max_length=20)


class CheckInIn(BaseModel):
    code: str = Field(min_length=4, max_length=16)


def _iso(moment: datetime | None) -> str | None:
    return to_local(moment).isoformat() if moment else None


def _minutes(seconds: float | None) -> float | None:
    return round(seconds / 60.0, 1) if seconds is not None else None


def _estimate(position: TicketPosition, *, inputs: bool) -> dict[str, Any]:
    wait = position.wait
    estimate: dict[str, Any] = {
        "known": wait.known,
        "expected_minutes": _minutes(wait.expected_s),
        "low_minutes": _minutes(wait.low_s),
        "high_minutes": _minutes(wait.high_s),
        "expected_seconds": wait.expected_s,
        "method": wait.method,
    }
    if inputs:
        estimate["inputs"] = {
            "ahead": position.inputs.ahead,
            "open_windows": position.inputs.servers,
            "idle_windows": position.inputs.idle,
            "mean_service_seconds": round(position.inputs.mean_service_s, 3),
            "abandon_rate_per_hour": round(position.inputs.abandon_rate * 3600, 4),
        }
    return estimate


def ticket_out(
    position: TicketPosition | None = None, *, ticket: Any = None, holder: bool = False
) -> dict[str, Any]:
    """A ticket for staff; with ``holder``, for its citizen, including the secret link
    (``public_id``). Only the response to whoever took the ticket and lookups by that link
    are holder views: staff act by the printed code and never need the citizen's link."""
    t = position.ticket if position else ticket
    body: dict[str, Any] = {
        "code": t.code,
        "status": t.status,
        "item_id": t.item_id,
        "priority": t.priority,
        "service_date": t.service_date.isoformat(),
        "arrived_at": _iso(t.arrived_at),
        "called_at": _iso(t.called_at),
        "started_at": _iso(t.started_at),
        "finished_at": _iso(t.finished_at),
        "window_id": t.window_id,
        "outcome": t.outcome,
        "closed_reason": t.closed_reason,
    }
    if holder:
        body["public_id"] = t.public_id
    if position is not None:
        body.update(
            {
                "position": position.ahead + 1,
                "ahead": position.ahead,
                "estimate": _estimate(position, inputs=True),
            }
        )
    return body


def ticket_public_out(
    position: TicketPosition | None = None, *, ticket: Any = None
) -> dict[str, Any]:
    """What anyone who knows a ticket's printed number may see: where it stands. Nothing
    secret (no link) and nothing about the person (no priority lane, outcome or reason)."""
    t = position.ticket if position else ticket
    body: dict[str, Any] = {
        "code": t.code,
        "status": t.status,
        "item_id": t.item_id,
        "service_date": t.service_date.isoformat(),
    }
    if position is not None:
        body.update(
            {
                "position": position.ahead + 1,
                "ahead": position.ahead,
                "estimate": _estimate(position, inputs=False),
            }
        )
    return body
