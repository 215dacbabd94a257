"""Service hall tables: catalogue, halls, windows, tickets, appointments and the event log."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, JSONType, UTCDateTime


class TicketStatus(enum.StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    FINISHED = "finished"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    CLOSED = "closed"  # still waiting at closing time; closed with a reason
    CARRIED_OVER = "carried_over"  # moved to the next working day's queue


ACTIVE_STATUSES = (TicketStatus.CALLED, TicketStatus.SERVING)


class Outcome(enum.StrEnum):
    DONE = "done"
    NEEDS_DOCUMENTS = "needs_documents"
    REFERRED = "referred"
    # 受理: the application is taken for processing; a matter (办件) follows it
    ACCEPTED = "accepted"


class PriorityCategory(enum.StrEnum):
    """绿色通道 categories plus the internal reasons a ticket jumps ahead."""

    ELDERLY = "elderly"
    DISABLED = "disabled"
    PREGNANT = "pregnant"
    MILITARY = "military"
    APPOINTMENT = "appointment"
    CARRIED_OVER = "carried_over"


CITIZEN_PRIORITY = (
    PriorityCategory.ELDERLY,
    PriorityCategory.DISABLED,
    PriorityCategory.PREGNANT,
    PriorityCategory.MILITARY,
)


class WindowState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    IDLE = "idle"
    SERVING = "serving"
    PAUSED = "paused"


class AppointmentStatus(enum.StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    MISSED = "missed"
    CANCELLED = "cancelled"


class EventKind(enum.StrEnum):
    ISSUED = "ticket.issued"
    CALLED = "ticket.called"
    RECALLED = "ticket.recalled"
    STARTED = "ticket.started"
    FINISHED = "ticket.finished"
    NO_SHOW = "ticket.no_show"
    REQUEUED = "ticket.requeued"
    TRANSFERRED = "ticket.transferred"
    CANCELLED = "ticket.cancelled"
    CLOSED = "ticket.closed"
    CARRIED_OVER = "ticket.carried_over"
    APPOINTMENT_BOOKED = "appointment.booked"
    APPOINTMENT_CHECKED_IN = "appointment.checked_in"
    APPOINTMENT_LATE = "appointment.late"
    APPOINTMENT_MISSED = "appointment.missed"
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    WINDOW_SIGNED_IN = "window.signed_in"
    WINDOW_SIGNED_OUT = "window.signed_out"
    WINDOW_PAUSED = "window.paused"
    WINDOW_RESUMED = "window.resumed"


class ServiceItem(Base):
    """事项: one matter a citizen can come for."""

    __tablename__ = "service_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    ticket_prefix: Mapped[str] = mapped_column(String(2))
    # average handling minutes at the window (平均办理时长): the wait estimates use it
    promised_minutes: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # time limits in working days: the law's (法定) and the centre's promise (承诺)
    statutory_days: Mapped[int | None] = mapped_column(Integer)
    promised_days: Mapped[int | None] = mapped_column(Integer)
    fee: Mapped[str | None] = mapped_column(String(200))
    materials: Mapped[list[str]] = mapped_column(JSONType, default=list)
    online: Mapped[bool] = mapped_column(Boolean, default=False)  # 可网办
    self_service: Mapped[bool] = mapped_column(Boolean, default=False)  # 可自助
    by_post: Mapped[bool] = mapped_column(Boolean, default=False)  # 可邮寄


window_items = Table(
    "window_items",
    Base.metadata,
    Column("window_id", ForeignKey("windows.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", ForeignKey("service_items.id", ondelete="CASCADE"), primary_key=True),
)


class Window(Base):
    __tablename__ = "windows"
    __table_args__ = (UniqueConstraint("hall_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    is_general: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=WindowState.LOGGED_OUT)
    state_since: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class TicketCounter(Base):
    """Last number handed out per hall, day and prefix (A001, A002, …)."""

    __tablename__ = "ticket_counters"

    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"), primary_key=True)
    service_date: Mapped[date] = mapped_column(Date, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(2), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("hall_id", "service_date", "code"),
        Index("ix_tickets_queue", "hall_id", "service_date", "status", "rank_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    service_date: Mapped[date] = mapped_column(Date)
    code: Mapped[str] = mapped_column(String(8))
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.WAITING)
    priority: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16), default="kiosk")
    # Original arrival: kept through transfers and used for the queue rank.
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rank_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set by a transfer to one specific window: only that window may call the ticket.
    target_window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"))
    outcome: Mapped[str | None] = mapped_column(String(32))
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    no_show_count: Mapped[int] = mapped_column(Integer, default=0)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    carried_from_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    closed_reason: Mapped[str | None] = mapped_column(String(200))
    # The wait estimate printed on the slip, kept to measure its accuracy later.
    eta_seconds: Mapped[float | None] = mapped_column()
    eta_low_seconds: Mapped[float | None] = mapped_column()
    eta_high_seconds: Mapped[float | None] = mapped_column()
    # "Your turn is near" (到号提醒): the phone the citizen left at the kiosk, how many
    # tickets ahead they want the message at, and when it was written (once per ticket).
    notify_phone: Mapped[str | None] = mapped_column(String(20))
    notify_ahead: Mapped[int | None] = mapped_column(Integer)
    turn_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# The tickets whose holder asked for "your turn is near" and has not had it yet: the check
# after every call reads this small index, never the whole queue.
Index(
    "ix_tickets_turn_pending",
    Ticket.hall_id,
    Ticket.service_date,
    sqlite_where=Ticket.notify_phone.is_not(None) & Ticket.turn_notified_at.is_(None),
    postgresql_where=Ticket.notify_phone.is_not(None) & Ticket.turn_notified_at.is_(None),
)


class AppointmentQuota(Base):
    """Daily capacity of one bookable slot for one item (weekday None = every working day)."""

    __tablename__ = "appointment_quotas"
    __table_args__ = (UniqueConstraint("hall_id", "item_id", "weekday", "slot_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"))
    weekday: Mapped[int | None] = mapped_column(Integer)
    slot_start: Mapped[time] = mapped_column(Time)
    slot_end: Mapped[time] = mapped_column(Time)
    capacity: Mapped[int] = mapped_column(Integer)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_slot", "hall_id", "item_id", "service_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"))
    service_date: Mapped[date] = mapped_column(Date)
    slot_start: Mapped[time] = mapped_column(Time)
    slot_end: Mapped[time] = mapped_column(Time)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    citizen_name: Mapped[str] = mapped_column(String(100))
    citizen_phone: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=AppointmentStatus.BOOKED)
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The ticket issued at check-in (tickets.appointment_id holds the foreign key).
    ticket_id: Mapped[int | None] = mapped_column(Integer)


class HallEvent(Base):
    """Append-only log of every state change in the hall; analytics read this table."""

    __tablename__ = "hall_events"
    __table_args__ = (Index("ix_hall_events_hall_id_id", "hall_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id"))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
