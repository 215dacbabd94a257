"""Indicator tables: framework versions, targets, materialized results, export watermarks."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, UTCDateTime


class FrameworkVersion(Base):
    """Every loaded version of an indicator framework file, kept with its text."""

    __tablename__ = "indicator_framework_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(64), default="")
    yaml_text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    # Periods starting on or after this day are scored with this version (until a later one).
    valid_from: Mapped[date] = mapped_column(Date)
    source_path: Mapped[str] = mapped_column(String(500), default="")
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    loaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class IndicatorTarget(Base):
    """A target for one indicator (指标下发分解).

    * hall level (object_kind ``hall``, object_id NULL): the hall's target and the rule
      that decomposes it to departments, windows, staff and items; hall_id NULL applies
      to every hall without its own row;
    * kind level (object_id NULL): one target for every object of that kind in the hall;
    * an override (object_id set): the target of one object.
    """

    __tablename__ = "indicator_targets"
    __table_args__ = (
        Index("ix_indicator_targets_lookup", "indicator_code", "hall_id", "object_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_code: Mapped[str] = mapped_column(String(64))
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"))
    object_kind: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[int | None] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    # inherit | volume_share | volume_balance (meaningful on hall-level rows)
    rule: Mapped[str] = mapped_column(String(16), default="inherit")
    valid_from: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class IndicatorResult(Base):
    """Materialized value, target and score of one node for one object and period."""

    __tablename__ = "indicator_results"
    __table_args__ = (
        UniqueConstraint(
            "hall_id", "period_kind", "period_start", "object_kind", "object_id", "node_code"
        ),
        Index("ix_indicator_results_read", "hall_id", "period_kind", "period_start", "object_kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("indicator_framework_versions.id"), index=True
    )
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    object_kind: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[int] = mapped_column(Integer)
    period_kind: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # An indicator or group code, a dimension code, or "overall".
    node_code: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
