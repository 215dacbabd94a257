"""12345 hotline: work orders (工单), their assignments and event log, categories, time
limits, department membership, the knowledge base, routing models, hot-topic alerts and
Open311 clients."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, JSONType, UTCDateTime


class Channel(enum.StrEnum):
    PHONE = "phone"  # agent form while on the call
    WEB = "web"  # citizen web form
    H5 = "h5"  # mobile H5 page
    EMAIL = "email"  # imported mailbox
    OPEN311 = "open311"  # GeoReport v2 API
    SMS = "sms"  # a text to the center's number (notify.inbound → hotline/orders/sms_inbound.py)


class OrderType(enum.StrEnum):
    """诉求类型: decides the time limit together with urgency."""

    ENQUIRY = "enquiry"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议
    PRAISE = "praise"  # 表扬


class Urgency(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class OrderStatus(enum.StrEnum):
    """受理 → 派单 → 签收 → 办理 → 答复 → 办结 → 回访 → 评价."""

    ACCEPTED = "accepted"  # 受理: registered, not yet dispatched
    DISPATCHED = "dispatched"  # 派单: waiting for the lead unit to sign for it
    SIGNED = "signed"  # 签收: the lead unit has it
    IN_PROGRESS = "in_progress"  # 办理
    ANSWERED = "answered"  # 答复: the unit replied, the center reviews
    CLOSED = "closed"  # 办结
    CALLED_BACK = "called_back"  # 回访 done
    RATED = "rated"  # 评价 received
    MERGED = "merged"  # duplicate folded into another order


OPEN_STATUSES = frozenset(
    {
        OrderStatus.ACCEPTED,
        OrderStatus.DISPATCHED,
        OrderStatus.SIGNED,
        OrderStatus.IN_PROGRESS,
        OrderStatus.ANSWERED,
    }
)
DONE_STATUSES = frozenset({OrderStatus.CLOSED, OrderStatus.CALLED_BACK, OrderStatus.RATED})


class AssignmentRole(enum.StrEnum):
    LEAD = "lead"  # 主办
    ASSIST = "assist"  # 协办


class AssignmentStatus(enum.StrEnum):
    DISPATCHED = "dispatched"
    SIGNED = "signed"
    RETURN_REQUESTED = "return_requested"  # 退单 waiting for the center's review
    RETURNED = "returned"  # return approved; the order goes back to the center
    ANSWERED = "answered"  # an assisting unit's contribution, or the lead's answer
    WITHDRAWN = "withdrawn"  # 改派: the center moved the order elsewhere


class HotlineCategory(Base):
    """业务分类 with the unit it is usually dispatched to (派单目录) and, when public, its
    Open311 service definition."""

    __tablename__ = "hotline_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    group_name: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # Dispatch-catalogue keyword rules: the fallback when no trained model is sure.
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    default_type: Mapped[str] = mapped_column(String(16), default=OrderType.HELP)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    # Open311 service-definition attributes: [{"code", "datatype", "required", ...}]
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TimeLimit(Base):
    """Override of the default time limits (see hotline/sla.py) for one order type and
    urgency, optionally for one category only."""

    __tablename__ = "hotline_time_limits"
    __table_args__ = (UniqueConstraint("order_type", "urgency", "category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_type: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("hotline_categories.id"))
    sign_working_days: Mapped[int] = mapped_column(Integer)
    handle_working_days: Mapped[int] = mapped_column(Integer)
    warn_hours: Mapped[int] = mapped_column(Integer, default=24)


class WorkOrder(Base):
    __tablename__ = "work_orders"
    __table_args__ = (
        Index("ix_work_orders_status_due", "status", "due_at"),
        Index("ix_work_orders_created", "created_at"),
        Index("ix_work_orders_caller_phone", "caller_phone"),
        UniqueConstraint("channel", "external_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    # The sender's own id (email Message-ID, Open311 client reference): importing twice adds
    # nothing.
    external_ref: Mapped[str | None] = mapped_column(String(200))
    order_type: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16), default=Urgency.NORMAL)
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("hotline_categories.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.ACCEPTED)

    caller_name: Mapped[str | None] = mapped_column(String(100))
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    caller_email: Mapped[str | None] = mapped_column(String(200))
    # 保密: departments never see who called.
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)

    district: Mapped[str | None] = mapped_column(String(50), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    media_url: Mapped[str | None] = mapped_column(String(500))

    # Routing suggestion shown to the agent, and whether the agent kept it.
    suggested_category_id: Mapped[int | None] = mapped_column(ForeignKey("hotline_categories.id"))
    suggested_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    suggestion_confidence: Mapped[float | None] = mapped_column(Float)
    suggestion_source: Mapped[str | None] = mapped_column(String(16))  # model | catalogue

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sign_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True when a deadline fell past the years the official holiday calendar knows.
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    # 即问即答: answered at intake, typically from a knowledge-base article.
    direct_answer: Mapped[bool] = mapped_column(Boolean, default=False)
    kb_article_id: Mapped[int | None] = mapped_column(ForeignKey("kb_articles.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_result: Mapped[str | None] = mapped_column(String(16))  # reached | unreachable
    callback_note: Mapped[str | None] = mapped_column(Text)
    rating_id: Mapped[int | None] = mapped_column(ForeignKey("ratings.id"))
    supervision_count: Mapped[int] = mapped_column(Integer, default=0)
    last_supervised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    open311_client_id: Mapped[int | None] = mapped_column(ForeignKey("open311_clients.id"))
    open311_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Assignment(Base):
    """One unit's part in an order: the lead unit (主办) or an assisting unit (协办)."""

    __tablename__ = "work_order_assignments"
    __table_args__ = (Index("ix_assignments_department_status", "department_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    role: Mapped[str] = mapped_column(String(16), default=AssignmentRole.LEAD)
    status: Mapped[str] = mapped_column(String(20), default=AssignmentStatus.DISPATCHED)
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    dispatched_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    return_reason: Mapped[str | None] = mapped_column(Text)
    return_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_decision: Mapped[str | None] = mapped_column(String(16))  # approved | rejected
    return_review_note: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkOrderEvent(Base):
    """Append-only log of every work-order transition."""

    __tablename__ = "work_order_events"
    __table_args__ = (Index("ix_work_order_events_order_at", "order_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    REJECTED = "rejected"
    RETIRED = "retired"


class KbArticle(Base):
    """A knowledge-base article; its text lives in versions, the published one is served."""

    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("hotline_categories.id"))
    published_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("kb_article_versions.id", use_alter=True)
    )
    expires_on: Mapped[date | None] = mapped_column(Date)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    use_count: Mapped[int] = mapped_column(Integer, default=0)


class KbArticleVersion(Base):
    __tablename__ = "kb_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default=ArticleStatus.DRAFT)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(Text)


class RoutingModel(Base):
    """A trained routing classifier (joblib bytes) with its held-out accuracy."""

    __tablename__ = "hotline_routing_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    n_train: Mapped[int] = mapped_column(Integer)
    n_test: Mapped[int] = mapped_column(Integer)
    category_accuracy: Mapped[float | None] = mapped_column(Float)
    department_accuracy: Mapped[float | None] = mapped_column(Float)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    model: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TopicAlertKind(enum.StrEnum):
    CLUSTER = "cluster"  # many new orders about one thing
    SURGE_CATEGORY = "surge_category"
    SURGE_DISTRICT = "surge_district"


class TopicAlert(Base):
    """热点: a daily cluster of similar orders, or a surge by category or district."""

    __tablename__ = "hotline_topic_alerts"
    __table_args__ = (UniqueConstraint("day", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(100))  # category code, district, or cluster terms
    label: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    order_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    terms: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Open311Client(Base):
    """A GeoReport v2 client allowed to POST requests; only the key's SHA-256 is stored."""

    __tablename__ = "open311_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
