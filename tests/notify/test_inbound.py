"""Messages citizens send to the center's number: each taken once, TD opts out (and is
answered), malformed ones refused and recorded while nothing else changes — on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from govloop.core.db import unit_of_work
from govloop.core.errors import RecordedRefusal
from govloop.notify import inbound, outbox
from govloop.notify.inbound import Handled
from govloop.notify.models import (
    InboundMessage,
    Notification,
    NotificationStatus,
    OptOut,
    RefusedCallback,
)

PHONE = "13812341234"


def _receive(ref: str = "kannel-1", sender: str = PHONE, text: str = "你好"):
    with unit_of_work() as s:
        msg = inbound.receive(
            session=s,
            channel="sms",
            gateway_ref=ref,
            sender=sender,
            text=text,
            source="kannel_inbound",
        )
        return msg.id, msg.handled_as, msg.result


def _counts() -> dict[str, int]:
    with unit_of_work() as s:
        return {
            m.__name__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (InboundMessage, Notification, OptOut, RefusedCallback)
        }


def test_the_same_gateway_message_twice_is_taken_once(db):
    first = _receive("kannel-7", text="TD")
    again = _receive("kannel-7", text="TD")
    assert again == first
    counts = _counts()
    assert counts["InboundMessage"] == 1
    assert counts["Notification"] == 1  # one confirmation, not two
    assert counts["OptOut"] == 1


@pytest.mark.parametrize("word", ["TD", " td ", "退订", "T"])
def test_td_opts_out_and_is_answered(db, word):
    _id, handled_as, result = _receive(text=word, sender="+8613812341234")
    assert (handled_as, result) == ("opt_out", "已退订")
    with unit_of_work() as s:
        assert outbox.opted_out(s, "sms", PHONE)
        reply = s.scalar(select(Notification))
        assert reply.template == "opt_out_done"
        assert reply.recipient == PHONE
        # the confirmation goes out although the phone has just opted out
        assert reply.status == NotificationStatus.QUEUED
        # and later citizen messages are suppressed
        later = outbox.enqueue(
            session=s,
            event_key="o:1",
            template="order_accepted",
            to=PHONE,
            params={"number": "1"},
        )
        assert later.status == NotificationStatus.SUPPRESSED


def test_a_second_opt_out_is_answered_again_without_a_second_record(db):
    _receive("r1", text="TD")
    _receive("r2", text="TD")
    counts = _counts()
    assert (counts["OptOut"], counts["Notification"], counts["InboundMessage"]) == (1, 2, 2)


def test_handlers_are_asked_in_order_and_unhandled_is_kept(db, monkeypatch):
    # only this module's own handler: higher domains (the hotline's catch-all) are left out
    monkeypatch.setattr(inbound, "_HANDLERS", [h for h in inbound._HANDLERS if h[1] == "opt_out"])
    assert _receive("r1", text="随便说说")[1] == "unhandled"
    calls = []

    def query(session, msg):
        calls.append(msg.text)
        if msg.text.startswith("查询"):
            return Handled("query", "已答复" * 100)
        return None

    inbound.register("test_query", query, order=10)
    _id, handled_as, result = _receive("r2", text="查询 BJ0001")
    assert handled_as == "query"
    assert len(result) == 200  # cut to the column's size
    # TD is taken by the opt-out handler first
    assert _receive("r3", text="TD")[1] == "opt_out"
    assert calls == ["查询 BJ0001"]


@pytest.mark.parametrize(
    ("ref", "sender", "text", "reason"),
    [
        ("", PHONE, "TD", "no_message_id"),
        ("x" * 101, PHONE, "TD", "no_message_id"),
        ("r9", "abc", "TD", "bad_sender"),
        ("r9", "10086", "TD", "bad_sender"),
        ("r9", PHONE, "   ", "malformed_text"),
        ("r9", PHONE, "a" * 1001, "malformed_text"),
        ("r9", PHONE, "TD\x00", "malformed_text"),
    ],
)
def test_a_malformed_message_is_refused_recorded_and_changes_nothing(db, ref, sender, text, reason):
    before = _counts()
    with pytest.raises(RecordedRefusal) as caught:
        _receive(ref, sender, text)
    assert caught.value.code == reason
    assert caught.value.status_code == 400
    after = _counts()
    assert after["RefusedCallback"] == before["RefusedCallback"] + 1
    assert {k: v for k, v in after.items() if k != "RefusedCallback"} == {
        k: v for k, v in before.items() if k != "RefusedCallback"
    }
    with unit_of_work() as s:
        row = s.scalar(select(RefusedCallback))
        assert (row.source, row.reason) == ("kannel_inbound", reason)
        # the payload is kept, cut to a readable size
        assert all(len(v) <= 200 for v in row.payload.values())


def test_a_message_id_with_control_characters_is_refused(db):
    with pytest.raises(RecordedRefusal) as caught:
        _receive("r\x001", PHONE, "TD")
    assert caught.value.code == "no_message_id"
    with unit_of_work() as s:
        row = s.scalar(select(RefusedCallback))
        assert row.payload["ref"] == "r\\x001"
    assert _counts()["InboundMessage"] == 0
