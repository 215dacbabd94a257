"""Read models of a matter for pages and the API: the clock, the timeline a citizen sees
(like a parcel tracker), what staff see (masked where they hold no grant)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.hall.models import ServiceItem
from govloop.matters import deadlines, service
from govloop.matters.models import Matter, MatterState, Shipment, TrackingEvent
from govloop.matters.workflow import STATE_LABELS
from govloop.notify import outbox
from govloop.notify.models import Notification
from govloop.org.models import Department, Hall

# what the citizen is told about each step (department names and notes stay inside)
PUBLIC_STEPS = {
    "matter.accepted": "申请已受理",
    "matter.reviewing": "承办部门开始审查",
    "matter.correction": "需要补正材料（办理时限暂停）",
    "matter.granted": "审查通过，准予许可",
    "matter.refused": "不予许可",
    "matter.certifying": "正在制作证照/结果",
    "matter.awaiting_pickup": "结果已可领取",
    "matter.posted": "结果已寄出",
    "matter.delivered": "已签收",
    "matter.picked_up": "已领取",
    "matter.returned": "申请已退回",
    "matter.tracking": "快递",
}

CLOCK_LABELS = {
    deadlines.ClockState.NO_LIMIT: "无承诺时限",
    deadlines.ClockState.RUNNING: "办理中",
    deadlines.ClockState.WARNING: "即将到期",
    deadlines.ClockState.OVERDUE: "已超期",
    deadlines.ClockState.STOPPED: "补正中（计时暂停）",
    deadlines.ClockState.DONE_ON_TIME: "按时办结",
    deadlines.ClockState.DONE_LATE: "超期办结",
    deadlines.ClockState.WITHDRAWN: "已退回",
}


@dataclass(frozen=True)
class Step:
    at: datetime
    label: str
    detail: str | None = None


def state_label(state: str) -> str:
    return STATE_LABELS[MatterState(state)]


def clock_of(matter: Matter) -> deadlines.Clock:
    return deadlines.clock(matter, now())


def names(session: Session, matter: Matter) -> dict[str, str]:
    item = session.scalar(select(ServiceItem.name).where(ServiceItem.id == matter.item_id))
    dept = session.scalar(select(Department.name).where(Department.id == matter.department_id))
    hall = (
        session.scalar(select(Hall.name).where(Hall.id == matter.hall_id))
        if matter.hall_id
        else None
    )
    return {"item": item or "", "department": dept or "", "hall": hall or ""}


def shipments(session: Session, matter: Matter) -> list[tuple[Shipment, list[TrackingEvent]]]:
    rows = list(
        session.scalars(
            select(Shipment).where(Shipment.matter_id == matter.id).order_by(Shipment.id)
        )
    )
    out = []
    for s in rows:
        events = list(
            session.scalars(
                select(TrackingEvent)
                .where(TrackingEvent.shipment_id == s.id)
                .order_by(TrackingEvent.at, TrackingEvent.id)
            )
        )
        out.append((s, events))
    return out


def public_timeline(session: Session, matter: Matter) -> list[Step]:
    """The citizen's timeline: each public step and each courier event, oldest first."""
    steps = [
        Step(e.at, PUBLIC_STEPS[e.kind], _public_detail(e.kind, e.detail))
        for e in service.events(session=session, matter=matter)
        if e.kind in PUBLIC_STEPS
    ]
    for s, events in shipments(session, matter):
        # the courier's own words are the news; which parcel it is, and where, the detail
        steps.extend(
            Step(
                t.at,
                t.description,
                f"快递 {s.waybill_no}" + (f" · {t.location}" if t.location else ""),
            )
            for t in events
        )
    steps.sort(key=lambda st: st.at)
    return steps


def _public_detail(kind: str, detail: dict[str, Any]) -> str | None:
    if kind == "matter.correction":
        return "需补充：" + "、".join(detail.get("materials", []))
    if kind == "matter.awaiting_pickup" and detail.get("returned"):
        return "快件未能投递已退回，请到大厅领取，或联系我们重新寄送"
    if kind == "matter.posted" and detail.get("waybill"):
        return f"运单号 {detail['waybill']}"
    return None


def notifications(session: Session, matter: Matter) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.case_type == "matter", Notification.case_id == matter.id)
            .order_by(Notification.id)
        )
    )


def masked_contact(matter: Matter) -> dict[str, str]:
    return {
        "name": outbox.mask_name(matter.applicant_name),
        "phone": matter.applicant_phone[:3] + "****" + matter.applicant_phone[-4:],
        "address": outbox.mask_address(matter.delivery_address),
    }


def matter_out(session: Session, matter: Matter, *, full_contact: bool = False) -> dict[str, Any]:
    c = clock_of(matter)
    contact = (
        {
            "name": matter.applicant_name,
            "phone": matter.applicant_phone,
            "address": matter.delivery_address or "",
        }
        if full_contact
        else masked_contact(matter)
    )
    return {
        "number": matter.number,
        "state": matter.state,
        "state_label": state_label(matter.state),
        **names(session, matter),
        "source": matter.source,
        "applicant": contact,
        "materials": matter.materials,
        "delivery_method": matter.delivery_method,
        "accepted_at": matter.accepted_at.isoformat(),
        "promised_due_at": matter.promised_due_at.isoformat() if matter.promised_due_at else None,
        "statutory_due_at": matter.statutory_due_at.isoformat()
        if matter.statutory_due_at
        else None,
        "due_estimated": matter.due_estimated,
        "clock": c.state.value,
        "clock_label": CLOCK_LABELS[c.state],
        "workdays_left": c.workdays_left,
        "paused_workdays": matter.paused_workdays,
        "decided_at": matter.decided_at.isoformat() if matter.decided_at else None,
        "closed_at": matter.closed_at.isoformat() if matter.closed_at else None,
        "visits": matter.visits,
    }
