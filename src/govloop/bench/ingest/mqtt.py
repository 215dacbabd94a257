"""Benchmark of MQTT ingestion: throughput, and nothing lost across a crash and a broker
restart.

It starts its own mosquitto on a free loopback port with a temporary configuration
(persistence on, in a temporary directory), never the system broker, and a fresh SQLite
database. Then:

1. baseline: a bare paho subscriber that only counts messages (no database), same broker;
2. steady state: the listener stores N messages (``mqtt_msgs_per_s``);
3. crash: the listener is killed part-way through a second stream, without acknowledging
   what it had not committed; a third stream is published while it is down;
4. the broker is stopped (SIGTERM: it saves its persistence file) and started again;
5. the listener comes back with the same client id and drains the backlog.

``mqtt_lost`` = published − stored (distinct event ids); ``mqtt_duplicates`` counts the
redeliveries the pipeline recognised by event id.
"""

from __future__ import annotations

import getpass
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from govloop.core.db import make_engine
from govloop.core.migrate import upgrade
from govloop.ingest.devices import service as registry
from govloop.ingest.devices.mqtt import DeviceListener, publish_messages
from govloop.ingest.models import IngestedRecord

MOSQUITTO = "/usr/sbin/mosquitto"
PREFIX = "bench"
DEVICES = 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    """A private mosquitto with persistence in a temporary directory."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.conf = workdir / "mosquitto.conf"
        (workdir / "data").mkdir()
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            # started as root, mosquitto would switch to the "mosquitto" user, which may not
            # write the private persistence directory: stay the user who runs the benchmark
            f"user {getpass.getuser()}\n"
            "persistence true\n"
            f"persistence_location {workdir / 'data'}/\n"
            "autosave_interval 60\n"
            # queue everything for a disconnected persistent session, and let enough
            # messages be in flight for batching
            "max_queued_messages 1000000\n"
            "max_inflight_messages 1000\n"
            f"log_dest file {workdir / 'mosquitto.log'}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("mosquitto exited at start") from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # saves the persistence file
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _messages(start: int, count: int) -> list[tuple[str, str]]:
    base = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    out = []
    for n in range(start, start + count):
        code = f"BENCH-{n % DEVICES:03d}"
        body = {
            "event_id": f"{code}-{n}",
            "kind": "heartbeat",
            "occurred_at": (base + timedelta(seconds=n)).isoformat(),
        }
        out.append((f"{PREFIX}/devices/{code}/heartbeat", json.dumps(body)))
    return out


def _baseline(port: int, count: int) -> float:
    """Messages per second a bare paho subscriber receives (QoS 1, no database)."""
    received = threading.Event()
    got = [0]

    def on_message(_c: mqtt.Client, _u: Any, _m: mqtt.MQTTMessage) -> None:
        got[0] += 1
        if got[0] >= count:
            received.set()

    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-baseline")
    client.on_message = on_message
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe("baseline/devices/+/heartbeat", qos=1)
    subscribed.wait(10)
    messages = [(t.replace(PREFIX, "baseline", 1), p) for t, p in _messages(0, count)]
    started = time.perf_counter()
    publish_messages(messages, port=port)
    received.wait(60)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return got[0] / elapsed


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def bench_mqtt(quick: bool = False) -> dict[str, Any]:
    if not Path(MOSQUITTO).exists():
        return {"mqtt": "not available", "reason": f"{MOSQUITTO} is not installed"}
    steady, crash, down = (1_500, 1_000, 1_000) if quick else (20_000, 5_000, 5_000)
    workdir = Path(tempfile.mkdtemp(prefix="govloop-bench-mqtt-"))
    broker = Broker(workdir)
    engine = make_engine(f"sqlite:///{workdir / 'bench.db'}")
    try:
        upgrade(engine)
        scope = _scope(engine)
        with scope() as session:
            for n in range(DEVICES):
                registry.register_device(
                    session=session, code=f"BENCH-{n:03d}", kind="display", name=f"屏 {n}"
                )
        broker.start()
        baseline = _baseline(broker.port, steady)

        def listener() -> DeviceListener:
            got = DeviceListener(
                port=broker.port,
                client_id="govloop-bench",
                prefix=PREFIX,
                source_key="bench-mqtt",
                session_scope=scope,
            ).start()
            if not got.wait_subscribed(10):
                raise RuntimeError("the listener did not subscribe")
            return got

        # 2. steady state
        first = listener()
        started = time.perf_counter()
        publish_messages(_messages(0, steady), port=broker.port)
        _wait(lambda: first.stats.committed >= steady, 120)
        steady_s = time.perf_counter() - started

        # 3. crash part-way through a stream, publish more while down
        sender = threading.Thread(
            target=publish_messages, args=(_messages(steady, crash),), kwargs={"port": broker.port}
        )
        sender.start()
        _wait(lambda: first.stats.committed >= steady + crash // 2, 60)
        first.kill()
        sender.join()
        publish_messages(_messages(steady + crash, down), port=broker.port)
        stored_before = _stored(engine)

        # 4. broker restart, with the backlog in its persistence file
        broker.stop()
        broker.start()

        # 5. back up: drain the backlog
        total = steady + crash + down
        second = listener()
        drain_started = time.perf_counter()
        _wait(lambda: _stored(engine) >= total, 120)
        drain_s = time.perf_counter() - drain_started
        _wait(lambda: second._inbox.empty(), 5)
        second.stop()
        stored = _stored(engine)
        duplicates = first.stats.counts.duplicates + second.stats.counts.duplicates
        rate = steady / steady_s
        return {
            "mqtt_messages": total,
            "mqtt_msgs_per_s": round(rate, 1),
            "mqtt_baseline_msgs_per_s": round(baseline, 1),
            "mqtt_vs_baseline": round(rate / baseline, 3) if baseline else None,
            "mqtt_backlog": total - stored_before,
            "mqtt_backlog_msgs_per_s": round((stored - stored_before) / drain_s, 1),
            "mqtt_lost": total - stored,
            "mqtt_duplicates": duplicates,
            "mqtt_rejected": first.stats.counts.rejected + second.stats.counts.rejected,
            "mqtt_broker_restarts": 1,
        }
    finally:
        broker.stop()
        engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


def _scope(engine: Engine) -> Callable[[], Any]:
    @contextmanager
    def scope() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session

    return scope


def _stored(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count(IngestedRecord.id))) or 0)
