"""SMS through a real Kannel (bearerbox, smsbox, ``fakesmsc`` as the operator) with a live
govloop taking its delivery reports and inbound messages — on SQLite and PostgreSQL.
Skipped with the reason when Kannel is not installed."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update

from govloop.core.clock import now
from govloop.core.db import unit_of_work
from govloop.notify import dispatch, inbound, outbox
from govloop.notify.channels.kannel import DLR_PATH, INBOUND_PATH, dlr_signature
from govloop.notify.models import (
    InboundMessage,
    Notification,
    NotificationEvent,
    NotificationStatus,
    OptOut,
    RefusedCallback,
)
from tests.notify.kannel_harness import INBOUND_TOKEN, wait_for

PHONE = "13812341234"


def _queue(key: str, number: str, to: str = PHONE) -> int:
    with unit_of_work() as s:
        n = outbox.enqueue(
            session=s, event_key=key, template="order_accepted", to=to, params={"number": number}
        )
        return n.id


def _get(nid: int) -> Notification:
    with unit_of_work() as s:
        n = s.get(Notification, nid)
        assert n is not None
        s.expunge(n)
        return n


def _dlr_types(nid: int) -> list[int]:
    with unit_of_work() as s:
        details = s.scalars(
            select(NotificationEvent.detail)
            .where(NotificationEvent.notification_id == nid, NotificationEvent.kind == "dlr")
            .order_by(NotificationEvent.id)
        )
        return [d["type"] for d in details]


def _refusals() -> list[tuple[str, str]]:
    with unit_of_work() as s:
        return [
            (r.source, r.reason)
            for r in s.scalars(select(RefusedCallback).order_by(RefusedCallback.id))
        ]


def test_a_message_reaches_the_operator_once_and_its_report_comes_back(db, kannel_sms):
    nid = _queue("order:1:accepted", "KN-0001")
    report = dispatch.drain()
    assert (report.sent, report.retried, report.dead) == (1, 0, 0)
    wait_for(lambda: _get(nid).status == NotificationStatus.DELIVERED, what="the DLR")
    n = _get(nid)
    assert n.gateway_ref == f"kannel-{nid}" and n.delivered_at is not None
    assert _dlr_types(nid) == [1]  # delivered to the phone (8, SMSC accepted, not asked for)
    texts = [t for t in kannel_sms.texts_to(PHONE) if "KN-0001" in t]
    assert len(texts) == 1
    assert texts[0].startswith("【政务服务】您反映的问题已登记")  # UCS-2 Chinese intact
    assert dispatch.drain().handled == 0  # nothing left to send


def test_gateway_down_backs_off_then_the_outbox_catches_up_once(db, kannel_sms):
    kannel_sms.gateway.stop()
    ids = [_queue(f"order:{i}:accepted", f"KD-{i:04d}", to=f"1390000{i:04d}") for i in range(6)]
    report = dispatch.run_once()
    assert (report.sent, report.retried) == (0, 6)
    for nid in ids:
        n = _get(nid)
        assert n.status == NotificationStatus.QUEUED and n.attempts == 1
        assert n.next_attempt_at > now() and "kannel" in (n.last_error or "")
    assert dispatch.run_once().handled == 0  # backing off: nothing due yet
    kannel_sms.gateway.start()
    with unit_of_work() as s:  # the backoff has passed
        s.execute(
            update(Notification)
            .where(Notification.id.in_(ids))
            .values(next_attempt_at=now() - timedelta(seconds=1))
        )
    assert dispatch.drain().sent == 6
    wait_for(lambda: all(_get(i).status == NotificationStatus.DELIVERED for i in ids), what="DLRs")
    received = [r.text for r in kannel_sms.gateway.received()]
    for i in range(6):
        assert sum(f"KD-{i:04d}" in t for t in received) == 1  # nothing lost, nothing twice


def test_delivery_reports_with_a_bad_signature_or_unknown_id_are_refused(db, kannel_sms):
    nid = _queue("order:7:accepted", "KB-0001")
    before = _get(nid)
    url = f"{kannel_sms.base_url}{DLR_PATH}"
    secret = kannel_sms.channel.secret_key
    bad = httpx.get(url, params={"n": nid, "s": "0" * 32, "type": 1, "ts": 1})
    assert bad.status_code == 403 and bad.json()["error"] == "bad_signature"
    unknown = httpx.get(url, params={"n": 999999, "s": dlr_signature(secret, 999999), "type": 1})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_message"
    odd = httpx.get(url, params={"n": nid, "s": dlr_signature(secret, nid), "type": "x"})
    assert odd.status_code == 400 and odd.json()["error"] == "bad_type"
    assert _refusals() == [
        ("kannel_dlr", "bad_signature"),
        ("kannel_dlr", "unknown_message"),
        ("kannel_dlr", "bad_type"),
    ]
    after = _get(nid)
    assert (after.status, after.delivered_at, after.attempts) == (
        before.status,
        before.delivered_at,
        before.attempts,
    )
    assert _dlr_types(nid) == []


def test_a_repeated_delivery_report_is_harmless(db, kannel_sms):
    nid = _queue("order:8:accepted", "KR-0001")
    dispatch.drain()
    wait_for(lambda: _get(nid).status == NotificationStatus.DELIVERED, what="the DLR")
    first = _get(nid).delivered_at
    params = {"n": nid, "s": dlr_signature(kannel_sms.channel.secret_key, nid), "type": 1}
    again = httpx.get(f"{kannel_sms.base_url}{DLR_PATH}", params=params)
    assert again.status_code == 200 and again.json()["status"] == "delivered"
    assert _get(nid).delivered_at == first
    assert _dlr_types(nid) == [1, 1]


def _inbound(sender: str) -> list[InboundMessage]:
    with unit_of_work() as s:
        rows = list(s.scalars(select(InboundMessage).where(InboundMessage.sender == sender)))
        for r in rows:
            s.expunge(r)
        return rows


def test_inbound_messages_from_a_phone_reach_govloop(db, kannel_sms):
    kannel_sms.gateway.inject("13900001111", "TD")
    wait_for(lambda: _inbound("13900001111"), what="the TD message")
    (td,) = _inbound("13900001111")
    assert td.handled_as == "opt_out" and td.gateway_ref.startswith("kannel:")
    with unit_of_work() as s:
        assert s.scalar(select(OptOut.id).where(OptOut.address == "13900001111"))
        reply = s.scalar(select(Notification).where(Notification.recipient == "13900001111"))
        assert reply is not None and reply.template == "opt_out_done"
    # the reply goes out through the outbox and Kannel, once; Kannel itself sent none
    dispatch.drain()
    wait_for(lambda: kannel_sms.texts_to("13900001111"), what="the reply")
    assert len(kannel_sms.texts_to("13900001111")) == 1
    kannel_sms.gateway.inject("13900002222", "路灯坏了，请派人修理")
    wait_for(lambda: _inbound("13900002222"), what="the Chinese message")
    (msg,) = _inbound("13900002222")
    assert msg.text == "路灯坏了，请派人修理"
    others = [name for _, name, _ in inbound._HANDLERS if name != "opt_out"]
    if not others:  # nobody handles a free text yet: kept as unhandled
        assert msg.handled_as == "unhandled"
    else:
        assert msg.handled_as != "pending"


def test_malformed_inbound_messages_are_refused_and_change_nothing(db, kannel_sms):
    url = f"{kannel_sms.base_url}{INBOUND_PATH}"
    good = {"token": INBOUND_TOKEN, "from": "13900003333", "text": "TD", "id": "m-1"}
    wrong = httpx.get(url, params={**good, "token": "guess"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "bad_token"
    empty = httpx.get(url, params={**good, "text": "   "})
    assert empty.status_code == 400 and empty.json()["error"] == "malformed_text"
    no_id = httpx.get(url, params={**good, "id": ""})
    assert no_id.status_code == 400 and no_id.json()["error"] == "no_message_id"
    bad_sender = httpx.get(url, params={**good, "from": "12"})
    assert bad_sender.status_code == 400 and bad_sender.json()["error"] == "bad_sender"
    assert [r for _, r in _refusals()] == [
        "bad_token",
        "malformed_text",
        "no_message_id",
        "bad_sender",
    ]
    with unit_of_work() as s:
        assert s.scalar(select(func.count(InboundMessage.id))) == 0
        assert s.scalar(select(func.count(OptOut.id))) == 0
        assert s.scalar(select(func.count(Notification.id))) == 0
    ok = httpx.get(url, params=good)
    assert ok.status_code == 200 and ok.content == b""  # Kannel sends no reply of its own


def test_the_sendsms_request_carries_the_signed_report_url(kannel_sms):
    from govloop.notify.channels.base import Outgoing

    query = kannel_sms.channel.query(Outgoing(42, PHONE, "您好"))
    assert "coding=2" in query and "charset=UTF-8" in query and "dlr-mask=19" in query
    dlr = re.search(r"dlr-url=([^&]+)", query)
    assert dlr is not None
    decoded = httpx.QueryParams(f"u={dlr[1]}")["u"]
    assert decoded.endswith("&type=%d&ts=%T") and "n=42&s=" in decoded
