"""Which cores the server and the load generator get, and the CPU each of them used.

On a machine with two or more cores the server and the load generator are pinned to
disjoint cores, so the generator's CPU never shows up as the server's latency. The CPU
figures come from /proc (Linux): utime + stime of a process and of all its descendants,
so uvicorn's worker processes and the thread pool of sync routes are counted.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Pinning:
    server: tuple[int, ...]  # empty: not pinned
    loadgen: tuple[int, ...]

    def describe(self) -> dict[str, object]:
        return {
            "server_cpus": list(self.server) or "all",
            "loadgen_cpus": list(self.loadgen) or "all",
            "database": "not pinned (PostgreSQL is a shared server)",
        }


def available_cpus() -> tuple[int, ...]:
    if hasattr(os, "sched_getaffinity"):
        return tuple(sorted(os.sched_getaffinity(0)))
    return tuple(range(os.cpu_count() or 1))


def plan_pinning(enabled: bool = True) -> Pinning:
    """The last core for the load generator (a quarter of them on bigger machines), the rest
    for the server; nothing pinned on one core or where affinity is not supported."""
    cpus = available_cpus()
    if not enabled or len(cpus) < 2 or not hasattr(os, "sched_setaffinity"):
        return Pinning((), ())
    loadgen = max(1, len(cpus) // 4)
    return Pinning(server=cpus[:-loadgen], loadgen=cpus[-loadgen:])


def pin(pid: int, cpus: tuple[int, ...]) -> None:
    if cpus:
        with contextlib.suppress(OSError):  # the process may have just exited
            os.sched_setaffinity(pid, cpus)


def _process_table() -> dict[int, tuple[int, str, float]]:
    """pid → (parent pid, command name, CPU seconds) of every readable process."""
    table: dict[int, tuple[int, str, float]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / TICK)
    return table


def descendants(pid: int, table: dict[int, tuple[int, str, float]] | None = None) -> list[int]:
    """The process and all its descendants that are alive now."""
    table = table if table is not None else _process_table()
    if pid not in table:
        return []
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(child for child, (parent, _, _) in table.items() if parent == current)
    return found


def pin_tree(pid: int, cpus: tuple[int, ...]) -> None:
    """Pin a process and the workers it has forked so far (forks inherit the mask)."""
    for each in descendants(pid):
        pin(each, cpus)


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process and its live descendants (None without /proc)."""
    table = _process_table()
    if pid not in table:
        return None
    return sum(table[each][2] for each in descendants(pid, table))


def postgres_cpu_seconds() -> dict[int, float]:
    """pid → CPU seconds of every process named postgres on the machine (other clients' too)."""
    return {pid: cpu for pid, (_, name, cpu) in _process_table().items() if name == "postgres"}


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the processes used between two readings: a process that exited in between is left
    out (its CPU is gone from /proc), one started in between counts in full."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def machine_busy_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    values = [int(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)
