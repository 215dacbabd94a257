"""The simulator's pushes as a timed duty: every minute the simulated courier sends what
has happened to its parcels by now (``core.clock.now``, so a demo that moves the clock sees
parcels move), each push in its own transaction through the same code as the endpoint
(``tracking.receive_push``). A push govloop refuses is counted by the simulator and sent
again next time, up to its limit; one that fails otherwise stays due."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from govloop.core.clock import now
from govloop.core.db import unit_of_work
from govloop.core.errors import RecordedRefusal
from govloop.core.jobs import Job, every
from govloop.matters.delivery import registry, tracking
from govloop.matters.delivery.simulator import Push

log = logging.getLogger(__name__)
PUSH_INTERVAL_S = 60.0


@dataclass(frozen=True)
class PushRound:
    sent: int
    taken: int
    refused: int
    failed: int


def push_simulator_events() -> PushRound:
    """Deliver the simulator's due pushes (nothing when the courier is not the simulator)."""
    try:
        sim = registry.simulator()
        courier = registry.current()
    except registry.CourierNotConfigured:
        return PushRound(0, 0, 0, 0)
    if sim is None:
        return PushRound(0, 0, 0, 0)
    taken: list[Push] = []
    refused: list[Push] = []
    failed = 0
    pushes = sim.due_pushes(now())
    try:
        for push in pushes:
            try:
                with unit_of_work() as session:
                    tracking.receive_push(
                        session=session, code=courier.code, headers=push.headers, body=push.body
                    )
            except RecordedRefusal as exc:
                refused.append(push)
                log.info("courier simulator push refused: %s %s", push.waybill_no, exc.code)
                continue
            except Exception:  # the database is down, a bug: the push stays due
                failed += 1
                log.exception("courier simulator push failed: %s", push.waybill_no)
                continue
            taken.append(push)
    finally:
        # one write for the round; a push taken but not settled (a crash) comes again and
        # is taken once
        sim.settle(taken=taken, refused=refused)
    return PushRound(len(pushes), len(taken), len(refused), failed)


def _run() -> None:
    push_simulator_events()


JOBS: list[Job] = [
    Job("courier simulator pushes", _run, every(PUSH_INTERVAL_S), every(PUSH_INTERVAL_S))
]
