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
from sqlalchemy import Engine, create_engine, text

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


def _wipe(engine: Engine) -> None:
    # kb_search is the knowledge base's full-text index (FTS5 / tsvector), outside the ORM.
    tables = ["kb_search", *(t.name for t in reversed(Base.metadata.sorted_tables))]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
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
