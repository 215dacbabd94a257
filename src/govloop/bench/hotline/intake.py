"""Intake throughput: orders registered through the HTTP API of a real server.

A fresh database (SQLite by default) gets the dispatch catalogue and one agent with an API
token; uvicorn serves the app in a subprocess; concurrent clients post generated orders.
The baseline in the same run is the server's ``/healthz`` rate with the same clients: the
ceiling of any request through this stack on this machine. Afterwards every posted order is
checked to be stored exactly once.

Beside the rates it reports the server's CPU per request (user + system time of the uvicorn
process tree from ``/proc``, read before and after each phase) and the load generator's
(this process, which is not the server's): on a shared 2-core machine the rate depends on
what else runs, the CPU each order costs the server does much less.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.bench.hall import BenchConfig, bench_database, running_server
from govloop.core.auth import Role, hash_password, issue_api_token
from govloop.core.models import User
from govloop.demo.hotline.orders import generate_orders
from govloop.hotline.catalogue import seed_catalogue
from govloop.hotline.models import WorkOrder
from govloop.hotline.open311 import service as open311
from govloop.hotline.open311.conformance import check_conformance


def _seed(engine: Any) -> tuple[str, str]:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        seed_catalogue(session=session)
        agent = User(
            username="bench-agent",
            display_name="基准坐席",
            password_hash=hash_password(uuid.uuid4().hex),
            role=Role.HOTLINE_AGENT.value,
        )
        session.add(agent)
        session.flush()
        _client, open311_key = open311.create_client(session=session, name="bench")
        return issue_api_token(session=session, user=agent, name="bench"), open311_key


async def _drive(
    base: str, path: str, bodies: list[dict[str, Any]] | None, count: int, clients: int, token: str
) -> tuple[float, list[float], int]:
    """Send ``count`` requests from ``clients`` concurrent connections; (seconds, latencies,
    failures)."""
    latencies: list[float] = []
    failures = 0
    next_index = 0
    headers = {"Authorization": f"Bearer {token}"}

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_index, failures
        while next_index < count:
            index = next_index
            next_index += 1
            started = time.perf_counter()
            if bodies is None:
                response = await client.get(path)
            else:
                response = await client.post(path, json=bodies[index], headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 300:
                failures += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        return time.perf_counter() - started, latencies, failures


def _tree_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process and its descendants (Linux ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return None
    for entry in entries:
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = raw[raw.rindex(")") + 2 :].split()  # the name may hold spaces
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    if pid not in cpu:
        return None
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu[current]
        todo.extend(child for child, parent in parents.items() if parent == current)
    return total


def _phase(
    base: str,
    server_pid: int,
    path: str,
    bodies: list[dict[str, Any]] | None,
    count: int,
    clients: int,
    token: str,
) -> tuple[float, list[float], int, float | None, float]:
    """One load phase: (seconds, latencies, failures, server CPU ms per request, load
    generator CPU ms per request)."""
    server_0, client_0 = _tree_cpu_s(server_pid), time.process_time()
    seconds, latencies, failures = asyncio.run(_drive(base, path, bodies, count, clients, token))
    server_1, client_1 = _tree_cpu_s(server_pid), time.process_time()
    server_ms = (
        round(1000 * (server_1 - server_0) / count, 2)
        if server_0 is not None and server_1 is not None
        else None
    )
    return seconds, latencies, failures, server_ms, round(1000 * (client_1 - client_0) / count, 2)


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def bench_intake(
    *, backend: str = "sqlite", orders: int = 2000, clients: int = 16, seed: int = 1
) -> dict[str, Any]:
    config = BenchConfig(backend=backend)
    end = datetime(2026, 11, 20, tzinfo=UTC)
    generated = generate_orders(seed=seed, count=orders, start=end - timedelta(days=7), end=end)
    bodies = [
        {
            "channel": "phone",
            "content": g.content,
            "title": g.title,
            "caller_name": g.caller_name,
            "caller_phone": g.caller_phone,
            "district": g.district,
            "address": g.address,
        }
        for g in generated
    ]
    with bench_database(config) as db:
        token, open311_key = _seed(db.engine)
        log = Path(tempfile.mkdtemp(prefix="govloop-bench-hotline-")) / "server.log"
        load_before = os.getloadavg()
        with running_server(db.url, config.server_workers, log) as (base, pid):
            health_s, _latencies, _, health_cpu, health_client = _phase(
                base, pid, "/healthz", None, orders, clients, token
            )
            intake_s, intake_lat, failures, intake_cpu, intake_client = _phase(
                base, pid, "/api/v1/hotline/orders", bodies, orders, clients, token
            )
            # govloop's schemas always; the official ones too when GOVLOOP_OPEN311_SCHEMA_DIR
            # names them
            conformance = check_conformance(base, api_key=open311_key)
        with Session(db.engine) as session:
            # only the phone orders of the load; the conformance check adds Open311 ones
            phone = WorkOrder.channel == "phone"
            stored = session.scalar(select(func.count(WorkOrder.id)).where(phone)) or 0
            distinct = (
                session.scalar(select(func.count(func.distinct(WorkOrder.number))).where(phone))
                or 0
            )
    intake_rate = orders / intake_s
    health_rate = orders / health_s
    return {
        "backend": backend,
        "orders": orders,
        "clients": clients,
        "intake_per_s": round(intake_rate, 1),
        "intake_p50_ms": _ms(intake_lat, 0.5),
        "intake_p99_ms": _ms(intake_lat, 0.99),
        "intake_failures": failures,
        "stored": stored,
        "lost": orders - failures - stored,
        "duplicate_numbers": stored - distinct,
        "intake_server_cpu_ms": intake_cpu,
        "intake_client_cpu_ms": intake_client,
        "baseline_healthz_per_s": round(health_rate, 1),
        "healthz_server_cpu_ms": health_cpu,
        "healthz_client_cpu_ms": health_client,
        "intake_vs_healthz": round(intake_rate / health_rate, 3),
        "server_cpu_vs_healthz": (
            round(intake_cpu / health_cpu, 2) if intake_cpu and health_cpu else None
        ),
        # 1, 5 and 15-minute load averages when the server started and when the checks ended
        "load_average": {
            "start": [round(x, 2) for x in load_before],
            "end": [round(x, 2) for x in os.getloadavg()],
        },
        "open311_responses_checked": conformance["responses_checked"],
        "open311_schema_failures": conformance["open311_schema_failures"],
        "open311_failures": conformance["failures"][:5],
        "open311_schemas": conformance["schemas"],
    }
