"""The change log of the centre's configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
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
