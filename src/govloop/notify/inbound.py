"""Messages citizens send to the center's number. Each is taken once (by the gateway's
message id), then offered to the handlers in order: opting out (TD / 退订) here, then what
higher domains register (a matter query "查询 + 办件编号", a new hotline order)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.notify import outbox
from govloop.notify.models import ChannelName, InboundMessage
from govloop.notify.refusals import refuse

MAX_TEXT = 1000
OPT_OUT_WORDS = frozenset({"TD", "T", "退订", "N", "0000"})


@dataclass(frozen=True)
class Handled:
    handled_as: str
    result: str


# (session, the stored message) -> Handled when the handler took it, else None
InboundHandler = Callable[[Session, InboundMessage], Handled | None]
_HANDLERS: list[tuple[int, str, InboundHandler]] = []


def register(name: str, handler: InboundHandler, *, order: int) -> None:
    """Lower ``order`` is asked first; the hotline's catch-all registers last."""
    _HANDLERS[:] = [h for h in _HANDLERS if h[1] != name]
    _HANDLERS.append((order, name, handler))
    _HANDLERS.sort(key=lambda h: h[0])


def _opt_out(session: Session, msg: InboundMessage) -> Handled | None:
    if msg.text.strip().upper() not in OPT_OUT_WORDS:
        return None
    outbox.opt_out(session=session, channel=msg.channel, address=msg.sender, via="sms_reply")
    outbox.enqueue(
        session=session,
        event_key=f"inbound:{msg.id}:reply",
        template="opt_out_done",
        to=msg.sender,
        params={},
        essential=True,
    )
    return Handled("opt_out", "已退订")


register("opt_out", _opt_out, order=0)


def receive(
    *, session: Session, channel: str, gateway_ref: str, sender: str, text: str, source: str
) -> InboundMessage:
    """Store and handle one inbound message; the same gateway id again returns the first."""
    payload = {"ref": gateway_ref, "from": sender, "text": text}
    ref = (gateway_ref or "").strip()
    if not ref or len(ref) > 100 or not ref.isprintable():
        refuse(
            session, source=source, reason="no_message_id", message="缺少短信编号", payload=payload
        )
    existing = session.scalar(select(InboundMessage).where(InboundMessage.gateway_ref == ref))
    if existing is not None:
        return existing
    phone = outbox.normalise_phone(sender)
    if channel == ChannelName.SMS and not outbox.valid_address(channel, phone):
        refuse(session, source=source, reason="bad_sender", message="发送号码无效", payload=payload)
    body = re.sub(r"\s+", " ", text or "").strip()
    if not body or len(body) > MAX_TEXT or "\x00" in body:
        refuse(
            session,
            source=source,
            reason="malformed_text",
            message="短信内容为空或无法识别",
            payload=payload,
        )
    msg = InboundMessage(
        channel=channel,
        gateway_ref=ref,
        sender=phone,
        text=body,
        received_at=now(),
        handled_as="pending",
    )
    session.add(msg)
    session.flush()
    for _, _name, handler in list(_HANDLERS):
        handled = handler(session, msg)
        if handled is not None:
            msg.handled_as, msg.result = handled.handled_as, handled.result[:200]
            break
    else:
        msg.handled_as, msg.result = "unhandled", None
    session.flush()
    return msg
