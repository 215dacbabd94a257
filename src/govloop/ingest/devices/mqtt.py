"""MQTT from hall devices, through the broker, into the pipeline and the device registry.

Topics: ``<prefix>/devices/<device code>/events`` and ``<prefix>/devices/<code>/heartbeat``
(prefix ``govloop``). The payload is a JSON object following the ``device_event`` schema;
``device_code`` may be left out (the topic names the device), and on the heartbeat topic
``kind`` defaults to ``heartbeat``.

Delivery: MQTT 3.1.1 with ``clean_session=False``, a fixed client id and QoS 1
subscriptions, so the broker keeps the messages published while govloop is down and
delivers them when the listener reconnects. Messages are batched (up to ``batch_size`` or
``batch_ms``, or as soon as the stream pauses) into one transaction each, and acknowledged
(PUBACK, paho's ``manual_ack``) only *after* the transaction committed. A crash before
the commit leaves them unacknowledged: the broker redelivers them on the next connection.
That is at-least-once delivery; duplicates are harmless because the pipeline is
idempotent by event id.

Who may publish: an MQTT message carries no device credential, the topic alone names the
device, so govloop relies on the broker to authenticate devices. Run the broker with
``allow_anonymous false``, one user per device code in its password file and an ACL that
lets each device write only its own topics (mosquitto: ``pattern write
govloop/devices/%u/#``), and the listener read ``govloop/devices/#``. On a broker that lets
anyone publish, anyone can send heartbeats for any registered device, and messages naming
unknown devices are kept as dead letters. Devices on HTTP present their key instead
(``X-Device-Key``, see ``devices_api``).

The broker must be allowed to queue enough for a disconnected client
(mosquitto ``max_queued_messages``, 1000 by default) and to have enough messages in flight
(``max_inflight_messages``, 20 by default) for throughput.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.db import unit_of_work
from govloop.core.input_guard import loads_json
from govloop.ingest.devices import service as registry
from govloop.ingest.models import IngestedRecord, IngestRun, Source, SourceKind
from govloop.ingest.pipeline import (
    RawRow,
    RunCounts,
    create_source,
    finish_run,
    ingest_rows,
    record_dead_letter,
    start_run,
)
from govloop.ingest.schemas import normalize_identifier

log = logging.getLogger(__name__)

SOURCE_KEY = "mqtt-devices"
TOPIC_PREFIX = "govloop"
CLIENT_ID = "govloop-devices"


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    mid: int = 0


def topics(prefix: str = TOPIC_PREFIX) -> list[str]:
    return [f"{prefix}/devices/+/events", f"{prefix}/devices/+/heartbeat"]


def ensure_source(*, session: Session, key: str = SOURCE_KEY) -> Source:
    source = session.scalar(select(Source).where(Source.key == key))
    if source is None:
        source = create_source(
            session=session,
            key=key,
            name="大厅设备 MQTT",
            kind=SourceKind.MQTT,
            schema_name="device_event",
            owner="govloop devices listen",
        )
    return source


def _parse_topic(topic: str, prefix: str) -> tuple[str, str] | None:
    """(device code, channel) of ``<prefix>/devices/<code>/<events|heartbeat>``."""
    head = f"{prefix}/devices/"
    if not topic.startswith(head):
        return None
    rest = topic[len(head) :].split("/")
    if len(rest) != 2 or not rest[0] or rest[1] not in ("events", "heartbeat"):
        return None
    return normalize_identifier(rest[0]), rest[1]


def _raw(payload: bytes) -> str:
    """The payload as text for the dead-letter store; bytes that are not UTF-8 are kept
    exactly as base64 next to a readable rendering."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        readable = payload.decode("utf-8", errors="replace")
        return f"{readable}\n[base64] {base64.b64encode(payload).decode('ascii')}"


def ingest_messages(
    *,
    session: Session,
    source: Source,
    run: IngestRun,
    messages: Sequence[Message],
    prefix: str = TOPIC_PREFIX,
) -> RunCounts:
    """Store a batch of device messages and apply them to the registry.

    Messages that are not a JSON object, name a topic outside the scheme, an unknown or a
    revoked device go to the dead-letter store with the topic and the raw payload; the rest
    goes through the pipeline (validated, deduplicated by event id, stored with lineage).
    """
    rejected = RunCounts()

    def dead(msg: Message, code: str, reason: str) -> None:
        raw = json.dumps({"topic": msg.topic, "payload": _raw(msg.payload)}, ensure_ascii=False)
        record_dead_letter(
            session=session,
            source_key=source.key,
            source=source,
            run=run,
            raw=raw,
            reason_code=code,
            reason=f"{reason}（主题 {msg.topic}）",
            file_name=msg.topic[:500],
        )
        rejected.rows_in += 1
        rejected.rejected += 1

    parsed: list[tuple[Message, str, dict[str, Any]]] = []
    for msg in messages:
        where = _parse_topic(msg.topic, prefix)
        if where is None:
            dead(msg, "bad_topic", "主题不符合 <前缀>/devices/<设备编码>/events|heartbeat")
            continue
        code, channel = where
        try:
            values = loads_json(msg.payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            dead(msg, "not_json", f"消息不是 JSON：{exc}")
            continue
        if not isinstance(values, dict):
            dead(msg, "not_object", "消息不是 JSON 对象")
            continue
        claimed = values.get("device_code")
        if claimed is not None and normalize_identifier(str(claimed)) != code:
            dead(msg, "topic_mismatch", f"消息中的设备编码 {claimed} 与主题不符")
            continue
        values["device_code"] = code
        if channel == "heartbeat":
            values.setdefault("kind", "heartbeat")
        parsed.append((msg, code, values))

    known = registry.devices_by_code(session=session, codes=[c for _m, c, _v in parsed])
    rows: list[RawRow] = []
    for msg, code, values in parsed:
        device = known.get(code)
        if device is None:
            dead(msg, "unknown_device", f"设备 {code} 未登记")
        elif device.revoked:
            dead(msg, "device_revoked", f"设备 {code} 已注销，消息不予接收")
        else:
            rows.append(RawRow(values=values, raw=_raw(msg.payload)))
    session.flush()
    counts = ingest_rows(session=session, source=source, run=run, rows=rows)
    if counts.stored:
        ids = [normalize_identifier(str(r.values.get("event_id", ""))) for r in rows]
        stored = session.scalars(
            select(IngestedRecord.payload).where(
                IngestedRecord.run_id == run.id,
                IngestedRecord.source_id == source.id,
                IngestedRecord.event_id.in_([i for i in ids if i]),
            )
        ).all()
        for payload in sorted(stored, key=lambda p: str(p["occurred_at"])):
            device = known[payload["device_code"]]
            registry.apply_device_event(
                session=session,
                device=device,
                kind=payload["kind"],
                at=datetime.fromisoformat(payload["occurred_at"]),
                detail=payload.get("detail") or {},
            )
        session.flush()
    counts.add(rejected)
    return counts


# --- the listener -------------------------------------------------------------------------


@dataclass
class ListenerStats:
    received: int = 0
    committed: int = 0
    batches: int = 0
    counts: RunCounts = field(default_factory=RunCounts)


class DeviceListener:
    """A persistent-session MQTT subscriber feeding ``ingest_messages`` in batches.

    ``run()`` blocks until ``stop()`` (or Ctrl-C in the CLI); ``start()`` runs it in a
    thread. Each batch is one transaction; its messages are acknowledged after the commit.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        client_id: str = CLIENT_ID,
        prefix: str = TOPIC_PREFIX,
        source_key: str = SOURCE_KEY,
        batch_size: int = 500,
        batch_ms: int = 200,
        idle_ms: int = 10,
        sweep_seconds: float = 30.0,
        session_scope: Callable[[], AbstractContextManager[Session]] = unit_of_work,
        username: str | None = None,
        password: str | None = None,
        tls_ca: str | None = None,
    ) -> None:
        self.host, self.port, self.prefix, self.source_key = host, port, prefix, source_key
        self.batch_size, self.batch_ms, self.idle_ms = batch_size, batch_ms, idle_ms
        self.sweep_seconds = sweep_seconds
        self.session_scope = session_scope
        self.stats = ListenerStats()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self._killed = threading.Event()
        self._inbox: queue.Queue[Message] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._run_id: int | None = None
        self.error: BaseException | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        if username:  # a broker that authenticates its clients (the kit's devices port)
            self.client.username_pw_set(username, password or None)
        if tls_ca:  # and one reached over TLS, checked against this CA
            self.client.tls_set(ca_certs=tls_ca)

    # paho callbacks (network thread) ------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT connect refused: %s", reason)
            return
        self.connected.set()
        client.subscribe([(t, 1) for t in topics(self.prefix)])

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, _r: Any, _p: Any) -> None:
        self.subscribed.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _r: Any, _p: Any) -> None:
        self.connected.clear()
        self.subscribed.clear()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        self._inbox.put(Message(msg.topic, bytes(msg.payload), msg.mid))

    # batching (listener thread) -----------------------------------------------------------

    def _batches(self) -> Iterator[list[Message]]:
        while not self._killed.is_set() and (not self._stop.is_set() or not self._inbox.empty()):
            try:
                first = self._inbox.get(timeout=0.1)
            except queue.Empty:
                yield []  # a tick: time to sweep, or to notice stop
                continue
            batch = [first]
            deadline = time.monotonic() + self.batch_ms / 1000
            while len(batch) < self.batch_size:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    # flush as soon as the stream pauses: the broker keeps only a limited
                    # number of unacknowledged messages in flight
                    batch.append(self._inbox.get(timeout=min(left, self.idle_ms / 1000)))
                except queue.Empty:
                    break
            yield batch

    def _open_run(self) -> None:
        with self.session_scope() as session:
            source = ensure_source(session=session, key=self.source_key)
            self._run_id = start_run(session=session, source=source, channel="mqtt").id

    def _process(self, batch: list[Message]) -> None:
        with self.session_scope() as session:
            source = ensure_source(session=session, key=self.source_key)
            run = session.get(IngestRun, self._run_id)
            assert run is not None
            counts = ingest_messages(
                session=session, source=source, run=run, messages=batch, prefix=self.prefix
            )
        # committed: now the broker may forget them
        for msg in batch:
            self.client.ack(msg.mid, 1)
        self.stats.counts.add(counts)
        self.stats.committed += len(batch)
        self.stats.batches += 1

    def _sweep(self) -> None:
        with self.session_scope() as session:
            for device in registry.sweep_offline(session=session):
                log.info("device %s offline (heartbeat overdue)", device.code)

    def run(self) -> None:
        self._open_run()
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        last_sweep = time.monotonic()
        try:
            for batch in self._batches():
                if batch and not self._killed.is_set():
                    self._process(batch)
                if self.sweep_seconds and time.monotonic() - last_sweep >= self.sweep_seconds:
                    self._sweep()
                    last_sweep = time.monotonic()
        except BaseException as exc:  # the batch stays unacknowledged: redelivered later
            self.error = exc
            raise
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            with contextlib.suppress(Exception), self.session_scope() as session:
                run = session.get(IngestRun, self._run_id)
                if run is not None:
                    finish_run(
                        session=session,
                        run=run,
                        status="failed" if self.error else "done",
                        message=repr(self.error) if self.error else None,
                    )

    def start(self) -> DeviceListener:
        def target() -> None:
            with contextlib.suppress(BaseException):
                self.run()

        self._thread = threading.Thread(target=target, name="govloop-mqtt", daemon=True)
        self._thread.start()
        return self

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_subscribed(self, timeout: float = 10.0) -> bool:
        return self.subscribed.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Process what was received, then disconnect (unprocessed messages stay with the
        broker: they were never acknowledged)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def kill(self) -> None:
        """Drop the connection without processing what is queued (a crash, for tests and
        the benchmark): nothing in the inbox was acknowledged, so the broker keeps it."""
        self._killed.set()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)


def publish_messages(
    messages: Sequence[tuple[str, bytes | str]],
    *,
    host: str = "127.0.0.1",
    port: int = 1883,
    client_id: str = "",
    qos: int = 1,
    timeout: float = 30.0,
) -> int:
    """Publish and wait until the broker acknowledged every message; the count."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=qos) for topic, payload in messages]
        deadline = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(max(deadline - time.monotonic(), 0.01))
            if not info.is_published():
                raise TimeoutError("broker did not acknowledge every message in time")
        return len(infos)
    finally:
        client.disconnect()
        client.loop_stop()
