"""The sender duty of a running server: a burst larger than one round is sent in one tick,
each message once."""

from __future__ import annotations

from sqlalchemy import func, select

from govloop.core.db import unit_of_work
from govloop.notify import dispatch, outbox
from govloop.notify import web as notify_web
from govloop.notify.models import Notification, NotificationStatus


def test_one_tick_sends_a_burst_larger_than_a_round(db, fake_sms, monkeypatch):
    monkeypatch.setattr(dispatch, "BATCH", 10)
    with unit_of_work() as s:
        for i in range(25):
            outbox.enqueue(
                session=s,
                event_key=f"order:{i}:accepted",
                template="order_accepted",
                to=f"1380000{i:04d}",
                params={"number": f"20261207-{i:04d}"},
            )
    notify_web._send_due()
    with unit_of_work() as s:
        sent = s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.status == NotificationStatus.SENT)
        )
    assert sent == 25
    assert sorted(fake_sms.calls.values()) == [1] * 25
