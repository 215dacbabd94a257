"""Anomalies found in indicator series, with the manager's assessment (评估)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, JSONType, UTCDateTime


class AnomalyStatus(enum.StrEnum):
    OPEN = "open"  # not yet assessed
    REASONABLE = "reasonable"  # explained, nothing to do (e.g. a known event)
    UNREASONABLE = "unreasonable"  # needs an action


class Anomaly(Base):
    __tablename__ = "anomalies"
    __table_args__ = (
        UniqueConstraint(
            "hall_id",
            "indicator_code",
            "object_kind",
            "object_id",
            "day",
            "method",
            name="uq_anomalies_key",
        ),
        Index("ix_anomalies_hall_day", "hall_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    indicator_code: Mapped[str] = mapped_column(String(64))
    object_kind: Mapped[str] = mapped_column(String(16), default="hall")
    object_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(16))  # tail_test | change_point
    series_kind: Mapped[str] = mapped_column(String(8))  # count | rate | mean
    direction: Mapped[str] = mapped_column(String(8))  # spike | dip
    worse: Mapped[bool] = mapped_column(default=True)  # against the indicator's direction
    observed: Mapped[float | None] = mapped_column(Float)
    expected: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=AnomalyStatus.OPEN)
    comment: Mapped[str] = mapped_column(Text, default="")
    assessed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class StaffingTarget(Base):
    """The service level a hall (item_id None) or one of its items is staffed for."""

    __tablename__ = "staffing_targets"
    __table_args__ = (UniqueConstraint("hall_id", "item_id", name="uq_staffing_targets_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id"))
    share: Mapped[float] = mapped_column(Float, default=0.8)
    within_minutes: Mapped[float] = mapped_column(Float, default=20.0)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
