"""The hall's live stream (server-sent events) for display boards and "my ticket" pages:
a snapshot, then every change; a screen that reconnects gets what it missed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from govloop.core.db import unit_of_work
from govloop.core.deps import public
from govloop.hall import overview
from govloop.hall import repository as repo
from govloop.hall.live import hub
from govloop.org import service as org_service
from govloop.org.models import Hall

router = APIRouter(prefix="/api/v1/halls", tags=["hall"])

RECONNECT_MS = 2000  # how soon a screen's browser reconnects after a drop
KEEP_ALIVE_S = 15  # a comment line keeps proxies from closing a quiet stream
SEND_TIMEOUT_S = 30  # a screen that stops reading is dropped, not waited for
MAX_REPLAY = 200  # events replayed to a screen that reconnects; older ones: the snapshot


def sse_message(event: str, data: dict[str, Any], event_id: int | None = None) -> ServerSentEvent:
    return ServerSentEvent(
        json.dumps(data, ensure_ascii=False),
        event=event,
        id=str(event_id) if event_id is not None else None,
    )


def last_event_id(request: Request) -> int | None:
    """What the browser's EventSource saw last before it reconnected."""
    value = request.headers.get("last-event-id", "").strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


async def hall_stream(
    hall_id: int, initial: dict[str, Any], at_id: int, missed: list[Any]
) -> AsyncIterator[ServerSentEvent]:
    """The snapshot, then the calls a reconnecting screen missed (so it still announces
    them), then every update; each message carries the last event id it covers. The
    response pings, notices a gone client and ends the stream when the server shuts down
    (the browser reconnects to another process)."""
    queue = await hub.subscribe(hall_id)
    try:
        yield ServerSentEvent(comment="govloop", retry=RECONNECT_MS)
        if missed:
            yield sse_message("update", {"events": missed, "snapshot": initial}, at_id)
        yield sse_message("snapshot", initial, at_id)
        # the hall's feed may already have passed events committed after the snapshot
        feed_at = hub.last_id(hall_id)
        if feed_at > at_id:
            gap, snapshot = await to_thread.run_sync(_catch_up, hall_id, at_id, feed_at)
            if gap:
                yield sse_message("update", {"events": gap, "snapshot": snapshot}, feed_at)
            at_id = feed_at
        while True:
            message = await queue.get()
            events = [e for e in message.get("events") or [] if e["id"] > at_id]
            if not events:
                continue  # already sent with the snapshot or the catch-up
            at_id = events[-1]["id"]
            yield sse_message("update", {**message, "events": events}, at_id)
    finally:
        hub.unsubscribe(hall_id, queue)


def _catch_up(hall_id: int, after_id: int, upto: int) -> tuple[list[Any], dict[str, Any]]:
    with unit_of_work(readonly=True) as session:
        hall = session.get(Hall, hall_id)
        assert hall is not None
        rows = repo.events_after(session, hall_id=hall_id, after_id=after_id)
        events = [overview.event_out(e) for e in rows if e.id <= upto]
        return events, overview.display_snapshot(session=session, hall=hall)


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get("/{hall_code}/stream", dependencies=[Depends(public)])
async def stream(hall_code: str, request: Request) -> EventSourceResponse:
    seen = last_event_id(request)

    def load() -> tuple[int, dict[str, Any], int, list[Any]]:
        with unit_of_work(readonly=True) as session:
            hall = org_service.get_hall(session=session, code=hall_code)
            at_id = repo.last_event_id(session, hall_id=hall.id)
            snapshot = overview.display_snapshot(session=session, hall=hall)
            missed = []
            if seen is not None and seen < at_id:
                rows = repo.events_after(
                    session, hall_id=hall.id, after_id=max(seen, at_id - MAX_REPLAY)
                )
                missed = [overview.event_out(e) for e in rows if e.id <= at_id]
            return hall.id, snapshot, at_id, missed

    hall_id, initial, at_id, missed = await to_thread.run_sync(load)
    return EventSourceResponse(
        hall_stream(hall_id, initial, at_id, missed),
        headers=SSE_HEADERS,
        ping=KEEP_ALIVE_S,
        send_timeout=SEND_TIMEOUT_S,
    )
