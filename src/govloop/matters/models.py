"""Matters, their events, and their shipments with the courier's tracking events."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, JSONType, UTCDateTime


class MatterState(enum.StrEnum):
    ACCEPTED = "accepted"  # 受理
    REVIEWING = "reviewing"  # 审查
    CORRECTION = "correction"  # 补正: documents requested, the promised-time clock stopped
    GRANTED = "granted"  # 决定：准予
    REFUSED = "refused"  # 决定：不予
    CERTIFYING = "certifying"  # 制证
    AWAITING_PICKUP = "awaiting_pickup"  # 待领取
    POSTED = "posted"  # 已寄出
    DELIVERED = "delivered"  # 已送达
    PICKED_UP = "picked_up"  # 已领取
    RETURNED = "returned"  # 退回: the application went back to the applicant


CLOSED_STATES = frozenset({MatterState.DELIVERED, MatterState.PICKED_UP, MatterState.RETURNED})
# the decision is made (办结): the promised and statutory limits are judged at this moment
DECIDED_STATES = frozenset(
    {
        MatterState.GRANTED,
        MatterState.REFUSED,
        MatterState.CERTIFYING,
        MatterState.AWAITING_PICKUP,
        MatterState.POSTED,
        MatterState.DELIVERED,
        MatterState.PICKED_UP,
    }
)


class DeliveryMethod(enum.StrEnum):
    PICKUP = "pickup"  # 窗口领取
    POST = "post"  # 邮寄


class MatterSource(enum.StrEnum):
    WINDOW = "window"  # accepted at a hall window
    ONLINE = "online"  # an online application
    DEPARTMENT = "department"  # pushed by a department's approval system (ingest)


class Matter(Base):
    __tablename__ = "matters"
    __table_args__ = (
        UniqueConstraint("source", "external_ref"),
        Index("ix_matters_open_due", "state", "promised_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    # the approval system's own number (department source), unique per source
    external_ref: Mapped[str | None] = mapped_column(String(64))
    applicant_name: Mapped[str] = mapped_column(String(100))
    applicant_phone: Mapped[str] = mapped_column(String(20), index=True)
    materials: Mapped[list[str]] = mapped_column(JSONType, default=list)
    state: Mapped[str] = mapped_column(String(24), default=MatterState.ACCEPTED)
    delivery_method: Mapped[str] = mapped_column(String(16), default=DeliveryMethod.PICKUP)
    delivery_name: Mapped[str | None] = mapped_column(String(100))
    delivery_phone: Mapped[str | None] = mapped_column(String(20))
    delivery_address: Mapped[str | None] = mapped_column(String(300))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    promised_days: Mapped[int | None] = mapped_column(Integer)
    statutory_days: Mapped[int | None] = mapped_column(Integer)
    # working days the clock stood still for 补正 (finished pauses only)
    paused_workdays: Mapped[int] = mapped_column(Integer, default=0)
    clock_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promised_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    statutory_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # a counted day lies past the official holiday calendar (weekends plus declared holidays)
    due_estimated: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 跑动次数: the citizen's trips to a hall for this matter (acceptance, 补正 in person,
    # pickup); zero for a matter applied for online and delivered by post
    visits: Mapped[int] = mapped_column(Integer, default=0)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MatterEvent(Base):
    """Every change of a matter, with who and when (the analytics read these)."""

    __tablename__ = "matter_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class ShipmentStatus(enum.StrEnum):
    CREATED = "created"  # waybill made, waiting for the courier's pickup
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    FAILED_ATTEMPT = "failed_attempt"  # 投递失败, will try again
    RETURNED = "returned"  # back at the sender
    CANCELLED = "cancelled"


SHIPMENT_CLOSED = frozenset(
    {ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED, ShipmentStatus.CANCELLED}
)


class Shipment(Base):
    """One parcel with a matter's result; a returned parcel may be followed by another."""

    __tablename__ = "matter_shipments"
    __table_args__ = (UniqueConstraint("courier", "waybill_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id"), index=True)
    courier: Mapped[str] = mapped_column(String(32))
    waybill_no: Mapped[str] = mapped_column(String(64))
    # the order id govloop gave the courier (idempotent create at the courier)
    order_ref: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(24), default=ShipmentStatus.CREATED)
    recipient_name: Mapped[str] = mapped_column(String(100))
    recipient_phone: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrackingEvent(Base):
    """A tracking event the courier reported (pushed or polled), taken once."""

    __tablename__ = "matter_tracking_events"
    __table_args__ = (UniqueConstraint("shipment_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("matter_shipments.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(String(300))
    location: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it happened, by the courier
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
