"""The display snapshot of a hall, computed once per change instead of once per reader.

Display boards, kiosks, the live feed and polling clients all read the same snapshot; a
busy hall changes many times a second and is read more often still. A cached snapshot is
used only while all of these hold:

* no commit in this process touched the hall (``core.events`` topic ``hall:<id>``; on
  PostgreSQL other processes' commits arrive the same way through LISTEN);
* no commit in this process changed the hall's configuration (halls, windows, items,
  staff names: checked at flush);
* the hall's highest event id is the one it was computed at (one indexed query, so a
  commit elsewhere that this process was not told about is still seen);
* it is the same service day and at most ``MAX_AGE_S`` old (by the injectable clock), the
  safety net for changes that leave no event and for simulated time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction

from govloop.core.clock import now
from govloop.core.events import add_commit_listener
from govloop.core.models import User
from govloop.hall.models import ServiceItem, Window
from govloop.org.models import Hall

MAX_AGE_S = 2.0
_CONFIG_TYPES = (Hall, Window, ServiceItem, User)
_CONFIG_FLAG = "govloop.hall.config_changed"


@dataclass(frozen=True)
class _Entry:
    generation: int
    epoch: int
    last_event_id: int
    day: date
    at: datetime
    snapshot: dict[str, Any]


_lock = threading.Lock()
_generations: dict[int, int] = {}
_epoch = 0  # bumped when configuration changed: every hall's snapshot is stale
_entries: dict[int, _Entry] = {}


def _on_commit(topics: set[str]) -> None:
    with _lock:
        for topic in topics:
            if topic.startswith("hall:") and topic[5:].isdigit():
                hall_id = int(topic[5:])
                _generations[hall_id] = _generations.get(hall_id, 0) + 1


add_commit_listener(_on_commit)


@event.listens_for(Session, "after_flush")
def _note_config_change(session: Session, _context: UOWTransaction) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _CONFIG_TYPES):
            session.info[_CONFIG_FLAG] = True
            return


@event.listens_for(Session, "after_commit")
def _config_committed(session: Session) -> None:
    global _epoch
    if session.info.pop(_CONFIG_FLAG, False):
        with _lock:
            _epoch += 1


@event.listens_for(Session, "after_rollback")
def _config_rolled_back(session: Session) -> None:
    session.info.pop(_CONFIG_FLAG, None)


def cached(
    *,
    hall_id: int,
    day: date,
    last_event_id: int,
    compute: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """The hall's snapshot: the cached one while nothing changed, else ``compute()``.
    Callers must not modify the dict they get (it is shared)."""
    moment = now()
    with _lock:
        generation, epoch = _generations.get(hall_id, 0), _epoch
        entry = _entries.get(hall_id)
    if (
        entry is not None
        and entry.generation == generation
        and entry.epoch == epoch
        and entry.last_event_id == last_event_id
        and entry.day == day
        and 0.0 <= (moment - entry.at).total_seconds() <= MAX_AGE_S
    ):
        return entry.snapshot
    snapshot = compute()
    with _lock:
        # stored under the generation read before computing: a commit during the
        # computation leaves it stale, as it should be
        _entries[hall_id] = _Entry(generation, epoch, last_event_id, day, moment, snapshot)
    return snapshot


def clear() -> None:
    with _lock:
        _entries.clear()
