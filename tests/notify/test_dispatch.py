"""The sender: retries with growing backoff while the gateway is down, never two sends for one
message, the dead-letter list and its retry, leases taken over after a crash, and delivery
reports that arrive before the send is settled — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select

from govloop.core.clock import frozen, now
from govloop.core.db import unit_of_work
from govloop.core.errors import NotFound, RuleViolation
from govloop.core.settings import get_settings
from govloop.notify import dispatch, outbox
from govloop.notify.models import Notification, NotificationEvent, NotificationStatus

NOON = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
PHONE = "13812341234"


def _queue(key: str = "order:1:accepted", to: str = PHONE) -> int:
    with unit_of_work() as s:
        n = outbox.enqueue(
            session=s,
            event_key=key,
            template="order_accepted",
            to=to,
            params={"number": "20261207-0001"},
        )
        return n.id


def _get(nid: int) -> Notification:
    with unit_of_work() as s:
        n = s.get(Notification, nid)
        assert n is not None
        s.expunge(n)
        return n


def _kinds(nid: int) -> list[str]:
    with unit_of_work() as s:
        return list(
            s.scalars(
                select(NotificationEvent.kind)
                .where(NotificationEvent.notification_id == nid)
                .order_by(NotificationEvent.id)
            )
        )


def test_a_message_is_sent_once(db, fake_sms):
    with frozen(NOON):
        nid = _queue()
        report = dispatch.drain()
        assert (report.sent, report.retried, report.dead) == (1, 0, 0)
        # nothing is due any more: more rounds send nothing
        assert dispatch.run_once().handled == 0
        assert dispatch.drain().handled == 0
    n = _get(nid)
    assert n.status == NotificationStatus.SENT
    assert n.gateway_ref == f"fake-{nid}-1"
    assert (n.attempts, n.sent_at, n.claimed_until) == (1, NOON, None)
    assert fake_sms.calls[nid] == 1
    assert _kinds(nid) == ["queued", "sent"]


def test_suppressed_messages_are_never_sent(db, fake_sms):
    with unit_of_work() as s:
        outbox.opt_out(session=s, channel="sms", address=PHONE, via="web")
    nid = _queue()
    dispatch.drain()
    assert _get(nid).status == NotificationStatus.SUPPRESSED
    assert fake_sms.calls[nid] == 0


def test_gateway_down_retries_with_growing_backoff_then_dead_letters(db, fake_sms, monkeypatch):
    monkeypatch.setattr(get_settings(), "notify_max_attempts", 4)
    fake_sms.mode = "down"
    with frozen(NOON) as clock:
        nid = _queue()
        waits = []
        for attempt in range(1, 5):
            report = dispatch.run_once()
            assert report.handled == 1
            assert fake_sms.calls[nid] == attempt  # one send per round, never two
            # the same moment again: the message is not due, nothing is sent
            assert dispatch.run_once().handled == 0
            assert fake_sms.calls[nid] == attempt
            n = _get(nid)
            assert n.attempts == attempt
            if attempt < 4:
                assert n.status == NotificationStatus.QUEUED
                assert n.last_error == "connection refused"
                wait = n.next_attempt_at - now()
                waits.append(wait)
                # not a moment before the backoff
                clock.advance(seconds=wait.total_seconds() - 0.5)
                assert dispatch.run_once().handled == 0
                clock.advance(seconds=0.5)
        assert n.status == NotificationStatus.DEAD
        assert n.reason == "max_attempts"
    # 2 s, 4 s, 8 s with up to a quarter of jitter: each wait longer than the one before
    assert waits[0] >= timedelta(seconds=2) and waits[-1] <= timedelta(seconds=10)
    assert all(later > earlier for earlier, later in pairwise(waits))
    assert _kinds(nid) == ["queued", "attempt_failed", "attempt_failed", "attempt_failed", "dead"]
    # dead letters wait for a person, whatever the clock says
    fake_sms.mode = "accept"
    with frozen(NOON + timedelta(days=1)):
        assert dispatch.drain().handled == 0
    assert fake_sms.calls[nid] == 4


def test_retry_dead_requeues_and_the_message_goes_out(db, fake_sms, monkeypatch):
    monkeypatch.setattr(get_settings(), "notify_max_attempts", 1)
    fake_sms.mode = "down"
    nid = _queue()
    assert dispatch.drain().dead == 1
    fake_sms.mode = "accept"
    with unit_of_work() as s:
        n = dispatch.retry_dead(session=s, notification_id=nid)
        assert (n.status, n.attempts, n.reason) == (NotificationStatus.QUEUED, 0, None)
    with unit_of_work() as s:
        with pytest.raises(RuleViolation):  # it is queued now, not dead
            dispatch.retry_dead(session=s, notification_id=nid)
        with pytest.raises(NotFound):
            dispatch.retry_dead(session=s, notification_id=nid + 100)
    assert dispatch.drain().sent == 1
    n = _get(nid)
    assert n.status == NotificationStatus.SENT
    assert n.last_error is None
    assert fake_sms.calls[nid] == 2
    assert _kinds(nid) == ["queued", "dead", "requeued", "sent"]


def test_a_rejected_message_is_dead_at_once(db, fake_sms):
    fake_sms.mode = "reject"
    nid = _queue()
    report = dispatch.drain()
    assert (report.sent, report.retried, report.dead) == (0, 0, 1)
    n = _get(nid)
    assert (n.status, n.reason, n.attempts) == (NotificationStatus.DEAD, "rejected", 1)
    assert n.last_error == "number does not exist"
    assert fake_sms.calls[nid] == 1


def test_an_adapter_bug_is_retried_not_lost(db, monkeypatch):
    class Broken:
        name = "sms"

        def send(self, message):
            raise KeyError("oops")

    nid = _queue()
    dispatch.run_once(channel_lookup=lambda _c: Broken())
    n = _get(nid)
    assert n.status == NotificationStatus.QUEUED
    assert n.last_error is not None and n.last_error.startswith("KeyError")


def test_a_claim_whose_sender_died_is_taken_over_after_the_lease(db, fake_sms):
    with frozen(NOON) as clock:
        nid = _queue()
        # a sender claims the message, then dies before sending (nothing settles it)
        with unit_of_work() as s:
            claimed = dispatch.claim_due(s)
        assert [m.notification_id for m, _c in claimed] == [nid]
        # while the lease lasts, no other sender takes it
        clock.advance(seconds=dispatch.LEASE_S - 1)
        assert dispatch.run_once().handled == 0
        assert fake_sms.calls[nid] == 0
        clock.advance(seconds=2)
        assert dispatch.run_once().sent == 1
    n = _get(nid)
    assert n.status == NotificationStatus.SENT and n.claimed_until is None
    assert fake_sms.calls[nid] == 1


def test_a_late_settlement_of_a_message_already_settled_changes_nothing(db, fake_sms):
    """The first sender came back after its lease and another sender sent the message in
    between: its outcome is ignored, so the message is not counted or recorded twice."""
    nid = _queue()
    assert dispatch.drain().sent == 1
    report = dispatch.DispatchReport()
    with unit_of_work() as s:
        dispatch.settle(s, [(nid, "retry", "timeout")], report)
    assert report.handled == 0
    n = _get(nid)
    assert (n.status, n.attempts) == (NotificationStatus.SENT, 1)


def test_a_delivery_report_before_the_settlement_ends_delivered(db, fake_sms):
    with frozen(NOON) as clock:
        nid = _queue()
        with unit_of_work() as s:
            ((message, _channel),) = dispatch.claim_due(s)
        ref = fake_sms.send(message)
        # the operator's delivery report arrives before the sender records the send
        clock.advance(seconds=1)
        with unit_of_work() as s:
            s.get(Notification, nid).delivered_at = now()
        clock.advance(seconds=1)
        report = dispatch.DispatchReport()
        with unit_of_work() as s:
            dispatch.settle(s, [(nid, "sent", ref)], report)
    n = _get(nid)
    assert n.status == NotificationStatus.DELIVERED
    assert n.gateway_ref == ref
    assert n.delivered_at == NOON + timedelta(seconds=1)
    assert report.sent == 1


def test_many_messages_each_sent_once_in_parallel(db, fake_sms):
    ids = [_queue(f"order:{i}:accepted", to=f"1381234{i:04d}") for i in range(30)]
    report = dispatch.drain(limit=7)
    assert report.sent == 30
    assert all(fake_sms.calls[i] == 1 for i in ids)
    with unit_of_work() as s:
        assert set(s.scalars(select(Notification.status))) == {NotificationStatus.SENT}
