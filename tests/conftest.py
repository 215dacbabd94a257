"""Test fixtures. The ``db`` fixture runs every test that uses it on SQLite and on PostgreSQL.

PostgreSQL tests use a throw-away schema in the database named by
``GOVLOOP_TEST_POSTGRES_URL`` (default: the local server, database ``test``); when no
server answers they are skipped with the reason, never passed.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from govloop.core import auth, ratelimit
from govloop.core.db import Base, make_engine, set_engine
from govloop.core.migrate import upgrade
from govloop.hall.waits import clear_stats_cache
from govloop.registry import import_all_models

POSTGRES_URL = os.environ.get(
    "GOVLOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

import_all_models()

# Each test process keeps its analytics files (Parquet exports) apart: two tests that build
# the demo may run at once on different workers.
os.environ.setdefault(
    "GOVLOOP_DATA_DIR", os.path.join(tempfile.gettempdir(), f"govloop-test-data-{os.getpid()}")
)

# Cheap argon2 parameters for tests: hashing strength is argon2's business, not ours.
auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _postgres_engine() -> Iterator[Engine]:
    probe = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with probe.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # any failure to reach the server means: skip, with the reason
        probe.dispose()
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}: {exc}")
    schema = f"govloop_test_{uuid.uuid4().hex[:10]}"
    with probe.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with probe.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        probe.dispose()


def _sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("db") / "govloop.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield from _sqlite_engine(tmp_path_factory)
    else:
        yield from _postgres_engine()


# kb_search is the knowledge base's full-text index (FTS5 / tsvector), outside the ORM.
# Children before their parents, so that each table can be emptied in this order.
_TABLES = ["kb_search", *(t.name for t in reversed(Base.metadata.sorted_tables))]
# Above this many rows in a table, one TRUNCATE of every table is cheaper than DELETEs.
_MANY_ROWS = 2000


def _filled_tables(conn: Connection) -> tuple[list[str], bool]:
    """The tables holding rows (children first), and whether one holds many: one query,
    each table scanned no further than ``_MANY_ROWS`` rows."""
    counts = " UNION ALL ".join(
        f"SELECT {i} AS i, (SELECT count(*) FROM (SELECT 1 FROM {name} LIMIT {_MANY_ROWS}) AS r)"
        " AS n"
        for i, name in enumerate(_TABLES)
    )
    rows = conn.execute(text(f"SELECT i, n FROM ({counts}) AS c WHERE n > 0")).all()
    filled = [_TABLES[i] for i, _n in sorted(rows)]
    return filled, any(n >= _MANY_ROWS for _i, n in rows)


# The sequences RESTART IDENTITY restarts: those owned by the tables' columns.
_OWNED_SEQUENCES = """
SELECT d.objid::regclass::text, s.seqstart
FROM pg_depend d
JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_sequence s ON s.seqrelid = d.objid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.deptype IN ('a', 'i')
  AND t.relnamespace = current_schema()::regnamespace
  AND t.relname = ANY(:tables)
"""
_RESTART_DRAWN = """
SELECT setval(u.seq::regclass, u.start, false)
FROM unnest(CAST(:seqs AS text[]), CAST(:starts AS bigint[])) AS u(seq, start)
WHERE pg_sequence_last_value(u.seq::regclass) IS NOT NULL
"""
_sequences: dict[Engine, tuple[list[str], list[int]]] = {}


def _restart_drawn_sequences(conn: Connection) -> None:
    """Restart, as TRUNCATE ... RESTART IDENTITY does, the sequences a test drew from (with
    or without leaving rows: a rolled-back insert draws too)."""
    if conn.engine not in _sequences:
        owned = conn.execute(text(_OWNED_SEQUENCES), {"tables": _TABLES}).all()
        _sequences[conn.engine] = ([name for name, _ in owned], [start for _, start in owned])
    seqs, starts = _sequences[conn.engine]
    conn.execute(text(_RESTART_DRAWN), {"seqs": seqs, "starts": starts})


def _wipe(engine: Engine) -> None:
    """Empty every table and restart the ids (on PostgreSQL, as TRUNCATE ... RESTART
    IDENTITY does; SQLite numbers from the highest id left, none).

    A test writes to a few of the ~75 tables; truncating all of them took most of a
    PostgreSQL test's time (a new file per table and index). Only the tables holding rows
    are emptied, with DELETE; the full TRUNCATE is kept for tests that leave many rows and
    for foreign keys a DELETE in this order cannot satisfy."""
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        filled, many = _filled_tables(conn)
    if not many:
        try:
            with engine.begin() as conn:
                for name in filled:
                    conn.execute(text(f"DELETE FROM {name}"))
                if postgres:
                    _restart_drawn_sequences(conn)
            return
        except IntegrityError:
            if not postgres:
                raise
    with engine.begin() as conn:
        if postgres:
            conn.execute(text(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for name in filled:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    """A migrated, empty database on each backend, installed as the process engine."""
    set_engine(engine)
    clear_stats_cache()
    ratelimit.reset()
    try:
        yield engine
    finally:
        set_engine(None)
        _wipe(engine)
        clear_stats_cache()


@pytest.fixture
def backend(db: Engine) -> str:
    return db.dialect.name
