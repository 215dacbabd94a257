"""The archive manifest: which event rows left the database, and where they went."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, UTCDateTime


class EventArchive(Base):
    """One Parquet file of archived event rows (ids ``first_id``–``last_id`` of ``source``,
    all older than ``cutoff``), with its checksum."""

    __tablename__ = "event_archives"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM of the rows' time (UTC)
    first_id: Mapped[int] = mapped_column(BigInteger)
    last_id: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(Integer)
    cutoff: Mapped[datetime] = mapped_column(UTCDateTime)
    path: Mapped[str] = mapped_column(String(300))  # relative to the data directory
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
