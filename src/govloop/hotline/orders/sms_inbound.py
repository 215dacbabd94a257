"""A text to the center's number opens a work order (channel ``sms``) and is answered with
its number. This is the catch-all of ``notify.inbound``: opting out (TD) and the matter query
("查询 + 办件编号") are asked first; whatever they leave becomes an order.

A message redelivered by the gateway is stored once by ``notify.inbound``; the order also
carries the gateway's message id as its external reference, so one message never gives two
orders.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.access.models import CaseType
from govloop.core.errors import GovloopError
from govloop.hotline.models import Channel, WorkOrder
from govloop.hotline.orders.intake import CONTENT_MAX, OrderInput, create_order
from govloop.notify import inbound, outbox
from govloop.notify.models import ChannelName, InboundMessage

HANDLER = "hotline_order"
ORDER = 100  # after everything else: the catch-all
TITLE_CHARS = 30


def _reply(session: Session, msg: InboundMessage, order: WorkOrder) -> None:
    outbox.enqueue(
        session=session,
        event_key=f"inbound:{msg.id}:reply",
        template="sms_received",
        to=msg.sender,
        params={"number": order.number},
        case=outbox.CaseRef(CaseType.WORK_ORDER, order.id),
        # the answer to the citizen's own message: sent even over the caps
        essential=True,
    )


def open_order(session: Session, msg: InboundMessage) -> inbound.Handled | None:
    """The message becomes an order in the center's intake queue (受理, not dispatched)."""
    if msg.channel != ChannelName.SMS:
        return None
    known = session.scalar(
        select(WorkOrder).where(
            WorkOrder.channel == Channel.SMS, WorkOrder.external_ref == msg.gateway_ref
        )
    )
    if known is None:
        try:
            known = create_order(
                session=session,
                data=OrderInput(
                    channel=Channel.SMS,
                    content=msg.text[:CONTENT_MAX],
                    title=msg.text[:TITLE_CHARS],
                    caller_phone=msg.sender,
                    external_ref=msg.gateway_ref,
                    created_at=msg.received_at,
                ),
                actor=None,
            )
        except GovloopError:
            return None  # left to the next handler, or stored as unhandled
    _reply(session, msg, known)
    return inbound.Handled("work_order", known.number)


inbound.register(HANDLER, open_order, order=ORDER)
