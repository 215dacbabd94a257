"""MQTT through the real broker at 127.0.0.1:1883 (skipped, with the reason, if it is down)."""

from __future__ import annotations

import json
import socket
import time
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from govloop.core.db import unit_of_work
from govloop.ingest.devices import service as devices
from govloop.ingest.devices.mqtt import DeviceListener, publish_messages
from govloop.ingest.models import DeadLetter, IngestedRecord

HOST, PORT = "127.0.0.1", 1883


@pytest.fixture
def broker():
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"no MQTT broker at {HOST}:{PORT}: {exc}")


@pytest.fixture
def prefix(db, broker):
    """A topic prefix and device of our own, so parallel runs do not interfere."""
    tag = uuid.uuid4().hex[:10]
    with unit_of_work() as s:
        devices.register_device(session=s, code="PAD-1", kind="rating_pad", name="评价器")
    return f"test-{tag}"


def event(prefix: str, n: int) -> tuple[str, str]:
    body = {
        "event_id": f"ev-{n}",
        "kind": "heartbeat",
        "occurred_at": datetime(2026, 3, 2, 2, 0, n % 60, tzinfo=UTC).isoformat(),
    }
    return f"{prefix}/devices/PAD-1/events", json.dumps(body)


def stored() -> int:
    with unit_of_work() as s:
        return s.scalar(select(func.count(IngestedRecord.id))) or 0


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def listener(prefix: str, client_id: str) -> DeviceListener:
    got = DeviceListener(
        host=HOST, port=PORT, client_id=client_id, prefix=prefix, source_key=prefix
    )
    got.start()
    assert got.wait_subscribed(10), "listener did not subscribe"
    return got


def test_messages_and_a_malformed_payload(prefix):
    sub = listener(prefix, f"{prefix}-a")
    try:
        sent = [event(prefix, n) for n in range(20)]
        sent.append((f"{prefix}/devices/PAD-1/events", "{not json"))
        sent.append(
            (
                f"{prefix}/devices/PAD-1/heartbeat",
                json.dumps({"event_id": "hb-1", "occurred_at": "2026-03-02T10:01:00+08:00"}),
            )
        )
        publish_messages(sent, host=HOST, port=PORT)
        assert wait_for(lambda: sub.stats.committed == 22), sub.stats
    finally:
        sub.stop()
    assert stored() == 21
    with unit_of_work() as s:
        [letter] = s.scalars(select(DeadLetter)).all()
        assert letter.reason_code == "not_json"
        assert "{not json" in letter.raw and f"{prefix}/devices/PAD-1/events" in letter.raw
        assert devices.get_device(session=s, code="PAD-1").online


def test_persistent_session_receives_what_was_published_while_down(prefix):
    client_id = f"{prefix}-persistent"
    first = listener(prefix, client_id)
    publish_messages([event(prefix, n) for n in range(5)], host=HOST, port=PORT)
    assert wait_for(lambda: first.stats.committed == 5)
    first.stop()
    assert not first.connected.is_set()
    # published while govloop is down: the broker keeps them for the session
    publish_messages([event(prefix, n) for n in range(5, 40)], host=HOST, port=PORT)
    # and a redelivered duplicate of one already stored
    publish_messages([event(prefix, 3)], host=HOST, port=PORT)
    second = listener(prefix, client_id)
    try:
        assert wait_for(lambda: second.stats.committed == 36), second.stats
    finally:
        second.stop()
    assert stored() == 40
    assert second.stats.counts.duplicates == 1
    forget_session(client_id)


def forget_session(client_id: str) -> None:
    """Leave no persistent session behind on the shared broker."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(HOST, PORT)
    client.disconnect()
