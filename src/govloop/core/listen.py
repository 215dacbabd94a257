"""LISTEN on PostgreSQL: commits in other processes (web workers, the worker, the CLI) wake
this process's live screens at once. One thread per process holds one connection; when it
drops, the thread reconnects with a growing pause and the screens fall back to polling
meanwhile (``connected`` says which)."""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from sqlalchemy import Engine

from govloop.core.events import NOTIFY_CHANNEL, dispatch

log = logging.getLogger("govloop.listen")
MAX_PAUSE_S = 30.0


class Listener:
    def __init__(self, engine: Engine) -> None:
        url = engine.url.set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self._run, name="govloop-listen", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        global _current
        self.stop.set()
        self.thread.join(timeout=5)
        if _current is self:
            _current = None

    def _run(self) -> None:
        pause = 1.0
        while not self.stop.is_set():
            try:
                self._listen()
                pause = 1.0
            except psycopg.Error as exc:
                log.warning("LISTEN connection lost (%s); retrying in %.0f s", exc, pause)
            self.connected.clear()
            self.stop.wait(pause)
            pause = min(pause * 2, MAX_PAUSE_S)

    def _listen(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'LISTEN "{NOTIFY_CHANNEL}"')
            self.connected.set()
            while not self.stop.is_set():
                # each notification wakes the screens as it arrives; the generator ends
                # after a quiet second, so a stop request is seen within a second
                for notification in conn.notifies(timeout=1.0):
                    dispatch({notification.payload})


_current: Listener | None = None


def listening() -> bool:
    """Whether commits in other processes reach this one at once (else: poll often)."""
    return _current is not None and _current.connected.is_set()


def start_listening(engine: Engine) -> Listener | None:
    """A listener for a PostgreSQL engine; SQLite has one process and needs none."""
    global _current
    if engine.dialect.name != "postgresql":
        return None
    listener = _current = Listener(engine)
    listener.start()
    deadline = time.monotonic() + 5
    while not listener.connected.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    return listener
