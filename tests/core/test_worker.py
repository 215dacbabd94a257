"""`govloop worker`: one leader runs the duties, the others stand by and take over."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from govloop.audit import log as audit
from govloop.audit.models import AuditCheckpoint
from govloop.core.db import unit_of_work
from govloop.core.jobs import Job, every
from govloop.worker import Leadership, Schedule, run_worker


def counting_job(name: str, ran: list[str], interval: float = 60.0) -> Job:
    return Job(name, lambda: ran.append(name), every(interval), every(0))


def test_once_runs_every_duty_and_a_failing_duty_does_not_stop_the_rest(db: Engine) -> None:
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("the duty failed")

    jobs = [
        counting_job("first", ran),
        Job("broken", broken, every(60), every(0)),
        counting_job("last", ran),
    ]
    names = run_worker(engine=db, jobs=jobs, stop=threading.Event(), once=True)
    assert names == ["first", "broken", "last"]
    assert ran == ["first", "last"]


def test_duties_run_at_their_own_intervals() -> None:
    clock = [0.0]
    ran: list[str] = []
    schedule = Schedule(
        [counting_job("often", ran, interval=10), counting_job("rarely", ran, interval=100)],
        clock=lambda: clock[0],
    )
    schedule.start()
    for t in (0, 5, 10, 20, 50, 100):
        clock[0] = t
        schedule.run_due()
    assert ran.count("often") == 5  # at 0, 10, 20, 50, 100
    assert ran.count("rarely") == 2  # at 0 and 100
    assert schedule.seconds_to_next() == 10


def test_stop_ends_the_loop_after_the_duty_in_progress(db: Engine) -> None:
    stop = threading.Event()
    ran: list[str] = []

    def last_duty() -> None:
        ran.append("duty")
        stop.set()  # a SIGTERM arriving while a duty runs

    run_worker(engine=db, jobs=[Job("duty", last_duty, every(60), every(0))], stop=stop)
    assert ran == ["duty"]


def test_one_leader_at_a_time_on_postgresql(db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("leadership is shared through PostgreSQL; SQLite runs one process")
    first, second = Leadership(db), Leadership(db)
    try:
        assert first.acquire() and first.held()
        assert not second.acquire(), "two workers both lead"
        # a second worker asked to run once leaves the duties to the leader
        assert run_worker(engine=db, jobs=[], stop=threading.Event(), once=True) == []
        first.release()  # the leader stops or its connection is cut
        assert second.acquire(), "the standby did not take over"
        assert not first.held()
    finally:
        first.release()
        second.release()


def test_sqlite_worker_always_leads(db: Engine) -> None:
    if db.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    assert Leadership(db).acquire() and Leadership(db).acquire()


def test_worker_command_signs_the_audit_head(db: Engine) -> None:
    from govloop.cli import app

    with unit_of_work() as s:
        audit.append(
            session=s,
            entries=[audit.Entry(actor_id=None, actor="system", action="read", detail="test")],
        )
    result = CliRunner().invoke(app, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "audit checkpoint" in result.output
    with unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(AuditCheckpoint)) == 1
