"""Intake throughput: orders registered through the HTTP API of a real server.

A fresh database (SQLite by default) gets the dispatch catalogue and one agent with an API
token; uvicorn serves the app in a subprocess; concurrent clients post generated orders.
The baseline in the same run is the server's ``/healthz`` rate with the same clients: the
ceiling of any request through this stack on this machine. Afterwards every posted order is
checked to be stored exactly once.
"""

from __future__ import annotations

import asyncio
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
        with running_server(db.url, config.server_workers, log) as (base, _pid):
            health_s, _latencies, _ = asyncio.run(
                _drive(base, "/healthz", None, orders, clients, token)
            )
            intake_s, intake_lat, failures = asyncio.run(
                _drive(base, "/api/v1/hotline/orders", bodies, orders, clients, token)
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
        "baseline_healthz_per_s": round(health_rate, 1),
        "intake_vs_healthz": round(intake_rate / health_rate, 3),
        "open311_responses_checked": conformance["responses_checked"],
        "open311_schema_failures": conformance["open311_schema_failures"],
        "open311_failures": conformance["failures"][:5],
        "open311_schemas": conformance["schemas"],
    }
