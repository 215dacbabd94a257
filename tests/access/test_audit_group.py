"""Group commit of the access log (audit/group.py): concurrent appenders in threads and in
processes leave one linear chain that verifies, seqs 1..N without gap or duplicate and
checkpoints where they always were; a failed batch leaves nothing, not even a gap."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from govloop.audit import group
from govloop.audit import keys as audit_keys
from govloop.audit import log as audit
from govloop.audit.log import Entry
from govloop.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from govloop.core.db import make_engine, session_factory, set_engine, unit_of_work

from .audit_support import checkpoint_every


def _entry(worker: int, i: int) -> Entry:
    return Entry(
        actor_id=worker, actor=f"staff{worker}", action="read", subject_id=i, fields=["name"]
    )


@pytest.fixture
def make_appender(db: Engine) -> Iterator[Callable[[Callable[[], Session]], group.GroupAppender]]:
    """Group appenders on the test's database, whose connections are given back before the
    database is wiped."""
    made: list[group.GroupAppender] = []

    def make(sessions: Callable[[], Session]) -> group.GroupAppender:
        made.append(group.GroupAppender(sessions, db))
        return made[-1]

    yield make
    for appender in made:
        appender.close()


def _chain() -> tuple[audit.VerifyReport, list[tuple[int, int | None, int | None]], list[int]]:
    with unit_of_work(readonly=True) as s:
        report = audit.verify(session=s)
        rows = [
            (r.seq, r.actor_id, r.subject_id)
            for r in s.execute(
                select(AuditEntry.seq, AuditEntry.actor_id, AuditEntry.subject_id).order_by(
                    AuditEntry.seq
                )
            )
        ]
        signed = list(s.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)))
    return report, rows, signed


def test_concurrent_threads_make_one_linear_chain(db, make_appender):
    threads, each = 8, 30
    appender = make_appender(session_factory())
    returned: dict[tuple[int, int], int] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(worker: int) -> None:
        start.wait()
        try:
            for i in range(each):
                returned[(worker, i)] = appender.append([_entry(worker, i)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    with checkpoint_every(10):
        pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    assert not errors
    n = threads * each
    report, rows, signed = _chain()
    assert report.ok, report.problems
    assert [seq for seq, _, _ in rows] == list(range(1, n + 1))
    assert signed == list(range(10, n + 1, 10))
    # each caller got the sequence of its own entry, and every caller's entries are in order
    assert sorted(returned.values()) == list(range(1, n + 1))
    by_seq = {seq: (actor, subject) for seq, actor, subject in rows}
    for (worker, i), seq in returned.items():
        assert by_seq[seq] == (worker, i)
    assert appender.batches <= n


def test_a_caller_gets_its_own_entries_in_order(db, make_appender):
    appender = make_appender(session_factory())
    assert appender.append([_entry(1, i) for i in range(3)]) == 3
    assert appender.append([]) == 0
    assert appender.append([_entry(2, 0)]) == 4
    report, rows, _ = _chain()
    assert report.ok and rows == [(1, 1, 0), (2, 1, 1), (3, 1, 2), (4, 2, 0)]


def test_a_failed_batch_leaves_no_entry_and_no_gap(db, make_appender):
    failing = {"on": True}
    real = session_factory()

    def sessions():
        session = real()
        if failing["on"]:

            def broken_commit() -> None:
                raise RuntimeError("commit failed")

            session.commit = broken_commit  # type: ignore[method-assign]
        return session

    appender = make_appender(sessions)
    with pytest.raises(RuntimeError, match="commit failed"):
        appender.append([_entry(1, 0), _entry(1, 1)])
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(AuditEntry.seq)) is None
        head = s.execute(select(AuditHead.seq)).scalar()
        assert head in (None, 0)
    failing["on"] = False
    assert appender.append([_entry(1, 2)]) == 1
    report, rows, _ = _chain()
    assert report.ok and [seq for seq, _, _ in rows] == [1]


def test_a_failed_statement_leaves_no_entry_and_no_gap(db, make_appender):
    appender = make_appender(session_factory())
    assert appender.append([_entry(1, 0)]) == 1
    broken = Entry(actor_id=1, actor=None, action="read")  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):  # NOT NULL: one statement, then the transaction
        appender.append([_entry(1, 1), broken])
    assert appender.append([_entry(1, 2)]) == 2
    report, rows, _ = _chain()
    assert report.ok, report.problems
    assert rows == [(1, 1, 0), (2, 1, 2)]


def test_a_naive_time_is_refused_on_every_path(db, make_appender):
    appender = make_appender(session_factory())
    assert appender.append([_entry(1, 0)]) == 1
    naive = Entry(actor_id=1, actor="x", action="read", at=datetime(2026, 1, 1))
    with pytest.raises((ValueError, StatementError)):  # the one statement, the transaction
        appender.append([naive])
    assert appender.append([_entry(1, 1)]) == 2


def test_appends_by_others_in_between_keep_the_chain_linear(db, make_appender):
    appender = make_appender(session_factory())
    with checkpoint_every(3):
        assert appender.append([_entry(1, 0)]) == 1
        assert appender.append([_entry(1, 1)]) == 2  # PostgreSQL: one statement
        with unit_of_work() as s:  # another process's append moves the head
            assert audit.append(session=s, entries=[_entry(2, 0)]) == 3
        assert appender.append([_entry(1, 2)]) == 4  # the head moved: taken under the lock
        assert appender.append([_entry(1, 3), _entry(1, 4)]) == 6  # reaches a checkpoint
        assert appender.append([_entry(1, 5)]) == 7
    report, rows, signed = _chain()
    assert report.ok, report.problems
    assert [seq for seq, _, _ in rows] == list(range(1, 8))
    assert signed == [3, 6]
    assert (appender._connection is not None) == (db.dialect.name == "postgresql")


def test_one_bad_caller_in_a_batch_fails_alone(db, make_appender, monkeypatch):
    real_append, real_if_head = audit.append_head, audit.append_if_head

    def refuse_bad(entries):
        if any(e.actor == "bad" for e in entries):
            raise ValueError("bad entry")

    def picky(*, session, entries):
        refuse_bad(entries)
        return real_append(session=session, entries=entries)

    def picky_if_head(*, connection, entries, head):
        refuse_bad(entries)
        return real_if_head(connection=connection, entries=entries, head=head)

    monkeypatch.setattr(audit, "append_head", picky)
    monkeypatch.setattr(audit, "append_if_head", picky_if_head)
    appender = make_appender(session_factory())
    # three callers queued behind one leader: the batch fails, each is retried alone
    requests = [group._Request([_entry(w, 0)]) for w in range(3)]
    requests[1].entries[0].actor = "bad"
    appender._queue.extend(requests)
    appender._write_batch()
    assert [r.finished for r in requests] == [True, True, True]
    assert isinstance(requests[1].error, ValueError)
    assert (requests[0].last_seq, requests[2].last_seq) == (1, 2)
    report, rows, _ = _chain()
    assert report.ok and rows == [(1, 0, 0), (2, 2, 0)]


def _process_worker(url: str, schema: str | None, worker: int, each: int, every: int) -> None:
    args = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema else {}
    engine = make_engine(url, **args)
    set_engine(engine)
    audit.CHECKPOINT_EVERY = every
    try:
        done = threading.Barrier(2)

        def half(offset: int) -> None:
            for i in range(offset, each, 2):
                group.append([_entry(worker, i)])
            done.wait()

        other = threading.Thread(target=half, args=(1,))
        other.start()
        half(0)
        other.join()
    finally:
        set_engine(None)
        engine.dispose()


def test_concurrent_processes_make_one_linear_chain(db: Engine):
    audit_keys.keygen()  # one key for every process (each would make its own otherwise)
    schema = None
    if db.dialect.name == "postgresql":
        with db.connect() as conn:
            schema = conn.execute(text("select current_schema()")).scalar()
    url = db.url.render_as_string(hide_password=False)
    processes, each = 3, 20
    ctx = multiprocessing.get_context("spawn")
    pool = [
        ctx.Process(target=_process_worker, args=(url, schema, w, each, 7))
        for w in range(processes)
    ]
    for p in pool:
        p.start()
    for p in pool:
        p.join(120)
    assert [p.exitcode for p in pool] == [0] * processes
    assert "GOVLOOP_AUDIT_KEY_DIR" in os.environ
    n = processes * each
    report, rows, signed = _chain()
    assert report.ok, report.problems
    assert [seq for seq, _, _ in rows] == list(range(1, n + 1))
    assert sorted((a, s) for _, a, s in rows) == [
        (w, i) for w in range(processes) for i in range(each)
    ]
    assert signed == list(range(7, n + 1, 7))
