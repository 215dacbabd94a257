"""The read side of notifications and the few actions on them: the staff log and its
filters, the dead-letter list, a case's messages (for other domains' pages), the messages
sent to a citizen's phone (the data tracker), staff contacts, and a citizen's own opt-out.
Services take ``session`` and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from govloop.core.errors import BadRequest, NotFound
from govloop.core.models import User
from govloop.notify import dispatch, outbox
from govloop.notify.channels.registry import is_simulated
from govloop.notify.models import (
    ChannelName,
    Notification,
    NotificationEvent,
    NotificationStatus,
    StaffContact,
)

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class MessageView:
    """One message as staff and citizens see it: the recipient masked."""

    id: int
    created_at: datetime
    template: str
    channel: str
    audience: str
    recipient: str  # masked: 138****1234
    body: str
    status: str
    reason: str | None
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None
    delivered_at: datetime | None
    case_type: str | None
    case_id: int | None

    @classmethod
    def of(cls, n: Notification) -> MessageView:
        return cls(
            id=n.id,
            created_at=n.created_at,
            template=n.template,
            channel=n.channel,
            audience=n.audience,
            recipient=outbox.mask_recipient(n.channel, n.recipient),
            body=n.body,
            status=n.status,
            reason=n.reason,
            attempts=n.attempts,
            next_attempt_at=n.next_attempt_at,
            last_error=n.last_error,
            sent_at=n.sent_at,
            delivered_at=n.delivered_at,
            case_type=n.case_type,
            case_id=n.case_id,
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class EventView:
    kind: str
    at: datetime
    detail: dict[str, Any]


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    channel: str | None = None
    template: str | None = None
    case_type: str | None = None
    case_id: int | None = None

    def check(self) -> Filters:
        if self.status and self.status not in set(NotificationStatus):
            raise BadRequest(f"未知的通知状态：{self.status}", code="unknown_status")
        if self.channel and self.channel not in set(ChannelName):
            raise BadRequest(f"未知的通知渠道：{self.channel}", code="unknown_channel")
        if self.case_id is not None and not self.case_type:
            raise BadRequest("按办件筛选需同时给出类型和编号", code="case_type_missing")
        return self


def _filtered(stmt: Select[Any], f: Filters) -> Select[Any]:
    if f.status:
        stmt = stmt.where(Notification.status == f.status)
    if f.channel:
        stmt = stmt.where(Notification.channel == f.channel)
    if f.template:
        stmt = stmt.where(Notification.template == f.template)
    if f.case_type:
        stmt = stmt.where(Notification.case_type == f.case_type)
    if f.case_id is not None:
        stmt = stmt.where(Notification.case_id == f.case_id)
    return stmt


def list_messages(
    *, session: Session, filters: Filters | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[MessageView], int]:
    """One page of the log, newest first, and how many match the filters in all."""
    f = (filters or Filters()).check()
    limit = max(1, min(limit, MAX_PER_PAGE))
    total = session.scalar(_filtered(select(func.count(Notification.id)), f)) or 0
    rows = session.scalars(
        _filtered(select(Notification), f)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .offset(max(offset, 0))
        .limit(limit)
    )
    return [MessageView.of(n) for n in rows], total


def dead_letters(*, session: Session, limit: int = 100) -> list[MessageView]:
    rows = session.scalars(
        select(Notification)
        .where(Notification.status == NotificationStatus.DEAD)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return [MessageView.of(n) for n in rows]


def get_message(*, session: Session, notification_id: int) -> tuple[MessageView, list[EventView]]:
    n = session.get(Notification, notification_id)
    if n is None:
        raise NotFound("未找到该通知", code="unknown_notification")
    events = session.scalars(
        select(NotificationEvent)
        .where(NotificationEvent.notification_id == n.id)
        .order_by(NotificationEvent.at, NotificationEvent.id)
    )
    return MessageView.of(n), [EventView(e.kind, e.at, dict(e.detail or {})) for e in events]


def messages_of_case(*, session: Session, case_type: str, case_id: int) -> list[MessageView]:
    """What was sent about one case (a matter, a work order, a ticket), oldest first, for
    the case's own page."""
    rows = session.scalars(
        select(Notification)
        .where(Notification.case_type == case_type, Notification.case_id == case_id)
        .order_by(Notification.created_at, Notification.id)
    )
    return [MessageView.of(n) for n in rows]


def messages_to(
    *, session: Session, channel: str, address: str, limit: int = 100
) -> list[MessageView]:
    """What was sent to one citizen's phone (or address), newest first: for the citizen's
    own data tracker, after it has verified who is asking. Staff messages are not shown."""
    address = _address(channel, address)
    rows = session.scalars(
        select(Notification)
        .where(
            Notification.channel == channel,
            Notification.recipient == address,
            Notification.audience == "citizen",
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return [MessageView.of(n) for n in rows]


def counts_by_status(*, session: Session) -> dict[str, int]:
    """Every status with its count (zero included), in the order of the statuses."""
    found = dict(
        session.execute(
            select(Notification.status, func.count(Notification.id)).group_by(Notification.status)
        ).all()
    )
    return {s.value: int(found.get(s.value, 0)) for s in NotificationStatus}


def gateways() -> dict[str, bool]:
    """Whether each channel's gateway is the simulated one (nothing leaves the machine)."""
    return {c.value: is_simulated(c.value) for c in ChannelName}


def retry(*, session: Session, notification_id: int, actor: User) -> MessageView:
    """An administrator puts a dead-lettered message back in the queue."""
    n = dispatch.retry_dead(session=session, notification_id=notification_id, by=actor.username)
    session.flush()
    return MessageView.of(n)


# --- staff contacts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    user_id: int
    phone: str | None
    email: str | None


def get_contact(*, session: Session, user_id: int) -> Contact:
    if session.get(User, user_id) is None:
        raise NotFound("未找到该用户", code="unknown_user")
    row = session.get(StaffContact, user_id)
    return Contact(user_id, row.phone if row else None, row.email if row else None)


def set_contact(*, session: Session, user_id: int, phone: str | None, email: str | None) -> Contact:
    """Where a staff member is told of work for them; an empty value clears it."""
    if session.get(User, user_id) is None:
        raise NotFound("未找到该用户", code="unknown_user")
    clean_phone = outbox.normalise_phone(phone) if phone and phone.strip() else None
    clean_email = email.strip().lower() if email and email.strip() else None
    if clean_phone and not outbox.valid_address(ChannelName.SMS, clean_phone):
        raise BadRequest("手机号格式不正确", code="bad_phone")
    if clean_email and not outbox.valid_address(ChannelName.EMAIL, clean_email):
        raise BadRequest("邮箱地址格式不正确", code="bad_email")
    row = session.get(StaffContact, user_id)
    if row is None:
        row = StaffContact(user_id=user_id)
        session.add(row)
    row.phone, row.email = clean_phone, clean_email
    session.flush()
    return Contact(user_id, clean_phone, clean_email)


def find_user(*, session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"未找到用户：{username}", code="unknown_user")
    return user


# --- a citizen's own choice ----------------------------------------------------------------


def _address(channel: str, address: str) -> str:
    if channel not in set(ChannelName):
        raise BadRequest(f"未知的通知渠道：{channel}", code="unknown_channel")
    clean = outbox.normalise_phone(address) if channel == ChannelName.SMS else address
    clean = clean.strip().lower()
    if not outbox.valid_address(channel, clean):
        raise BadRequest("手机号或邮箱地址格式不正确", code="bad_recipient")
    return clean


def opt_out_state(*, session: Session, channel: str, address: str) -> bool:
    """Whether this phone (or address) has opted out of the channel."""
    return outbox.opted_out(session, channel, _address(channel, address))


def set_opt_out(*, session: Session, channel: str, address: str, opted_out: bool, via: str) -> bool:
    """Opt out (``opted_out``) or back in; False when it already was so."""
    clean = _address(channel, address)
    if opted_out:
        return outbox.opt_out(session=session, channel=channel, address=clean, via=via)
    return outbox.opt_in(session=session, channel=channel, address=clean)
