"""Writing to the outbox. A notification is written in the transaction of the change that
causes it, so it exists exactly when the change does; the sender (``dispatch``) takes it
from there. Opt-outs and the per-phone caps are decided here, once, and recorded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from limits import parse_many
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.errors import BadRequest
from govloop.core.settings import get_settings
from govloop.notify import templates
from govloop.notify.models import (
    Audience,
    ChannelName,
    Notification,
    NotificationEvent,
    NotificationStatus,
    OptOut,
)

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# an 18-character resident ID number never goes into a message, whoever passes it
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


@dataclass(frozen=True)
class CaseRef:
    case_type: str
    case_id: int


def normalise_phone(phone: str) -> str:
    digits = re.sub(r"[\s-]", "", phone or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def valid_address(channel: str, address: str) -> bool:
    if channel == ChannelName.SMS:
        return bool(_MOBILE.match(address))
    return bool(_EMAIL.match(address))


def mask_name(name: str | None) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧**娜: enough for the citizen to know it is about them."""
    if not name:
        return ""
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str | None) -> str:
    """13812341234 → 138****1234."""
    if not phone:
        return ""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_email(email: str | None) -> str:
    """zhangsan@example.cn → z***@example.cn."""
    if not email:
        return ""
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def mask_recipient(channel: str, recipient: str | None) -> str:
    """A recipient as staff pages and the citizen's tracker show it."""
    return mask_phone(recipient) if channel == ChannelName.SMS else mask_email(recipient)


def mask_address(address: str | None) -> str:
    """The district and street stay; the house number and below do not."""
    if not address:
        return ""
    keep = max(4, len(address) // 2)
    return address[:keep] + "****"


def _add_event(session: Session, n: Notification, kind: str, **detail: Any) -> None:
    session.add(NotificationEvent(notification_id=n.id, kind=kind, at=now(), detail=detail))


def opted_out(session: Session, channel: str, address: str) -> bool:
    return (
        session.scalar(
            select(OptOut.id).where(OptOut.channel == channel, OptOut.address == address)
        )
        is not None
    )


def _over_cap(session: Session, channel: str, address: str) -> bool:
    """Citizen messages to one address within each window of the caps (e.g. 5 per hour)."""
    moment = now()
    for item in parse_many(get_settings().notify_citizen_caps):
        since = moment - timedelta(seconds=item.get_expiry())
        count = session.scalar(
            select(func.count(Notification.id)).where(
                Notification.channel == channel,
                Notification.recipient == address,
                Notification.audience == Audience.CITIZEN,
                Notification.status != NotificationStatus.SUPPRESSED,
                Notification.created_at >= since,
            )
        )
        if (count or 0) >= item.amount:
            return True
    return False


def enqueue(
    *,
    session: Session,
    event_key: str,
    template: str,
    to: str,
    params: dict[str, Any],
    channel: str = ChannelName.SMS,
    case: CaseRef | None = None,
    essential: bool = False,
) -> Notification:
    """Write one message for one event. The same ``event_key`` again returns the message
    already written. ``essential`` messages (a reply to the citizen's own query, the
    confirmation of an opt-out) are not capped and not suppressed by an opt-out."""
    existing = session.scalar(select(Notification).where(Notification.event_key == event_key))
    if existing is not None:
        return existing
    try:
        ChannelName(channel)
    except ValueError:
        raise BadRequest(f"未知的通知渠道：{channel}", code="unknown_channel") from None
    tpl = templates.get(template)
    address = normalise_phone(to) if channel == ChannelName.SMS else (to or "").strip().lower()
    if not valid_address(channel, address):
        raise BadRequest("手机号或邮箱地址格式不正确", code="bad_recipient")
    body = _ID_NUMBER.sub("[已隐去]", templates.render(template, params))
    n = Notification(
        event_key=event_key,
        template=template,
        channel=channel,
        audience=tpl.audience,
        recipient=address,
        body=body,
        case_type=case.case_type if case else None,
        case_id=case.case_id if case else None,
        status=NotificationStatus.QUEUED,
        next_attempt_at=now(),
        created_at=now(),
    )
    if not essential and tpl.audience == Audience.CITIZEN:
        if opted_out(session, channel, address):
            n.status, n.reason = NotificationStatus.SUPPRESSED, "opted_out"
        elif _over_cap(session, channel, address):
            n.status, n.reason = NotificationStatus.SUPPRESSED, "rate_capped"
    session.add(n)
    session.flush()
    _add_event(
        session,
        n,
        "queued" if n.status == NotificationStatus.QUEUED else "suppressed",
        reason=n.reason,
    )
    return n


def opt_out(*, session: Session, channel: str, address: str, via: str) -> bool:
    """Record an opt-out; False when it was already recorded."""
    address = normalise_phone(address) if channel == ChannelName.SMS else address.strip().lower()
    if not valid_address(channel, address):
        raise BadRequest("手机号或邮箱地址格式不正确", code="bad_recipient")
    if opted_out(session, channel, address):
        return False
    session.add(OptOut(channel=channel, address=address, via=via, created_at=now()))
    session.flush()
    return True


def opt_in(*, session: Session, channel: str, address: str) -> bool:
    address = normalise_phone(address) if channel == ChannelName.SMS else address.strip().lower()
    row = session.scalar(select(OptOut).where(OptOut.channel == channel, OptOut.address == address))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
