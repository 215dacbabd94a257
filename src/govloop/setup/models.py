"""The change log of the centre's configuration."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, JSONType, UTCDateTime


class ConfigChange(Base):
    """One change to one configured object: who, when, through what, before and after."""

    __tablename__ = "config_changes"
    __table_args__ = (Index("ix_config_changes_object", "kind", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # console, api, import, cli, demo
    source: Mapped[str] = mapped_column(String(16))
    # department, hall, item, window, quota, user
    kind: Mapped[str] = mapped_column(String(16))
    # the object's business key (code, "HALL/3" for a window, username, …)
    key: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(16))  # created, updated, archived
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class ScheduledChange(Base):
    """Rows of one sheet that take effect from a day (new opening hours from next month, a
    window opened from Monday): checked when entered, applied by the timed duty on that day
    with the same rules, or failed with the problems found then."""

    __tablename__ = "config_scheduled_changes"
    __table_args__ = (Index("ix_config_scheduled_due", "status", "effective_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sheet: Mapped[str] = mapped_column(String(16))
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    effective_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # applied failed cancelled
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    source: Mapped[str] = mapped_column(String(16))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    problems: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
