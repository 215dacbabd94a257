"""LISTEN on PostgreSQL: commits in other processes (web workers, the worker, the CLI) wake
this process's live screens at once. One thread per process holds one connection; when it
drops, the thread reconnects with a growing pause and the screens fall back to polling
meanwhile (``connected`` says which). Closing wakes the thread at once (a pipe it waits on
beside the connection): the tests start and stop an application, hence a listener, in
hundreds of tests."""

from __future__ import annotations

import logging
import os
import select
import threading

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
        self._wake_r, self._wake_w = os.pipe()  # written by close: the thread stops waiting

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        global _current
        self.stop.set()
        os.write(self._wake_w, b"\0")
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            os.close(self._wake_r)
            os.close(self._wake_w)
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
                # each notification wakes the screens as it arrives: those received (also
                # with an earlier answer) are handed on, then the thread waits for the
                # server to send more, or for close
                for notification in conn.notifies(timeout=0):
                    dispatch({notification.payload})
                select.select([conn.fileno(), self._wake_r], [], [])


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
    listener.connected.wait(timeout=5)
    return listener
