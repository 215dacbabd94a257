"""The configuration in force on a day: versions of the objects figures depend on.

A hall's opening hours and its windows (type, items served, open or archived) change from
a day on, and the figures of a day — duty time, staffing plans — must use the state of
that day, not today's. Every change is written as a version from its first day; the state
before the first recorded change is kept as a version from ``EPOCH`` so older days keep it.
Before an object's first version it did not exist, except for hours: a hall's first hours
stand for the days before it too (its history may be loaded after it was configured).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from govloop.org import hours
from govloop.org.hours import Period
from govloop.org.models import ConfigVersion, Hall

EPOCH = date(2000, 1, 1)
FOREVER = date(9999, 12, 31)
HOURS = "hall_hours"
WINDOW = "window"


def hours_state(periods: Iterable[Period], weekend_days: Iterable[int]) -> dict[str, Any]:
    return {"hours": ",".join(str(p) for p in periods), "weekend_days": sorted(weekend_days)}


def window_key(hall_code: str, number: int) -> str:
    return f"{hall_code}/{number}"


def record(
    session: Session,
    *,
    kind: str,
    key: str,
    hall_code: str,
    valid_from: date,
    state: dict[str, Any],
    before: dict[str, Any] | None = None,
    scheduled_id: int | None = None,
) -> None:
    """``state`` is in force from ``valid_from`` (replacing a version of that same day).
    ``before`` is the state until now, kept from ``EPOCH`` when nothing was recorded yet."""
    versions = {
        v.valid_from: v
        for v in session.scalars(
            select(ConfigVersion).where(ConfigVersion.kind == kind, ConfigVersion.key == key)
        )
    }
    if not versions and before is not None and valid_from > EPOCH:
        session.add(
            ConfigVersion(kind=kind, key=key, hall_code=hall_code, valid_from=EPOCH, state=before)
        )
    version = versions.get(valid_from)
    if version is None:
        version = ConfigVersion(kind=kind, key=key, hall_code=hall_code, valid_from=valid_from)
        session.add(version)
    version.state, version.scheduled_id, version.hall_code = dict(state), scheduled_id, hall_code
    session.flush()


def drop_scheduled(session: Session, scheduled_id: int) -> None:
    """A scheduled change was cancelled or failed on its day: its versions never held."""
    session.execute(delete(ConfigVersion).where(ConfigVersion.scheduled_id == scheduled_id))


@dataclass(frozen=True)
class Span:
    """A state in force from ``valid_from`` up to (not including) ``valid_to``."""

    valid_from: date
    valid_to: date
    state: dict[str, Any]

    def covers(self, day: date) -> bool:
        return self.valid_from <= day < self.valid_to


def _spans(versions: list[ConfigVersion]) -> list[Span]:
    versions = sorted(versions, key=lambda v: v.valid_from)
    ends = [v.valid_from for v in versions[1:]] + [FOREVER] if versions else []
    return [Span(v.valid_from, end, dict(v.state)) for v, end in zip(versions, ends, strict=True)]


@dataclass(frozen=True)
class HoursSpan:
    valid_from: date
    valid_to: date
    periods: tuple[Period, ...]
    weekend_days: tuple[int, ...]


def hours_spans(session: Session, hall: Hall) -> list[HoursSpan]:
    """The hall's hours over all time, in order; the first span reaches back to ``EPOCH``."""
    versions = list(
        session.scalars(
            select(ConfigVersion).where(ConfigVersion.kind == HOURS, ConfigVersion.key == hall.code)
        )
    )
    spans = _spans(versions) or [
        Span(EPOCH, FOREVER, hours_state(hours.periods_of(hall), hall.weekend_days or []))
    ]
    return [
        HoursSpan(
            EPOCH if n == 0 else s.valid_from,
            s.valid_to,
            tuple(hours.parse_periods(s.state["hours"])),
            tuple(s.state.get("weekend_days") or ()),
        )
        for n, s in enumerate(spans)
    ]


def hours_on(session: Session, hall: Hall, day: date) -> HoursSpan:
    return next(s for s in hours_spans(session, hall) if s.valid_from <= day < s.valid_to)


def window_spans(session: Session, hall_code: str) -> dict[str, list[Span]]:
    """Per window key of the hall, its versions as spans (windows never changed are absent:
    their current row is their state on every day)."""
    by_key: dict[str, list[ConfigVersion]] = {}
    for v in session.scalars(
        select(ConfigVersion).where(
            ConfigVersion.kind == WINDOW, ConfigVersion.hall_code == hall_code
        )
    ):
        by_key.setdefault(v.key, []).append(v)
    return {key: _spans(versions) for key, versions in by_key.items()}


def state_on(spans: list[Span], day: date) -> dict[str, Any] | None:
    """The state a versioned object had on ``day`` (None: it did not exist yet)."""
    return next((s.state for s in spans if s.covers(day)), None)
