"""`govloop bench hall`: a real server driven by concurrent kiosks and windows.

The benchmark builds a fresh database (a temporary SQLite file, or a throw-away schema on
PostgreSQL), seeds a hall with specialised and general windows, starts uvicorn in a
subprocess and drives it over HTTP:

* kiosks issue tickets as a Poisson stream at ``load`` × the windows' nominal capacity;
* windows loop call-next → start → (handling time) → finish; a citizen whose patience
  (exponential, mean ``patience_s``) ran out before the call is marked no-show, so the
  queue sees abandonment;
* one display subscribes to the hall's SSE stream.

Latencies are measured by the client. Afterwards the event log and the tickets are checked
for double calls and lost work, and the wait printed on every slip is compared with the
wait that actually followed, next to the plain queue-length × mean-handling-time baseline
computed from the same inputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from sqlalchemy import Engine, create_engine, make_url, select, text
from sqlalchemy.orm import Session

from govloop.core.auth import Role, hash_password, issue_api_token
from govloop.core.db import make_engine
from govloop.core.migrate import upgrade
from govloop.core.models import User
from govloop.hall import windows as hall_windows
from govloop.hall.estimates import WaitInputs, naive_estimate, relative_rmse
from govloop.hall.models import (
    EventKind,
    HallEvent,
    ServiceItem,
    Ticket,
    TicketStatus,
    Window,
    window_items,
)
from govloop.org.models import Department, Hall

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HALL_CODE = "BENCH"
PROMISED_MINUTES = 10
PREFIXES = "ABCDEFGHJKLMNPQRSTUVWXYZ"
EMPTY_BACKOFF_S = (0.05, 1.0)  # a window told "queue empty" asks again after this, doubling
REQUEST_TIMEOUT_S = 60.0


@dataclass
class BenchConfig:
    backend: str = "sqlite"
    windows: int = 50
    kiosks: int = 10
    tickets: int = 20000
    workers: int = 0  # uvicorn processes; 0: one on SQLite, one per CPU on PostgreSQL
    items: int = 8
    # Mean handling time at a window (exponential), and arrivals relative to the nominal
    # capacity windows / handling time. Above 1 the queue grows through the run.
    service_ms: float = 300.0
    load: float = 1.0
    # Mean patience of a citizen (exponential); called later than that → no-show.
    patience_s: float = 30.0
    priority_share: float = 0.05
    seed: int = 1
    client: str = "lean"  # HTTP client of kiosks and windows: lean (asyncio) or httpx
    postgres_url: str = field(
        default_factory=lambda: os.environ.get("GOVLOOP_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    timeout_s: float = 3600.0  # for the whole load; a stalled run still ends and reports

    @property
    def server_workers(self) -> int:
        """SQLite has one writer: a second process only adds lock waits (measured, see docs)."""
        if self.workers > 0:
            return self.workers
        return 1 if self.backend == "sqlite" else max(os.cpu_count() or 1, 1)

    @property
    def arrival_rate(self) -> float:
        """Tickets per second offered by all kiosks together."""
        return self.load * self.windows / (self.service_ms / 1000.0)


# --- database ------------------------------------------------------------------------


@dataclass
class BenchDatabase:
    url: str  # what the server gets as GOVLOOP_DATABASE_URL
    engine: Engine


@contextlib.contextmanager
def bench_database(config: BenchConfig) -> Iterator[BenchDatabase]:
    """A fresh, migrated database, removed afterwards."""
    if config.backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="govloop-bench-"))
        url = f"sqlite:///{folder / 'bench.db'}"
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield BenchDatabase(url, engine)
        finally:
            engine.dispose()
            shutil.rmtree(folder, ignore_errors=True)
        return
    if config.backend != "postgresql":
        raise ValueError(f"unknown backend: {config.backend}")
    schema = f"govloop_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(config.postgres_url, connect_args={"connect_timeout": 5})
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url_obj = make_url(config.postgres_url).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    url = url_obj.render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=2, max_overflow=2)
    try:
        upgrade(engine)
        yield BenchDatabase(url, engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class Seeded:
    tokens: dict[int, str]  # window number → bearer token of its staff
    item_codes: list[str]
    general_windows: int


def seed_hall(engine: Engine, config: BenchConfig) -> Seeded:
    """One hall, ``items`` items, windows: every fifth general, the rest serve two items."""
    password_hash = hash_password(uuid.uuid4().hex)  # nobody logs in; hash once
    with Session(engine, expire_on_commit=False) as session, session.begin():
        dept = Department(code="BENCH", name="基准测试部门")
        session.add(dept)
        session.flush()
        hall = Hall(code=HALL_CODE, name="基准测试大厅", enforce_hours=False)
        session.add(hall)
        items = [
            ServiceItem(
                code=f"BI{i + 1:02d}",
                name=f"基准事项{i + 1}",
                department_id=dept.id,
                ticket_prefix=PREFIXES[i],
                promised_minutes=PROMISED_MINUTES,
            )
            for i in range(config.items)
        ]
        session.add_all(items)
        session.flush()
        tokens: dict[int, str] = {}
        general = 0
        specialised = 0
        for number in range(1, config.windows + 1):
            is_general = number % 5 == 0
            window = Window(
                hall_id=hall.id, number=number, name=f"{number}号窗口", is_general=is_general
            )
            session.add(window)
            user = User(
                username=f"bench-staff-{number}",
                display_name=f"窗口{number}",
                password_hash=password_hash,
                role=Role.WINDOW_STAFF.value,
            )
            session.add(user)
            session.flush()
            if is_general:
                general += 1
            else:
                served = {items[specialised % len(items)], items[(specialised + 1) % len(items)]}
                specialised += 1
                for item in served:
                    session.execute(
                        window_items.insert().values(window_id=window.id, item_id=item.id)
                    )
            hall_windows.sign_in(session=session, hall=hall, window_number=number, actor=user)
            tokens[number] = issue_api_token(session=session, user=user, name="bench")
    return Seeded(tokens=tokens, item_codes=[i.code for i in items], general_windows=general)


# --- server --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(database_url: str, workers: int, log_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    # the load comes from one address by design: the per-address limits would refuse it
    env = {**os.environ, "GOVLOOP_DATABASE_URL": database_url, "GOVLOOP_RATE_LIMIT_ENABLED": "0"}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "govloop.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "3",
        # Longer than any pause of a bench client, so an idle keep-alive connection is
        # never closed by the server just as the client reuses it (as behind a proxy).
        "--timeout-keep-alive",
        "75",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process and its descendants (Linux /proc; else None)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    stats: dict[int, tuple[int, float]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    if pid not in stats:
        return None
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats[current][1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == current)
    return total


# --- load ----------------------------------------------------------------------------


@dataclass
class Slip:
    code: str
    public_id: str
    received: float  # client perf_counter when the slip came back
    expected_s: float | None
    inputs: dict[str, Any]


@dataclass
class LoadState:
    config: BenchConfig
    rng: random.Random
    slips: dict[str, Slip] = field(default_factory=dict)
    patience: dict[str, float] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    acks: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    resolved: int = 0
    # Tickets waiting as far as the clients know (what the display board shows staff).
    waiting: int = 0
    arrival: asyncio.Event = field(default_factory=asyncio.Event)
    kiosks_done: bool = False
    last_progress: float = field(default_factory=time.perf_counter)
    # SSE latency: the call response and the SSE event, whichever arrives first waits.
    call_seen: dict[tuple[str, int], deque[float]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    sse_seen: dict[tuple[str, int], deque[float]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    sse_latencies: list[float] = field(default_factory=list)
    sse_updates: int = 0
    server_pid: int = 0
    # (server process tree CPU s, this process's CPU s) at the start and end of the load.
    cpu_marks: list[tuple[float | None, float]] = field(default_factory=list)
    loadavg: list[float] = field(default_factory=list)

    def mark_cpu(self) -> None:
        self.cpu_marks.append((tree_cpu_seconds(self.server_pid), time.process_time()))
        with contextlib.suppress(OSError, AttributeError):
            self.loadavg.append(round(os.getloadavg()[0], 2))

    def progress(self) -> None:
        self.last_progress = time.perf_counter()

    def ticket_waiting(self) -> None:
        self.waiting += 1
        self.arrival.set()

    def match_call(self, key: tuple[str, int], at: float, from_sse: bool) -> None:
        mine, other = (
            (self.sse_seen, self.call_seen) if from_sse else (self.call_seen, self.sse_seen)
        )
        if other[key]:
            seen = other[key].popleft()
            self.sse_latencies.append(at - seen if from_sse else seen - at)
        else:
            mine[key].append(at)

    @property
    def finished(self) -> bool:
        return self.kiosks_done and self.resolved >= len(self.slips)


@dataclass
class Reply:
    status_code: int
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        return json.loads(self.body)


class LeanConnection:
    """One keep-alive HTTP/1.1 connection with just enough protocol for the bench's POSTs.

    The load generator shares the machine with the server; with httpx the client needed
    about three times the CPU per operation (see docs/benchmarks.md).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        )
        try:
            self.writer.write(head.encode() + body)
            status_line = await self.reader.readuntil(b"\r\n")
            status = int(status_line.split(b" ", 2)[1])
            length, chunked, close = 0, False, False
            while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            if chunked:
                parts = []
                while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    parts.append(await self.reader.readexactly(size + 2))
                await self.reader.readuntil(b"\r\n")
                data = b"".join(p[:-2] for p in parts)
            else:
                data = await self.reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return Reply(status, data)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def aclose(self) -> None:
        self.close()


class HttpxConnection:
    """The same interface over httpx (``--client httpx``), one client per worker."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url, limits=httpx.Limits(max_connections=1), timeout=60.0
        )

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        headers = {"Content-Type": "application/json", **headers}
        response = await self.client.post(path, headers=headers, content=body)
        return Reply(response.status_code, response.content)

    def close(self) -> None:
        """httpx drops a broken connection by itself."""

    async def aclose(self) -> None:
        await self.client.aclose()


Connection = LeanConnection | HttpxConnection
REQUEST_ERRORS = (OSError, EOFError, ValueError, asyncio.IncompleteReadError, httpx.HTTPError)


def _error_code(response: Reply) -> str:
    try:
        return str(response.json().get("error", response.status_code))
    except ValueError:
        return f"http_{response.status_code}"


async def _post(
    conn: Connection,
    state: LoadState,
    op: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> tuple[Reply | None, float]:
    payload = json.dumps(body).encode() if body is not None else b""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            response = await conn.post(url, headers or {}, payload)
    except (*REQUEST_ERRORS, TimeoutError) as exc:
        state.errors[f"{op}:{exc.__class__.__name__}"] += 1
        conn.close()
        return None, time.perf_counter()
    done = time.perf_counter()
    if response.is_success:
        state.latencies[op].append(done - started)
        state.acks[op] += 1
    return response, done


async def kiosk_worker(
    client: Connection, state: LoadState, count: int, items: list[str], start: float
) -> None:
    config = state.config
    rng = random.Random(state.rng.random())
    rate = config.arrival_rate / config.kiosks
    due = start
    url = f"/api/v1/halls/{HALL_CODE}/tickets"
    for _ in range(count):
        due += rng.expovariate(rate)
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body: dict[str, Any] = {"item_code": rng.choice(items)}
        if rng.random() < config.priority_share:
            body["priority"] = "elderly"
        response, done = await _post(client, state, "issue", url, body=body)
        if response is None:
            continue
        if response.status_code != 201:
            state.errors[f"issue:{_error_code(response)}"] += 1
            continue
        slip = response.json()
        state.slips[slip["code"]] = Slip(
            code=slip["code"],
            public_id=slip["public_id"],
            received=done,
            expected_s=slip["estimate"]["expected_seconds"],
            inputs=slip["estimate"]["inputs"],
        )
        state.patience[slip["code"]] = rng.expovariate(1.0 / config.patience_s)
        state.ticket_waiting()
        state.progress()


async def window_worker(client: Connection, state: LoadState, number: int, token: str) -> None:
    config = state.config
    rng = random.Random(state.rng.random() + number)
    headers = {"Authorization": f"Bearer {token}"}
    base = f"/api/v1/halls/{HALL_CODE}/windows/{number}"
    stall_deadline = 30.0
    backoff = EMPTY_BACKOFF_S[0]
    while not state.finished:
        if state.kiosks_done and time.perf_counter() - state.last_progress > stall_deadline:
            state.errors["stalled"] += 1
            return
        if state.waiting <= 0:
            # Staff look at the display before calling: nobody waiting, nothing to call.
            state.arrival.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.arrival.wait(), timeout=0.5)
            continue
        state.waiting -= 1  # this window goes for one of them; the others keep waiting
        response, done = await _post(client, state, "call", f"{base}/call-next", headers)
        if response is None or not response.is_success:
            state.ticket_waiting()
        if response is None:
            await asyncio.sleep(rng.uniform(*EMPTY_BACKOFF_S))
            continue
        if not response.is_success:
            code = _error_code(response)
            if code == "queue_empty":
                # Tickets wait, but none this window serves: ask again later, less often.
                state.acks["call_empty"] += 1
                await asyncio.sleep(rng.uniform(backoff / 2, backoff))
                backoff = min(backoff * 2, EMPTY_BACKOFF_S[1])
                continue
            state.errors[f"call:{code}"] += 1
            if code == "window_busy":
                # A reply was lost on the way (the client saw an error, the server committed):
                # finish what the window holds, as staff would.
                await _post(client, state, "start", f"{base}/start", headers)
                response, _ = await _post(client, state, "finish", f"{base}/finish", headers)
                if response is not None and response.is_success:
                    state.resolved += 1
                continue
            await asyncio.sleep(rng.uniform(*EMPTY_BACKOFF_S))
            continue
        backoff = EMPTY_BACKOFF_S[0]
        ticket = response.json()
        code = ticket["code"]
        state.match_call((code, number), done, from_sse=False)
        state.progress()
        slip = state.slips.get(code)
        waited = done - slip.received if slip else 0.0
        if waited > state.patience.get(code, float("inf")):
            response, _ = await _post(client, state, "no_show", f"{base}/no-show", headers)
            if response is not None and response.is_success:
                if response.json()["status"] == TicketStatus.NO_SHOW:
                    state.resolved += 1
                else:
                    state.ticket_waiting()  # back in the queue (过号重排)
            elif response is not None:
                state.errors[f"no_show:{_error_code(response)}"] += 1
            continue
        response, _ = await _post(client, state, "start", f"{base}/start", headers)
        if response is not None and not response.is_success:
            state.errors[f"start:{_error_code(response)}"] += 1
        handling = min(rng.expovariate(1000.0 / config.service_ms), 5 * config.service_ms / 1000)
        await asyncio.sleep(handling)
        response, _ = await _post(client, state, "finish", f"{base}/finish", headers)
        if response is not None and response.is_success:
            state.resolved += 1
        elif response is not None:
            state.errors[f"finish:{_error_code(response)}"] += 1


async def display_worker(client: httpx.AsyncClient, state: LoadState, ready: asyncio.Event) -> None:
    """One display board on the SSE stream; records when each call shows up."""
    url = f"/api/v1/halls/{HALL_CODE}/stream"
    async with client.stream("GET", url, timeout=httpx.Timeout(10, read=None)) as response:
        event = ""
        data: list[str] = []
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
            elif line == "" and data:
                at = time.perf_counter()
                if event == "snapshot":
                    ready.set()
                elif event == "update":
                    state.sse_updates += 1
                    for e in json.loads("\n".join(data))["events"]:
                        if e["kind"] == EventKind.CALLED and e.get("code"):
                            state.match_call((e["code"], int(e["window"])), at, from_sse=True)
                event, data = "", []


async def drive(
    base_url: str, seeded: Seeded, state: LoadState, on_tick: Callable[[LoadState], None]
) -> tuple[float, float]:
    """Run kiosks, windows and one display; returns (start, end) in perf_counter seconds."""
    config = state.config
    url = httpx.URL(base_url)
    host, port = url.host, url.port or 80

    def connect() -> Connection:
        if config.client == "httpx":
            return HttpxConnection(base_url)
        return LeanConnection(host, port)

    connections: list[Connection] = []

    def connection() -> Connection:
        connections.append(connect())
        return connections[-1]

    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(60.0)) as client:
        ready = asyncio.Event()
        display_task = asyncio.create_task(display_worker(client, state, ready))
        await asyncio.wait_for(ready.wait(), timeout=30)
        start = time.perf_counter()
        state.mark_cpu()
        share = [config.tickets // config.kiosks] * config.kiosks
        for i in range(config.tickets % config.kiosks):
            share[i] += 1

        async def kiosks() -> None:
            await asyncio.gather(
                *(kiosk_worker(connection(), state, n, seeded.item_codes, start) for n in share)
            )
            state.kiosks_done = True

        async def ticker() -> None:
            while not state.finished:
                on_tick(state)
                await asyncio.sleep(0.5)

        load = asyncio.gather(
            kiosks(),
            *(window_worker(connection(), state, n, t) for n, t in seeded.tokens.items()),
        )
        tick = asyncio.create_task(ticker())
        try:
            await asyncio.wait_for(load, timeout=config.timeout_s)
        except TimeoutError:
            state.errors["timeout"] += 1
        end = time.perf_counter()
        state.mark_cpu()
        await asyncio.sleep(1.5)  # let the display catch up with the last calls
        tick.cancel()
        display_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await display_task
        for conn in connections:
            await conn.aclose()
        on_tick(state)
    return start, end


def _run_loop(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


# --- verification --------------------------------------------------------------------


@dataclass
class Verification:
    double_called: int
    lost: int
    detail: dict[str, int]
    realized_wait: dict[str, float]  # public id → seconds from issue to first call


def verify(engine: Engine, state: LoadState) -> Verification:
    """Replay the event log and compare it with the tickets and with what clients saw."""
    with Session(engine) as session:
        tickets = session.execute(
            select(
                Ticket.id, Ticket.public_id, Ticket.status, Ticket.issued_at, Ticket.no_show_count
            )
        ).all()
        events = session.execute(
            select(HallEvent.kind, HallEvent.ticket_id, HallEvent.window_id, HallEvent.at)
            .where(HallEvent.ticket_id.is_not(None))
            .order_by(HallEvent.id)
        ).all()
    status: dict[int, str] = {}
    holder: dict[int, int | None] = {}
    holding: dict[int | None, int | None] = {}
    double: set[int] = set()
    broken: set[int] = set()
    first_call: dict[int, datetime] = {}
    kinds: Counter[str] = Counter()
    per_ticket: dict[int, Counter[str]] = defaultdict(Counter)
    for kind, ticket_id, window_id, at in events:
        if ticket_id is None:
            continue
        kinds[kind] += 1
        per_ticket[ticket_id][kind] += 1
        current = status.get(ticket_id)
        if kind == EventKind.ISSUED:
            if current is not None:
                broken.add(ticket_id)
            status[ticket_id] = TicketStatus.WAITING
        elif kind == EventKind.CALLED:
            if current != TicketStatus.WAITING or holding.get(window_id) is not None:
                double.add(ticket_id)
            first_call.setdefault(ticket_id, at)
            status[ticket_id] = TicketStatus.CALLED
            holder[ticket_id] = window_id
            holding[window_id] = ticket_id
        elif kind == EventKind.STARTED:
            if current != TicketStatus.CALLED or holder.get(ticket_id) != window_id:
                broken.add(ticket_id)
            status[ticket_id] = TicketStatus.SERVING
        elif kind in (EventKind.FINISHED, EventKind.NO_SHOW):
            expected = TicketStatus.SERVING if kind == EventKind.FINISHED else TicketStatus.CALLED
            if current != expected or holder.get(ticket_id) != window_id:
                broken.add(ticket_id)
            status[ticket_id] = (
                TicketStatus.FINISHED if kind == EventKind.FINISHED else TicketStatus.NO_SHOW
            )
            holder[ticket_id] = None
            holding[window_id] = None
        elif kind in (EventKind.REQUEUED, EventKind.TRANSFERRED):
            if kind == EventKind.TRANSFERRED and window_id is not None:
                holding[window_id] = None
            status[ticket_id] = TicketStatus.WAITING
            holder[ticket_id] = None

    by_public = {t.public_id: t for t in tickets}
    missing = sum(1 for s in state.slips.values() if s.public_id not in by_public)
    unacknowledged = len(by_public) - (len(state.slips) - missing)
    ends = {TicketStatus.FINISHED, TicketStatus.NO_SHOW, TicketStatus.WAITING}
    stuck = sum(1 for t in tickets if t.status not in ends)
    for t in tickets:
        counts = per_ticket.get(t.id, Counter())
        replayed = status.get(t.id)
        held = t.status in (TicketStatus.CALLED, TicketStatus.SERVING, TicketStatus.FINISHED)
        calls_expected = counts[EventKind.NO_SHOW] + (1 if held else 0)
        if (
            counts[EventKind.ISSUED] != 1
            or replayed != t.status
            or counts[EventKind.NO_SHOW] != t.no_show_count
            or counts[EventKind.CALLED] != calls_expected
            or counts[EventKind.FINISHED] != (1 if t.status == TicketStatus.FINISHED else 0)
        ):
            broken.add(t.id)
    acked_but_missing = sum(
        max(0, state.acks[op] - kinds[kind])
        for op, kind in (
            ("issue", EventKind.ISSUED),
            ("call", EventKind.CALLED),
            ("start", EventKind.STARTED),
            ("finish", EventKind.FINISHED),
            ("no_show", EventKind.NO_SHOW),
        )
    )
    status_counts = Counter(t.status for t in tickets)
    detail = {
        "tickets_in_db": len(tickets),
        "missing_tickets": missing,
        "stuck_tickets": stuck,
        "inconsistent_tickets": len(broken),
        "acknowledged_but_missing_events": acked_but_missing,
        "unacknowledged_tickets": max(unacknowledged, 0),
        "finished": status_counts[TicketStatus.FINISHED],
        "no_show": status_counts[TicketStatus.NO_SHOW],
        "waiting": status_counts[TicketStatus.WAITING],
        "requeued": kinds[EventKind.REQUEUED],
        "events": sum(kinds.values()),
    }
    realized = {
        t.public_id: (first_call[t.id] - t.issued_at).total_seconds()
        for t in tickets
        if t.id in first_call
    }
    return Verification(
        double_called=len(double),
        lost=missing + stuck + len(broken) + acked_but_missing,
        detail=detail,
        realized_wait=realized,
    )


# --- report --------------------------------------------------------------------------


def _ms(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(float(np.percentile(np.asarray(values) * 1000.0, q)), 2)


def _finite(value: float) -> float | None:
    return round(value, 4) if np.isfinite(value) else None


def eta_accuracy(state: LoadState, realized: dict[str, float]) -> dict[str, Any]:
    """RRMSE of the slip estimates and of the naive baseline on the same inputs.

    Slips issued before the hall had seen any service carry the item's promised time as
    the mean handling time (there is no history in a fresh database); both estimators
    would be judged on a cold start, so those slips are left out and counted.
    """
    cold_mean = PROMISED_MINUTES * 60.0
    qlp: list[float] = []
    naive: list[float] = []
    actual: list[float] = []
    cold = 0
    for slip in state.slips.values():
        wait = realized.get(slip.public_id)
        if slip.expected_s is None or wait is None:
            continue
        inputs = slip.inputs
        if inputs["mean_service_seconds"] == cold_mean:
            cold += 1
            continue
        baseline = naive_estimate(
            WaitInputs(
                ahead=inputs["ahead"],
                servers=inputs["open_windows"],
                idle=inputs["idle_windows"],
                mean_service_s=inputs["mean_service_seconds"],
                abandon_rate=inputs["abandon_rate_per_hour"] / 3600.0,
            )
        )
        if baseline.expected_s is None:
            continue
        qlp.append(slip.expected_s)
        naive.append(baseline.expected_s)
        actual.append(wait)
    ours = relative_rmse(qlp, actual) if actual else float("nan")
    base = relative_rmse(naive, actual) if actual else float("nan")
    return {
        "eta_rrase": _finite(ours),
        "eta_rrase_baseline": _finite(base),
        "eta_rrase_ratio": _finite(ours / base) if np.isfinite(ours) and base > 0 else None,
        "eta_samples": len(actual),
        "eta_cold_start_excluded": cold,
        "realized_wait_mean_s": round(float(np.mean(actual)), 3) if actual else None,
        "eta_mean_s": round(float(np.mean(qlp)), 3) if actual else None,
        "eta_baseline_mean_s": round(float(np.mean(naive)), 3) if actual else None,
    }


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def run_bench(config: BenchConfig, console: Console | None = None) -> dict[str, Any]:
    """Run one benchmark and return its figures (removes its database and server)."""
    console = console or Console(stderr=True)
    if threading.current_thread() is threading.main_thread():
        # Clean up the database and the server when stopped with SIGTERM too.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    rng = random.Random(config.seed)
    state = LoadState(config=config, rng=rng)
    with bench_database(config) as db:
        console.log(
            f"[bold]bench hall[/bold] on {config.backend}: seeding {config.windows} windows"
        )
        seeded = seed_hall(db.engine, config)
        with tempfile.TemporaryDirectory(prefix="govloop-bench-log-") as logs:
            log_path = Path(logs) / "server.log"
            with running_server(db.url, config.server_workers, log_path) as (base_url, pid):
                state.server_pid = pid
                console.log(
                    f"server {base_url} (workers={config.server_workers}); "
                    f"{config.kiosks} kiosks at {config.arrival_rate:.0f} tickets/s, "
                    f"{config.windows} windows"
                )
                last_line = [0.0]

                def on_tick(s: LoadState) -> None:
                    if time.perf_counter() - last_line[0] < 5 and not s.finished:
                        return
                    last_line[0] = time.perf_counter()
                    ops = sum(s.acks[o] for o in ("issue", "call", "start", "finish", "no_show"))
                    console.log(
                        f"issued {len(s.slips)}/{config.tickets}, resolved {s.resolved}, "
                        f"ops {ops}, errors {dict(s.errors) or 0}"
                    )

                start, end = _run_loop(drive(base_url, seeded, state, on_tick))
            server_log = log_path.read_text(errors="replace")
        console.log("verifying the event log")
        began = time.perf_counter()
        checked = verify(db.engine, state)
        console.log(f"verified in {time.perf_counter() - began:.1f} s")
    elapsed = end - start
    ops = sum(state.acks[o] for o in ("issue", "call", "start", "finish", "no_show"))
    (server_0, client_0), (server_1, client_1) = state.cpu_marks
    server_cpu = server_1 - server_0 if server_0 is not None and server_1 is not None else None
    lat = state.latencies
    unmatched = sum(len(q) for q in state.call_seen.values())
    result: dict[str, Any] = {
        "backend": config.backend,
        "tickets": len(state.slips),
        "ops": ops,
        "elapsed_s": round(elapsed, 2),
        "ops_per_s": round(ops / elapsed, 1) if elapsed > 0 else None,
        "issue_p50_ms": _ms(lat["issue"], 50),
        "issue_p99_ms": _ms(lat["issue"], 99),
        "call_p50_ms": _ms(lat["call"], 50),
        "call_p99_ms": _ms(lat["call"], 99),
        "start_p99_ms": _ms(lat["start"], 99),
        "finish_p99_ms": _ms(lat["finish"], 99),
        "no_show_p99_ms": _ms(lat["no_show"], 99),
        "sse_p50_ms": _ms(state.sse_latencies, 50),
        "sse_p99_ms": _ms(state.sse_latencies, 99),
        "sse_updates": state.sse_updates,
        "sse_matched": len(state.sse_latencies),
        "sse_unmatched": unmatched,
        "double_called": checked.double_called,
        "lost": checked.lost,
        **eta_accuracy(state, checked.realized_wait),
        "empty_calls": state.acks["call_empty"],
        "server_cpu_ms_per_op": round(1000 * server_cpu / ops, 2) if server_cpu and ops else None,
        "client_cpu_ms_per_op": round(1000 * (client_1 - client_0) / ops, 2) if ops else None,
        "errors": dict(state.errors),
        "checks": checked.detail,
        "settings": {
            "windows": config.windows,
            "general_windows": seeded.general_windows,
            "kiosks": config.kiosks,
            "items": config.items,
            "workers": config.server_workers,
            "service_ms": config.service_ms,
            "load": config.load,
            "arrival_rate_per_s": round(config.arrival_rate, 1),
            "patience_s": config.patience_s,
            "seed": config.seed,
            "client": config.client,
            "cpus": os.cpu_count(),
            # 1-minute load average at the start and the end of the load (shared machine).
            "loadavg_1m": state.loadavg,
            "python": sys.version.split()[0],
        },
    }
    if "Traceback" in server_log:
        result["errors"]["server_tracebacks"] = server_log.count("Traceback")
        first = server_log.index("Traceback")
        result["server_log_excerpt"] = server_log[max(first - 300, 0) : first + 3000]
    return result
