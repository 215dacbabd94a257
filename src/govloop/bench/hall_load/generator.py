"""Kiosks, windows and a display board driving the server, in a process of their own.

`run_load` is the entry point of the load generator process: it pins itself to its cores,
runs kiosks, windows and one SSE display on one event loop, and returns plain figures.

* Kiosks issue tickets as a Poisson process at ``arrival_rate`` split over the kiosks. A
  kiosk serves one citizen at a time; in open-loop mode a request's latency counts from
  when it was due, so a server that falls behind shows in the percentiles instead of
  silently slowing the arrivals (no coordinated omission).
* Windows call when a ticket they serve is waiting (the clients track the waiting tickets
  per item, as staff read the display), start, handle it for a drawn time, and finish; a
  citizen whose patience ran out before the call is marked no-show. Idle windows wait for
  the next arrival, so calls come at their natural rate.
* One display subscribes to the hall's SSE stream; its delay is matched to each call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console

from govloop.bench.hall_load.clients import (
    REQUEST_ERRORS,
    Connection,
    HttpxConnection,
    LeanConnection,
    Reply,
)
from govloop.bench.hall_load.cpu import (
    cpu_spent,
    machine_busy_ticks,
    pin,
    postgres_cpu_seconds,
    tree_cpu_seconds,
)
from govloop.bench.hall_load.plan import LoadOutcome, LoadPlan, SlipSeen

EMPTY_BACKOFF_S = (0.02, 1.0)  # a window told "queue empty" asks again after this, doubling
REQUEST_TIMEOUT_S = 60.0
# What the API says (govloop.hall.models' values; importing that package would load the
# whole hall domain into the generator process).
CALLED_EVENT = "ticket.called"
NO_SHOW_STATUS = "no_show"
STALL_S = 30.0  # no progress this long after the last ticket: report and stop
LAG_PROBE_S = 0.01


@dataclass
class Slip:
    code: str
    public_id: str
    item: str
    received: float  # perf_counter when the slip came back
    expected_s: float | None
    inputs: dict[str, Any]


@dataclass
class LoadState:
    plan: LoadPlan
    rng: random.Random
    slips: dict[str, Slip] = field(default_factory=dict)
    patience: dict[str, float] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    acks: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    resolved: int = 0
    # Waiting tickets per item as the clients know them, less the calls in flight for them
    # (can dip below zero while a call returns another item's ticket; exact once settled).
    waiting: Counter[str] = field(default_factory=Counter)
    # When each of those tickets started waiting (the earliest a window could call it).
    waiting_since: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
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
    loop_lag: list[float] = field(default_factory=list)

    def progress(self) -> None:
        self.last_progress = time.perf_counter()

    def ticket_waiting(self, item: str, since: float) -> None:
        self.waiting[item] += 1
        self.waiting_since[item].append(since)
        self.arrival.set()

    def claim(self, served: tuple[str, ...]) -> tuple[str, float] | None:
        """Take the longest-waiting ticket among the items a window serves (FIFO, as the
        server's call-next); returns its item and when it started waiting."""
        best: tuple[str, float] | None = None
        for item in served:
            if self.waiting[item] > 0:
                since = self.waiting_since[item]
                at = since[0] if since else 0.0
                if best is None or at < best[1]:
                    best = (item, at)
        if best is not None:
            self.waiting[best[0]] -= 1
            if self.waiting_since[best[0]]:
                self.waiting_since[best[0]].popleft()
        return best

    def unclaim(self, item: str, since: float) -> None:
        self.waiting[item] += 1
        self.waiting_since[item].appendleft(since)
        self.arrival.set()

    def called_other(self, claimed: str, since: float, got: str) -> None:
        """The server gave the window another item's ticket (priority, or a claim race)."""
        if claimed == got:
            return
        self.unclaim(claimed, since)
        self.waiting[got] -= 1
        if self.waiting_since[got]:
            self.waiting_since[got].popleft()

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
    due: float | None = None,
) -> tuple[Reply | None, float]:
    """POST and record the latency from ``due`` (open loop) or from the send time."""
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
        origin = started if due is None or not state.plan.open_loop else min(due, started)
        state.latencies[op].append(done - origin)
        state.acks[op] += 1
    return response, done


async def kiosk_worker(client: Connection, state: LoadState, count: int, start: float) -> None:
    plan = state.plan
    rng = random.Random(state.rng.random())
    rate = plan.arrival_rate / plan.kiosks
    due = start
    url = f"/api/v1/halls/{plan.hall_code}/tickets"
    for _ in range(count):
        due += rng.expovariate(rate)
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body: dict[str, Any] = {"item_code": rng.choice(plan.item_codes)}
        if rng.random() < plan.priority_share:
            body["priority"] = "elderly"
        response, done = await _post(client, state, "issue", url, body=body, due=due)
        if response is None:
            continue
        if response.status_code != 201:
            state.errors[f"issue:{_error_code(response)}"] += 1
            continue
        slip = response.json()
        state.slips[slip["code"]] = Slip(
            code=slip["code"],
            public_id=slip["public_id"],
            item=body["item_code"],
            received=done,
            expected_s=slip["estimate"]["expected_seconds"],
            inputs=slip["estimate"]["inputs"],
        )
        state.patience[slip["code"]] = rng.expovariate(1.0 / plan.patience_s)
        state.ticket_waiting(body["item_code"], done)
        state.progress()


def _handling_s(plan: LoadPlan, rng: random.Random) -> float:
    mean = plan.service_ms / 1000.0
    if plan.open_loop:
        # Log-normal with the configured mean: most tickets quick, a long tail of hard ones.
        sigma = plan.service_sigma
        return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)
    return min(rng.expovariate(1.0 / mean), 5 * mean)


async def window_worker(client: Connection, state: LoadState, number: int) -> None:
    plan = state.plan
    rng = random.Random(state.rng.random() + number)
    headers = {"Authorization": f"Bearer {plan.tokens[number]}"}
    served = plan.window_items[number] or plan.item_codes
    base = f"/api/v1/halls/{plan.hall_code}/windows/{number}"
    backoff = EMPTY_BACKOFF_S[0]
    free_at = time.perf_counter()
    while not state.finished:
        if state.kiosks_done and time.perf_counter() - state.last_progress > STALL_S:
            state.errors["stalled"] += 1
            return
        claimed = state.claim(served)
        if claimed is None:
            # Staff look at the display before calling: nothing of theirs waits, nothing to call.
            state.arrival.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.arrival.wait(), timeout=0.5)
            continue
        item, since = claimed
        # The clerk calls as soon as both the window and a ticket are there.
        due = max(free_at, since)
        response, done = await _post(client, state, "call", f"{base}/call-next", headers, due=due)
        if response is None or not response.is_success:
            state.unclaim(item, since)
        if response is None:
            await asyncio.sleep(rng.uniform(*EMPTY_BACKOFF_S))
            free_at = time.perf_counter()
            continue
        if not response.is_success:
            code = _error_code(response)
            if code == "queue_empty":
                # Another window's call in flight takes it: ask again later, less often.
                state.acks["call_empty"] += 1
                await asyncio.sleep(rng.uniform(backoff / 2, backoff))
                backoff = min(backoff * 2, EMPTY_BACKOFF_S[1])
                free_at = time.perf_counter()
                continue
            state.errors[f"call:{code}"] += 1
            if code == "window_busy":
                # A reply was lost on the way (the client saw an error, the server committed):
                # finish what the window holds, as staff would.
                await _post(client, state, "start", f"{base}/start", headers)
                response, _ = await _post(client, state, "finish", f"{base}/finish", headers)
                if response is not None and response.is_success:
                    state.resolved += 1
            else:
                await asyncio.sleep(rng.uniform(*EMPTY_BACKOFF_S))
            free_at = time.perf_counter()
            continue
        backoff = EMPTY_BACKOFF_S[0]
        ticket = response.json()
        code = ticket["code"]
        slip = state.slips.get(code)
        state.called_other(item, since, slip.item if slip else item)
        state.match_call((code, number), done, from_sse=False)
        state.progress()
        waited = done - slip.received if slip else 0.0
        if waited > state.patience.get(code, float("inf")):
            response, done = await _post(
                client, state, "no_show", f"{base}/no-show", headers, due=done
            )
            if response is not None and response.is_success:
                if response.json()["status"] == NO_SHOW_STATUS:
                    state.resolved += 1
                elif slip is not None:
                    state.ticket_waiting(slip.item, done)  # back in the queue (过号重排)
            elif response is not None:
                state.errors[f"no_show:{_error_code(response)}"] += 1
            free_at = done
            continue
        response, done = await _post(client, state, "start", f"{base}/start", headers, due=done)
        if response is not None and not response.is_success:
            state.errors[f"start:{_error_code(response)}"] += 1
        finish_due = done + _handling_s(plan, rng)
        await asyncio.sleep(max(finish_due - time.perf_counter(), 0.0))
        response, free_at = await _post(
            client, state, "finish", f"{base}/finish", headers, due=finish_due
        )
        if response is not None and response.is_success:
            state.resolved += 1
        elif response is not None:
            state.errors[f"finish:{_error_code(response)}"] += 1


async def display_worker(client: httpx.AsyncClient, state: LoadState, ready: asyncio.Event) -> None:
    """One display board on the SSE stream; records when each call shows up."""
    url = f"/api/v1/halls/{state.plan.hall_code}/stream"
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
                        if e["kind"] == CALLED_EVENT and e.get("code"):
                            state.match_call((e["code"], int(e["window"])), at, from_sse=True)
                event, data = "", []


async def lag_probe(state: LoadState) -> None:
    """How late the generator's own loop wakes up: if this grows, the generator, not the
    server, would be what the latencies measure."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(LAG_PROBE_S)
        state.loop_lag.append(max(time.perf_counter() - before - LAG_PROBE_S, 0.0))


@dataclass
class CpuMark:
    server: float | None
    loadgen: float
    postgres: dict[int, float] | None
    machine: tuple[int, int] | None
    loadavg: float | None

    @classmethod
    def take(cls, plan: LoadPlan) -> CpuMark:
        loadavg = None
        with contextlib.suppress(OSError, AttributeError):
            loadavg = round(os.getloadavg()[0], 2)
        return cls(
            server=tree_cpu_seconds(plan.server_pid),
            loadgen=time.process_time(),
            postgres=postgres_cpu_seconds() if plan.measure_postgres else None,
            machine=machine_busy_ticks(),
            loadavg=loadavg,
        )


def _delta(a: float | None, b: float | None) -> float | None:
    return b - a if a is not None and b is not None else None


async def drive(state: LoadState, console: Console) -> LoadOutcome:
    """Run kiosks, windows and one display until every ticket is resolved."""
    plan = state.plan
    url = httpx.URL(plan.base_url)
    host, port = url.host, url.port or 80
    parent = os.getppid()
    connections: list[Connection] = []

    def connection() -> Connection:
        made: Connection = (
            HttpxConnection(plan.base_url) if plan.client == "httpx" else LeanConnection(host, port)
        )
        connections.append(made)
        return made

    async with httpx.AsyncClient(base_url=plan.base_url, timeout=httpx.Timeout(60.0)) as client:
        ready = asyncio.Event()
        display_task = asyncio.create_task(display_worker(client, state, ready))
        await asyncio.wait_for(ready.wait(), timeout=30)
        start = time.perf_counter()
        first = CpuMark.take(plan)
        share = [plan.tickets // plan.kiosks] * plan.kiosks
        for i in range(plan.tickets % plan.kiosks):
            share[i] += 1

        async def kiosks() -> None:
            await asyncio.gather(*(kiosk_worker(connection(), state, n, start) for n in share))
            state.kiosks_done = True

        async def ticker() -> None:
            last = 0.0
            while not state.finished:
                if os.getppid() != parent:  # the bench was stopped: stop loading the server
                    raise SystemExit(1)
                if time.perf_counter() - last >= 5:
                    last = time.perf_counter()
                    ops = sum(state.acks[o] for o in ("issue", "call", "start", "finish"))
                    console.log(
                        f"issued {len(state.slips)}/{plan.tickets}, resolved {state.resolved}, "
                        f"ops {ops}, errors {dict(state.errors) or 0}"
                    )
                await asyncio.sleep(0.5)

        load = asyncio.gather(
            kiosks(), *(window_worker(connection(), state, n) for n in plan.tokens)
        )
        tick = asyncio.create_task(ticker())
        probe = asyncio.create_task(lag_probe(state))
        try:
            await asyncio.wait_for(load, timeout=plan.timeout_s)
        except TimeoutError:
            state.errors["timeout"] += 1
        end = time.perf_counter()
        last = CpuMark.take(plan)
        probe.cancel()
        await asyncio.sleep(1.5)  # let the display catch up with the last calls
        tick.cancel()
        display_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await display_task
        for conn in connections:
            await conn.aclose()
    busy = None
    if first.machine and last.machine and last.machine[1] > first.machine[1]:
        busy = (last.machine[0] - first.machine[0]) / (last.machine[1] - first.machine[1])
    return LoadOutcome(
        elapsed_s=end - start,
        slips=[SlipSeen(s.code, s.public_id, s.expected_s, s.inputs) for s in state.slips.values()],
        latencies=dict(state.latencies),
        acks=dict(state.acks),
        errors=dict(state.errors),
        sse_latencies=state.sse_latencies,
        sse_updates=state.sse_updates,
        sse_unmatched=sum(len(q) for q in state.call_seen.values()),
        loop_lag_s=state.loop_lag,
        server_cpu_s=_delta(first.server, last.server),
        loadgen_cpu_s=last.loadgen - first.loadgen,
        postgres_cpu_s=(
            cpu_spent(first.postgres, last.postgres)
            if first.postgres is not None and last.postgres is not None
            else None
        ),
        machine_busy_share=round(busy, 3) if busy is not None else None,
        loadavg_1m=[m for m in (first.loadavg, last.loadavg) if m is not None],
    )


def run_load(plan: LoadPlan) -> LoadOutcome:
    """Entry point of the load generator process."""
    pin(0, plan.cpus)
    state = LoadState(plan=plan, rng=random.Random(plan.seed))
    console = Console(stderr=True)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(drive(state, console))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(drive(state, console))
