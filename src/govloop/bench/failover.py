"""`govloop bench failover`: the hall run like a production service, with processes killed.

On this machine, without Docker: a fresh PostgreSQL database, nginx (the distribution's
package) in front of two ``govloop serve`` processes, and two ``govloop worker`` processes
(one leads, one stands by). Kiosks and windows (threads) write through nginx, every write
with a fresh ``Idempotency-Key``; when a write fails (connection error, timeout, 5xx) the
client sends it again with the same key and body. Display boards follow the hall's event
stream through nginx and reconnect with ``Last-Event-ID`` when it drops.

At a third of the run one web process and the leading worker get SIGKILL; after a few
seconds both are started again. Afterwards the database and the client logs are compared:

* ``acknowledged``: writes that got a 2xx;
* ``lost``: acknowledged tickets, calls, starts and finishes not in the database;
* ``double_called``: tickets called more than once (there are no no-shows or requeues in
  this run, so any second ``ticket.called`` is a double call), or called to two windows;
* ``client_errors``: attempts that failed and were sent again with the same key;
* ``sse_missed_calls``: ``ticket.called`` events committed while a display was watching
  that the display never received (summed over displays);
* ``duty_runs_duplicated``: timed-duty runs that did their work (took their job lock, or
  take none) while the same duty's run in another worker process was still going.

The workers are the real ``govloop worker`` command, started through this module so that
each duty run is written to a file (process, duty, start, end, job locks taken) — the
duties themselves log nothing per run.

nginx retries a request on the other web process only when it never reached the first one
(``proxy_next_upstream error timeout http_502 http_503``, without ``non_idempotent``, as in
deploy/nginx/govloop.conf): a POST that a killed process may have committed comes back to
the client as a 502, and the client's retry with the same key gets the first answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from sqlalchemy import Engine, create_engine, make_url, select, text
from sqlalchemy.orm import Session

from govloop.bench.hall import HALL_CODE, BenchConfig, free_port, seed_hall
from govloop.core.db import make_engine
from govloop.core.migrate import upgrade
from govloop.hall.models import EventKind, HallEvent, Ticket, Window

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
MAX_ATTEMPTS = 30  # per write; a retry waits RETRY_PAUSE_S, so ~15 s of outage is covered
RETRY_PAUSE_S = 0.5
REQUEST_TIMEOUT_S = 10.0
WRITE_OPS = ("issue", "sign_in", "call", "start", "finish")


@dataclass
class FailoverConfig:
    duration_s: float = 60.0  # of the load; the kill comes at kill_at × this
    kiosks: int = 4
    windows: int = 6
    displays: int = 2
    items: int = 4
    kiosk_pause_s: float = 0.4  # between two tickets of one kiosk
    service_ms: float = 150.0  # between start and finish at a window
    kill: bool = True  # False: the same run without killing anything (for comparison)
    kill_at: float = 1 / 3
    down_s: float = 5.0  # how long the killed processes stay down
    seed: int = 1
    postgres_url: str = field(
        default_factory=lambda: os.environ.get("GOVLOOP_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    nginx: str | None = None  # the binary; default: found on this machine


def find_nginx(explicit: str | None = None) -> str | None:
    if explicit:
        return explicit if Path(explicit).exists() else None
    found = shutil.which("nginx")
    if found:
        return found
    return next((p for p in NGINX_CANDIDATES if Path(p).exists()), None)


# --- database ------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(postgres_url: str) -> Iterator[tuple[str, Engine]]:
    """A database of its own (LISTEN/NOTIFY channels are per database), dropped after."""
    name = f"govloop_failover_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        postgres_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=2, max_overflow=2)
    try:
        upgrade(engine)
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- processes -----------------------------------------------------------------------


class Proc:
    """A child in a process group of its own, so a kill takes everything it started."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name, self.cmd, self.env, self.cwd = name, cmd, env, cwd
        self.log_path = cwd / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []  # one per start

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pids.append(self.popen.pid)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.kill(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        self.kill(signal.SIGKILL)  # anything left in the group
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


def govloop_command() -> list[str]:
    script = Path(sys.executable).with_name("govloop")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from govloop.cli import app; app()"]


def wait_healthy(proc: Proc, base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not proc.alive():
            tail = proc.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{proc.name} exited: {tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name} did not answer {base}/healthz within {timeout} s")
        time.sleep(0.1)


def _note_healthy(base: str, note: dict[str, Any], began: float, stop: threading.Event) -> None:
    """Record when a restarted web process first answers its health check."""
    while not stop.is_set():
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                note["healthy_at_s"] = round(time.perf_counter() - began, 2)
                return
        time.sleep(0.1)


def nginx_conf(folder: Path, port: int, upstreams: list[int]) -> str:
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;" for p in upstreams
    )
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""# govloop bench failover: nginx in front of the bench's web processes
worker_processes 1;
daemon off;
master_process on;
pid {folder / "nginx.pid"};
error_log {folder / "nginx-error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder / "nginx-access.log"};
{temp}
    upstream govloop_web {{
        least_conn;
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_connect_timeout 2s;
        proxy_send_timeout 30s;
        proxy_read_timeout 30s;
        # Only requests that never reached a web process go to the other one: no
        # non_idempotent, a POST cut off mid-way is the client's to retry (with its key).
        proxy_next_upstream error timeout http_502 http_503;
        proxy_next_upstream_tries 2;
        proxy_next_upstream_timeout 10s;
        location ~ ^/api/v1/halls/[^/]+/stream$ {{
            proxy_pass http://govloop_web;
            proxy_buffering off;
            proxy_cache off;
            gzip off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_next_upstream off;
        }}
        location / {{
            proxy_pass http://govloop_web;
        }}
    }}
}}
"""


# --- the observed worker (runs in the worker processes) --------------------------------


def observed_worker(path: str) -> None:
    """``govloop worker``, writing each duty run and each leadership won to ``path``."""
    import importlib

    import govloop.app  # noqa: F401  (every domain, and with it every duty's module)
    from govloop.core import db

    # This runs in a worker process of its own, as `govloop worker` would: the bench
    # process itself never depends on the entry points (import layers), so they are
    # looked up here, at run time, in the child.
    worker_module: Any = importlib.import_module("govloop.worker")
    app: Any = importlib.import_module("govloop.cli").app

    out = open(path, "a", buffering=1)  # noqa: SIM115  (open for the process's life)
    write_lock = threading.Lock()
    local = threading.local()
    pid = os.getpid()

    def record(entry: dict[str, Any]) -> None:
        with write_lock:
            out.write(json.dumps({"pid": pid, **entry}) + "\n")
            out.flush()

    original_lock = db.try_job_lock

    def try_job_lock(session: Any, name: str) -> bool:
        got = original_lock(session, name)
        taken = getattr(local, "locks", None)
        if taken is not None:
            taken.append([name, got])
        return got

    for module in list(sys.modules.values()):
        if getattr(module, "try_job_lock", None) is original_lock:
            module.try_job_lock = try_job_lock  # type: ignore[attr-defined]

    original_duty = worker_module.timed_duty

    def timed_duty(name: str, run: Any) -> None:
        local.locks = []
        started = time.time()
        try:
            original_duty(name, run)
        finally:
            record(
                {"event": "duty", "duty": name, "start": started, "end": time.time()}
                | {"locks": local.locks}
            )
            local.locks = None

    worker_module.timed_duty = timed_duty
    original_acquire = worker_module.Leadership.acquire

    def acquire(self: Any) -> bool:
        got = original_acquire(self)
        record({"event": "lead" if got else "standby", "at": time.time()})
        return got

    worker_module.Leadership.acquire = acquire
    app(["worker"])


def read_observations(folder: Path) -> list[dict[str, Any]]:
    entries = []
    for path in sorted(folder.glob("duties-*.jsonl")):
        for line in path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
    return entries


def duplicated_duty_runs(entries: list[dict[str, Any]]) -> tuple[int, dict[str, int]]:
    """Runs that did their work while another process's run of the same duty was going."""
    runs: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    counts: Counter[str] = Counter()
    for e in entries:
        if e.get("event") != "duty":
            continue
        locks = e.get("locks") or []
        if locks and not any(got for _, got in locks):
            continue  # another process held the duty's lock: nothing was done
        runs[e["duty"]].append((e["start"], e["end"], e["pid"]))
        counts[e["duty"]] += 1
    duplicated = 0
    for intervals in runs.values():
        intervals.sort()
        for i, (start, _end, pid) in enumerate(intervals):
            if any(s <= start <= e and p != pid for s, e, p in intervals[:i]):
                duplicated += 1
    return duplicated, dict(counts)


# --- clients -------------------------------------------------------------------------


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acks: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # successful attempts, s
    with_retries: list[float] = field(default_factory=list)  # first attempt to answer, s
    client_errors: Counter[str] = field(default_factory=Counter)
    retried_writes: int = 0
    replayed: int = 0
    gave_up: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # 4xx other than an empty queue
    tickets: dict[str, str] = field(default_factory=dict)  # public id → code
    done: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))

    def ack(self, op: str, latency: float, total: float, replayed: bool, retried: bool) -> None:
        with self.lock:
            self.acks[op] += 1
            self.latencies.append(latency)
            self.with_retries.append(total)
            self.replayed += replayed
            self.retried_writes += retried


def error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.status_code))
    except ValueError:
        return f"http_{response.status_code}"


def write(
    client: httpx.Client,
    stats: Stats,
    op: str,
    path: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response | None:
    """One write with a fresh key, sent again with the same key until it is answered."""
    sent = {**(headers or {}), "Idempotency-Key": uuid.uuid4().hex}
    content = json.dumps(body).encode() if body is not None else b""
    if body is not None:
        sent["Content-Type"] = "application/json"
    first = time.perf_counter()
    for attempt in range(MAX_ATTEMPTS):
        started = time.perf_counter()
        try:
            response = client.post(path, content=content, headers=sent)
        except httpx.TransportError as exc:  # refused, reset, timed out
            with stats.lock:
                stats.client_errors[f"{op}:{exc.__class__.__name__}"] += 1
            time.sleep(RETRY_PAUSE_S)
            continue
        if response.status_code >= 500:
            with stats.lock:
                stats.client_errors[f"{op}:http_{response.status_code}"] += 1
            time.sleep(RETRY_PAUSE_S)
            continue
        if response.is_success:
            done = time.perf_counter()
            replayed = response.headers.get("Idempotent-Replayed") == "true"
            stats.ack(op, done - started, done - first, replayed, attempt > 0)
        return response
    with stats.lock:
        stats.gave_up[op] += 1
    return None


def kiosk(
    base: str, stats: Stats, items: list[str], stop: threading.Event, seed: int, pause: float
) -> None:
    rng = random.Random(seed)
    url = f"/api/v1/halls/{HALL_CODE}/tickets"
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        while not stop.is_set():
            response = write(client, stats, "issue", url, {"item_code": rng.choice(items)})
            if response is not None and response.is_success:
                slip = response.json()
                with stats.lock:
                    stats.tickets[slip["public_id"]] = slip["code"]
            elif response is not None:
                with stats.lock:
                    stats.refused[f"issue:{error_code(response)}"] += 1
            stop.wait(rng.uniform(0.5, 1.5) * pause)


def window(
    base: str, stats: Stats, number: int, token: str, stop: threading.Event, service_s: float
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/halls/{HALL_CODE}/windows/{number}"
    rng = random.Random(number)

    def step(op: str, action: str) -> httpx.Response | None:
        response = write(client, stats, op, f"{path}/{action}", headers=headers)
        if response is not None and response.is_success and op in ("call", "start", "finish"):
            with stats.lock:
                stats.done[op].append((response.json()["code"], number))
        return response

    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        while not stop.is_set():
            step("sign_in", "sign-in")
            response = step("call", "call-next")
            if response is None:
                continue
            if not response.is_success:
                code = error_code(response)
                if code == "queue_empty":
                    stop.wait(rng.uniform(0.1, 0.3))
                    continue
                with stats.lock:
                    stats.refused[f"call:{code}"] += 1
                if code != "window_busy":
                    stop.wait(0.3)
                    continue
                # the window holds a ticket from before: serve it as staff would
            if step("start", "start") is None:
                continue
            time.sleep(rng.uniform(0.5, 1.5) * service_s)
            step("finish", "finish")


@dataclass
class Display:
    """A display board on the event stream, reconnecting with Last-Event-ID."""

    number: int
    first_id: int | None = None  # the stream's position when the board first connected
    last_id: int | None = None
    called: set[int] = field(default_factory=set)
    connects: int = 0
    drops: Counter[str] = field(default_factory=Counter)

    def run(self, base: str, stop: threading.Event) -> None:
        url = f"/api/v1/halls/{HALL_CODE}/stream"
        timeout = httpx.Timeout(5.0, read=30.0)  # the server sends a comment every 15 s
        with httpx.Client(base_url=base, timeout=timeout) as client:
            while not stop.is_set():
                headers = {"Accept": "text/event-stream"}
                if self.last_id is not None:
                    headers["Last-Event-ID"] = str(self.last_id)
                try:
                    with client.stream("GET", url, headers=headers) as response:
                        if response.status_code != 200:
                            self.drops[f"http_{response.status_code}"] += 1
                            stop.wait(0.5)
                            continue
                        self.connects += 1
                        self._read(response, stop)
                        self.drops["closed"] += 1
                except httpx.HTTPError as exc:
                    self.drops[exc.__class__.__name__] += 1
                    stop.wait(0.2)

    def _read(self, response: httpx.Response, stop: threading.Event) -> None:
        event, message_id, data = "", None, []
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith("id:"):
                message_id = line[3:].strip()
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
            elif line == "":
                if message_id:
                    self.last_id = int(message_id)
                    if self.first_id is None:
                        self.first_id = self.last_id
                if event == "update" and data:
                    for e in json.loads("\n".join(data)).get("events") or []:
                        if e.get("kind") == EventKind.CALLED:
                            self.called.add(int(e["id"]))
                event, message_id, data = "", None, []


# --- verification --------------------------------------------------------------------


def called_event_ids(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(HallEvent.id)
                .where(HallEvent.kind == EventKind.CALLED)
                .order_by(HallEvent.id)
            )
        )


def verify(engine: Engine, stats: Stats, displays: list[Display]) -> dict[str, Any]:
    with Session(engine) as session:
        tickets = {public_id for (public_id,) in session.execute(select(Ticket.public_id))}
        rows = session.execute(
            select(HallEvent.id, HallEvent.kind, Ticket.code, Window.number)
            .join(Ticket, Ticket.id == HallEvent.ticket_id)
            .outerjoin(Window, Window.id == HallEvent.window_id)
            .where(HallEvent.kind.in_([EventKind.CALLED, EventKind.STARTED, EventKind.FINISHED]))
        ).all()
    events: dict[str, Counter[tuple[str, int]]] = defaultdict(Counter)
    calls_per_ticket: dict[str, set[int]] = defaultdict(set)
    call_count: Counter[str] = Counter()
    called_ids: list[int] = []
    for event_id, kind, code, number in rows:
        events[kind][(code, number)] += 1
        if kind == EventKind.CALLED:
            call_count[code] += 1
            calls_per_ticket[code].add(number)
            called_ids.append(event_id)
    lost_tickets = sum(1 for public_id in stats.tickets if public_id not in tickets)
    lost = {"issue": lost_tickets}
    for op, kind in (
        ("call", EventKind.CALLED),
        ("start", EventKind.STARTED),
        ("finish", EventKind.FINISHED),
    ):
        acked = Counter(stats.done[op])
        lost[op] = sum(max(0, n - events[kind][key]) for key, n in acked.items())
    acked_windows: dict[str, set[int]] = defaultdict(set)
    for code, number in stats.done["call"]:
        acked_windows[code].add(number)
    double = {c for c, n in call_count.items() if n > 1}
    double |= {c for c, w in calls_per_ticket.items() if len(w) > 1}
    double |= {c for c, w in acked_windows.items() if len(w) > 1}
    final = max(called_ids, default=0)
    per_display = []
    for d in displays:
        start = d.first_id if d.first_id is not None else final
        expected = {i for i in called_ids if start < i <= final}
        per_display.append(
            {
                "expected_calls": len(expected),
                "missed_calls": len(expected - d.called),
                "missed_ids": sorted(expected - d.called)[:20],
                "connects": d.connects,
                "drops": dict(d.drops),
            }
        )
    return {
        "lost": sum(lost.values()),
        "lost_by_op": lost,
        "double_called": len(double),
        "sse_missed_calls": sum(d["missed_calls"] for d in per_display),
        "displays": per_display,
        "tickets_in_db": len(tickets),
        "calls_in_db": len(called_ids),
    }


def _ms(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(float(np.percentile(np.asarray(values) * 1000.0, q)), 1)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


# --- the run -------------------------------------------------------------------------


def run_failover(config: FailoverConfig, console: Console | None = None) -> dict[str, Any]:
    """Run the failover benchmark; every process and the database are gone afterwards."""
    console = console or Console(stderr=True)
    nginx = find_nginx(config.nginx)
    if nginx is None:
        raise RuntimeError("nginx not found (install Debian's nginx package)")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    procs: list[Proc] = []
    stop_load = threading.Event()
    stop_displays = threading.Event()
    threads: list[threading.Thread] = []
    with (
        tempfile.TemporaryDirectory(prefix="govloop-failover-") as tmp,
        fresh_database(config.postgres_url) as (url, engine),
    ):
        folder = Path(tmp)
        seeded = seed_hall(engine, BenchConfig(windows=config.windows, items=config.items))
        env = {
            **os.environ,
            "GOVLOOP_DATABASE_URL": url,
            "GOVLOOP_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
            "GOVLOOP_ENVIRONMENT": "development",
            "GOVLOOP_RUN_JOBS": "false",
            "GOVLOOP_RATE_LIMIT_ENABLED": "0",  # every kiosk comes from 127.0.0.1
            "GOVLOOP_TRUSTED_PROXIES": "127.0.0.1",
            "GOVLOOP_LOG_FORMAT": "json",
            "GOVLOOP_LOG_LEVEL": "WARNING",
            "GOVLOOP_DATA_DIR": str(folder / "data"),
        }
        ports = [free_port(), free_port()]
        nginx_port = free_port()

        def web(i: int) -> Proc:
            cmd = [*govloop_command(), "serve", "--host", "127.0.0.1", "--port", str(ports[i])]
            return Proc(f"web-{i + 1}", cmd, env, folder)

        def worker(i: int) -> Proc:
            cmd = [
                sys.executable,
                "-c",
                "import sys; from govloop.bench.failover import observed_worker; "
                "observed_worker(sys.argv[1])",
                str(folder / f"duties-{i + 1}.jsonl"),
            ]
            return Proc(f"worker-{i + 1}", cmd, {**env, "GOVLOOP_LOG_LEVEL": "INFO"}, folder)

        conf = folder / "nginx.conf"
        conf.write_text(nginx_conf(folder, nginx_port, ports))
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (folder / kind).mkdir()
        webs = [web(0), web(1)]
        workers = [worker(0), worker(1)]
        proxy = Proc(
            "nginx",
            [nginx, "-p", str(folder), "-c", str(conf), "-e", str(folder / "nginx-error.log")],
            dict(os.environ),
            folder,
        )
        displays = [Display(n + 1) for n in range(config.displays)]
        stats = Stats()
        killed: list[dict[str, Any]] = []
        restarted: list[dict[str, Any]] = []
        try:
            for p in [*webs, workers[0], proxy]:
                procs.append(p)
                p.start()
            for i, p in enumerate(webs):
                wait_healthy(p, f"http://127.0.0.1:{ports[i]}")
            base = f"http://127.0.0.1:{nginx_port}"
            wait_healthy(proxy, base)
            deadline = time.monotonic() + 30  # the first worker leads before the second starts
            while not any(e["event"] == "lead" for e in read_observations(folder)):
                if time.monotonic() > deadline or not workers[0].alive():
                    raise RuntimeError("the worker did not take the lead")
                time.sleep(0.1)
            procs.append(workers[1])
            workers[1].start()
            deadline = time.monotonic() + 60  # the second one stands by before the load
            while not any(e["event"] == "standby" for e in read_observations(folder)):
                if time.monotonic() > deadline or not workers[1].alive():
                    raise RuntimeError("the second worker did not stand by")
                time.sleep(0.1)
            console.log(f"nginx :{nginx_port} → web :{ports[0]}, :{ports[1]}; 2 workers")

            for d in displays:
                threads.append(
                    threading.Thread(target=d.run, args=(base, stop_displays), daemon=True)
                )
                threads[-1].start()
            deadline = time.monotonic() + 30
            while any(d.first_id is None for d in displays):
                if time.monotonic() > deadline:
                    raise RuntimeError("a display did not get the stream")
                time.sleep(0.05)
            load: list[threading.Thread] = []
            for k in range(config.kiosks):
                seed = config.seed * 1000 + k
                kiosk_args = (base, stats, seeded.item_codes, stop_load, seed, config.kiosk_pause_s)
                load.append(threading.Thread(target=kiosk, args=kiosk_args, daemon=True))
            for number, token in seeded.tokens.items():
                window_args = (base, stats, number, token, stop_load, config.service_ms / 1000)
                load.append(threading.Thread(target=window, args=window_args, daemon=True))
            threads += load
            began = time.perf_counter()
            began_wall = time.time()
            for t in load:
                t.start()

            def at(seconds: float) -> None:
                time.sleep(max(0.0, began + seconds - time.perf_counter()))

            at(config.duration_s * config.kill_at)
            kill_time = time.time()
            leads = [e for e in read_observations(folder) if e["event"] == "lead"]
            leader_pid = leads[-1]["pid"]
            leader = next(w for w in workers if w.popen and w.popen.pid == leader_pid)
            victims = (webs[0], leader) if config.kill else ()
            for p in victims:
                p.kill(signal.SIGKILL)
                killed.append(
                    {
                        "process": p.name,
                        "pid": p.pid,
                        "signal": "SIGKILL",
                        "at_s": round(time.perf_counter() - began, 2),
                        "role": "leader" if p is leader else "web",
                    }
                )
            for p in victims:
                console.log(f"SIGKILL {p.name}")
                assert p.popen is not None
                p.popen.wait(timeout=10)
            at(config.duration_s * config.kill_at + config.down_s)
            for p in victims:
                p.start()
                restarted.append(
                    {"process": p.name, "pid": p.pid, "at_s": round(time.perf_counter() - began, 2)}
                )
            if victims:
                threading.Thread(
                    target=_note_healthy,
                    args=(f"http://127.0.0.1:{ports[0]}", restarted[0], began, stop_load),
                    daemon=True,
                ).start()
            if victims:
                console.log(f"restarted {webs[0].name} and {leader.name}")
            at(config.duration_s)
            if victims:  # the restarted web process answers again (it may still be starting)
                wait_healthy(webs[0], f"http://127.0.0.1:{ports[0]}")
            stop_load.set()
            for t in load:
                t.join(timeout=60)
            elapsed = time.perf_counter() - began
            # the boards catch up with the last calls
            final = max(called_event_ids(engine), default=0)
            deadline = time.monotonic() + 15
            while any((d.last_id or 0) < final for d in displays) and time.monotonic() < deadline:
                time.sleep(0.1)
            stop_displays.set()
            alive = {p.name: p.alive() for p in [*webs, *workers, proxy]}
        finally:
            stop_load.set()
            stop_displays.set()
            for p in reversed(procs):
                p.stop()
        checked = verify(engine, stats, displays)
        observations = read_observations(folder)
        duplicated, duty_runs = duplicated_duty_runs(observations)
        leads = [e for e in observations if e["event"] == "lead"]
        takeover = [e["at"] - kill_time for e in leads if e["at"] > kill_time and killed]
        names = {pid: p.name for p in workers for pid in p.pids}
        leadership = [
            {
                "process": names.get(e["pid"], "?"),
                "pid": e["pid"],
                "at_s": round(e["at"] - began_wall, 2),
            }
            for e in leads
        ]
        logs = "".join(p.log_path.read_text(errors="replace") for p in [*webs, *workers])
    acknowledged = sum(stats.acks.values())
    result: dict[str, Any] = {
        "acknowledged": acknowledged,
        "lost": checked["lost"],
        "double_called": checked["double_called"],
        "client_errors": sum(stats.client_errors.values()),
        "sse_missed_calls": checked["sse_missed_calls"],
        "duty_runs_duplicated": duplicated,
    }
    result["goals_met"] = {
        key: result[key] == 0
        for key in ("lost", "double_called", "sse_missed_calls", "duty_runs_duplicated")
    }
    result.update(
        {
            "elapsed_s": round(elapsed, 2),
            "ops_per_s": round(acknowledged / elapsed, 1) if elapsed > 0 else None,
            "write_p50_ms": _ms(stats.latencies, 50),
            "write_p99_ms": _ms(stats.latencies, 99),
            "write_p99_ms_with_retries": _ms(stats.with_retries, 99),
            "write_max_ms_with_retries": _ms(stats.with_retries, 100),
            "killed": killed,
            "restarted": restarted,
            "leader_takeover_s": round(takeover[0], 2) if takeover else None,
            "acknowledged_by_op": dict(stats.acks),
            "retried_writes": stats.retried_writes,
            "replayed_answers": stats.replayed,
            "client_errors_by_kind": dict(stats.client_errors),
            "gave_up": dict(stats.gave_up),
            "refused": dict(stats.refused),
            "lost_by_op": checked["lost_by_op"],
            "tickets_acknowledged": len(stats.tickets),
            "tickets_in_db": checked["tickets_in_db"],
            "calls_in_db": checked["calls_in_db"],
            "displays": checked["displays"],
            "duty_runs": duty_runs,
            "leadership": leadership,  # when each worker took the lead (negative: before the load)
            "alive_at_end": alive,
            "server_tracebacks": logs.count("Traceback"),
            "settings": {
                "duration_s": config.duration_s,
                "kiosks": config.kiosks,
                "windows": config.windows,
                "displays": config.displays,
                "items": config.items,
                "kiosk_pause_s": config.kiosk_pause_s,
                "service_ms": config.service_ms,
                "kill": config.kill,
                "kill_at_s": round(config.duration_s * config.kill_at, 1),
                "down_s": config.down_s,
                "nginx": nginx,
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
            },
        }
    )
    return result
