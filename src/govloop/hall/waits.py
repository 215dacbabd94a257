"""Wait estimates: a ticket's position and expected wait from the queue and recent handling
times (cached briefly per hall and item set)."""

from __future__ import annotations

import threading
import time as _time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.hall import repository as repo
from govloop.hall.estimates import (
    WaitEstimate,
    WaitInputs,
    estimate_abandon_rate,
    queue_length_predictor,
)
from govloop.hall.models import (
    ServiceItem,
    Ticket,
    WindowState,
)
from govloop.org.models import Hall


@dataclass(frozen=True)
class TicketPosition:
    ticket: Ticket
    ahead: int
    inputs: WaitInputs
    wait: WaitEstimate


_stats_cache: dict[tuple[int, frozenset[int]], tuple[float, float, float]] = {}


_stats_lock = threading.Lock()


STATS_TTL_S = 15.0


def _service_stats(session: Session, hall: Hall, item_ids: set[int]) -> tuple[float, float]:
    """(mean occupancy seconds, abandonment rate), cached briefly: they move slowly."""
    key = (hall.id, frozenset(item_ids))
    with _stats_lock:
        hit = _stats_cache.get(key)
    if hit and _time.monotonic() - hit[0] < STATS_TTL_S:
        return hit[1], hit[2]
    occupancies = repo.recent_occupancies(session, item_ids=item_ids)
    if occupancies:
        mean = sum(occupancies) / len(occupancies)
    else:
        items = session.scalars(select(ServiceItem).where(ServiceItem.id.in_(item_ids))).all()
        mean = 60.0 * sum(i.promised_minutes for i in items) / max(len(items), 1)
    waits = repo.recent_waits(session, hall_id=hall.id, since=now() - timedelta(days=14))
    theta = estimate_abandon_rate(sum(1 for _, ns in waits if ns), sum(w for w, _ in waits))
    with _stats_lock:
        _stats_cache[key] = (_time.monotonic(), mean, theta)
    return mean, theta


def clear_stats_cache() -> None:
    with _stats_lock:
        _stats_cache.clear()


# The estimate made while issuing a ticket, kept until the session changes anything, so the
# slip shown in the same request is the one stored on the ticket without estimating twice.
_POSITION_MEMO = "govloop.hall.position"


@event.listens_for(Session, "after_flush")
def _forget_position(session: Session, _flush_context: Any) -> None:
    session.info.pop(_POSITION_MEMO, None)


def remember_position(session: Session, position: TicketPosition) -> None:
    session.info[_POSITION_MEMO] = (session.get_transaction(), position)


def _remembered_position(session: Session, ticket: Ticket) -> TicketPosition | None:
    memo = session.info.get(_POSITION_MEMO)
    if memo is None:
        return None
    transaction, position = memo
    if (
        position.ticket is not ticket
        or transaction is not session.get_transaction()
        or session.new
        or session.dirty
        or session.deleted
    ):
        return None
    return position


def ahead_per_item(*, session: Session, hall: Hall, day: date) -> dict[int, int]:
    """Per item, the people a citizen taking a ticket for it now would have ahead of them:
    the waiting tickets of every item its windows also serve (a general window serves all),
    except those transferred to a window that does not serve it. The kiosk tile and the
    display show this number, and the slip then says the same (``estimate_wait``)."""
    items_by_window, _states = repo.windows_and_items_of_hall(session, hall.id)
    waiting = repo.waiting_by_item_and_target(session, hall_id=hall.id, service_date=day)
    out: dict[int, int] = {}
    for item in set().union(*items_by_window.values()):
        serving = {w for w, ids in items_by_window.items() if item in ids}
        competing = set().union(*(items_by_window[w] for w in serving))
        out[item] = sum(
            n
            for i, target, n in waiting
            if i in competing and (target is None or target in serving)
        )
    return out


def estimate_wait(*, session: Session, ticket: Ticket) -> TicketPosition:
    remembered = _remembered_position(session, ticket)
    if remembered is not None:
        return remembered
    hall = session.get(Hall, ticket.hall_id)
    assert hall is not None
    items_by_window, states = repo.windows_and_items_of_hall(session, hall.id)
    serving = {wid for wid, ids in items_by_window.items() if ticket.item_id in ids}
    if ticket.target_window_id:
        serving &= {ticket.target_window_id}
    competing_items = (
        set().union(*(items_by_window[w] for w in serving)) if serving else {ticket.item_id}
    )
    open_states = [
        states[w] for w in serving if states[w] in (WindowState.IDLE, WindowState.SERVING)
    ]
    idle = sum(1 for state in open_states if state == WindowState.IDLE)
    ahead = repo.count_ahead(session, ticket=ticket, item_ids=competing_items, window_ids=serving)
    mean, theta = _service_stats(session, hall, competing_items)
    inputs = WaitInputs(
        ahead=ahead, servers=len(open_states), idle=idle, mean_service_s=mean, abandon_rate=theta
    )
    return TicketPosition(
        ticket=ticket, ahead=ahead, inputs=inputs, wait=queue_length_predictor(inputs)
    )
