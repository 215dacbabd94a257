"""What became of each department record the matters consumer took from the ingest store:
the matter it opened or moved (lineage both ways), or why it changed nothing."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, UTCDateTime


class Outcome(enum.StrEnum):
    OPENED = "opened"  # the first record of an 办件编号: the matter was opened (and moved)
    MOVED = "moved"  # the matter moved to the record's state (through the states between)
    SAME = "same"  # the matter already was in the record's state
    STALE = "stale"  # older than what the department already reported: history, no change
    REJECTED = "rejected"  # refused (unknown item, a change the machine forbids): dead letter


APPLIED = frozenset({Outcome.OPENED, Outcome.MOVED, Outcome.SAME})


class MatterIngestRecord(Base):
    """One stored ``matter_record`` taken by the consumer, once (the unique record id)."""

    __tablename__ = "matter_ingest_records"
    __table_args__ = (Index("ix_matter_ingest_records_ref", "external_ref", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("ingest_records.id"), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("ingest_sources.id"))
    external_ref: Mapped[str] = mapped_column(String(64))
    matter_id: Mapped[int | None] = mapped_column(ForeignKey("matters.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(24))  # the state the record reported
    state_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when, by the department
    dead_letter_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_dead_letters.id"))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
