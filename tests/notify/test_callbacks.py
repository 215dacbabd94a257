"""Delivery reports by type and by the message's state (in flight, waiting for a retry,
sent, dead), without a gateway — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from govloop.core.clock import now
from govloop.core.db import unit_of_work
from govloop.core.errors import RecordedRefusal
from govloop.core.settings import get_settings
from govloop.notify import callbacks, dispatch, outbox
from govloop.notify.channels.kannel import dlr_signature
from govloop.notify.models import Notification, NotificationEvent, NotificationStatus

PHONE = "13812341234"


def _queue(key: str = "order:1:accepted") -> int:
    with unit_of_work() as s:
        return outbox.enqueue(
            session=s, event_key=key, template="order_accepted", to=PHONE, params={"number": "1"}
        ).id


def _dlr(nid: int, kind: int) -> str:
    with unit_of_work() as s:
        n = callbacks.record_dlr(
            s,
            notification_id=str(nid),
            signature=dlr_signature(get_settings().secret_key, nid),
            dlr_type=str(kind),
            ts=str(int(now().timestamp())),
        )
        return str(n.status)


def _get(nid: int) -> Notification:
    with unit_of_work() as s:
        n = s.get(Notification, nid)
        assert n is not None
        s.expunge(n)
        return n


def _set(nid: int, **values: object) -> None:
    with unit_of_work() as s:
        n = s.get(Notification, nid)
        for k, v in values.items():
            setattr(n, k, v)


def test_report_types_on_a_sent_message(db, fake_sms):
    nid = _queue()
    dispatch.drain()
    assert _dlr(nid, 8) == "sent"  # accepted by the SMSC: an event only
    assert _dlr(nid, 4) == "sent"
    assert _dlr(nid, 1) == "delivered"
    assert _get(nid).delivered_at is not None
    other = _queue("order:2:accepted")
    dispatch.drain()
    assert _dlr(other, 2) == "failed"
    assert _get(other).reason == "undeliverable"
    with unit_of_work() as s:
        kinds = s.scalars(
            select(NotificationEvent.detail["meaning"].as_string())
            .where(NotificationEvent.notification_id == nid, NotificationEvent.kind == "dlr")
            .order_by(NotificationEvent.id)
        ).all()
    assert kinds == ["smsc_accepted", "queued_at_smsc", "delivered"]


def test_a_report_during_the_send_makes_a_failed_exchange_count_as_sent(db, fake_sms):
    """Kannel took the message but our HTTP exchange timed out: the report that comes back
    proves it was sent, and the settlement does not schedule a second send."""
    nid = _queue()
    with unit_of_work() as s:
        claimed = dispatch.claim_due(s)
    assert [m.notification_id for m, _ in claimed] == [nid]
    assert _dlr(nid, 8) == "queued"  # in flight: left for the settlement
    report = dispatch.DispatchReport()
    with unit_of_work() as s:
        dispatch.settle(s, [(nid, "retry", "ReadTimeout")], report)
    n = _get(nid)
    assert (report.sent, report.retried) == (1, 0)
    assert n.status == NotificationStatus.SENT and n.gateway_ref == f"kannel-{nid}"
    assert dispatch.drain().handled == 0 and fake_sms.calls[nid] == 0


def test_a_report_for_a_message_waiting_for_its_retry_settles_it(db, fake_sms):
    nid = _queue()
    _set(nid, attempts=1, next_attempt_at=now() + timedelta(seconds=30), last_error="timeout")
    assert _dlr(nid, 1) == "delivered"
    n = _get(nid)
    assert n.sent_at is not None and n.last_error is None
    _set(nid, next_attempt_at=now() - timedelta(seconds=1))
    assert dispatch.drain().handled == 0 and fake_sms.calls[nid] == 0  # never sent again


def test_an_undeliverable_report_in_flight_is_final(db, fake_sms):
    nid = _queue()
    with unit_of_work() as s:
        dispatch.claim_due(s)
    assert _dlr(nid, 16) == "failed"
    report = dispatch.DispatchReport()
    with unit_of_work() as s:
        dispatch.settle(s, [(nid, "sent", f"kannel-{nid}")], report)
    assert _get(nid).status == NotificationStatus.FAILED and report.sent == 0


def test_a_dead_message_the_gateway_delivered_after_all_is_delivered(db, fake_sms):
    nid = _queue()
    _set(nid, status=NotificationStatus.DEAD, reason="max_attempts")
    assert _dlr(nid, 1) == "delivered"


def test_a_delivered_message_stays_delivered(db, fake_sms):
    nid = _queue()
    dispatch.drain()
    _dlr(nid, 1)
    assert _dlr(nid, 2) == "delivered"  # a late contradicting report is kept as an event
    assert _dlr(nid, 1) == "delivered"


@pytest.mark.parametrize("kind", ["", "3", "x", "-1"])
def test_unknown_report_types_are_refused(db, kind):
    nid = _queue()
    with pytest.raises(RecordedRefusal) as refused, unit_of_work() as s:
        callbacks.record_dlr(
            s,
            notification_id=str(nid),
            signature=dlr_signature(get_settings().secret_key, nid),
            dlr_type=kind,
        )
    assert refused.value.code == "bad_type"
    assert _get(nid).status == NotificationStatus.QUEUED


def test_a_signature_for_another_message_is_refused(db):
    nid = _queue()
    with pytest.raises(RecordedRefusal) as refused, unit_of_work() as s:
        callbacks.record_dlr(
            s,
            notification_id=str(nid),
            signature=dlr_signature(get_settings().secret_key, nid + 1),
            dlr_type="1",
        )
    assert refused.value.code == "bad_signature" and refused.value.status_code == 403
    assert _get(nid).delivered_at is None


def test_inbound_without_a_configured_token_is_refused(db, monkeypatch):
    monkeypatch.setenv("GOVLOOP_KANNEL_INBOUND_TOKEN", "")
    with pytest.raises(RecordedRefusal) as refused, unit_of_work() as s:
        callbacks.receive_kannel_inbound(
            s, token="", sender=PHONE, text="TD", message_id="kannel-1"
        )
    assert refused.value.code == "bad_token" and refused.value.status_code == 403


def test_a_settlement_lost_to_a_database_error_is_tried_again(db, fake_sms, monkeypatch):
    """The message is out: a settlement that fails once must not leave it claimed (it would
    be sent again when the lease runs out)."""
    from sqlalchemy.exc import OperationalError

    nid = _queue()
    real = dispatch.settle
    failures = []

    def flaky(session, outcomes, report):
        if not failures:
            failures.append(1)
            raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
        return real(session, outcomes, report)

    monkeypatch.setattr(dispatch, "settle", flaky)
    monkeypatch.setattr(dispatch, "SETTLE_PAUSE_S", 0.01)
    report = dispatch.run_once()
    assert failures == [1] and report.sent == 1
    n = _get(nid)
    assert n.status == NotificationStatus.SENT and n.claimed_until is None
    assert fake_sms.calls[nid] == 1
