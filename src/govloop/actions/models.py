"""Actions (措施) decided by managers, and the event log of the whole loop."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, JSONType, UTCDateTime


class ActionKind(enum.StrEnum):
    OPEN_WINDOWS = "open_windows"  # open N windows in slots S
    SELF_SERVICE = "self_service"  # move item X to self-service terminals
    BEST_TIME = "best_time"  # publish "best time to come"
    APPOINTMENT_QUOTA = "appointment_quota"
    CROSS_TRAIN = "cross_train"  # train staff for more items
    OTHER = "other"


class ActionStatus(enum.StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class LoopEventKind(enum.StrEnum):
    ANOMALY_ASSESSED = "anomaly.assessed"
    ACTION_CREATED = "action.created"
    ACTION_STARTED = "action.started"
    ACTION_COMPLETED = "action.completed"
    ACTION_CANCELLED = "action.cancelled"
    EFFECT_MEASURED = "action.effect_measured"
    CONFIG_APPLIED = "action.config_applied"


class Action(Base):
    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_hall_status", "hall_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default=ActionKind.OTHER)
    decision: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_date: Mapped[date] = mapped_column(Date)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    # {"items": [codes], "windows": [numbers], "slots": ["09:00", ...], "weekdays": [0..6]}
    scope: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    indicators: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default=ActionStatus.PLANNED)
    anomaly_id: Mapped[int | None] = mapped_column(ForeignKey("anomalies.id"))
    recommendation: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    effect: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    effect_measured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class LoopEvent(Base):
    """Append-only: every assessment and every state change of an action."""

    __tablename__ = "loop_events"
    __table_args__ = (Index("ix_loop_events_hall_at", "hall_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    kind: Mapped[str] = mapped_column(String(32))
    anomaly_id: Mapped[int | None] = mapped_column(ForeignKey("anomalies.id"))
    action_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
