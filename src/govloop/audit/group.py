"""Group commit of the access log: concurrent appenders share one transaction.

Every append locks the chain's head row until its transaction commits, so appends in
separate transactions run one after another, each paying its own round trips and its own
commit (an fsync on PostgreSQL). ``GroupAppender.append`` lets concurrent callers of one
process batch instead: the first caller to arrive becomes the leader, takes every entry
queued so far, appends them in order with one head lock, one multi-row insert and one
commit, then wakes each caller with the sequence of its last entry. Callers that arrive
while the leader writes queue up for the next batch, which one of them leads.

What stays as it was:

- an append returns only after the transaction holding its entries has committed, so an
  access answered after ``append`` returned is logged;
- a batch is one transaction through ``log.append``: if it fails nothing of it is kept
  (no entry, no sequence used, the head unchanged) and every caller in it gets the error —
  after the failed batch is retried one caller per transaction, so one bad entry fails only
  its own caller;
- the chain stays linear across processes (web workers): each batch takes the same head
  row lock as any other append, and checkpoints are signed where ``log.append`` signs them
  (every ``CHECKPOINT_EVERY``-th sequence), whatever the batch boundaries.

The entries are committed in a transaction of their own, not the caller's. Use it where
the entries are all the caller has to commit (a read of case data records the read and
writes nothing else); a caller whose entries must commit or roll back together with other
writes appends with ``log.append`` in its own transaction. On SQLite, a caller must not
hold a write transaction while it waits here (the leader needs the write lock).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from govloop.audit import log
from govloop.audit.log import Entry
from govloop.core.clock import now
from govloop.core.db import get_engine, session_factory

MAX_BATCH = 1_000  # entries per transaction, at most (a single caller's list may exceed it)
GATHER_S = 0.001  # longest a leader waits for the callers of its last batch to queue again


@dataclass(eq=False)
class _Request:
    entries: list[Entry]
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    finished: bool = False
    last_seq: int = 0
    error: BaseException | None = None


class GroupAppender:
    """One per process and database: see the module's docstring."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        engine: Engine | None = None,
        max_batch: int = MAX_BATCH,
        gather_s: float = GATHER_S,
    ) -> None:
        self._sessions = sessions
        # PostgreSQL: batches go in one autocommit statement while the head is the one this
        # appender last wrote (log.append_if_head), on a connection of its own
        postgres = engine is not None and engine.dialect.name == "postgresql"
        self._engine = engine if postgres else None
        self._connection: Connection | None = None
        self._head: tuple[int, str] | None = None
        self._max_batch = max_batch
        self._gather_s = gather_s
        self._last_batch = 1  # callers in the last batch
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # a caller queued (for _gather)
        self._queue: list[_Request] = []
        self._leading = False
        self.batches = 0  # transactions committed (for benchmarks and tests)

    def append(self, entries: list[Entry]) -> int:
        """Append ``entries`` in order, committed; returns the sequence of the last one."""
        if not entries:
            return 0
        stamp = now()  # the time of the access, not of the batch that carries it
        request = _Request([e if e.at else replace(e, at=stamp) for e in entries])
        with self._lock:
            self._queue.append(request)
            if not self._leading:
                self._leading = request.lead = True
            else:
                self._arrived.notify()
        if not request.lead:
            request.wake.wait()  # finished by a leader, or made the next leader
        if request.lead:
            try:
                while not request.finished:
                    self._write_batch()
            finally:
                self._hand_over()
        if request.error is not None:
            raise request.error
        return request.last_seq

    def _hand_over(self) -> None:
        with self._lock:
            if self._queue:
                following = self._queue[0]
                following.lead = True
                following.wake.set()
            else:
                self._leading = False

    def _gather(self) -> None:
        """Like PostgreSQL's ``commit_delay``: when the last batch had more callers than are
        queued now, give the callers it just woke a moment to queue again, so they share
        this transaction instead of each waiting for the next one. A lone caller never
        waits. The leader sleeps until a caller queues (no polling: under load a 0.1 ms
        poll overslept to 3.5 ms at p90 and took the GIL from the callers it waited for)."""
        deadline = time.monotonic() + self._gather_s
        with self._lock:
            while len(self._queue) < self._last_batch:
                left = deadline - time.monotonic()
                if left <= 0 or not self._arrived.wait(left):
                    return

    def _write_batch(self) -> None:
        if self._gather_s:
            self._gather()
        with self._lock:
            batch: list[_Request] = []
            size = 0
            for request in self._queue:
                if batch and size + len(request.entries) > self._max_batch:
                    break
                batch.append(request)
                size += len(request.entries)
            del self._queue[: len(batch)]
            self._last_batch = len(batch)
        try:
            try:
                self._commit(batch)
            except Exception as exc:
                if len(batch) == 1:
                    batch[0].error = exc
                else:  # find the caller whose entries failed; the others still commit
                    for request in batch:
                        try:
                            self._commit([request])
                        except Exception as single:
                            request.error = single
        except BaseException as exc:  # interrupted: no caller may wait forever
            for request in batch:
                if not request.finished and request.error is None and not request.last_seq:
                    request.error = exc
            raise
        finally:
            for request in batch:
                request.finished = True
                if not request.lead:
                    request.wake.set()

    def _commit(self, batch: list[_Request]) -> None:
        entries = [e for request in batch for e in request.entries]
        last = self._commit_one_statement(entries)
        if last is None:
            last = self._commit_transaction(entries)
        self.batches += 1
        seq = last - len(entries)
        for request in batch:
            seq += len(request.entries)
            request.last_seq = seq

    def _commit_one_statement(self, entries: list[Entry]) -> int | None:
        if self._engine is None or self._head is None:
            return None
        try:
            if self._connection is None:
                self._connection = self._engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                )
            head = log.append_if_head(connection=self._connection, entries=entries, head=self._head)
        except Exception:
            self._forget_connection()
            raise
        if head is None:
            return None  # moved by another process, or a checkpoint is due: lock it
        self._head = head
        return head[0]

    def _commit_transaction(self, entries: list[Entry]) -> int:
        self._head = None
        session = self._sessions()
        try:
            head = log.append_head(session=session, entries=entries)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        self._head = head
        return head[0]

    def _forget_connection(self) -> None:
        self._head = None
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # already broken: nothing more to release
                pass
            self._connection = None

    def close(self) -> None:
        """Give back the connection (PostgreSQL); the next batch takes a new one."""
        with self._lock:
            self._forget_connection()


_appenders: weakref.WeakKeyDictionary[Engine, GroupAppender] = weakref.WeakKeyDictionary()
_appenders_lock = threading.Lock()


def appender() -> GroupAppender:
    """This process's group appender for the current engine."""
    engine = get_engine()
    with _appenders_lock:
        found = _appenders.get(engine)
        if found is None:
            found = _appenders[engine] = GroupAppender(session_factory(), engine)
        return found


def append(entries: list[Entry]) -> int:
    """Append and commit ``entries`` through this process's group appender."""
    return appender().append(entries)


def close_all() -> None:
    """Give back every appender's connection (the application's shutdown). The appenders
    run no threads of their own: a batch is written by one of its callers."""
    with _appenders_lock:
        found = list(_appenders.values())
    for each in found:
        each.close()


def _forget_after_fork() -> None:
    # a forked worker must not inherit a lock or a queue held by another thread of its parent
    global _appenders_lock
    _appenders_lock = threading.Lock()
    _appenders.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
