"""`govloop bench notify`: notifications through a real Kannel, end to end.

On this machine: a fresh database (SQLite by default, ``--database-url`` for PostgreSQL: a
schema of its own, dropped afterwards), govloop's web application under uvicorn taking the
delivery reports, Kannel (bearerbox, smsbox) and Kannel's ``fakesmsc`` as the operator
(``bench/kannel.py``). The bench process writes the notifications through the outbox
(``outbox.enqueue``, ``ENQUEUE_BATCH`` per transaction, as a burst) while the
sender (``dispatch.run_once`` in a loop, one persistent thread pool) hands them to Kannel.

Each run reports:

* ``sent``: messages the gateway accepted (status sent or delivered);
* ``delivered``: messages whose delivery report "delivered to the phone" (type 1) came back;
* ``duplicates``: extra copies the operator (``fakesmsc``) received;
* ``lost``: messages the operator never received (each carries a unique number);
* ``per_s``: messages over the seconds from the first enqueue to the last report;
* ``latency_ms``: enqueue → delivery report per message (p50, p95, max).

Two runs: ``steady``, then ``outage``: the same with the gateway (bearerbox, and smsbox and
``fakesmsc`` with it) stopped for ``outage_s`` once half the messages were handed to it (the
other half still in the outbox), then started again; the sender backs off meanwhile and catches up.

Recipients: ``messages × 0.8`` distinct mobile numbers, some receiving two to four
messages, all within the default per-phone cap (5 per hour); each run uses its own numbers.
The cap in force is printed (``caps``); ``--caps`` changes it for the bench's processes.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import Engine, create_engine, func, select, text

from govloop.bench.kannel import (
    PASSWORD,
    SENDER,
    USERNAME,
    KannelGateway,
    cpu_seconds,
    duplicates_and_counts,
    live_govloop,
    live_govloop_pids,
    missing_binaries,
)
from govloop.core.db import make_engine, set_engine, unit_of_work
from govloop.core.migrate import upgrade
from govloop.core.settings import get_settings
from govloop.notify import dispatch, outbox
from govloop.notify.channels.kannel import DEFAULT_DLR_MASK, KannelChannel
from govloop.notify.models import Notification, NotificationEvent, NotificationStatus

# messages written per transaction: a change writes its few notifications in its own
# transaction; 200 at once held SQLite's write lock for seconds on a busy machine and a
# sender round gave up after busy_timeout (30 s)
ENQUEUE_BATCH = 20
GOALS = {"lost": 0, "duplicates": 0, "per_s": 100.0}
_KEY = re.compile(r"工单号(B\d-\d{6})")


@dataclass
class NotifyBenchConfig:
    messages: int = 3000
    outage_s: float = 30.0
    database_url: str | None = None  # None: SQLite in a temporary folder
    caps: str | None = None  # None: the settings' notify_citizen_caps
    senders: int = 1  # sender loops (PostgreSQL: they skip each other's rows)
    seed: int = 1
    dlr_mask: int = DEFAULT_DLR_MASK  # the reports Kannel is asked for (19: 1, 2, 16)
    keep: bool = False  # keep the folder (logs, kannel.conf)


def recipients(n: int, run: int, rng: random.Random) -> list[str]:
    """``n`` mobile numbers: 80 % distinct, some of them receiving two to four messages."""
    distinct = max(1, int(n * 0.8))
    prefix = ("139", "138", "137", "136")[run % 4]
    numbers = [f"{prefix}{i:08d}" for i in rng.sample(range(10**8), distinct)]
    out = list(numbers)
    while len(out) < n:
        phone = rng.choice(numbers[: max(1, distinct // 4)])
        if out.count(phone) < 4:
            out.append(phone)
    rng.shuffle(out)
    return out


class Sender:
    """``dispatch.run_once`` in a loop (``senders`` threads) with the sending pool the job
    uses (``dispatch``'s, shared by the rounds)."""

    def __init__(self, channel: KannelChannel, senders: int) -> None:
        self.channel = channel
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.rounds = 0
        self.threads = [
            threading.Thread(target=self._loop, name=f"sender-{i}", daemon=True)
            for i in range(senders)
        ]

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                report = dispatch.run_once(channel_lookup=lambda _c: self.channel)
                self.rounds += 1
            except Exception as exc:  # a failed round (lock timeout): logged, tried again
                self.errors.append(f"{exc.__class__.__name__}: {exc}"[:200])
                time.sleep(0.2)
                continue
            if report.handled == 0:
                time.sleep(0.02)

    def __enter__(self) -> Sender:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def _enqueue(run: int, phones: list[str], ids: list[int]) -> None:
    for start in range(0, len(phones), ENQUEUE_BATCH):
        written: list[int] = []
        with unit_of_work() as s:
            for i in range(start, min(start + ENQUEUE_BATCH, len(phones))):
                n = outbox.enqueue(
                    session=s,
                    event_key=f"bench:{run}:{i}",
                    template="order_accepted",
                    to=phones[i],
                    params={"number": f"B{run}-{i:06d}"},
                )
                written.append(n.id)
        ids.extend(written)  # committed


def _status_counts(first: int, last: int) -> dict[str, int]:
    with unit_of_work(readonly=True) as s:
        rows = s.execute(
            select(Notification.status, func.count())
            .where(Notification.id.between(first, last))
            .group_by(Notification.status)
        ).all()
    return {str(status): int(count) for status, count in rows}


def _latencies(first: int, last: int) -> dict[str, float]:
    with unit_of_work(readonly=True) as s:
        rows = s.execute(
            select(Notification.created_at, func.min(NotificationEvent.at))
            .join(NotificationEvent, NotificationEvent.notification_id == Notification.id)
            .where(
                Notification.id.between(first, last),
                NotificationEvent.kind == "dlr",
                Notification.status == NotificationStatus.DELIVERED,
            )
            .group_by(Notification.id, Notification.created_at)
        ).all()
    values = sorted((at - created).total_seconds() * 1000 for created, at in rows)
    if not values:
        return {}

    def pct(p: float) -> float:
        return round(values[min(len(values) - 1, int(p * len(values)))], 1)

    return {"p50": pct(0.5), "p95": pct(0.95), "max": round(values[-1], 1)}


def _cpu(gateway: KannelGateway) -> dict[str, float]:
    """CPU seconds so far: this process (enqueue and sender), the govloop server (delivery
    reports), Kannel's processes."""
    t = os.times()
    out = {"bench_process": t.user + t.system}
    out["govloop_server"] = sum(cpu_seconds(pid) for pid in live_govloop_pids)
    out["kannel"] = sum(
        cpu_seconds(p.pid) for name, p in gateway.procs.items() if name != "fakesmsc"
    )
    return out


def _one_run(
    run: int,
    name: str,
    config: NotifyBenchConfig,
    gateway: KannelGateway,
    channel: KannelChannel,
    status: Console,
) -> dict[str, Any]:
    rng = random.Random(config.seed * 100 + run)
    phones = recipients(config.messages, run, rng)
    outage = config.outage_s if name == "outage" else 0.0
    before = {k for k, c in duplicates_and_counts(gateway.received(), _KEY)[0].items() if c}
    status.print(f"[bold]{name}[/]: {config.messages} messages, outage {outage:g} s")
    errors: list[str] = []
    cpu0 = _cpu(gateway)
    n = len(phones)
    stop_at: dict[str, int] = {}
    ids: list[int] = []
    enqueued = threading.Event()
    t_enqueued = 0.0

    def write() -> None:
        nonlocal t_enqueued
        try:
            _enqueue(run, phones, ids)
        except Exception as exc:  # reported; the run then misses those messages
            errors.append(f"enqueue: {exc.__class__.__name__}: {exc}"[:200])
        t_enqueued = time.monotonic() - t0
        enqueued.set()

    with Sender(channel, config.senders) as sender:
        t0 = time.monotonic()
        writer = threading.Thread(target=write, name="enqueue", daemon=True)
        writer.start()  # the outage may come while messages are still being written
        while not ids and not enqueued.is_set():
            time.sleep(0.01)
        first = ids[0] if ids else 0
        stopped_at = None
        deadline = time.monotonic() + 180 + 4 * outage + n / 10
        settled_since = None
        last_seen = -1
        while True:
            counts = _status_counts(first, first + 10 * n)
            delivered = counts.get(NotificationStatus.DELIVERED, 0)
            open_ = counts.get(NotificationStatus.QUEUED, 0)
            handed = n - open_ if enqueued.is_set() else len(ids) - open_
            # half the messages handed to the gateway: the other half still in the outbox
            if outage and stopped_at is None and handed >= n // 2:
                status.print(f"  gateway stopped at {handed} sent, {delivered} delivered")
                stop_at = {"sent": handed, "delivered": delivered}
                gateway.stop()
                stopped_at = time.monotonic()
                time.sleep(outage)
                gateway.start()
                status.print(f"  gateway started again after {time.monotonic() - stopped_at:.1f} s")
                continue
            if delivered >= n:
                break
            if open_ == 0 and enqueued.is_set():  # all settled: the last reports may follow
                if delivered != last_seen:
                    settled_since, last_seen = time.monotonic(), delivered
                elif settled_since is not None and time.monotonic() - settled_since > 15:
                    break
            if time.monotonic() > deadline:
                errors.append("deadline passed before every message was settled")
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - t0
        writer.join()
        errors.extend(sender.errors)
    first, last = (min(ids), max(ids)) if ids else (0, 0)
    cpu1 = _cpu(gateway)
    time.sleep(0.5)  # the operator's log catches up
    counts_by_key, _ = duplicates_and_counts(gateway.received(), _KEY)
    keys = {f"B{run}-{i:06d}" for i in range(n)}
    got = {k: c for k, c in counts_by_key.items() if k in keys and k not in before}
    final = _status_counts(first, last)
    sent = final.get(NotificationStatus.SENT, 0) + final.get(NotificationStatus.DELIVERED, 0)
    delivered = final.get(NotificationStatus.DELIVERED, 0)
    return {
        "messages": n,
        "distinct_phones": len(set(phones)),
        "sent": sent,
        "delivered": delivered,
        "duplicates": sum(c - 1 for c in got.values()),
        "lost": len(keys - set(got)),
        "per_s": round(delivered / elapsed, 1) if elapsed else 0.0,
        "elapsed_s": round(elapsed, 2),
        "enqueue_s": round(t_enqueued, 2),
        "outage_s": outage,
        "gateway_stopped_at": stop_at,
        "statuses": final,
        "latency_ms": _latencies(first, last),
        "cpu_ms_per_message": {
            k: round((cpu1[k] - cpu0[k]) * 1000 / n, 2) for k in cpu1 if k in cpu0
        }
        if not outage
        else {},
        "sender_rounds": sender.rounds,
        "errors": errors[:10],
    }


@contextlib.contextmanager
def _database(config: NotifyBenchConfig, folder: Path) -> Iterator[tuple[str, Engine]]:
    """A fresh database: SQLite in the folder, or a schema of its own on PostgreSQL."""
    if not config.database_url or config.database_url.startswith("sqlite"):
        url = config.database_url or f"sqlite:///{folder / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield url, engine
        finally:
            engine.dispose()
        return
    schema = f"bench_notify_{uuid.uuid4().hex[:8]}"
    probe = create_engine(config.database_url)
    with probe.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in config.database_url else "?"
    url = f"{config.database_url}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield url, engine
    finally:
        engine.dispose()
        with probe.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        probe.dispose()


def run_notify_bench(config: NotifyBenchConfig, status: Console) -> dict[str, Any]:
    missing = missing_binaries()
    if missing:
        raise RuntimeError(
            f"Kannel is not installed (apt-get install kannel kannel-extras): {missing}"
        )
    folder = Path(tempfile.mkdtemp(prefix="govloop-bench-notify-"))
    saved_caps = os.environ.get("GOVLOOP_NOTIFY_CITIZEN_CAPS")
    if config.caps:
        os.environ["GOVLOOP_NOTIFY_CITIZEN_CAPS"] = config.caps  # this process and the server
    caps = get_settings().notify_citizen_caps
    result: dict[str, Any] = {
        "config": asdict(config) | {"database_url": None},
        "backend": "postgresql"
        if config.database_url and config.database_url.startswith("postgresql")
        else "sqlite",
        "caps": caps,
        "caps_raised": bool(config.caps),
        "sender_parallel": KannelChannel.parallel,
        "batch": dispatch.BATCH,
    }
    try:
        with _database(config, folder) as (url, engine):
            set_engine(engine)
            try:
                with live_govloop(url, folder) as base:
                    gateway = KannelGateway(folder / "kannel")
                    channel = KannelChannel(
                        sendsms_url=gateway.sendsms_url,
                        username=USERNAME,
                        password=PASSWORD,
                        sender=SENDER,
                        public_base_url=base,
                        secret_key=get_settings().secret_key,
                        max_connections=KannelChannel.parallel,
                        dlr_mask=config.dlr_mask,
                    )
                    try:
                        gateway.start()
                        result["steady"] = _one_run(1, "steady", config, gateway, channel, status)
                        if config.outage_s > 0:
                            result["outage"] = _one_run(
                                2, "outage", config, gateway, channel, status
                            )
                    finally:
                        gateway.stop()
                        channel.close()
            finally:
                set_engine(None)
    finally:
        if config.caps:
            if saved_caps is None:
                os.environ.pop("GOVLOOP_NOTIFY_CITIZEN_CAPS", None)
            else:
                os.environ["GOVLOOP_NOTIFY_CITIZEN_CAPS"] = saved_caps
        if not config.keep:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
        else:
            result["folder"] = str(folder)
    runs = [result[k] for k in ("steady", "outage") if k in result]
    result["goals"] = {
        "lost_0": all(r["lost"] == 0 for r in runs),
        "duplicates_0": all(r["duplicates"] == 0 for r in runs),
        "per_s_100": result["steady"]["per_s"] >= GOALS["per_s"],
        "met": all(r["lost"] == 0 and r["duplicates"] == 0 for r in runs)
        and result["steady"]["per_s"] >= GOALS["per_s"],
    }
    return result
