"""Wait estimates: a ticket's position and expected wait from the queue and recent handling
times (cached briefly per hall and item set).

With enough history (``MIN_HISTORY`` handling times in the hall) the shown wait is the
projection of ``projection.py``: who is really ahead under the call-next rule, the windows
as they are now, handling times per item and clerk, absences, pauses and tickets that will
jump ahead. Without it (a new hall), the queue-length predictor of ``estimates.py``."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from govloop.core.clock import local_tz, now, to_local
from govloop.hall import repository as repo
from govloop.hall.estimates import (
    HIGH_Q,
    LOW_Q,
    WaitEstimate,
    WaitInputs,
    estimate_abandon_rate,
    queue_length_predictor,
)
from govloop.hall.models import (
    CITIZEN_PRIORITY,
    AppointmentStatus,
    EventKind,
    PriorityCategory,
    ServiceItem,
    Ticket,
    WindowState,
)
from govloop.hall.projection import (
    Booked,
    History,
    JumpStream,
    Projected,
    Queued,
    WindowNow,
    project_queue,
)
from govloop.org import hours
from govloop.org.models import DEFAULT_PRIORITY_RULE, Hall


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
    moment = now().timestamp()  # the injectable clock: simulated days age the cache too
    with _stats_lock:
        hit = _stats_cache.get(key)
    if hit and 0.0 <= moment - hit[0] < STATS_TTL_S:
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
        _stats_cache[key] = (moment, mean, theta)
    return mean, theta


def clear_stats_cache() -> None:
    with _stats_lock:
        _stats_cache.clear()
        _history_cache.clear()
    clear_projection_cache()


# --- history for the projection ----------------------------------------------------------

HISTORY_DAYS = 14
PER_ITEM = 60  # latest handling times kept per item
MIN_HISTORY = 20  # handling times in the hall before the projection is trusted
SHORT_PAUSE_S = 3600.0  # longer pauses (a lunch in the middle of a period) are not breaks
GAP_S = 60.0  # finish → next call at the same window, counted when shorter than this
CLERK_PRIOR = 5.0  # a clerk's speed factor is shrunk towards 1 as if 5 average tickets
JUMP_LOOKBACK_S = 3600.0
_WINDOW_KINDS = (
    EventKind.CALLED,
    EventKind.FINISHED,
    EventKind.NO_SHOW,
    EventKind.TRANSFERRED,
    EventKind.WINDOW_PAUSED,
    EventKind.WINDOW_RESUMED,
)


@dataclass(frozen=True)
class HallHistory:
    history: History
    samples: int  # handling times behind it
    jumps: tuple[JumpStream, ...]
    booked: tuple[Booked, ...]
    # shown waits of recently called tickets and (realized − shown) / (shown + a minute)
    errors: tuple[np.ndarray, np.ndarray]
    error_ranges: tuple[tuple[float, float] | None, ...]  # per band, from ``errors``


_history_cache: dict[int, tuple[float, HallHistory]] = {}


def _in_hours(hall: Hall, moment: datetime) -> bool:
    return not hall.enforce_hours or hours.period_at(hall, to_local(moment).time()) is not None


def _open_seconds(hall: Hall, start: datetime, end: datetime) -> float:
    """Seconds of [start, end] within the hall's opening periods (all of it if it keeps no
    hours)."""
    if not hall.enforce_hours:
        return (end - start).total_seconds()
    local_start, local_end = to_local(start), to_local(end)
    total = 0.0
    for period in hours.periods_of(hall):
        a = local_start.replace(hour=period.start.hour, minute=period.start.minute, second=0)
        b = local_start.replace(hour=period.end.hour, minute=period.end.minute, second=0)
        a, b = max(a, local_start), min(b, local_end)
        total += max((b - a).total_seconds(), 0.0)
    return total


def opens_in(hall: Hall, moment: datetime) -> float:
    """Seconds until the next opening period starts when ``moment`` is in a break or before
    opening; 0 when the hall is open (or keeps no hours, or has closed for the day)."""
    if not hall.enforce_hours:
        return 0.0
    local = to_local(moment)
    if hours.period_at(hall, local.time()) is not None:
        return 0.0
    for period in hours.periods_of(hall):
        if period.start > local.time():
            start = local.replace(hour=period.start.hour, minute=period.start.minute, second=0)
            return max((start - local).total_seconds(), 0.0)
    return 0.0


def boost_seconds(hall: Hall, category: str) -> float:
    """How far ahead of its arrival a ticket of ``category`` is ranked (service.priority_boost)."""
    rule = {**DEFAULT_PRIORITY_RULE, **(hall.priority_rule or {})}
    return 60.0 * float(rule.get(category, 0))


def _jump_streams(
    session: Session, hall: Hall, day: date, moment: datetime
) -> tuple[JumpStream, ...]:
    """Walk-ins of the priority lanes, one stream per boost: as many as in the last hour
    (of opening time), of the items walk-ins came for today."""
    since = moment - timedelta(seconds=JUMP_LOOKBACK_S)
    open_s = max(_open_seconds(hall, since, moment), 900.0)
    mix: dict[int, float] = defaultdict(float)
    for item, priority, count in repo.issued_counts(session, hall_id=hall.id, service_date=day):
        if priority != PriorityCategory.APPOINTMENT:
            mix[item] += count
    if not mix:
        return ()
    seen: dict[float, int] = defaultdict(int)
    for lane in CITIZEN_PRIORITY:
        seen[boost_seconds(hall, lane)] += 0
    for _item, priority, count in repo.issued_counts(
        session, hall_id=hall.id, service_date=day, since=since
    ):
        if priority in {p.value for p in CITIZEN_PRIORITY}:
            seen[boost_seconds(hall, priority)] += count
    return tuple(
        JumpStream(items=dict(mix), observed=count, over_s=open_s, boost_s=boost)
        for boost, count in seen.items()
        if boost > 0
    )


ERROR_SCALE_S = 60.0  # errors are relative to the shown wait plus a minute
ERROR_TICKETS = 400  # latest called tickets whose errors shape the range
ERROR_BINS = (60.0, 300.0, 900.0)  # errors are taken from shown waits of the same band …
MIN_ERRORS = 40  # … when it has this many, else from all


def _shown_errors(
    session: Session, first_calls: dict[int, datetime]
) -> tuple[np.ndarray, np.ndarray]:
    """How far recent realized waits (issue to first call) fell from the estimates shown on
    their slips: (shown waits, (realized − shown) / (shown + ERROR_SCALE_S))."""
    latest = sorted(first_calls, key=lambda t: first_calls[t])[-ERROR_TICKETS:]
    shown = repo.shown_estimates(session, ticket_ids=latest)
    etas = np.array([eta for _issued, eta in shown.values()], dtype=float)
    errors = np.array(
        [
            ((first_calls[t] - issued).total_seconds() - eta) / (eta + ERROR_SCALE_S)
            for t, (issued, eta) in shown.items()
        ],
        dtype=float,
    )
    return etas, errors


def _error_ranges(etas: np.ndarray, errors: np.ndarray) -> tuple[tuple[float, float] | None, ...]:
    """Per band of ``ERROR_BINS``, the 10th and 90th percentile of the errors of shown waits
    in that band (of all of them while it has fewer than ``MIN_ERRORS``); None for every
    band while the hall has fewer than that in all. Made once per history, not per estimate."""
    bands = len(ERROR_BINS) + 1
    if errors.size < MIN_ERRORS:
        return (None,) * bands
    of_eta = np.searchsorted(ERROR_BINS, etas)
    out: list[tuple[float, float] | None] = []
    for band in range(bands):
        own = of_eta == band
        chosen = errors[own] if own.sum() >= MIN_ERRORS else errors
        below, above = np.quantile(chosen, [LOW_Q, HIGH_Q])
        out.append((float(below), float(above)))
    return tuple(out)


def _error_quantiles(past: HallHistory, expected: float) -> tuple[float, float] | None:
    return past.error_ranges[int(np.searchsorted(ERROR_BINS, expected))]


SHOW_PRIOR = (4.0, 5.0)  # on time 4 in 5, as if seen 5 times, before a hall has its own


def _bookings(session: Session, hall: Hall, day: date, moment: datetime) -> tuple[Booked, ...]:
    """Today's appointments not checked in yet: each checks in on time (and then jumps ahead)
    as often as the hall's past appointments did, around its slot as they did."""
    boost = boost_seconds(hall, PriorityCategory.APPOINTMENT)
    waiting = repo.booked_today(session, hall_id=hall.id, service_date=day)
    if boost <= 0 or not waiting:
        return ()
    tz = local_tz()
    late = timedelta(minutes=hall.appointment_late_minutes)
    offsets: list[float] = []
    total = 0
    for past_day, start, end, status, checked in repo.past_appointments(
        session, hall_id=hall.id, since=day - timedelta(days=HISTORY_DAYS), before=day
    ):
        total += 1
        slot_start = datetime.combine(past_day, start, tzinfo=tz)
        on_time = datetime.combine(past_day, end, tzinfo=tz) + late
        if status == AppointmentStatus.CHECKED_IN and checked is not None and checked <= on_time:
            offsets.append((checked - slot_start).total_seconds())
    show = (len(offsets) + SHOW_PRIOR[0]) / (total + SHOW_PRIOR[1])
    if not offsets:  # from the earliest check-in allowed to the slot's middle
        offsets = list(np.linspace(-60.0 * hall.appointment_early_minutes, 900.0, 20))
    spread = np.array(offsets)
    out = []
    for item, start, _end in waiting:
        arrive = (datetime.combine(day, start, tzinfo=tz) - moment).total_seconds() + spread
        later = arrive[arrive > 0]
        if later.size == 0:
            continue
        share = later.size / arrive.size
        # on time and not yet come, given that it has not come so far
        chance = show * share / max(1.0 - show * (1.0 - share), 1e-9)
        out.append(Booked(item=item, boost_s=boost, show=chance, arrivals=later))
    return tuple(out)


def _hall_history(session: Session, hall: Hall, day: date) -> HallHistory:
    """Handling times, absences, gaps and pauses from the hall's recent events, and the rate
    of tickets that jumped ahead in the last hour; cached briefly like ``_service_stats``."""
    moment = now()
    stamp = moment.timestamp()
    with _stats_lock:
        hit = _history_cache.get(hall.id)
    if hit and 0.0 <= stamp - hit[0] < STATS_TTL_S:
        return hit[1]
    rows = repo.window_events(
        session, hall_id=hall.id, since=moment - timedelta(days=HISTORY_DAYS), kinds=_WINDOW_KINDS
    )
    calls: dict[int | None, tuple[datetime, int | None]] = {}
    ended: dict[int | None, datetime] = {}
    paused: dict[int | None, datetime] = {}
    handled: dict[int, list[tuple[float, int | None]]] = defaultdict(list)
    absent: list[float] = []
    gaps: list[float] = []
    pauses: list[float] = []
    n_calls = 0
    first_calls: dict[int, datetime] = {}
    for kind, window, item, ticket_id, at in rows:
        if kind == EventKind.CALLED:
            n_calls += 1
            if ticket_id is not None:
                first_calls.setdefault(ticket_id, at)
            last = ended.pop(window, None)
            if last is not None and 0.0 <= (at - last).total_seconds() <= GAP_S:
                gaps.append((at - last).total_seconds())
            calls[window] = (at, item)
        elif kind in (EventKind.FINISHED, EventKind.NO_SHOW, EventKind.TRANSFERRED):
            call = calls.pop(window, None)
            if call is None:
                continue
            took = (at - call[0]).total_seconds()
            if kind == EventKind.FINISHED and call[1] is not None:
                handled[call[1]].append((took, window))
            elif kind == EventKind.NO_SHOW:
                absent.append(took)
            ended[window] = at
        elif kind == EventKind.WINDOW_PAUSED:
            ended.pop(window, None)
            if _in_hours(hall, at):
                paused[window] = at
        elif kind == EventKind.WINDOW_RESUMED:
            began = paused.pop(window, None)
            if began is not None and (at - began).total_seconds() <= SHORT_PAUSE_S:
                pauses.append((at - began).total_seconds())
    latest = {item: times[-PER_ITEM:] for item, times in handled.items()}
    means = {item: float(np.mean([t for t, _w in times])) for item, times in latest.items()}
    ratios: dict[int | None, list[float]] = defaultdict(list)
    for item, times in latest.items():
        for took, window in times:
            if means[item] > 0:
                ratios[window].append(took / means[item])
    factor = {w: (sum(r) + CLERK_PRIOR) / (len(r) + CLERK_PRIOR) for w, r in ratios.items() if w}
    handling = {
        item: np.array([t / factor.get(w or 0, 1.0) for t, w in times])
        for item, times in latest.items()
    }
    promised = dict(session.execute(select(ServiceItem.id, ServiceItem.promised_minutes)).all())
    finished = sum(len(t) for t in handled.values())
    history = History(
        handling=handling,
        window_factor=factor,
        absent_share=len(absent) / max(len(absent) + finished, 1),
        absent_s=float(np.mean(absent)) if absent else 90.0,
        gaps=np.array(gaps) if gaps else np.array([5.0]),
        pause_share=len(pauses) / max(n_calls, 1),
        pauses=np.array(pauses) if pauses else np.array([600.0]),
        default_handling_s={i: 60.0 * m for i, m in promised.items()},
    )
    errors = _shown_errors(session, first_calls)
    jumps = _jump_streams(session, hall, day, moment)
    booked = _bookings(session, hall, day, moment)
    result = HallHistory(
        history=history,
        samples=finished,
        jumps=jumps,
        booked=booked,
        errors=errors,
        error_ranges=_error_ranges(*errors),
    )
    with _stats_lock:
        _history_cache[hall.id] = (stamp, result)
    return result


# --- one projection of the hall's whole queue, shared by its tickets -----------------------

# A projection is reused for this long (on the injectable clock): every issue and status read
# in between takes its ticket's call time from it instead of projecting again. In a second
# a hall's queue moves by a few events at most, which the projection already draws as
# chances (calls, finishes, priority walk-ins); the estimates it shows are minutes wide.
FRESH_S = 1.0


@dataclass(frozen=True)
class QueueSnapshot:
    """Projected call times (seconds from ``at``) of a hall's waiting tickets by ticket id,
    and of a walk-in taking a ticket at ``at`` by (item, priority boost in seconds)."""

    at: float  # clock timestamp of the projection
    tickets: dict[int, Projected | None]
    phantoms: dict[tuple[int, int], Projected | None]


_snapshots: dict[tuple[int, date], QueueSnapshot] = {}
_snapshot_lock = threading.Lock()


def clear_projection_cache() -> None:
    with _snapshot_lock:
        _snapshots.clear()


def _windows_now(
    session: Session,
    *,
    hall: Hall,
    day: date,
    moment: datetime,
    items_by_window: dict[int, set[int]],
    states: dict[int, str],
) -> list[WindowNow]:
    since, held = repo.window_activity(session, hall_id=hall.id, service_date=day)
    windows = []
    for window_id, items in items_by_window.items():
        state = states[window_id]
        elapsed, item = 0.0, None
        if state == WindowState.SERVING and window_id in held:
            item, called = held[window_id]
            elapsed = (moment - called).total_seconds() if called else 0.0
        elif state == WindowState.SERVING:
            state = WindowState.IDLE
        elif state == WindowState.PAUSED and window_id in since:
            elapsed = (moment - since[window_id]).total_seconds()
        windows.append(
            WindowNow(
                id=window_id, items=frozenset(items), state=state, elapsed_s=elapsed, item=item
            )
        )
    return windows


def _walk_in_boosts(hall: Hall) -> set[int]:
    """Priority boosts (seconds) a ticket taken now can have: none, a priority lane, an
    appointment checked in on time."""
    lanes = [*CITIZEN_PRIORITY, PriorityCategory.APPOINTMENT]
    return {0, *(round(boost_seconds(hall, lane)) for lane in lanes)}


def _ticket_boost(ticket: Ticket) -> int:
    return round((ticket.arrived_at - ticket.rank_at).total_seconds())


def _project_hall(
    session: Session,
    *,
    hall: Hall,
    day: date,
    past: HallHistory,
    items_by_window: dict[int, set[int]],
    states: dict[int, str],
) -> QueueSnapshot:
    """Project every waiting ticket of the hall, and a walk-in of every item and boost."""
    moment = now()
    stamp = moment.timestamp()
    waiting = repo.waiting_queue(session, hall_id=hall.id, service_date=day)
    items = sorted(set().union(*items_by_window.values())) if items_by_window else []
    phantom_keys = [(item, boost) for item in items for boost in sorted(_walk_in_boosts(hall))]
    result = project_queue(
        queue=[
            Queued(item=item, rank_s=(rank - moment).total_seconds(), window=target)
            for _id, item, rank, target in waiting
        ],
        phantoms=[Queued(item=item, rank_s=-float(boost)) for item, boost in phantom_keys],
        windows=_windows_now(
            session,
            hall=hall,
            day=day,
            moment=moment,
            items_by_window=items_by_window,
            states=states,
        ),
        history=past.history,
        jumps=past.jumps,
        booked=past.booked,
        opens_in_s=opens_in(hall, moment),
        seed=(hall.id * 1_000_003 + int(stamp * 1000)) % 2**32,
    )
    snapshot = QueueSnapshot(
        at=stamp,
        tickets={row[0]: est for row, est in zip(waiting, result.tickets, strict=True)},
        phantoms=dict(zip(phantom_keys, result.phantoms, strict=True)),
    )
    with _snapshot_lock:
        for key in [k for k, old in _snapshots.items() if not _fresh(old, stamp)]:
            del _snapshots[key]
        _snapshots[(hall.id, day)] = snapshot
    return snapshot


def _fresh(snapshot: QueueSnapshot, stamp: float) -> bool:
    return 0.0 <= stamp - snapshot.at < FRESH_S


def _from_snapshot(snapshot: QueueSnapshot, ticket: Ticket) -> tuple[bool, Projected | None]:
    """(found, call time): the ticket's own projection, or for one issued since, that of a
    walk-in of its item and boost taking a ticket when the projection was made (the same
    place in the queue)."""
    if ticket.id in snapshot.tickets:
        return True, snapshot.tickets[ticket.id]
    key = (ticket.item_id, _ticket_boost(ticket))
    if ticket.target_window_id is None and key in snapshot.phantoms:
        return True, snapshot.phantoms[key]
    return False, None


def _call_time(
    session: Session,
    *,
    hall: Hall,
    ticket: Ticket,
    past: HallHistory,
    items_by_window: dict[int, set[int]],
    states: dict[int, str],
) -> Projected | None:
    """The ticket's projected call time from now: from the hall's fresh projection (moved
    on by the time since it was made), else from a new one."""
    stamp = now().timestamp()
    with _snapshot_lock:
        snapshot = _snapshots.get((hall.id, ticket.service_date))
    known, found = False, None
    if snapshot is not None and _fresh(snapshot, stamp):
        known, found = _from_snapshot(snapshot, ticket)
    if not known:
        snapshot = _project_hall(
            session,
            hall=hall,
            day=ticket.service_date,
            past=past,
            items_by_window=items_by_window,
            states=states,
        )
        _known, found = _from_snapshot(snapshot, ticket)
    if found is None or snapshot is None:
        return None
    elapsed = max(stamp - snapshot.at, 0.0)
    return Projected(
        expected_s=max(found.expected_s - elapsed, 0.0),
        low_s=max(found.low_s - elapsed, 0.0),
        high_s=max(found.high_s - elapsed, 0.0),
    )


def projected_wait(
    session: Session,
    *,
    hall: Hall,
    ticket: Ticket,
    items_by_window: dict[int, set[int]],
    states: dict[int, str],
) -> WaitEstimate | None:
    """The projection's estimate, or None without enough history or a window to call."""
    past = _hall_history(session, hall, ticket.service_date)
    if past.samples < MIN_HISTORY:
        return None
    result = _call_time(
        session,
        hall=hall,
        ticket=ticket,
        past=past,
        items_by_window=items_by_window,
        states=states,
    )
    if result is None:
        return None
    low, high = result.low_s, result.high_s
    quantiles = _error_quantiles(past, result.expected_s)
    if quantiles is not None:
        # The projection's range covers only what it models (72–78 % on the benchmark's
        # halls). Halfway towards the range of the hall's recent errors around shown waits
        # of the same band (which the range does not change, so it cannot feed on itself)
        # it covers about 80 % at every horizon (docs/benchmarks.md, bench eta).
        scale = result.expected_s + ERROR_SCALE_S
        below, above = quantiles
        low = 0.5 * low + 0.5 * max(result.expected_s + below * scale, 0.0)
        high = 0.5 * high + 0.5 * (result.expected_s + above * scale)
    low, high = min(low, result.expected_s), max(high, result.expected_s)
    return WaitEstimate(result.expected_s, low, high, "projection")


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


def _queue_inputs(
    session: Session, hall: Hall, ticket: Ticket
) -> tuple[WaitInputs, dict[int, set[int]], dict[int, str]]:
    """The queue-length predictor's inputs (what the slip shows as its inputs), and the
    hall's windows: items served and state."""
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
    return inputs, items_by_window, states


def queue_inputs(*, session: Session, ticket: Ticket) -> WaitInputs:
    """Tickets ahead, open and idle windows, mean handling and abandonment for ``ticket``
    now, without estimating its wait (the benchmark's queue-length baseline uses them)."""
    hall = session.get(Hall, ticket.hall_id)
    assert hall is not None
    return _queue_inputs(session, hall, ticket)[0]


def estimate_wait(*, session: Session, ticket: Ticket) -> TicketPosition:
    remembered = _remembered_position(session, ticket)
    if remembered is not None:
        return remembered
    hall = session.get(Hall, ticket.hall_id)
    assert hall is not None
    inputs, items_by_window, states = _queue_inputs(session, hall, ticket)
    wait = projected_wait(
        session, hall=hall, ticket=ticket, items_by_window=items_by_window, states=states
    )
    return TicketPosition(
        ticket=ticket,
        ahead=inputs.ahead,
        inputs=inputs,
        wait=wait or queue_length_predictor(inputs),
    )
