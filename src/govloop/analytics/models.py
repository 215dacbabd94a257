"""Analytics tables: how far each event feed has been copied into the store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, UTCDateTime


class ExportWatermark(Base):
    """The last event id of a source copied into the analytics store."""

    __tablename__ = "indicator_watermarks"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    store_token: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Rows up to this id were archived by retention and removed from the database: the
    # store can no longer be rebuilt from the database alone.
    archived_through: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
