"""The sender: takes due messages from the outbox, hands them to their channel, and records
the outcome. A message is claimed for a lease before it is sent, outside any transaction,
and settled after; a sender that dies mid-way leaves the claim to expire and another sender
takes the message over (at-least-once; see ``docs/architecture.md`` on the one window in
which a crash can send a message twice). Failures are retried with exponential backoff and
jitter; after ``notify_max_attempts`` the message is dead-lettered."""

from __future__ import annotations

import random
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.db import unit_of_work
from govloop.core.settings import get_settings
from govloop.notify.channels.base import Channel, GatewayUnavailable, Outgoing, Rejected
from govloop.notify.channels.registry import channel_for
from govloop.notify.models import Notification, NotificationEvent, NotificationStatus

LEASE_S = 60.0
BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 600.0
BATCH = 200
SETTLE_TRIES = 5
SETTLE_PAUSE_S = 0.5
# messages handed to one gateway at once (each adapter call is one HTTP or SMTP exchange),
# unless its adapter says otherwise with a ``parallel`` attribute: Kannel answers a sendsms
# only once bearerbox has acknowledged the message (~30 ms here), so it takes many at once
PARALLEL = 8
# threads of the process's sending pool, shared by every round and channel
MAX_PARALLEL = 64
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_limits: weakref.WeakKeyDictionary[Channel, threading.BoundedSemaphore] = (
    weakref.WeakKeyDictionary()
)


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.dead


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 … seconds up to ten minutes, each with up to a quarter of jitter so retries
    from one outage do not arrive at the gateway all at once."""
    base = min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S)
    return timedelta(seconds=base * (1 + random.random() / 4))


def claim_due(session: Session, *, limit: int = BATCH) -> list[tuple[Outgoing, str]]:
    """Due messages, claimed for a lease. On PostgreSQL concurrent senders skip each other's
    rows (SKIP LOCKED); on SQLite the write lock orders them."""
    moment = now()
    stmt = (
        select(Notification.id, Notification.recipient, Notification.body, Notification.channel)
        .where(
            Notification.status == NotificationStatus.QUEUED,
            Notification.next_attempt_at <= moment,
            or_(Notification.claimed_until.is_(None), Notification.claimed_until < moment),
        )
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.execute(stmt).all()
    if not rows:
        return []
    session.execute(
        update(Notification)
        .where(Notification.id.in_([r.id for r in rows]))
        .values(claimed_until=moment + timedelta(seconds=LEASE_S))
    )
    return [(Outgoing(r.id, r.recipient, r.body), r.channel) for r in rows]


Outcome = tuple[int, str, str]  # (notification id, "sent" | "retry" | "rejected", ref or error)


def _send_one(message: Outgoing, channel: Channel) -> Outcome:
    try:
        return message.notification_id, "sent", channel.send(message)
    except Rejected as exc:
        return message.notification_id, "rejected", str(exc)[:300]
    except GatewayUnavailable as exc:
        return message.notification_id, "retry", str(exc)[:300]
    except Exception as exc:  # an adapter bug must not lose the message: retried, logged
        return message.notification_id, "retry", f"{exc.__class__.__name__}: {exc}"[:300]


def _shared_pool() -> ThreadPoolExecutor:
    """One pool for the process: a round does not start and stop its threads."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(MAX_PARALLEL, thread_name_prefix="notify-send")
        return _pool


def _limit(channel: Channel) -> threading.BoundedSemaphore:
    with _pool_lock:
        limit = _limits.get(channel)
        if limit is None:
            parallel = int(getattr(channel, "parallel", PARALLEL))
            limit = _limits[channel] = threading.BoundedSemaphore(max(1, parallel))
        return limit


def _send_limited(message: Outgoing, channel: Channel) -> Outcome:
    """``_send_one`` within the channel's share of the pool (across concurrent rounds)."""
    with _limit(channel):
        return _send_one(message, channel)


def settle(session: Session, outcomes: list[Outcome], report: DispatchReport) -> None:
    moment = now()
    max_attempts = get_settings().notify_max_attempts
    # Locked (PostgreSQL; SQLite's write lock already orders them): a delivery report for
    # one of these messages commits before this reads it or waits until this commits, so
    # neither writes over the other from a stale read (the report's delivered_at was lost
    # when both ran at once: messages stayed sent with delivered_at set)
    by_id = {
        n.id: n
        for n in session.scalars(
            select(Notification)
            .where(Notification.id.in_([o[0] for o in outcomes]))
            .order_by(Notification.id)
            .with_for_update()
        )
    }
    for nid, result, info in outcomes:
        n = by_id.get(nid)
        if n is None or n.status != NotificationStatus.QUEUED:
            continue
        n.attempts += 1
        n.claimed_until = None
        if result != "sent" and n.gateway_ref is not None:
            # a delivery report arrived while this send was in flight: the gateway took the
            # message although the exchange failed on our side (a timeout after Kannel
            # accepted it); retrying would send it twice
            result, info = "sent", n.gateway_ref
        if result == "sent":
            n.status, n.gateway_ref, n.sent_at, n.last_error = (
                NotificationStatus.SENT,
                info,
                moment,
                None,
            )
            if n.delivered_at is not None:  # its delivery report beat this settlement
                n.status = NotificationStatus.DELIVERED
            kind, detail = "sent", {"ref": info, "attempt": n.attempts}
            report.sent += 1
        elif result == "rejected" or n.attempts >= max_attempts:
            reason = "rejected" if result == "rejected" else "max_attempts"
            n.status, n.reason, n.last_error = NotificationStatus.DEAD, reason, info
            kind, detail = "dead", {"error": info, "attempt": n.attempts}
            report.dead += 1
        else:
            n.next_attempt_at = moment + backoff(n.attempts)
            n.last_error = info
            kind, detail = "attempt_failed", {"error": info, "attempt": n.attempts}
            report.retried += 1
        session.add(NotificationEvent(notification_id=nid, kind=kind, at=moment, detail=detail))


def run_once(
    *,
    limit: int = BATCH,
    channel_lookup: Callable[[str], Channel] = channel_for,
    pool: ThreadPoolExecutor | None = None,
) -> DispatchReport:
    """One round: claim, send (each channel's ``parallel`` at once), settle."""
    report = DispatchReport()
    with unit_of_work() as session:
        claimed = claim_due(session, limit=limit)
    if not claimed:
        return report
    jobs = [(m, channel_lookup(c)) for m, c in claimed]
    executor = pool if pool is not None else _shared_pool()
    outcomes = list(executor.map(lambda j: _send_limited(*j), jobs))
    # The messages are out: a settlement lost to a passing database error (SQLite busy past
    # its timeout, a dropped connection) would leave them claimed, and sent a second time
    # once the lease ran out. Tried again (settle skips what is already settled).
    for attempt in range(1, SETTLE_TRIES + 1):
        try:
            with unit_of_work() as session:
                settle(session, outcomes, report)
            return report
        except DBAPIError:
            if attempt == SETTLE_TRIES:
                raise
            report = DispatchReport()
            time.sleep(SETTLE_PAUSE_S * attempt)
    return report


def drain(*, max_rounds: int = 1000, **kwargs: object) -> DispatchReport:
    """Rounds until nothing due is left (the CLI, tests, the demo)."""
    total = DispatchReport()
    for _ in range(max_rounds):
        r = run_once(**kwargs)  # type: ignore[arg-type]
        if r.handled == 0:
            break
        total.sent += r.sent
        total.retried += r.retried
        total.dead += r.dead
        if r.sent == 0 and r.dead == 0:
            break  # only retries: they are due later
    return total


def retry_dead(*, session: Session, notification_id: int, by: str | None = None) -> Notification:
    """Put a dead-lettered message back in the queue (an operator, after fixing the cause)."""
    from govloop.core.errors import NotFound, RuleViolation

    n = session.get(Notification, notification_id)
    if n is None:
        raise NotFound("未找到该通知", code="unknown_notification")
    if n.status != NotificationStatus.DEAD:
        raise RuleViolation("只有发送失败（死信）的通知可以重发", code="not_dead")
    n.status, n.attempts, n.reason, n.next_attempt_at = NotificationStatus.QUEUED, 0, None, now()
    detail = {"by": by} if by else {}
    session.add(NotificationEvent(notification_id=n.id, kind="requeued", at=now(), detail=detail))
    return n
