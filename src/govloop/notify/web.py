"""The notification service's routers and its sender, for the application to mount."""

from __future__ import annotations

import time

from fastapi import APIRouter

from govloop.core.jobs import Job, every
from govloop.notify import api, dispatch, gateway_api, pages

# How often the sender looks for due messages (seconds).
SEND_INTERVAL_S = 1.0


# A tick keeps sending while rounds come back full, up to this long (seconds): a burst is
# not held to one round of ``dispatch.BATCH`` a second.
TICK_BUDGET_S = 5.0


def _send_due() -> None:
    """Rounds of the sender until one is not full. Concurrent senders (several processes)
    need no job lock: each message is claimed for a lease first (SKIP LOCKED on PostgreSQL,
    the write lock on SQLite), so two rounds never take the same message."""
    until = time.monotonic() + TICK_BUDGET_S
    while dispatch.run_once(limit=dispatch.BATCH).handled >= dispatch.BATCH and (
        time.monotonic() < until
    ):
        pass


ROUTERS: list[APIRouter] = [api.router, pages.router, gateway_api.router]
JOBS: list[Job] = [Job("notify sender", _send_due, every(SEND_INTERVAL_S), every(2))]
