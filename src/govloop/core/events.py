"""Event-log primitives shared by the domains.

Domains append their own event rows inside the caller's transaction; after the
transaction commits, in-process listeners (live displays) are woken for the topics the
transaction touched. On PostgreSQL other processes are woken through NOTIFY/LISTEN
(``core.listen``); polling stays as the safety net, so a wake-up is never the only path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import event, text
from sqlalchemy.orm import Session

_listeners: list[Callable[[set[str]], None]] = []
_lock = threading.Lock()


NOTIFY_CHANNEL = "govloop"


def touch(session: Session, topic: str) -> None:
    """Mark ``topic`` as changed by this transaction. On PostgreSQL the transaction also
    notifies ``NOTIFY_CHANNEL``: the server delivers it to every listening process when, and
    only if, the transaction commits."""
    touched = session.info.setdefault("touched_topics", set())
    if topic in touched:
        return
    touched.add(topic)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :topic)"),
            {"channel": NOTIFY_CHANNEL, "topic": topic},
        )


def dispatch(topics: set[str]) -> None:
    """Wake this process's listeners for topics changed elsewhere (another process's
    commit, received through LISTEN)."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(set(topics))


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
    if topics:
        dispatch(topics)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("touched_topics", None)
