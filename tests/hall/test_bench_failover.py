"""`govloop bench failover` at its smallest: nginx, two web processes and two workers on
PostgreSQL, one web process and the leading worker killed mid-run and restarted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from govloop.bench.failover import duplicated_duty_runs, find_nginx

POSTGRES_URL = os.environ.get(
    "GOVLOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> None:
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # any failure to reach the server means: skip, with the reason
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}: {exc}")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def failover() -> dict[str, Any]:
    if find_nginx() is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    _postgres_reachable()
    command = [sys.executable, "-m", "govloop.cli", "bench", "failover", "--json"]
    size = ["--duration", "12", "--down", "3", "--kiosks", "2", "--windows", "3"]
    run = subprocess.run(
        [*command, *size, "--postgres-url", POSTGRES_URL],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result: dict[str, Any] = json.loads(run.stdout)
    return result


@pytest.mark.timeout(180)
def test_failover_loses_nothing_and_doubles_nothing(failover: dict[str, Any]) -> None:
    r = failover
    assert r["acknowledged"] > 0
    assert r["acknowledged_by_op"].get("call", 0) > 0
    assert {k["role"] for k in r["killed"]} == {"web", "leader"}
    assert all(k["signal"] == "SIGKILL" for k in r["killed"])
    assert len(r["restarted"]) == 2
    assert r["leader_takeover_s"] is not None  # the standby worker took over
    assert r["lost"] == 0, r["lost_by_op"]
    assert r["double_called"] == 0
    assert r["duty_runs_duplicated"] == 0
    assert r["gave_up"] == {}
    assert all(r["alive_at_end"].values()), r["alive_at_end"]
    assert r["server_tracebacks"] == 0


@pytest.mark.timeout(180)
def test_failover_displays_miss_no_call(failover: dict[str, Any]) -> None:
    assert failover["sse_missed_calls"] == 0, failover["displays"]


def test_overlapping_duty_runs_are_counted() -> None:
    runs = [
        {"event": "duty", "pid": 1, "duty": "hall jobs", "start": 0.0, "end": 2.0, "locks": []},
        # another process, while the first still runs: counted
        {"event": "duty", "pid": 2, "duty": "hall jobs", "start": 1.0, "end": 1.5, "locks": []},
        # the job lock was refused: nothing done, not counted
        {
            "event": "duty",
            "pid": 3,
            "duty": "hall jobs",
            "start": 1.2,
            "end": 1.3,
            "locks": [["hall-jobs", False]],
        },
        # the same process later, or another duty: not counted
        {"event": "duty", "pid": 1, "duty": "hall jobs", "start": 5.0, "end": 6.0, "locks": []},
        {"event": "duty", "pid": 2, "duty": "access sweep", "start": 0.5, "end": 1.0, "locks": []},
        {"event": "lead", "pid": 2, "at": 0.0},
    ]
    duplicated, counts = duplicated_duty_runs(runs)
    assert duplicated == 1
    assert counts == {"hall jobs": 3, "access sweep": 1}
