"""Handing a matter's result to the courier: the checks, the waybill, the shipment row, the
matter's move to 已寄出 and the citizen's message — in the caller's transaction (nothing
here commits). The waybill is made at the courier before the row is written; the order id
``<matter number>-<n>`` makes that safe to repeat: a rolled-back attempt and the next one
get the same waybill."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.auth import Permission, has_permission
from govloop.core.clock import now
from govloop.core.errors import GovloopError, PermissionDenied, RuleViolation
from govloop.core.models import User
from govloop.hall.models import ServiceItem
from govloop.matters import notices, workflow
from govloop.matters.delivery import registry
from govloop.matters.delivery.base import (
    CARGO,
    CourierRejected,
    CourierUnavailable,
    Party,
    WaybillRequest,
)
from govloop.matters.models import (
    DeliveryMethod,
    Matter,
    MatterState,
    Shipment,
    ShipmentStatus,
)
from govloop.org.models import Department, Hall


class CourierDown(GovloopError):
    """The courier cannot be reached now: nothing was changed, try again later."""

    status_code = 503
    code = "courier_unavailable"


def _check_actor(session: Session, actor: User | None, matter: Matter) -> None:
    if actor is None:
        return
    if not (
        workflow.is_department_staff(session, actor, matter)
        or has_permission(actor, Permission.WINDOW_OPERATE)
    ):
        raise PermissionDenied("只有窗口或承办部门人员可以办理邮寄", code="not_allowed")


def _sender(session: Session, matter: Matter) -> Party:
    s = registry.courier_settings()
    hall = session.get(Hall, matter.hall_id) if matter.hall_id is not None else None
    if hall is not None:
        name, address = hall.name, hall.address or s.sender_address
    else:
        name = (
            session.scalar(select(Department.name).where(Department.id == matter.department_id))
            or "政务服务中心"
        )
        address = s.sender_address
    if not address:
        raise RuleViolation(
            "寄件地址未配置：请为服务大厅填写地址，或设置 GOVLOOP_COURIER_SENDER_ADDRESS",
            code="no_sender_address",
        )
    return Party(name=name, phone=s.sender_phone, address=address, company=name)


def _lock(session: Session, matter: Matter) -> None:
    """One clerk at a time posts a matter (PostgreSQL row lock; SQLite writers take turns)."""
    session.execute(select(Matter.id).where(Matter.id == matter.id).with_for_update())
    session.refresh(matter)


def ship(*, session: Session, matter: Matter, actor: User | None) -> Shipment:
    """Post the matter's result (certificate, licence or written decision) to the address on
    record. Refused when the item may not be posted, the matter is not ready to post, or no
    address is on record; nothing changes then."""
    _check_actor(session, actor, matter)
    _lock(session, matter)
    item = session.get(ServiceItem, matter.item_id)
    if item is None or not item.by_post:
        raise RuleViolation(
            "该事项的结果不支持邮寄送达，请通知申请人到窗口领取", code="item_not_postable"
        )
    if not workflow.may_post(matter):
        label = workflow.STATE_LABELS.get(MatterState(matter.state), matter.state)
        raise RuleViolation(
            f"办件当前为“{label}”，不能寄出（须为制证中、待领取或已作出不予许可决定）",
            code="not_postable_state",
            state=matter.state,
        )
    address = (matter.delivery_address or "").strip()
    if not address:
        raise RuleViolation("办件未登记收件地址，不能寄出", code="no_address")
    recipient = Party(
        name=(matter.delivery_name or matter.applicant_name).strip(),
        phone=(matter.delivery_phone or matter.applicant_phone).strip(),
        address=address,
    )
    sender = _sender(session, matter)
    try:
        courier = registry.current()
    except registry.CourierNotConfigured as exc:
        raise RuleViolation(str(exc), code="courier_not_configured") from None
    n = (
        session.scalar(select(func.count(Shipment.id)).where(Shipment.matter_id == matter.id)) or 0
    ) + 1
    order_ref = f"{matter.number}-{n}"
    request = WaybillRequest(
        order_ref=order_ref,
        customer_ref=matter.number,
        sender=sender,
        recipient=recipient,
        cargo=CARGO,
    )
    try:
        result = courier.create_waybill(request)
    except CourierRejected as exc:
        raise RuleViolation(exc.message, code="courier_refused") from None
    except CourierUnavailable as exc:
        raise CourierDown(f"{exc.message}，请稍后重试", code="courier_unavailable") from None
    shipment = Shipment(
        matter_id=matter.id,
        courier=courier.code,
        waybill_no=result.waybill_no,
        order_ref=order_ref,
        status=ShipmentStatus.CREATED,
        recipient_name=recipient.name,
        recipient_phone=recipient.phone,
        address=recipient.address,
        created_at=now(),
        created_by=actor.id if actor else None,
    )
    session.add(shipment)
    session.flush()
    matter.delivery_method = DeliveryMethod.POST
    workflow.transition(
        session=session,
        matter=matter,
        to=MatterState.POSTED,
        actor=actor,
        note=f"{courier.name} 运单号 {result.waybill_no}",
        detail={"waybill": result.waybill_no, "courier": courier.code, "shipment_id": shipment.id},
    )
    notices.tell_applicant(
        session,
        matter,
        f"shipment:{shipment.id}:sent",
        "waybill_sent",
        courier=courier.name,
        waybill=result.waybill_no,
    )
    return shipment


def cancel(*, session: Session, shipment: Shipment, actor: User | None) -> Shipment:
    """Cancel a waybill the courier has not collected yet; the result is back 待领取 (and may
    be posted again)."""
    matter = session.get(Matter, shipment.matter_id)
    if matter is None:
        raise RuleViolation("运单没有对应的办件", code="no_matter")
    _check_actor(session, actor, matter)
    _lock(session, matter)
    session.refresh(shipment)
    if shipment.status != ShipmentStatus.CREATED:
        raise RuleViolation("快递员已揽收或运单已结束，不能取消", code="already_picked_up")
    try:
        courier = registry.courier_for(shipment.courier)
    except registry.CourierNotConfigured as exc:
        raise RuleViolation(str(exc), code="courier_not_configured") from None
    try:
        courier.cancel(shipment.waybill_no, order_ref=shipment.order_ref)
    except CourierRejected as exc:
        raise RuleViolation(exc.message, code="already_picked_up") from None
    except CourierUnavailable as exc:
        raise CourierDown(f"{exc.message}，请稍后重试", code="courier_unavailable") from None
    shipment.status = ShipmentStatus.CANCELLED
    shipment.closed_at = now()
    if matter.state == MatterState.POSTED:
        workflow.transition(
            session=session,
            matter=matter,
            to=MatterState.AWAITING_PICKUP,
            actor=actor,
            note=f"运单 {shipment.waybill_no} 已取消",
            detail={"cancelled": shipment.waybill_no},
        )
    session.flush()
    return shipment
