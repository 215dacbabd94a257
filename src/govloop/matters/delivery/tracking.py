"""Tracking events from the courier: a push is verified, then each event is stored once (by
the courier's event id), the shipment's status follows the newest event (a delivered,
returned or cancelled shipment stays so), and a delivered or returned parcel moves its matter
(已送达; back to 待领取 with a notice). A push that fails its check or names a waybill govloop
did not send is refused and recorded, and nothing else changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.matters import notices, workflow
from govloop.matters.delivery import registry
from govloop.matters.delivery.base import BadSignature, Courier, Malformed, TrackingUpdate
from govloop.matters.models import (
    SHIPMENT_CLOSED,
    Matter,
    MatterState,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from govloop.notify.refusals import refuse

SOURCE = "courier"


@dataclass(frozen=True)
class Applied:
    stored: int  # new tracking events
    duplicates: int  # events taken before (a push sent again)
    delivered: int
    returned: int


def _refuse(
    session: Session, reason: str, message: str, payload: dict[str, Any], status: int
) -> NoReturn:
    refuse(session, source=SOURCE, reason=reason, message=message, payload=payload, status=status)


def receive_push(
    *, session: Session, code: str, headers: Mapping[str, str], body: bytes
) -> dict[str, str]:
    """One push as it arrived (the endpoint and the simulator's duty both come here);
    returns the answer the courier expects."""
    payload = {"courier": code, "bytes": len(body), "body": body[:200].decode("utf-8", "replace")}
    try:
        courier = registry.courier_for(code)
    except registry.CourierNotConfigured:
        _refuse(session, "unknown_courier", f"未配置快递：{code}", payload, 403)
    try:
        updates = courier.verify_and_parse_push(headers, body)
    except BadSignature as exc:
        _refuse(session, "bad_signature", exc.message, payload, 401)
    except Malformed as exc:
        _refuse(session, "malformed_push", exc.message, payload, 400)
    apply_updates(session=session, courier=courier, updates=updates)
    return courier.push_reply()


def apply_updates(
    *, session: Session, courier: Courier, updates: Sequence[TrackingUpdate]
) -> Applied:
    """Take the events of one push. Every waybill must be one of govloop's shipments with
    this courier (and its order id, when the push names one, must match), else the whole
    push is refused before anything is stored."""
    shipments: dict[str, Shipment] = {}
    for waybill in sorted({u.waybill_no for u in updates}):
        shipment = session.scalar(
            select(Shipment)
            .where(Shipment.courier == courier.code, Shipment.waybill_no == waybill)
            .with_for_update()
        )
        if shipment is None:
            _refuse(
                session,
                "unknown_waybill",
                f"未知运单号：{waybill}",
                {"courier": courier.code, "waybill": waybill},
                404,
            )
        shipments[waybill] = shipment
    for u in updates:
        if u.order_ref and u.order_ref != shipments[u.waybill_no].order_ref:
            _refuse(
                session,
                "unknown_waybill",
                f"运单 {u.waybill_no} 的订单号不符",
                {"courier": courier.code, "waybill": u.waybill_no, "order": u.order_ref},
                404,
            )
    stored = duplicates = delivered = returned = 0
    for waybill, shipment in shipments.items():
        known = set(
            session.scalars(
                select(TrackingEvent.external_id).where(TrackingEvent.shipment_id == shipment.id)
            )
        )
        latest = session.scalar(
            select(func.max(TrackingEvent.at)).where(TrackingEvent.shipment_id == shipment.id)
        )
        mine = sorted((u for u in updates if u.waybill_no == waybill), key=lambda u: u.at)
        for u in mine:
            if u.external_id in known:
                duplicates += 1
                continue
            known.add(u.external_id)
            session.add(
                TrackingEvent(
                    shipment_id=shipment.id,
                    external_id=u.external_id[:64],
                    status=u.status,
                    description=u.description[:300] or u.status,
                    location=u.location,
                    at=u.at,
                    received_at=now(),
                )
            )
            stored += 1
            closes = u.status in SHIPMENT_CLOSED
            newest = latest is None or u.at >= latest
            if newest:
                latest = u.at
            if shipment.status in SHIPMENT_CLOSED or not (closes or newest):
                continue
            shipment.status = u.status
            if closes:
                shipment.closed_at = u.at
                if u.status == ShipmentStatus.DELIVERED:
                    delivered += _close_delivery(session, shipment, u, returned=False)
                elif u.status == ShipmentStatus.RETURNED:
                    returned += _close_delivery(session, shipment, u, returned=True)
    session.flush()
    return Applied(stored, duplicates, delivered, returned)


def _matter(session: Session, shipment: Shipment) -> Matter | None:
    matter = session.get(Matter, shipment.matter_id)
    # the parcel closes the matter's delivery only while the matter waits for it
    return matter if matter is not None and matter.state == MatterState.POSTED else None


def _close_delivery(
    session: Session, shipment: Shipment, u: TrackingUpdate, *, returned: bool
) -> int:
    """A delivered parcel closes the matter (已送达); a returned one puts it back to 待领取 and
    tells the applicant. 1 when the matter moved."""
    matter = _matter(session, shipment)
    if matter is None:
        return 0
    workflow.transition(
        session=session,
        matter=matter,
        to=MatterState.AWAITING_PICKUP if returned else MatterState.DELIVERED,
        actor=None,
        note=u.description or None,
        detail={
            ("returned" if returned else "waybill"): shipment.waybill_no,
            "courier_event": u.external_id,
        },
    )
    if returned:
        notices.tell_applicant(
            session,
            matter,
            f"shipment:{shipment.id}:returned",
            "parcel_returned",
            hall=notices.hall_name(session, matter),
        )
    return 1
