"""Smoke test of `govloop bench hall`: tiny runs of both modes on each backend, checked, never
timed; and the load generator's bookkeeping of waiting tickets."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys

import httpx
import pytest
from rich.console import Console
from sqlalchemy import create_engine, text

from govloop.bench.hall import (
    HALL_CODE,
    BenchConfig,
    judge_goals,
    run_bench,
    running_server,
    seed_hall,
)
from govloop.bench.hall_load import generator
from govloop.bench.hall_load.cpu import available_cpus, cpu_spent, plan_pinning
from govloop.bench.hall_load.plan import LoadPlan
from govloop.core.db import make_engine
from govloop.core.migrate import upgrade
from govloop.hall.models import EventKind, TicketStatus

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
    "mode",
    "latency_from",
    "server_cpu_ms_per_op",
    "loadgen_cpu_ms_per_op",
    "loadgen_loop_lag_p99_ms",
    "goals",
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


@pytest.mark.timeout(150)
@pytest.mark.parametrize("mode", ["saturated", "open_loop"])
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_tiny_bench_prints_checked_figures(backend: str, mode: str) -> None:
    if backend == "postgresql":
        _postgres_reachable()
    # saturated: 20 ms handling; open loop: 200 requests/s, 50 tickets/s, ~130 ms handling
    if backend == "sqlite" and mode == "open_loop":
        # once through the command and its flags; the other runs in-process (each run
        # spends most of its time starting the server, a fresh CLI would double that)
        command = [sys.executable, "-m", "govloop.cli", "bench", "hall", "--backend", backend]
        size = ["--tickets", "200", "--windows", "8", "--kiosks", "2", "--rate", "200"]
        run = subprocess.run(
            [*command, *size, "--postgres-url", POSTGRES_URL, "--json"],
            capture_output=True,
            text=True,
            timeout=140,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        result = json.loads(run.stdout)
    else:
        config = BenchConfig(
            backend=backend,
            tickets=200,
            windows=8,
            kiosks=2,
            service_ms=20,
            rate=200 if mode == "open_loop" else 0,
            postgres_url=POSTGRES_URL,
        )
        result = run_bench(config, Console(stderr=True, quiet=True))
    assert result.keys() >= KEYS
    assert result["backend"] == backend
    assert result["mode"] == mode
    assert result["latency_from"] == ("send" if mode == "saturated" else "schedule")
    assert result["tickets"] == 200
    assert result["double_called"] == 0
    assert result["lost"] == 0, result["checks"]
    assert result["errors"] == {}
    checks = result["checks"]
    assert checks["tickets_in_db"] == 200
    assert checks["finished"] + checks["no_show"] + checks["waiting"] == 200
    # every ticket was issued, called and resolved: at least 3 requests each
    assert result["ops"] >= 3 * 200
    assert result["sse_matched"] > 0
    assert result["server_cpu_ms_per_op"] > 0
    assert result["loadgen_cpu_ms_per_op"] > 0
    if backend == "postgresql":  # backends of other clients that exit must not make it negative
        assert result["postgres_cpu_ms_per_op"] >= 0
    else:
        assert result["postgres_cpu_ms_per_op"] is None
    goals = result["goals"]
    common = {"server_cpu_ms_per_op", "double_called", "lost", "sse_p99_ms"}
    own = {"ops_per_s"} if mode == "saturated" else {"call_p99_ms", "issue_p99_ms"}
    assert goals.keys() == common | own
    assert goals["double_called"]["met"] and goals["lost"]["met"]
    pinned = result["settings"]["pinned"]
    if len(available_cpus()) >= 2:
        assert set(pinned["server_cpus"]).isdisjoint(pinned["loadgen_cpus"])
    else:
        assert pinned["server_cpus"] == pinned["loadgen_cpus"] == "all"


def test_goals_are_judged_per_mode() -> None:
    figures = {
        "server_cpu_ms_per_op": 1.6,
        "ops_per_s": 500.0,
        "call_p99_ms": 25.0,
        "issue_p99_ms": None,
        "double_called": 0,
        "lost": 1,
        "sse_p99_ms": 10.0,
    }
    saturated = judge_goals(figures, open_loop=False)
    assert {k: v["met"] for k, v in saturated.items()} == {
        "server_cpu_ms_per_op": False,
        "ops_per_s": True,
        "double_called": True,
        "lost": False,
        "sse_p99_ms": True,
    }
    open_loop = judge_goals(figures, open_loop=True)
    assert open_loop["call_p99_ms"]["met"] is True
    assert open_loop["issue_p99_ms"] == {"goal": "<= 40", "measured": None, "met": False}
    assert "ops_per_s" not in open_loop


def test_open_loop_rate_counts_requests_and_sets_handling_for_the_utilisation() -> None:
    config = BenchConfig(windows=50, rate=200, utilisation=0.8)
    assert config.open_loop
    assert config.arrival_rate == pytest.approx(50.0)  # 4 requests per ticket
    # 50 tickets/s × 0.8 s handling = 40 busy windows of 50
    assert config.mean_service_ms == pytest.approx(800.0)
    saturated = BenchConfig(windows=50, service_ms=300)
    assert not saturated.open_loop
    assert saturated.mean_service_ms == 300


def test_pinning_splits_the_cores_or_pins_nothing() -> None:
    cpus = available_cpus()
    pinning = plan_pinning()
    if len(cpus) >= 2:
        assert pinning.server and pinning.loadgen
        assert set(pinning.server) | set(pinning.loadgen) == set(cpus)
        assert set(pinning.server).isdisjoint(pinning.loadgen)
    else:
        assert pinning.server == pinning.loadgen == ()
    assert plan_pinning(enabled=False).server == ()


def test_cpu_spent_ignores_processes_that_exited() -> None:
    before = {1: 2.0, 2: 5.0}  # process 2 exits; process 3 starts
    after = {1: 2.5, 3: 0.25}
    assert cpu_spent(before, after) == pytest.approx(0.75)


def test_generator_speaks_the_apis_values() -> None:
    assert generator.CALLED_EVENT == EventKind.CALLED
    assert generator.NO_SHOW_STATUS == TicketStatus.NO_SHOW


def _state(items: tuple[str, ...]) -> generator.LoadState:
    plan = LoadPlan(
        base_url="http://127.0.0.1:1",
        hall_code=HALL_CODE,
        tokens={},
        window_items={},
        item_codes=items,
        kiosks=1,
        tickets=0,
        arrival_rate=1.0,
        open_loop=True,
        service_ms=100.0,
        service_sigma=0.6,
        patience_s=30.0,
        priority_share=0.0,
        seed=1,
        client="lean",
        server_pid=0,
        cpus=(),
        measure_postgres=False,
        timeout_s=10.0,
    )
    return generator.LoadState(plan=plan, rng=random.Random(1))


def test_windows_claim_the_longest_waiting_ticket_of_their_items() -> None:
    state = _state(("A", "B"))
    state.ticket_waiting("B", 1.0)
    state.ticket_waiting("A", 2.0)
    assert state.claim(("C",)) is None
    assert state.claim(("A", "B")) == ("B", 1.0)
    assert state.claim(("B",)) is None  # the one B ticket is claimed by a call in flight
    # that call returned the A ticket (a priority ticket jumps the queue): B waits again
    state.called_other("B", 1.0, "A")
    assert state.waiting == {"A": 0, "B": 1}
    assert state.claim(("A",)) is None
    assert state.claim(("B",)) == ("B", 1.0)
    # a call that fails gives its claim back
    state.unclaim("B", 1.0)
    assert state.claim(("A", "B")) == ("B", 1.0)


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

    pinning = plan_pinning()
    with running_server(url, 1, tmp_path / "server.log", pinning.server) as (base_url, pid):
        if pinning.server:  # the bench keeps the server off the load generator's cores
            assert os.sched_getaffinity(pid) == set(pinning.server)
        statuses = asyncio.run(call_all(base_url))
    # Nobody is waiting: every window is told so; none stalls into "database is locked".
    assert statuses == [422] * 60
