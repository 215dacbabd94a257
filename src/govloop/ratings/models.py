"""好差评 ratings and the bad-rating rectification workflow (差评整改)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, JSONType, UTCDateTime


class RatingLevel(enum.IntEnum):
    """The five national levels; 3 and above count as satisfied (好评)."""

    VERY_DISSATISFIED = 1  # 非常不满意
    DISSATISFIED = 2  # 不满意
    BASIC = 3  # 基本满意
    SATISFIED = 4  # 满意
    VERY_SATISFIED = 5  # 非常满意


LEVEL_LABELS = {
    RatingLevel.VERY_SATISFIED: "非常满意",
    RatingLevel.SATISFIED: "满意",
    RatingLevel.BASIC: "基本满意",
    RatingLevel.DISSATISFIED: "不满意",
    RatingLevel.VERY_DISSATISFIED: "非常不满意",
}
BAD_LEVELS = (RatingLevel.DISSATISFIED, RatingLevel.VERY_DISSATISFIED)


class RatingChannel(enum.StrEnum):
    PAD = "pad"  # 评价器 at the window
    QR = "qr"  # QR code / short link on the ticket
    MY_TICKET = "my_ticket"
    HOTLINE = "hotline"  # hotline callback
    ONLINE = "online"


class Dimension(enum.StrEnum):
    """SERVQUAL dimensions."""

    TANGIBLES = "tangibles"  # 有形性
    RELIABILITY = "reliability"  # 可靠性
    RESPONSIVENESS = "responsiveness"  # 响应性
    ASSURANCE = "assurance"  # 保证性
    EMPATHY = "empathy"  # 关怀性


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CALLED_BACK = "called_back"
    RECTIFIED = "rectified"
    CLOSED = "closed"
    APPEALED = "appealed"
    EXCLUDED = "excluded"  # appeal upheld: the rating no longer counts


class Rating(Base):
    """One rating per ticket (一次一评) or per online/hotline matter (一事一评)."""

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("ticket_id"),
        UniqueConstraint("matter_source", "matter_ref"),
        Index("ix_ratings_hall_rated", "hall_id", "rated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    matter_source: Mapped[str | None] = mapped_column(String(32))
    matter_ref: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)
    dimension_scores: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    real_name: Mapped[bool] = mapped_column(Boolean, default=False)
    citizen_name: Mapped[str | None] = mapped_column(String(100))
    citizen_phone: Mapped[str | None] = mapped_column(String(32))
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id"), index=True)
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Appeal upheld (申诉复核): kept, flagged, and left out of every figure.
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    excluded_reason: Mapped[str | None] = mapped_column(String(500))
    excluded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RectificationCase(Base):
    __tablename__ = "rectification_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.OPEN)
    # 谁办理谁负责: the unit and person that handled the matter.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    callback_due: Mapped[date] = mapped_column(Date)
    rectification_due: Mapped[date] = mapped_column(Date)
    # True when a deadline fell past the years the official holiday calendar knows.
    due_dates_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    callback_note: Mapped[str | None] = mapped_column(Text)
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status_before_appeal: Mapped[str | None] = mapped_column(String(16))
    appeal_reason: Mapped[str | None] = mapped_column(Text)
    appealed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_decision: Mapped[str | None] = mapped_column(String(16))
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RatingPolicy(Base):
    """Per-hall (region) rectification deadline; the row with hall_id NULL is the default."""

    __tablename__ = "rating_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"), unique=True)
    callback_working_days: Mapped[int] = mapped_column(Integer, default=1)
    rectification_working_days: Mapped[int] = mapped_column(Integer, default=5)


class RatingEvent(Base):
    """Append-only log of ratings and every rectification case transition."""

    __tablename__ = "rating_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("rectification_cases.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class SurveyStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"


class Survey(Base):
    """A published SERVQUAL questionnaire (22 items, expectation and perception)."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"))
    status: Mapped[str] = mapped_column(String(16), default=SurveyStatus.DRAFT)
    # The questionnaire as published, so later edits never change old answers' meaning.
    questionnaire: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SurveyResponse(Base):
    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # {"1": {"e": 7, "p": 5}, …} on the 1–7 scale.
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType)
