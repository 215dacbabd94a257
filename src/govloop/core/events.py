"""Event-log primitives shared by the domains.

Domains append their own event rows inside the caller's transaction; after the
transaction commits, in-process listeners (live displays) are woken for the topics the
transaction touched. Other processes see the rows through polling, so the wake-up is an
optimisation, never the only path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

_listeners: list[Callable[[set[str]], None]] = []
_lock = threading.Lock()


def touch(session: Session, topic: str) -> None:
    """Mark ``topic`` as changed by this transaction."""
    session.info.setdefault("touched_topics", set()).add(topic)


def add_commit_listener(listener: Callable[[set[str]], None]) -> None:
    with _lock:
        _listeners.append(listener)


def remove_commit_listener(listener: Callable[[set[str]], None]) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    topics = session.info.pop("touched_topics", None)
    if not topics:
        return
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(set(topics))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("touched_topics", None)
