""" "查询 + 办件编号" by SMS: the applicant texts the center and gets the matter's state back,
only when texting from the phone the matter was registered with."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import local_tz
from govloop.hall.models import ServiceItem
from govloop.matters.models import Matter, MatterState
from govloop.matters.workflow import STATE_LABELS
from govloop.notify import inbound, outbox
from govloop.notify.models import InboundMessage

QUERY = re.compile(r"^\s*(?:查询|查|CX)\s*[:：+＋]?\s*(\S*)\s*$", re.IGNORECASE)


def _reply(session: Session, msg: InboundMessage, template: str, **params: object) -> None:
    outbox.enqueue(
        session=session,
        event_key=f"inbound:{msg.id}:reply",
        template=template,
        to=msg.sender,
        params=params,
        essential=True,
    )


def handle(session: Session, msg: InboundMessage) -> inbound.Handled | None:
    found = QUERY.match(msg.text)
    if found is None:
        return None
    number = found.group(1)
    matter = session.scalar(select(Matter).where(Matter.number == number)) if number else None
    if matter is None or matter.applicant_phone != msg.sender:
        _reply(session, msg, "query_unknown")
        return inbound.Handled("query", "no_match")
    item = session.scalar(select(ServiceItem.name).where(ServiceItem.id == matter.item_id))
    due_text = ""
    if matter.promised_due_at and matter.state in (MatterState.ACCEPTED, MatterState.REVIEWING):
        due_text = f"，承诺{matter.promised_due_at.astimezone(local_tz()):%m月%d日}前办结"
    _reply(
        session,
        msg,
        "query_reply",
        number=matter.number,
        item=item or "",
        state=STATE_LABELS[MatterState(matter.state)],
        due_text=due_text,
    )
    return inbound.Handled("query", matter.number)


inbound.register("matter_query", handle, order=10)
