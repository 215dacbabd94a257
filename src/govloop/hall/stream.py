"""The hall's live stream (server-sent events) for display boards and "my ticket" pages:
a snapshot, then every change; a screen that reconnects gets what it missed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from govloop.core.db import unit_of_work
from govloop.core.deps import public
from govloop.hall import overview
from govloop.hall import repository as repo
from govloop.hall.live import LOOKBACK_IDS, hub
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


@dataclass
class Start:
    """What a screen is sent first, read in one snapshot of the database."""

    hall_id: int
    snapshot: dict[str, Any]
    at_id: int  # the highest event id committed at the snapshot
    covered: set[int]  # ids the snapshot reflects, within LOOKBACK_IDS below at_id
    missed: list[Any]  # a reconnecting screen's calls since its Last-Event-ID


async def hall_stream(start: Start) -> AsyncIterator[ServerSentEvent]:
    """The snapshot, then the calls a reconnecting screen missed (so it still announces
    them), then every event the snapshot does not reflect, each once, whatever order its
    id came in; each message carries the highest event id sent. The response pings,
    notices a gone client and ends the stream when the server shuts down (the browser
    reconnects to another process)."""
    covered, at_id = set(start.covered), start.at_id
    queue = await hub.subscribe(start.hall_id)
    try:
        yield ServerSentEvent(comment="govloop", retry=RECONNECT_MS)
        if start.missed:
            yield sse_message("update", {"events": start.missed, "snapshot": start.snapshot}, at_id)
        yield sse_message("snapshot", start.snapshot, at_id)
        # events the hall's feed passed on before this screen subscribed
        gap, snapshot = await to_thread.run_sync(
            _catch_up, start.hall_id, covered, hub.passed(start.hall_id)
        )
        while True:
            events = [e for e in gap if e["id"] not in covered]
            if events:
                covered.update(e["id"] for e in events)
                at_id = max(at_id, *(e["id"] for e in events))
                covered = {i for i in covered if i > at_id - 2 * LOOKBACK_IDS}
                yield sse_message("update", {"events": events, "snapshot": snapshot}, at_id)
            message = await queue.get()
            gap, snapshot = message.get("events") or [], message.get("snapshot")
    finally:
        hub.unsubscribe(start.hall_id, queue)


def _catch_up(
    hall_id: int, covered: set[int], passed: set[int]
) -> tuple[list[Any], dict[str, Any] | None]:
    """Events the feed has passed on that the snapshot did not reflect."""
    waiting = sorted(passed - covered)
    if not waiting:
        return [], None
    with unit_of_work(readonly=True) as session:
        hall = session.get(Hall, hall_id)
        assert hall is not None
        rows = repo.events_by_ids(session, hall_id=hall_id, ids=waiting)
        events = [overview.event_out(e) for e in rows]
        return events, overview.display_snapshot(session=session, hall=hall)


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get("/{hall_code}/stream", dependencies=[Depends(public)])
async def stream(hall_code: str, request: Request) -> EventSourceResponse:
    seen = last_event_id(request)

    def load() -> Start:
        with unit_of_work(readonly=True) as session:
            hall = org_service.get_hall(session=session, code=hall_code)
            at_id = repo.last_event_id(session, hall_id=hall.id)
            snapshot = overview.display_snapshot(session=session, hall=hall)
            covered = repo.event_ids_between(
                session, hall_id=hall.id, low=at_id - LOOKBACK_IDS, high=at_id
            )
            missed = []
            if seen is not None and seen < at_id:
                rows = repo.events_after(
                    session, hall_id=hall.id, after_id=max(seen, at_id - MAX_REPLAY)
                )
                missed = [overview.event_out(e) for e in rows if e.id <= at_id]
            return Start(hall.id, snapshot, at_id, covered, missed)

    start = await to_thread.run_sync(load)
    return EventSourceResponse(
        hall_stream(start), headers=SSE_HEADERS, ping=KEEP_ALIVE_S, send_timeout=SEND_TIMEOUT_S
    )
