"""The read side other domains and pages use: a case's messages, the messages to a phone,
counts by status, filters refused in words — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest, NotFound
from govloop.notify import outbox, service
from govloop.notify.outbox import CaseRef

NOON = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
PHONE = "13812341234"


def _queue(s, key: str, to: str = PHONE, case: CaseRef | None = None, template="order_accepted"):
    params = {
        "order_accepted": {"number": "1"},
        "staff_due_soon": {"kind": "工单", "number": "1", "due": "明天"},
    }[template]
    return outbox.enqueue(
        session=s, event_key=key, template=template, to=to, params=params, case=case
    )


def test_a_cases_messages_oldest_first_and_masked(db):
    with frozen(NOON) as clock, unit_of_work() as s:
        a = _queue(s, "m:1:a", case=CaseRef("matter", 1))
        clock.advance(minutes=5)
        b = _queue(s, "m:1:b", to="13900000000", case=CaseRef("matter", 1))
        _queue(s, "m:2:a", case=CaseRef("matter", 2))
        _queue(s, "o:1:a", case=CaseRef("work_order", 1))
        rows = service.messages_of_case(session=s, case_type="matter", case_id=1)
        assert [r.id for r in rows] == [a.id, b.id]
        assert [r.recipient for r in rows] == ["138****1234", "139****0000"]


def test_messages_to_a_phone_leave_out_staff_messages_and_other_phones(db):
    with unit_of_work() as s:
        mine = _queue(s, "c:1")
        _queue(s, "c:2", to="13900000000")
        _queue(s, "s:1", template="staff_due_soon")
        rows = service.messages_to(session=s, channel="sms", address="+86 138 1234 1234")
        assert [r.id for r in rows] == [mine.id]
        with pytest.raises(BadRequest):
            service.messages_to(session=s, channel="sms", address="123")


def test_counts_have_every_status(db):
    with unit_of_work() as s:
        outbox.opt_out(session=s, channel="sms", address=PHONE, via="web")
        _queue(s, "x:1")
        _queue(s, "x:2", to="13900000000")
        counts = service.counts_by_status(session=s)
    assert counts == {
        "queued": 1,
        "sent": 0,
        "delivered": 0,
        "failed": 0,
        "dead": 0,
        "suppressed": 1,
    }


def test_filters_and_paging(db):
    with unit_of_work() as s:
        for i in range(5):
            _queue(s, f"p:{i}", to=f"1380000000{i}")
        rows, total = service.list_messages(session=s, offset=3, limit=2)
        assert total == 5 and len(rows) == 2
        for bad in (
            service.Filters(status="bogus"),
            service.Filters(channel="fax"),
            service.Filters(case_id=3),
        ):
            with pytest.raises(BadRequest):
                service.list_messages(session=s, filters=bad)
        with pytest.raises(NotFound):
            service.get_message(session=s, notification_id=999)
