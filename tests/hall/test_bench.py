"""Smoke test of `govloop bench hall`: a tiny run on each backend, checked, never timed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import create_engine, text

from govloop.bench.hall import HALL_CODE, BenchConfig, running_server, seed_hall
from govloop.core.db import make_engine
from govloop.core.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "GOVLOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
KEYS = {
    "backend",
    "tickets",
    "ops_per_s",
    "issue_p50_ms",
    "issue_p99_ms",
    "call_p50_ms",
    "call_p99_ms",
    "sse_p99_ms",
    "double_called",
    "lost",
    "eta_rrase",
    "eta_rrase_baseline",
    "eta_rrase_ratio",
    "settings",
}


def _postgres_reachable() -> None:
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # any failure to reach the server means: skip, with the reason
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}: {exc}")
    finally:
        engine.dispose()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_tiny_bench_prints_checked_figures(backend: str) -> None:
    if backend == "postgresql":
        _postgres_reachable()
    command = [sys.executable, "-m", "govloop.cli", "bench", "hall", "--backend", backend]
    size = ["--tickets", "200", "--windows", "8", "--kiosks", "2", "--service-ms", "20"]
    run = subprocess.run(
        [*command, *size, "--postgres-url", POSTGRES_URL, "--json"],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result.keys() >= KEYS
    assert result["backend"] == backend
    assert result["tickets"] == 200
    assert result["double_called"] == 0
    assert result["lost"] == 0, result["checks"]
    assert result["errors"] == {}
    checks = result["checks"]
    assert checks["tickets_in_db"] == 200
    assert checks["finished"] + checks["no_show"] + checks["waiting"] == 200
    assert result["sse_matched"] > 0


def test_sqlite_server_serves_more_concurrent_writers_than_worker_threads(tmp_path) -> None:
    """60 windows call at once: more writers than anyio's 40 worker threads.

    The request holding SQLite's write lock used to wait for a thread while every thread
    waited for the lock, until busy_timeout (see core.db.sqlite_write_turn).
    """
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seeded = seed_hall(engine, BenchConfig(windows=60))
    engine.dispose()

    async def call_all(base_url: str) -> list[int]:
        async with httpx.AsyncClient(base_url=base_url, timeout=90) as client:
            replies = await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/halls/{HALL_CODE}/windows/{number}/call-next",
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    for number, token in seeded.tokens.items()
                )
            )
        return [r.status_code for r in replies]

    with running_server(url, 1, tmp_path / "server.log") as (base_url, _pid):
        statuses = asyncio.run(call_all(base_url))
    # Nobody is waiting: every window is told so; none stalls into "database is locked".
    assert statuses == [422] * 60
