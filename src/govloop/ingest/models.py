"""Data platform tables: sources, ingestion runs, stored records with lineage, dead letters,
and the device registry with its event log."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, JSONType, UTCDateTime


class SourceKind(enum.StrEnum):
    FILE = "file"  # CSV / Excel uploads and drops
    JSONL = "jsonl"  # JSON lines files
    HTTP = "http"  # batch push API, one key per source
    MQTT = "mqtt"  # hall devices through the broker
    VENDOR = "vendor"  # another vendor's queue export, mapped by an adapter


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the run itself broke (e.g. unreadable file); rows are dead letters


class DeadLetterStatus(enum.StrEnum):
    OPEN = "open"
    REPLAYED = "replayed"  # stored by a later replay
    DISCARDED = "discarded"  # a steward decided it is not data, with a reason


class Source(Base):
    """A declared data source: which schema its rows follow and how its columns map."""

    __tablename__ = "ingest_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    schema_name: Mapped[str] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(String(100))
    # source column (often a Chinese header) → schema field
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # SHA-256 of the push API key; the key itself is shown once when issued
    api_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class IngestRun(Base):
    """One pass of a source: a file, an HTTP batch, an MQTT session or a replay."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_sources.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str | None] = mapped_column(String(500))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    encoding: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.RUNNING)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rows_in: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class IngestedRecord(Base):
    """A validated, normalized row, with lineage back to its source, run, file and row."""

    __tablename__ = "ingest_records"
    __table_args__ = (
        UniqueConstraint("source_id", "event_id"),
        Index("ix_ingest_records_schema_occurred", "schema_name", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("ingest_sources.id"))
    event_id: Mapped[str] = mapped_column(String(128))
    schema_name: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"), index=True)
    file_name: Mapped[str | None] = mapped_column(String(500))
    row_number: Mapped[int | None] = mapped_column(Integer)
    # what normalization changed, field → [before, after]: nothing is "fixed" silently
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class DeadLetter(Base):
    """A row that could not be stored: kept whole, with why, until replayed or discarded."""

    __tablename__ = "ingest_dead_letters"
    __table_args__ = (Index("ix_ingest_dead_letters_status", "status", "source_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_key: Mapped[str] = mapped_column(String(64))  # kept even when the key is unknown
    source_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_sources.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id"), index=True)
    file_name: Mapped[str | None] = mapped_column(String(500))
    row_number: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[str] = mapped_column(Text)  # the row as received (decoded text or JSON)
    reason_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default=DeadLetterStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id"))
    resolution_note: Mapped[str | None] = mapped_column(String(500))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # every replay attempt and decision, oldest first: reasons are appended, never overwritten
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)


class DeviceKind(enum.StrEnum):
    TICKET_MACHINE = "ticket_machine"  # 取号机
    RATING_PAD = "rating_pad"  # 评价器
    SELF_SERVICE = "self_service"  # 自助终端
    DISPLAY = "display"  # 显示屏


class Device(Base):
    """A registered hall device; its state follows its heartbeats."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"), index=True)
    heartbeat_seconds: Mapped[int] = mapped_column(Integer, default=60)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # SHA-256 of the device's key (HTTP heartbeats); the key itself is shown once when issued
    key_hash: Mapped[str | None] = mapped_column(String(64))


class DeviceEvent(Base):
    """Append-only: registered, online, heartbeat, offline, fault, revoked."""

    __tablename__ = "device_events"
    __table_args__ = (Index("ix_device_events_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
