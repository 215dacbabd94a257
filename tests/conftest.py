"""Test fixtures. The ``db`` fixture runs every test that uses it on SQLite and on PostgreSQL.

PostgreSQL tests use a throw-away schema in the database named by
``GOVLOOP_TEST_POSTGRES_URL`` (default: the local server, database ``test``); when no
server answers they are skipped with the reason, never passed.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

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
# the demo may run at once on different workers. xdist workers inherit the controller's
# environment, so a worker makes a folder of its own instead of keeping the inherited one
# (two workers exporting into one store read each other's half-written partitions).
if os.environ.get("PYTEST_XDIST_WORKER") or "GOVLOOP_DATA_DIR" not in os.environ:
    os.environ["GOVLOOP_DATA_DIR"] = tempfile.mkdtemp(prefix="govloop-test-data-")
    atexit.register(shutil.rmtree, os.environ["GOVLOOP_DATA_DIR"], ignore_errors=True)

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


# Foreign keys that close a cycle (kb_articles.published_version_id): nulled before the
# DELETEs, so that children-first order holds.
_CYCLE_KEYS = [
    (fk.parent.table.name, fk.parent.name)
    for table in Base.metadata.sorted_tables
    for fk in table.foreign_keys
    if fk.use_alter and fk.parent.nullable
]


def _wipe(engine: Engine) -> None:
    """Empty every table and restart the ids (on PostgreSQL, as TRUNCATE ... RESTART
    IDENTITY does; SQLite numbers from the highest id left, none).

    A test writes to a few of the ~75 tables; truncating all of them took most of a
    PostgreSQL test's time (a new file per table and index). Only the tables holding rows
    are emptied, with DELETE; the full TRUNCATE is kept for tests that leave many rows and
    for foreign keys a DELETE in this order cannot satisfy. SQLite deletes with its
    foreign keys off (every table is emptied): checking them made emptying 20 000
    tickets take 4 s."""
    with engine.connect() as conn:
        filled, many = _filled_tables(conn)
    if engine.dialect.name == "sqlite":
        _delete_sqlite(engine, filled)
        return
    if not many:
        try:
            with engine.begin() as conn:
                _delete(conn, filled)
                _restart_drawn_sequences(conn)
            return
        except IntegrityError:
            pass
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))


def _delete(conn: Connection, filled: list[str]) -> None:
    for name, column in _CYCLE_KEYS:
        if name in filled:
            conn.execute(text(f"UPDATE {name} SET {column} = NULL WHERE {column} IS NOT NULL"))
    for name in filled:
        conn.execute(text(f"DELETE FROM {name}"))


def _delete_sqlite(engine: Engine, filled: list[str]) -> None:
    if not filled:
        return
    with engine.connect() as conn:
        # outside a transaction, where SQLite takes the pragma (the driver autocommits)
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                _delete(conn, filled)
        finally:
            raw.execute("PRAGMA foreign_keys=ON")


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


# --- distribution over the workers (make test: -n 2 --dist loadfile) ------------------------

# Test files whose tests of one backend share nothing with the other backend's (their
# module fixtures are made per backend): each backend's half is a unit of its own, so
# that the two halves can run on both workers at once.
_SPLIT_BY_BACKEND = {"tests/e2e/test_page_sweep.py", "tests/core/test_schemathesis.py"}
_BACKEND = re.compile(r"[\[-](sqlite|postgresql)[\]-]")
# Seconds a unit takes (measured, -n 2, a busy machine), for units far longer than their
# number of tests says; any other unit is reckoned at 0.2 s a test. The longest go
# first, so that the two workers finish together instead of one starting the page sweep
# when the other is nearly done.
_SECONDS = {
    "tests/e2e/test_page_sweep.py::postgresql": 300,
    "tests/e2e/test_page_sweep.py::sqlite": 260,
    "tests/core/test_schemathesis.py::postgresql": 250,
    "tests/core/test_schemathesis.py::sqlite": 150,
    "tests/hall/test_bench_failover.py": 150,
    "tests/hall/test_bench.py": 110,
    "tests/hall/test_waits_snapshot.py": 30,
    "tests/indicators/test_spark.py": 100,
    "tests/insight/test_planning_pages.py": 100,
    "tests/insight/test_pages.py": 100,
    "tests/e2e/test_go_live.py": 60,
    "tests/insight/test_api.py": 60,
    "tests/subjects/test_bench_linkage.py": 55,
    "tests/hall/test_demo.py": 150,
    "tests/demo/test_matters_demo.py": 70,
    "tests/e2e/test_matter_flow.py": 180,
    "tests/e2e/test_notify_pages.py": 60,
    "tests/notify/test_kannel.py": 60,
    "tests/notify/test_bench_notify.py": 60,
    "tests/matters/test_indicators.py": 60,
    "tests/e2e/test_display_board.py": 45,
    "tests/e2e/test_hall_flow.py": 45,
    "tests/subjects/test_linkage_spark.py": 45,
    "tests/e2e/test_rating_flow.py": 40,
    "tests/e2e/test_field_pwa.py": 35,
    "tests/core/test_route_matrix.py": 45,
}


def _unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    if path in _SPLIT_BY_BACKEND and (found := _BACKEND.search(nodeid.split("::", 1)[1])):
        return f"{path}::{found[1]}"
    return path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadfile, longest units first, the files above split by backend."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LongestFirst(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if not self.ordered:  # the first assignment: the queue is complete
                self.ordered = True
                units = sorted(
                    self.workqueue.items(),
                    key=lambda unit: _SECONDS.get(unit[0], 0.2 * len(unit[1])),
                    reverse=True,  # stable: equal units keep the collection's order
                )
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    return LongestFirst(config, log)
