"""`govloop bench notify` at a small size, through a real Kannel with fakesmsc: with the
gateway stopped for a few seconds mid-run nothing is lost and nothing reaches the operator
twice — on SQLite and PostgreSQL. Skipped with the reason when Kannel is missing."""

from __future__ import annotations

import pytest
from rich.console import Console
from sqlalchemy import create_engine, text

from govloop.bench.notify import NotifyBenchConfig, run_notify_bench
from tests.conftest import POSTGRES_URL
from tests.notify.kannel_harness import skip_without_kannel


def _database_url(backend: str) -> str | None:
    if backend == "sqlite":
        return None
    probe = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with probe.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}")
    finally:
        probe.dispose()
    return POSTGRES_URL


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_bench_notify_loses_nothing_and_sends_nothing_twice(backend):
    skip_without_kannel()
    config = NotifyBenchConfig(messages=100, outage_s=3, database_url=_database_url(backend))
    result = run_notify_bench(config, Console(stderr=True, quiet=True))
    for run in ("steady", "outage"):
        figures = result[run]
        assert figures["messages"] == 100
        assert figures["lost"] == 0 and figures["duplicates"] == 0, figures
        assert figures["sent"] == 100 and figures["delivered"] == 100, str(result)
        assert figures["errors"] == []
    assert result["outage"]["outage_s"] == 3
    assert result["caps_raised"] is False and result["caps"]
    assert result["goals"]["lost_0"] and result["goals"]["duplicates_0"]
