"""What the load generator process is told to do, and what it hands back (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LoadPlan:
    base_url: str
    hall_code: str
    tokens: dict[int, str]  # window number → bearer token of its staff
    window_items: dict[int, tuple[str, ...]]  # window number → item codes; () = all (general)
    item_codes: tuple[str, ...]
    kiosks: int
    tickets: int
    # Tickets per second offered by all kiosks together (a Poisson process).
    arrival_rate: float
    # Open loop (rate mode): latencies count from the scheduled time of each request, and
    # handling times are log-normal; closed loop (saturated): from the send time, exponential.
    open_loop: bool
    service_ms: float  # mean handling time at a window
    service_sigma: float  # of the log-normal handling time (open loop)
    patience_s: float
    priority_share: float
    seed: int
    client: str  # lean or httpx
    server_pid: int
    cpus: tuple[int, ...]  # the cores this process is pinned to; () = not pinned
    measure_postgres: bool
    timeout_s: float


@dataclass(frozen=True)
class SlipSeen:
    code: str
    public_id: str
    expected_s: float | None
    inputs: dict[str, Any]


@dataclass
class LoadOutcome:
    elapsed_s: float
    slips: list[SlipSeen]
    latencies: dict[str, list[float]]  # op → seconds
    acks: dict[str, int]
    errors: dict[str, int]
    sse_latencies: list[float]
    sse_updates: int
    sse_unmatched: int
    loop_lag_s: list[float]  # how late the generator's own event loop woke (its saturation)
    server_cpu_s: float | None
    loadgen_cpu_s: float
    postgres_cpu_s: float | None
    machine_busy_share: float | None  # all cores, the whole machine, during the load
    loadavg_1m: list[float] = field(default_factory=list)
