"""The live feed wakes display boards within a second of a call."""

from __future__ import annotations

import asyncio
import time

from anyio import to_thread

from govloop.core.db import unit_of_work
from govloop.hall import service
from govloop.hall import windows as hall_windows
from govloop.hall.live import LiveHub
from govloop.org import service as org_service
from tests.factories import make_hall


def test_call_reaches_subscriber_within_one_second(db):
    with unit_of_work() as s:
        world = make_hall(s)
        hall_id = world.hall.id

    def issue_and_call() -> float:
        with unit_of_work() as s:
            hall = org_service.get_hall(session=s, code="H1")
            service.issue_ticket(
                session=s, hall=hall, item=service.get_item(session=s, code="SB01")
            )
        with unit_of_work() as s:
            hall = org_service.get_hall(session=s, code="H1")
            hall_windows.call_next(session=s, hall=hall, window_number=1, actor=world.staff[1])
        return time.monotonic()

    async def scenario() -> tuple[float, dict]:
        hub = LiveHub()
        queue = await hub.subscribe(hall_id)
        committed_at = await to_thread.run_sync(issue_and_call)
        while True:
            message = await asyncio.wait_for(queue.get(), timeout=5)
            kinds = [e["kind"] for e in message["events"]]
            if "ticket.called" in kinds:
                return time.monotonic() - committed_at, message

    latency, message = asyncio.run(scenario())
    assert latency < 1.0
    called = next(e for e in message["events"] if e["kind"] == "ticket.called")
    assert called["text"] == "请 A001 号到 1 号窗口"
    assert message["snapshot"]["waiting_total"] == 0
    assert message["snapshot"]["recent_calls"][0]["code"] == "A001"
