"""What the SMS gateway calls back with: delivery reports (DLR) and inbound messages.

A delivery report names the notification and carries the HMAC the sender put in its
``dlr-url`` (``channels/kannel.py``); a report without a valid signature, or for a message
govloop does not have, is refused and recorded (``refusals``) and changes nothing else.

Kannel's report types: 1 delivered to the phone, 2 undeliverable, 4 queued at the SMSC,
8 accepted by the SMSC, 16 refused by the SMSC.

* 1 → DELIVERED with ``delivered_at``; 2 and 16 → FAILED.
* 4 and 8 → an event only: the operator has the message, the phone does not yet.
  **"Delivered" counts only reports from the phone (type 1).** An SMSC that never reports
  beyond type 8 leaves its messages SENT (已提交运营商) with a ``dlr`` event saying the SMSC
  accepted them; nothing pretends they reached the phone.
* Any report for a message still QUEUED proves the gateway has it. While a sender holds the
  message (its send not settled yet) the report leaves ``gateway_ref`` (and
  ``delivered_at``) for ``dispatch.settle``, which then records it sent even if its own HTTP
  exchange timed out after Kannel took the message; a message waiting for a retry is
  settled here, so it is not sent a second time.
* Every report writes a ``dlr`` event; a repeated report only adds its event.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.settings import get_settings
from govloop.notify import inbound
from govloop.notify.channels.kannel import (
    DLR_DELIVERED,
    DLR_QUEUED,
    DLR_SMSC_ACCEPTED,
    DLR_SMSC_REJECTED,
    DLR_UNDELIVERABLE,
    signature_ok,
)
from govloop.notify.models import (
    ChannelName,
    InboundMessage,
    Notification,
    NotificationEvent,
    NotificationStatus,
)
from govloop.notify.refusals import refuse

DLR_SOURCE = "kannel_dlr"
INBOUND_SOURCE = "kannel_inbound"
KNOWN_TYPES = {
    DLR_DELIVERED: "delivered",
    DLR_UNDELIVERABLE: "undeliverable",
    DLR_QUEUED: "queued_at_smsc",
    DLR_SMSC_ACCEPTED: "smsc_accepted",
    DLR_SMSC_REJECTED: "smsc_rejected",
}
_FAILED_TYPES = (DLR_UNDELIVERABLE, DLR_SMSC_REJECTED)
# a report time further than this from ours is not believed (a wrong clock at the gateway)
_CLOCK_SKEW = timedelta(hours=6)


def _report_time(ts: str | None, moment: datetime) -> datetime:
    try:
        at = datetime.fromtimestamp(int(str(ts).strip()), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return moment
    return at if abs(at - moment) <= _CLOCK_SKEW else moment


def record_dlr(
    session: Session,
    *,
    notification_id: str,
    signature: str,
    dlr_type: str,
    ts: str | None = None,
    reply: str | None = None,
) -> Notification:
    """Take one delivery report; returns the message it is about."""
    payload: dict[str, Any] = {"n": notification_id, "type": dlr_type, "ts": ts}
    nid = (notification_id or "").strip()
    if not signature_ok(get_settings().secret_key, nid, signature or ""):
        refuse(
            session,
            source=DLR_SOURCE,
            reason="bad_signature",
            message="回执签名无效",
            payload=payload,
            status=403,
        )
    try:
        kind = int(str(dlr_type).strip())
    except ValueError:
        kind = -1
    if kind not in KNOWN_TYPES:
        refuse(
            session, source=DLR_SOURCE, reason="bad_type", message="回执类型无效", payload=payload
        )
    # locked: the sender's settlement of this message waits, or is waited for (PostgreSQL)
    n = session.get(Notification, int(nid), with_for_update=True) if nid.isdigit() else None
    if n is None or n.channel != ChannelName.SMS:
        refuse(
            session,
            source=DLR_SOURCE,
            reason="unknown_message",
            message="未找到该短信",
            payload=payload,
            status=404,
        )
    moment = now()
    at = _report_time(ts, moment)
    before = n.status
    ref = f"kannel-{n.id}"
    if n.status == NotificationStatus.QUEUED:
        in_flight = n.claimed_until is not None and n.claimed_until > moment
        if kind in _FAILED_TYPES:
            # the operator refused it: final, whether or not the sender settled yet
            n.status, n.reason, n.sent_at = NotificationStatus.FAILED, KNOWN_TYPES[kind], moment
            n.gateway_ref, n.claimed_until = n.gateway_ref or ref, None
        else:
            n.gateway_ref = n.gateway_ref or ref
            if kind == DLR_DELIVERED:
                n.delivered_at = at
            if not in_flight:  # waiting for a retry it does not need: settled here
                n.status = (
                    NotificationStatus.DELIVERED
                    if n.delivered_at is not None
                    else NotificationStatus.SENT
                )
                n.sent_at, n.claimed_until, n.last_error = moment, None, None
    elif n.status in (NotificationStatus.SENT, NotificationStatus.DEAD):
        # DEAD: every attempt "failed", yet the gateway had one of them
        if kind == DLR_DELIVERED:
            n.status, n.delivered_at = NotificationStatus.DELIVERED, at
        elif kind in _FAILED_TYPES:
            n.status, n.reason = NotificationStatus.FAILED, KNOWN_TYPES[kind]
    # DELIVERED / FAILED / SUPPRESSED: a late or repeated report adds its event only
    detail: dict[str, Any] = {
        "type": kind,
        "meaning": KNOWN_TYPES[kind],
        "status_before": str(before),
        "status": str(n.status),
        "reported_at": at.isoformat(),
    }
    if reply:
        detail["reply"] = reply[:160]
    session.add(NotificationEvent(notification_id=n.id, kind="dlr", at=moment, detail=detail))
    session.flush()
    return n


def receive_kannel_inbound(
    session: Session, *, token: str | None, sender: str, text: str, message_id: str
) -> InboundMessage:
    """An inbound message from Kannel's sms-service ``get-url``; the URL carries the
    token set in ``kannel_inbound_token`` (no token configured: every call is refused)."""
    expected = get_settings().kannel_inbound_token
    if not expected or not _same(expected, token or ""):
        refuse(
            session,
            source=INBOUND_SOURCE,
            reason="bad_token",
            message="令牌无效",
            payload={"from": sender, "id": message_id},
            status=403,
        )
    return inbound.receive(
        session=session,
        channel=ChannelName.SMS,
        gateway_ref=f"kannel:{message_id.strip()}" if (message_id or "").strip() else "",
        sender=sender,
        text=text,
        source=INBOUND_SOURCE,
    )


def _same(expected: str, presented: str) -> bool:
    return hmac.compare_digest(expected.encode(), presented.encode())
