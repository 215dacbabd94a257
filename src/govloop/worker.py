"""`govloop worker`: every timed duty in a process of its own, so web processes only serve.

On PostgreSQL any number of workers may run: one is the leader (it holds a session-level
advisory lock on a connection of its own) and runs the duties; the others stand by and take
over when the leader's connection goes away. Each duty also takes its own transaction lock
(``try_job_lock``), so a web process still running duties never runs one at the same time.
On SQLite there is one process: the worker is always the leader.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import typer
from sqlalchemy import Connection, Engine, text

from govloop.core.jobs import Job
from govloop.core.metrics import timed_duty

log = logging.getLogger("govloop.worker")

LEADER_LOCK = "govloop:worker-leader"
STANDBY_POLL_S = 5.0


class Leadership:
    """Who runs the duties. ``acquire`` is cheap to retry; ``held`` notices a lost lock
    (the database restarted or the connection was cut)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.shared = engine.dialect.name == "postgresql"
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if not self.shared:
            return True
        if self._conn is None:
            self._conn = self.engine.connect()
        got = self._conn.execute(
            text("SELECT pg_try_advisory_lock(hashtext(:name))"), {"name": LEADER_LOCK}
        ).scalar()
        self._conn.commit()  # the lock is the session's; no transaction stays open
        return bool(got)

    def held(self) -> bool:
        if not self.shared:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1")).scalar()
            self._conn.commit()
            return True
        except Exception:  # the connection is gone, and the lock with it
            log.warning("leadership lost: the lock's connection is gone")
            self.release()
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                # unlocked now (a closed socket frees it only when the server notices), and
                # the connection itself goes, not back to the pool
                self._conn.execute(
                    text("SELECT pg_advisory_unlock(hashtext(:name))"), {"name": LEADER_LOCK}
                )
                self._conn.commit()
            except Exception:
                log.debug("unlocking the leader lock failed", exc_info=True)
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:
                log.debug("closing the leader connection failed", exc_info=True)
            self._conn = None


@dataclass
class Schedule:
    """When each duty is next due (monotonic seconds)."""

    jobs: list[Job]
    clock: Callable[[], float] = time.monotonic
    due: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        now = self.clock()
        self.due = {job.name: now + job.first_delay_s() for job in self.jobs}

    def run_due(self) -> list[str]:
        ran = []
        for job in self.jobs:
            if self.clock() < self.due[job.name]:
                continue
            try:
                timed_duty(job.name, job.run)
            except Exception:  # a failing duty is logged and retried at its next time
                log.exception("duty %s failed", job.name)
            self.due[job.name] = self.clock() + job.interval_s()
            ran.append(job.name)
        return ran

    def seconds_to_next(self) -> float:
        return max(0.0, min(self.due.values(), default=STANDBY_POLL_S) - self.clock())


def run_worker(
    *,
    engine: Engine,
    jobs: list[Job],
    stop: threading.Event,
    once: bool = False,
    tick_s: float = 1.0,
) -> list[str]:
    """Run the duties until ``stop`` is set (the duty in progress finishes first). ``once``:
    run every duty once, now, and return their names (for cron and for tests)."""
    leadership = Leadership(engine)
    ran: list[str] = []
    try:
        while not stop.is_set():
            if not leadership.acquire():
                if once:
                    log.info("another worker leads: it runs the duties")
                    return []
                log.info("another worker leads; standing by")
                stop.wait(STANDBY_POLL_S)
                continue
            log.info("leading: running %d duties", len(jobs))
            schedule = Schedule(jobs)
            schedule.start()
            if once:
                schedule.due = dict.fromkeys(schedule.due, 0.0)
                return schedule.run_due()
            while not stop.is_set() and leadership.held():
                ran += schedule.run_due()
                stop.wait(max(0.05, min(tick_s, schedule.seconds_to_next())))
    finally:
        leadership.release()
    return ran


def worker(
    once: bool = typer.Option(False, "--once", help="Run every duty once now, then exit."),
) -> None:
    """Run the timed duties (day close, appointment and SLA sweeps, grants, indicator refresh,
    audit checkpoint). Web processes then run with GOVLOOP_RUN_JOBS=false."""
    from govloop.app import all_jobs
    from govloop.core import logs
    from govloop.core.db import get_engine
    from govloop.core.settings import get_settings

    settings = get_settings()
    logs.configure(settings.log_format, settings.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # the duty in progress finishes; its transaction commits or rolls back whole
        signal.signal(sig, lambda *_: stop.set())
    ran = run_worker(engine=get_engine(), jobs=all_jobs(), stop=stop, once=once)
    if once:
        typer.echo(f"已执行定时任务：{'、'.join(ran) or '无（另一个 worker 正在执行）'}")
