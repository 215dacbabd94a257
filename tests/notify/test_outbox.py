"""Writing to the outbox: one message per event, opt-outs, per-phone caps, the minimum in
every message, bad recipients refused — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest
from govloop.core.settings import get_settings
from govloop.notify import outbox
from govloop.notify.models import Notification, NotificationEvent, NotificationStatus, OptOut
from govloop.notify.outbox import CaseRef

NOON = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
PHONE = "13812341234"
ORDER = {"number": "20261207-0001"}


def _order_accepted(s, key: str, to: str = PHONE, **kwargs):
    return outbox.enqueue(
        session=s,
        event_key=key,
        template="order_accepted",
        to=to,
        params=ORDER,
        **kwargs,
    )


def _count(s, model=Notification) -> int:
    return s.scalar(select(func.count()).select_from(model)) or 0


def test_one_event_gives_one_message_however_often_it_is_written(db):
    with unit_of_work() as s:
        first = _order_accepted(s, "order:1:accepted", case=CaseRef("work_order", 1))
        again = _order_accepted(s, "order:1:accepted", case=CaseRef("work_order", 1))
        assert again.id == first.id
    # a second transaction (the code ran again after a retry) finds it too
    with unit_of_work() as s:
        third = _order_accepted(s, "order:1:accepted")
        assert third.id == first.id
    with unit_of_work() as s:
        assert _count(s) == 1
        n = s.scalar(select(Notification))
        assert n.status == NotificationStatus.QUEUED
        assert (n.case_type, n.case_id) == ("work_order", 1)
        assert n.body.startswith("【政务服务】")
        assert "20261207-0001" in n.body
        kinds = s.scalars(select(NotificationEvent.kind)).all()
        assert kinds == ["queued"]


def test_phone_numbers_are_normalised(db):
    with unit_of_work() as s:
        n = _order_accepted(s, "k1", to="+86 138-1234-1234")
        assert n.recipient == PHONE


def test_an_opt_out_suppresses_citizen_messages_but_not_essential_ones(db):
    with unit_of_work() as s:
        assert outbox.opt_out(session=s, channel="sms", address=PHONE, via="web") is True
        assert outbox.opt_out(session=s, channel="sms", address=PHONE, via="web") is False
    with unit_of_work() as s:
        quiet = _order_accepted(s, "order:2:accepted")
        essential = outbox.enqueue(
            session=s,
            event_key="inbound:1:reply",
            template="query_unknown",
            to=PHONE,
            params={},
            essential=True,
        )
        # the opt-out is per channel: email to the same citizen is not suppressed
        mail = _order_accepted(s, "order:2:accepted:mail", to="Citizen@Example.cn", channel="email")
        assert (quiet.status, quiet.reason) == (NotificationStatus.SUPPRESSED, "opted_out")
        assert essential.status == NotificationStatus.QUEUED
        assert mail.status == NotificationStatus.QUEUED
        assert mail.recipient == "citizen@example.cn"
        assert (
            s.scalar(
                select(NotificationEvent.kind).where(NotificationEvent.notification_id == quiet.id)
            )
            == "suppressed"
        )
    with unit_of_work() as s:
        assert outbox.opt_in(session=s, channel="sms", address=PHONE) is True
        assert outbox.opt_in(session=s, channel="sms", address=PHONE) is False
        assert _order_accepted(s, "order:3:accepted").status == NotificationStatus.QUEUED


def test_staff_messages_ignore_a_citizen_opt_out(db):
    with unit_of_work() as s:
        outbox.opt_out(session=s, channel="sms", address=PHONE, via="web")
        n = outbox.enqueue(
            session=s,
            event_key="order:4:dispatched",
            template="staff_order_dispatched",
            to=PHONE,
            params={"number": "1", "category": "噪声", "department": "城管", "due": "明天"},
        )
        assert (n.audience, n.status) == ("staff", NotificationStatus.QUEUED)


def test_the_per_phone_cap_suppresses_with_its_reason(db, monkeypatch):
    monkeypatch.setattr(get_settings(), "notify_citizen_caps", "3 per hour;4 per day")
    with frozen(NOON) as clock:
        with unit_of_work() as s:
            made = [_order_accepted(s, f"cap:{i}") for i in range(4)]
        assert [n.status for n in made] == ["queued"] * 3 + ["suppressed"]
        assert made[3].reason == "rate_capped"
        # essential messages are never capped
        with unit_of_work() as s:
            reply = outbox.enqueue(
                session=s,
                event_key="cap:reply",
                template="query_unknown",
                to=PHONE,
                params={},
                essential=True,
            )
            assert reply.status == NotificationStatus.QUEUED
            # another phone has its own cap
            assert _order_accepted(s, "cap:other", to="13900000000").status == "queued"
        # an hour later the hourly window is free again, but the day's cap of 4 is reached
        # (3 + the essential reply: essential messages are not capped but they count)
        clock.advance(hours=1, seconds=1)
        with unit_of_work() as s:
            later = _order_accepted(s, "cap:later")
            assert (later.status, later.reason) == (NotificationStatus.SUPPRESSED, "rate_capped")
        clock.advance(days=1)
        with unit_of_work() as s:
            assert _order_accepted(s, "cap:next-day").status == NotificationStatus.QUEUED


def test_no_id_number_ever_reaches_a_message(db):
    with unit_of_work() as s:
        n = outbox.enqueue(
            session=s,
            event_key="matter:9:correction",
            template="matter_correction",
            to=PHONE,
            params={"number": "BJ0001", "materials": "身份证（110101199003071234）复印件、照片"},
        )
        m = outbox.enqueue(
            session=s,
            event_key="matter:9:correction:x",
            template="matter_correction",
            to=PHONE,
            params={"number": "BJ0002", "materials": "11010119900307123X"},
        )
        assert "110101199003071234" not in n.body and "[已隐去]" in n.body
        assert "11010119900307123X" not in m.body
        # a phone number or a matter number of other lengths is left alone
        assert "BJ0001" in n.body


@pytest.mark.parametrize(
    ("channel", "to"),
    [("sms", "12345"), ("sms", "23812341234"), ("sms", ""), ("email", "not-an-address")],
)
def test_a_bad_recipient_is_refused_and_nothing_is_written(db, channel, to):
    with pytest.raises(BadRequest) as caught, unit_of_work() as s:
        _order_accepted(s, "bad:1", to=to, channel=channel)
    assert caught.value.code == "bad_recipient"
    with unit_of_work() as s:
        assert _count(s) == 0
        assert _count(s, NotificationEvent) == 0


def test_unknown_channel_template_and_missing_parameters_are_refused(db):
    with unit_of_work() as s:
        with pytest.raises(BadRequest) as c1:
            _order_accepted(s, "x1", channel="pigeon")
        with pytest.raises(BadRequest) as c2:
            outbox.enqueue(session=s, event_key="x2", template="nope", to=PHONE, params={})
        with pytest.raises(BadRequest) as c3:
            outbox.enqueue(
                session=s, event_key="x3", template="order_accepted", to=PHONE, params={}
            )
        assert (c1.value.code, c2.value.code, c3.value.code) == (
            "unknown_channel",
            "unknown_template",
            "template_params_missing",
        )
        assert _count(s) == 0


def test_opt_out_of_a_bad_address_is_refused(db):
    with pytest.raises(BadRequest), unit_of_work() as s:
        outbox.opt_out(session=s, channel="sms", address="123", via="web")
    with unit_of_work() as s:
        assert _count(s, OptOut) == 0


def test_masks():
    assert outbox.mask_phone("13812341234") == "138****1234"
    assert outbox.mask_recipient("sms", "13812341234") == "138****1234"
    assert outbox.mask_recipient("email", "zhangsan@example.cn") == "z***@example.cn"
    assert outbox.mask_name("张三") == "张*"
    assert outbox.mask_name("欧阳娜娜") == "欧**娜"
