"""`govloop bench requests`: the server's CPU per request, route by route, in-process.

Requests go straight to the ASGI application (no sockets, no HTTP parser, no load
generator in the way), so the figure is what the application itself costs: middleware,
routing, dependencies, the database work and the response. CPU is the process's
(``time.process_time``: every thread, so the thread pool running sync routes counts).

Measured side by side in the same run: a bare FastAPI application answering one JSON
route (the floor of the stack), and govloop with its route gate switched off (FastAPI
walking every router in order), so the gate's effect is a ratio of the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from fastapi import FastAPI
from starlette.types import ASGIApp, Message

from govloop.bench.hall import HALL_CODE, BenchConfig, bench_database, seed_hall
from govloop.core.db import set_engine
from govloop.core.settings import get_settings

Call = tuple[str, str, dict[str, Any] | None, str | None]  # method, path, JSON body, token


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


async def call(
    app: ASGIApp, method: str, path: str, body: Any = None, token: str | None = None
) -> Reply:
    raw = json.dumps(body).encode() if body is not None else b""
    headers = [
        (b"host", b"127.0.0.1"),
        (b"accept", b"application/json"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
    ]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:  # the body was read: wait as a client that sent nothing more would
            await asyncio.sleep(3600)
        delivered = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return Reply(int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:]))


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@contextmanager
def gate_off(app: FastAPI) -> Iterator[None]:
    """Every router walked again, as FastAPI does without the gate."""
    gated = [n for n in app.router.routes if hasattr(n.matches, "__wrapped__")]
    for node in gated:
        node.matches = node.matches.__wrapped__  # type: ignore[attr-defined,method-assign]
    try:
        yield
    finally:
        from govloop.core import route_gate

        route_gate.install(app)


def cpu_ms(run: Callable[[], Any], n: int, rounds: int) -> float:
    """Median over ``rounds`` of the CPU milliseconds per request of ``n`` requests."""
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        asyncio.run(_repeat(run, n))
        samples.append((time.process_time() - start) / n * 1000)
    return round(statistics.median(samples), 3)


async def _repeat(run: Callable[[], Any], n: int) -> None:
    for _ in range(n):
        await run()


def run_bench(*, backend: str, requests: int, rounds: int) -> dict[str, Any]:
    os.environ["GOVLOOP_RATE_LIMIT_ENABLED"] = "false"  # measuring the work, not the limits
    get_settings.cache_clear()
    from govloop.app import create_app

    config = BenchConfig(backend=backend, windows=50, kiosks=10, items=8)
    with bench_database(config) as database:
        set_engine(database.engine)
        try:
            seeded = seed_hall(database.engine, config)
            app = create_app(run_jobs=False)
            items = seeded.item_codes
            window, token = next(iter(seeded.tokens.items()))
            base = f"/api/v1/halls/{HALL_CODE}"
            issued = 0

            async def issue() -> None:
                nonlocal issued
                reply = await call(
                    app, "POST", f"{base}/tickets", {"item_code": items[issued % len(items)]}
                )
                issued += 1
                assert reply.status == 201, reply.body[:200]

            async def serve_one() -> None:
                # the first window serves two items; make sure one of them is waiting
                for item in items[:2]:
                    await call(app, "POST", f"{base}/tickets", {"item_code": item})
                here = f"{base}/windows/{window}"
                steps = (("call-next", None), ("start", None), ("finish", {"outcome": "done"}))
                for step, body in steps:
                    reply = await call(app, "POST", f"{here}/{step}", body, token)
                    assert reply.status == 200, (step, reply.body[:200])

            routes: dict[str, Callable[[], Any]] = {
                "GET /healthz": lambda: call(app, "GET", "/healthz"),
                "GET /api/v1/halls/{hall}": lambda: call(app, "GET", base),
                "GET /api/v1/access/grants (401, last router)": lambda: call(
                    app, "GET", "/api/v1/access/grants"
                ),
                "POST tickets (kiosk issue)": issue,
            }
            bare = bare_app()
            floor = cpu_ms(lambda: call(bare, "GET", "/healthz"), requests, rounds)
            figures: dict[str, Any] = {}
            for name, run in routes.items():
                asyncio.run(_repeat(run, 20))  # warm up: caches, pools, first queries
                gated = cpu_ms(run, requests, rounds)
                with gate_off(app):
                    ungated = cpu_ms(run, requests, rounds)
                figures[name] = {
                    "cpu_ms": gated,
                    "cpu_ms_without_gate": ungated,
                    "x_bare": round(gated / floor, 1),
                }
            # a served ticket: two issues, call-next, start, finish (five requests)
            serve_ms = cpu_ms(serve_one, max(requests // 5, 10), rounds)
            figures["serve a ticket (2 issues + call, start, finish)"] = {
                "cpu_ms": serve_ms,
                "cpu_ms_per_request": round(serve_ms / 5, 3),
            }
        finally:
            set_engine(None)
    return {
        "backend": backend,
        "requests_per_round": requests,
        "rounds": rounds,
        "bare_fastapi_cpu_ms": floor,
        "routes": figures,
    }


def bench_requests(
    backend: str = typer.Option("sqlite", help="sqlite or postgresql"),
    requests: int = typer.Option(300, min=10, help="Requests per route and round"),
    rounds: int = typer.Option(3, min=1, help="Rounds per route (the median is printed)"),
) -> None:
    """The application's CPU per request, route by route, against a bare FastAPI app and
    against itself without the route gate (prints JSON)."""
    if backend not in ("sqlite", "postgresql"):
        raise typer.BadParameter("--backend must be sqlite or postgresql")
    result = run_bench(backend=backend, requests=requests, rounds=rounds)
    typer.echo(json.dumps(result, ensure_ascii=False))
