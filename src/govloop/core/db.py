"""Database engine, declarative base and the unit of work.

Service functions take ``session=`` and never commit; each entry point (request, CLI
command, job, test) commits exactly once through :func:`unit_of_work`.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Depends
from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from govloop.core.errors import RecordedRefusal
from govloop.core.settings import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON on every backend, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so read-then-write transactions
        # (call next, number a ticket) serialize instead of failing on a stale snapshot.
        # Read-only units of work use a plain deferred BEGIN and never block writers.
        readonly = conn.get_execution_options().get("govloop_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = url or get_settings().database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


_engine_lock = threading.Lock()
_engine: Engine | None = None
_session_factory: sessionmaker[Session] | None = None
_readonly_factory: sessionmaker[Session] | None = None


def _factories(engine: Engine) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
    readonly = engine.execution_options(govloop_readonly=True)
    return (
        sessionmaker(engine, expire_on_commit=False),
        sessionmaker(readonly, expire_on_commit=False),
    )


def get_engine() -> Engine:
    global _engine, _session_factory, _readonly_factory
    with _engine_lock:
        if _engine is None:
            _engine = make_engine()
            _session_factory, _readonly_factory = _factories(_engine)
        return _engine


def set_engine(engine: Engine | None) -> None:
    """Point the process at another engine (tests, benchmarks)."""
    global _engine, _session_factory, _readonly_factory
    with _engine_lock:
        _engine = engine
        if engine is None:
            _session_factory = _readonly_factory = None
        else:
            _session_factory, _readonly_factory = _factories(engine)


def session_factory(readonly: bool = False) -> sessionmaker[Session]:
    get_engine()
    factory = _readonly_factory if readonly else _session_factory
    assert factory is not None
    return factory


def is_readonly(session: Session) -> bool:
    """Whether ``session`` is a read-only unit of work's (``unit_of_work(readonly=True)``)."""
    return bool(session.get_bind().get_execution_options().get("govloop_readonly", False))


@contextmanager
def unit_of_work(readonly: bool = False) -> Iterator[Session]:
    """One transaction: commit on success (and on a recorded refusal), roll back on any
    other error.

    ``readonly`` work on SQLite starts a deferred transaction that does not take the
    write lock; it must not write.
    """
    session = session_factory(readonly)()
    try:
        yield session
        session.commit()
    except RecordedRefusal:
        # a refused request must leave its trace: store the refusal, then answer it
        session.commit()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_write_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def sqlite_write_turn() -> AsyncIterator[None]:
    """On SQLite, let one writing request of this process run at a time; wait in the loop.

    SQLite has a single writer and the unit of work takes the write lock with ``BEGIN
    IMMEDIATE`` at its first query, then holds it while the request hops between worker
    threads (dependencies, handler, commit). If every worker thread were waiting for the
    lock, the holder could never get a thread for its next hop and the process would
    stall until ``busy_timeout`` (fastapi/fastapi#3205). Waiting here, in the event loop,
    takes no worker thread; it also hands the lock over in arrival order instead of
    SQLite's sleep-and-retry. Other processes (CLI, more workers) still meet the lock.
    """
    if get_engine().dialect.name != "sqlite":
        yield
        return
    loop = asyncio.get_running_loop()
    turn = _write_turns.get(loop)
    if turn is None:
        turn = _write_turns.setdefault(loop, asyncio.Lock())
    async with turn:
        yield


def _function_scope_marker() -> Iterator[None]:
    """A function-scoped sub-dependency: a request-scoped use of its parent fails fast."""
    yield


def get_session(
    _turn: None = Depends(sqlite_write_turn, scope="function"),
) -> Iterator[Session]:
    """FastAPI dependency: one unit of work per request, committed before the response.

    Use it as ``Depends(get_session, scope="function")``: FastAPI then runs the commit
    when the handler returns and before anything is sent, so a failed commit becomes an
    error response instead of an acknowledged write that was never stored. With the
    default request scope the commit would run after the response went out; the
    function-scoped write turn below makes FastAPI refuse that at start-up.
    """
    with unit_of_work() as session:
        yield session


def get_readonly_session(
    _scope: None = Depends(_function_scope_marker, scope="function"),
) -> Iterator[Session]:
    """FastAPI dependency for pages and reads that never write (function scope too, so
    the read snapshot ends with the handler)."""
    with unit_of_work(readonly=True) as session:
        yield session


def try_job_lock(session: Session, name: str) -> bool:
    """Take a transaction-scoped lock for a timed job, so one process runs it at a time.

    PostgreSQL: an advisory lock, skipped when another worker holds it. SQLite: the
    unit of work's ``BEGIN IMMEDIATE`` already makes writers take turns.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    acquired = session.execute(
        text("SELECT pg_try_advisory_xact_lock(hashtext(:name))"), {"name": f"govloop:{name}"}
    ).scalar()
    return bool(acquired)
