"""The outbox and what happens to each message: its events, delivery reports, opt-outs,
inbound messages and refused callbacks."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, JSONType, UTCDateTime


class ChannelName(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"


class Audience(enum.StrEnum):
    CITIZEN = "citizen"
    STAFF = "staff"


class NotificationStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for the sender (first try or a retry after backoff)
    SENT = "sent"  # the gateway accepted it
    DELIVERED = "delivered"  # the operator reported it delivered (DLR)
    FAILED = "failed"  # the operator reported it undeliverable (DLR)
    DEAD = "dead"  # every attempt failed: on the dead-letter list
    SUPPRESSED = "suppressed"  # never sent: opted out or over the per-phone cap


OPEN_STATUSES = (NotificationStatus.QUEUED,)


class Notification(Base):
    """One message in the outbox. ``event_key`` names the event that caused it, so one event
    never gives two messages even when the code that writes it runs twice."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_key: Mapped[str] = mapped_column(String(200), unique=True)
    template: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    audience: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(200), index=True)
    body: Mapped[str] = mapped_column(Text)
    # the case it is about (matter, work order, ticket), for the case's own page
    case_type: Mapped[str | None] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.QUEUED)
    reason: Mapped[str | None] = mapped_column(String(64))  # why suppressed or dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # a sender holds the message until then; another sender may take it after (a crash)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))
    gateway_ref: Mapped[str | None] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_notifications_case", Notification.case_type, Notification.case_id)


class NotificationEvent(Base):
    """Every step of a message: queued, suppressed, attempt failed, sent, delivery report,
    dead-lettered, retried by hand."""

    __tablename__ = "notification_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class OptOut(Base):
    """A citizen who asked for no more messages on a channel (退订)."""

    __tablename__ = "notification_opt_outs"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    via: Mapped[str] = mapped_column(String(32))  # sms reply, web page, staff


class StaffContact(Base):
    """Where a staff member is told of work for them (orders dispatched, matters due)."""

    __tablename__ = "staff_contacts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(200))


class InboundMessage(Base):
    """A message a citizen sent to the center's number, and what became of it."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    # the gateway's id of the message: a redelivered message is taken once
    gateway_ref: Mapped[str] = mapped_column(String(100), unique=True)
    sender: Mapped[str] = mapped_column(String(40), index=True)
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    handled_as: Mapped[str] = mapped_column(String(32))  # query, work_order, opt_out, refused
    result: Mapped[str | None] = mapped_column(String(200))


class RefusedCallback(Base):
    """A delivery report, inbound message or courier push that was refused, and why: kept so
    an operator can see a misconfigured gateway or someone probing the endpoint."""

    __tablename__ = "refused_callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # kannel_dlr, kannel_inbound, courier
    reason: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
