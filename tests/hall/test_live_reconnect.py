"""A display that reconnects misses no call (Last-Event-ID), and on PostgreSQL a commit in
another process wakes this one's screens through LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import psycopg
import pytest
from sqlalchemy import Engine
from starlette.requests import Request

from govloop.core.db import unit_of_work
from govloop.core.events import NOTIFY_CHANNEL, add_commit_listener, remove_commit_listener, touch
from govloop.core.listen import start_listening
from govloop.hall import repository as repo
from govloop.hall import service
from govloop.hall import windows as hall_windows
from govloop.hall.stream import stream
from govloop.org import service as org_service
from tests.factories import make_hall


def call_next(world, window: int = 1) -> None:
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        hall_windows.call_next(
            session=s, hall=hall, window_number=window, actor=world.staff[window]
        )


def request_with(headers: dict[str, str]) -> Request:
    async def receive() -> dict:
        await asyncio.sleep(3600)  # the client stays connected
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/halls/H1/stream",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "query_string": b"",
    }
    return Request(scope, receive)


def first_messages(headers: dict[str, str], count: int) -> list[str]:
    async def read() -> list[str]:
        response = await stream("H1", request_with(headers))
        chunks = []
        body = response.body_iterator
        async for message in body:
            chunks.append(message.encode().decode())  # as it goes out on the wire
            if len(chunks) == count:
                break
        await body.aclose()  # type: ignore[attr-defined]
        return chunks

    return asyncio.run(read())


def parsed(chunk: str) -> tuple[str | None, str, dict]:
    fields = dict(line.split(": ", 1) for line in chunk.strip().splitlines() if ": " in line)
    return fields.get("id"), fields["event"], json.loads(fields["data"])


def test_a_reconnecting_display_gets_the_calls_it_missed(db: Engine) -> None:
    with unit_of_work() as s:
        world = make_hall(s)
        hall = org_service.get_hall(session=s, code="H1")
        item = service.get_item(session=s, code="SB01")
        for _ in range(3):
            service.issue_ticket(session=s, hall=hall, item=item)
    call_next(world)
    with unit_of_work(readonly=True) as s:
        seen = repo.last_event_id(s, hall_id=world.hall.id)  # the screen saw A001's call
    call_next(world, window=3)  # A002, while the screen was away
    retry, missed, snapshot = first_messages({"Last-Event-ID": str(seen)}, 3)
    assert "retry: 2000" in retry
    event_id, kind, data = parsed(missed)
    assert kind == "update"
    assert [e["text"] for e in data["events"] if e["kind"] == "ticket.called"] == [
        "请 A002 号到 3 号窗口"
    ]
    assert all(e["id"] > seen for e in data["events"])
    snapshot_id, snapshot_kind, _ = parsed(snapshot)
    assert snapshot_kind == "snapshot" and snapshot_id == event_id != str(seen)


def test_a_fresh_display_gets_the_snapshot_only(db: Engine) -> None:
    with unit_of_work() as s:
        world = make_hall(s)
        hall = org_service.get_hall(session=s, code="H1")
        service.issue_ticket(session=s, hall=hall, item=service.get_item(session=s, code="SB01"))
    call_next(world)
    _retry, snapshot = first_messages({}, 2)
    _id, kind, data = parsed(snapshot)
    assert kind == "snapshot" and data["recent_calls"][0]["code"] == "A001"


def test_another_process_commit_wakes_this_one(db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite runs one process")
    heard: list[set[str]] = []
    got = threading.Event()

    def listener(topics: set[str]) -> None:
        heard.append(topics)
        got.set()

    add_commit_listener(listener)
    listening = start_listening(db)
    assert listening is not None and listening.connected.is_set()
    try:
        # another process: a plain connection of its own, notifying as a commit does
        dsn = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as other:
            other.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, "hall:4242"))
        started = time.monotonic()
        while not any("hall:4242" in t for t in heard) and time.monotonic() - started < 3:
            got.wait(0.05)
            got.clear()
        assert any("hall:4242" in t for t in heard), "the notification never arrived"
        assert time.monotonic() - started < 1
    finally:
        listening.close()
        remove_commit_listener(listener)


def test_a_rolled_back_change_notifies_nobody(db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    heard: list[set[str]] = []
    add_commit_listener(heard.append)
    listening = start_listening(db)
    assert listening is not None
    try:
        with pytest.raises(RuntimeError), unit_of_work() as s:
            touch(s, "hall:5151")
            raise RuntimeError("the change fails")
        time.sleep(1.5)  # a notification would have arrived by now
        assert not any("hall:5151" in t for t in heard)
        with unit_of_work() as s:
            touch(s, "hall:5152")
        deadline = time.monotonic() + 3
        # once from this process's commit, once more through LISTEN
        while sum("hall:5152" in t for t in heard) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sum("hall:5152" in t for t in heard) == 2
    finally:
        listening.close()
        remove_commit_listener(heard.append)


def test_an_event_committed_after_a_higher_id_still_reaches_the_screens(db: Engine) -> None:
    """Ids are drawn at insert: with two writers, id N may commit after N+1. The feed looks
    behind the highest id it has seen and passes the late one on, once."""
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite takes one writer at a time: ids commit in order")
    from govloop.core.clock import now
    from govloop.hall.live import LiveHub
    from govloop.hall.models import HallEvent

    with unit_of_work() as s:
        world = make_hall(s)
    hall_id = world.hall.id

    def event(s, code: str) -> int:
        row = HallEvent(
            hall_id=hall_id, kind="ticket.called", at=now(), detail={"code": code, "window": 1}
        )
        s.add(row)
        s.flush()
        touch(s, f"hall:{hall_id}")
        return row.id

    async def scenario() -> list[list[int]]:
        hub = LiveHub()
        queue = await hub.subscribe(hall_id)
        slow = SessionLocal()  # the slow writer draws its id first and commits last
        slow.begin()
        late_id = event(slow, "A001")
        with unit_of_work() as s:
            early_id = event(s, "A002")
        assert early_id > late_id
        got = [[e["id"] for e in (await asyncio.wait_for(queue.get(), 5))["events"]]]
        slow.commit()
        slow.close()
        got.append([e["id"] for e in (await asyncio.wait_for(queue.get(), 5))["events"]])
        with pytest.raises(TimeoutError):  # and nothing twice
            await asyncio.wait_for(queue.get(), 1.0)
        return got

    from sqlalchemy.orm import sessionmaker

    SessionLocal = sessionmaker(db)
    first, second = asyncio.run(scenario())
    assert len(first) == 1 and len(second) == 1 and second[0] < first[0]


def test_a_busy_hall_keeps_its_feed_moving(db: Engine) -> None:
    """More events than the look-behind window in a row: the feed still passes each new one."""
    from govloop.core.clock import now
    from govloop.hall.live import LOOKBACK_IDS, LiveHub
    from govloop.hall.models import HallEvent

    with unit_of_work() as s:
        world = make_hall(s)
    hall_id = world.hall.id

    def burst(count: int, code: str) -> None:
        with unit_of_work() as s:
            for _ in range(count):
                s.add(
                    HallEvent(
                        hall_id=hall_id,
                        kind="ticket.called",
                        at=now(),
                        detail={"code": code, "window": 1},
                    )
                )
            touch(s, f"hall:{hall_id}")

    async def scenario() -> tuple[int, list[str]]:
        hub = LiveHub()
        queue = await hub.subscribe(hall_id)
        await to_thread(burst, LOOKBACK_IDS + 100, "A001")
        first = 0
        while first < LOOKBACK_IDS + 100:
            first += len((await asyncio.wait_for(queue.get(), 5))["events"])
        await to_thread(burst, 1, "A999")
        last = (await asyncio.wait_for(queue.get(), 5))["events"]
        return first, [e["code"] for e in last]

    async def to_thread(fn, *args):
        from anyio import to_thread as anyio_to_thread

        return await anyio_to_thread.run_sync(fn, *args)

    first, last = asyncio.run(scenario())
    assert first == LOOKBACK_IDS + 100 and last == ["A999"]
