"""The device event feed, as the analytics store copies it (uptime per device and day)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from govloop.core.feeds import EventFeed
from govloop.ingest.models import DeviceEvent


def _events() -> Select[Any]:
    # two columns: typed precisely by SQLAlchemy, while a feed's statement is any select
    return cast("Select[Any]", select(DeviceEvent.id, DeviceEvent.at))


EVENTS = EventFeed("device_events", DeviceEvent.id, DeviceEvent.at, _events)


def span(session: Session, after: int, upto: int) -> tuple[datetime | None, int]:
    """The oldest time and the number of device events with ``after < id <= upto``."""
    first_at, count = session.execute(
        select(func.min(DeviceEvent.at), func.count(DeviceEvent.id)).where(
            DeviceEvent.id > after, DeviceEvent.id <= upto
        )
    ).one()
    return first_at, int(count)
