"""Live feed for display boards and "my ticket" pages (server-sent events).

One poller per hall reads new rows of the event log and fans them out to every
subscriber, so a hundred screens cost one query. Commits in this process wake the poller
at once; on PostgreSQL so do commits elsewhere (other web processes, the worker, the CLI)
through LISTEN (``core.listen``), with a slow poll as the safety net. Without it (SQLite,
or while the LISTEN connection is down) commits elsewhere are seen within
``POLL_INTERVAL_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from anyio import to_thread

from govloop.core.db import unit_of_work
from govloop.core.events import add_commit_listener
from govloop.core.listen import listening
from govloop.hall import repository as repo
from govloop.hall.overview import display_snapshot, event_out
from govloop.org.models import Hall

POLL_INTERVAL_S = 0.25
# With LISTEN connected other processes' commits wake the feed; the poll is a safety net.
LISTENING_POLL_INTERVAL_S = 5.0
QUEUE_SIZE = 64
# After passing events on, the feed waits this long before it reads again: changes that
# come in the meantime go out together with one snapshot, so a hall changing hundreds of
# times a second costs a few snapshots a second, and a screen hears of a call within it.
MIN_GAP_S = 0.1


# Event ids are drawn when a row is inserted, not when it commits: with several processes
# writing, id 100 may commit after 101. Each poll looks this many ids behind the highest
# seen and skips the ids already passed on, so a late commit is still delivered, once.
LOOKBACK_IDS = 500


def _poll(
    hall_id: int, after_id: int, passed: set[int]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    with unit_of_work(readonly=True) as session:
        late = (
            repo.event_ids_between(
                session, hall_id=hall_id, low=after_id - LOOKBACK_IDS, high=after_id
            )
            - passed
        )
        rows = list(repo.events_after(session, hall_id=hall_id, after_id=after_id))
        if late:  # committed after events with higher ids were passed on
            rows = list(repo.events_by_ids(session, hall_id=hall_id, ids=sorted(late))) + rows
        if not rows:
            return [], None
        hall = session.get(Hall, hall_id)
        assert hall is not None
        return [event_out(e) for e in rows], display_snapshot(session=session, hall=hall)


class HallFeed:
    def __init__(self, hall_id: int, start_after: int, passed: set[int] | None = None) -> None:
        self.hall_id = hall_id
        self.last_id = start_after
        # ids within LOOKBACK_IDS of last_id that are already passed on (or were there at start)
        self.passed: set[int] = passed or set()
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def _mark_passed(self, events: list[dict[str, Any]]) -> None:
        self.passed.update(e["id"] for e in events)
        self.last_id = max(self.last_id, max(e["id"] for e in events))
        floor = self.last_id - LOOKBACK_IDS
        self.passed = {i for i in self.passed if i > floor}

    async def run(self) -> None:
        while self.subscribers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.wake.wait(),
                    LISTENING_POLL_INTERVAL_S if listening() else POLL_INTERVAL_S,
                )
            self.wake.clear()
            events, snapshot = await to_thread.run_sync(
                _poll, self.hall_id, self.last_id, set(self.passed)
            )
            if not events:
                continue
            self._mark_passed(events)
            message = {"events": events, "snapshot": snapshot}
            for queue in list(self.subscribers):
                if queue.full():  # a stalled client loses old updates, never blocks others
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                queue.put_nowait(message)
            await asyncio.sleep(MIN_GAP_S)


class LiveHub:
    def __init__(self) -> None:
        self.feeds: dict[int, HallFeed] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        add_commit_listener(self._on_commit)

    def _on_commit(self, topics: set[str]) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        for topic in topics:
            if topic.startswith("hall:"):
                feed = self.feeds.get(int(topic[5:]))
                if feed is not None:
                    loop.call_soon_threadsafe(feed.wake.set)

    async def subscribe(self, hall_id: int) -> asyncio.Queue[dict[str, Any]]:
        self.loop = asyncio.get_running_loop()
        feed = self.feeds.get(hall_id)
        if feed is None or feed.task is None or feed.task.done():
            # A feed that stopped for lack of listeners restarts from now, not from history.
            start, present = await to_thread.run_sync(_start_at, hall_id)
            if feed is None:
                feed = self.feeds.setdefault(hall_id, HallFeed(hall_id, start, present))
            elif feed.task is None or feed.task.done():
                feed.last_id, feed.passed = start, present
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        feed.subscribers.add(queue)
        if feed.task is None or feed.task.done():
            feed.task = asyncio.create_task(feed.run())
        return queue

    def passed(self, hall_id: int) -> set[int]:
        """The recent event ids the hall's feed has passed on (or took as history)."""
        feed = self.feeds.get(hall_id)
        return set(feed.passed) if feed is not None else set()

    def unsubscribe(self, hall_id: int, queue: asyncio.Queue[dict[str, Any]]) -> None:
        feed = self.feeds.get(hall_id)
        if feed is not None:
            feed.subscribers.discard(queue)


def _start_at(hall_id: int) -> tuple[int, set[int]]:
    """Where a new feed starts: the highest id now, and the ids just behind it that are
    already committed (history, not news)."""
    with unit_of_work(readonly=True) as session:
        last = repo.last_event_id(session, hall_id=hall_id)
        return last, repo.event_ids_between(
            session, hall_id=hall_id, low=last - LOOKBACK_IDS, high=last
        )


hub = LiveHub()
