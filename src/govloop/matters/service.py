"""Opening matters (at a window, online, from a department's approval system), the
applicant's delivery choice, and the lookups the pages and the API share."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from govloop.access import cases as access_cases
from govloop.access.models import CaseType
from govloop.core.clock import now
from govloop.core.errors import BadRequest, NotFound, RuleViolation
from govloop.core.models import User
from govloop.hall import service as hall_service
from govloop.hall import windows as hall_windows
from govloop.hall.models import Outcome, ServiceItem, Ticket
from govloop.matters import deadlines, notices, workflow
from govloop.matters.models import (
    CLOSED_STATES,
    DeliveryMethod,
    Matter,
    MatterEvent,
    MatterSource,
    MatterState,
)
from govloop.notify import outbox
from govloop.org.models import Hall

MAX_MATERIALS = 40


@dataclass
class Applicant:
    name: str
    phone: str
    materials: list[str] = field(default_factory=list)
    delivery_method: str = DeliveryMethod.PICKUP
    delivery_name: str | None = None
    delivery_phone: str | None = None
    delivery_address: str | None = None


def _clean_applicant(item: ServiceItem, a: Applicant) -> Applicant:
    name = (a.name or "").strip()
    if not name or len(name) > 100:
        raise BadRequest("请填写申请人姓名", code="no_applicant")
    phone = outbox.normalise_phone(a.phone)
    if not outbox.valid_address("sms", phone):
        raise BadRequest("请填写申请人的 11 位手机号（用于查询进度和接收通知）", code="bad_phone")
    materials = [m.strip()[:100] for m in a.materials if m and m.strip()][:MAX_MATERIALS]
    method = _delivery_method(a.delivery_method)
    cleaned = Applicant(name, phone, materials, method)
    if method == DeliveryMethod.POST:
        _set_post(
            cleaned, item, a.delivery_name or name, a.delivery_phone or phone, a.delivery_address
        )
    return cleaned


def _delivery_method(value: str | None) -> str:
    try:
        return DeliveryMethod(value or DeliveryMethod.PICKUP)
    except ValueError:
        raise BadRequest("领取方式只能是窗口领取或邮寄", code="bad_delivery_method") from None


def _set_post(
    target: Applicant | Matter,
    item: ServiceItem,
    name: str | None,
    phone: str | None,
    address: str | None,
) -> None:
    if not item.by_post:
        raise RuleViolation(f"“{item.name}”的结果不能邮寄，请到窗口领取", code="item_not_postable")
    address = (address or "").strip()
    if len(address) < 6 or len(address) > 300:
        raise BadRequest("请填写完整的邮寄地址（省市区、街道、门牌）", code="bad_address")
    phone = outbox.normalise_phone(phone or "")
    if not outbox.valid_address("sms", phone):
        raise BadRequest("请填写收件人的 11 位手机号", code="bad_phone")
    target.delivery_method = DeliveryMethod.POST
    target.delivery_name = (name or "").strip()[:100] or None
    target.delivery_phone = phone
    target.delivery_address = address


def open_matter(
    *,
    session: Session,
    item: ServiceItem,
    applicant: Applicant,
    source: str,
    actor: User | None,
    hall: Hall | None = None,
    ticket: Ticket | None = None,
    external_ref: str | None = None,
    accepted_at: datetime | None = None,
) -> Matter:
    if not item.active:
        raise RuleViolation(f"事项“{item.name}”已停办", code="item_inactive")
    a = _clean_applicant(item, applicant)
    moment = accepted_at or now()
    matter = Matter(
        number=f"tmp-{uuid.uuid4().hex[:24]}",  # replaced once the id is known
        item_id=item.id,
        department_id=item.department_id,
        hall_id=hall.id if hall else None,
        ticket_id=ticket.id if ticket else None,
        source=MatterSource(source),
        external_ref=external_ref,
        applicant_name=a.name,
        applicant_phone=a.phone,
        materials=a.materials,
        state=MatterState.ACCEPTED,
        delivery_method=a.delivery_method,
        delivery_name=a.delivery_name,
        delivery_phone=a.delivery_phone,
        delivery_address=a.delivery_address,
        accepted_at=moment,
        accepted_by=actor.id if actor else None,
        promised_days=item.promised_days,
        statutory_days=item.statutory_days,
        paused_workdays=0,
        visits=1 if source == MatterSource.WINDOW else 0,
    )
    deadlines.recompute(matter)
    session.add(matter)
    session.flush()
    # 办件编号: the acceptance day and the row id, unique without a counter to contend on
    matter.number = f"{deadlines.local_day(moment):%Y%m%d}{matter.id:07d}"
    workflow.record_event(
        session,
        matter,
        "matter.accepted",
        actor=actor,
        to_state=MatterState.ACCEPTED,
        detail={
            "source": source,
            "materials": a.materials,
            "ticket": ticket.code if ticket else None,
        },
    )
    session.flush()
    notices.on_accepted(session=session, matter=matter)
    return matter


def accept_at_window(
    *, session: Session, hall: Hall, window_number: int, actor: User, applicant: Applicant
) -> Matter:
    """受理 at a window: the ticket finishes as accepted and its matter opens, together."""
    ticket = hall_windows.finish_service(
        session=session,
        hall=hall,
        window_number=window_number,
        actor=actor,
        outcome=Outcome.ACCEPTED,
        opening_matter=True,
    )
    item = session.get(ServiceItem, ticket.item_id)
    assert item is not None
    matter = open_matter(
        session=session,
        item=item,
        applicant=applicant,
        source=MatterSource.WINDOW,
        actor=actor,
        hall=hall,
        ticket=ticket,
    )
    # the applicant identified at the window is the matter's subject too: the department's
    # grant on the matter covers the same person
    for master_id in access_cases.subjects_of(
        session=session, case_type=CaseType.TICKET, case_id=ticket.id
    ):
        access_cases.attach_subject(
            session=session, case_type=CaseType.MATTER, case_id=matter.id, master_id=master_id
        )
    return matter


def current_ticket_item(*, session: Session, hall: Hall, window_number: int) -> ServiceItem:
    """The item of the ticket being served at a window (the acceptance form's materials)."""
    window = hall_service.get_window(session=session, hall=hall, number=window_number)
    ticket = session.scalar(
        select(Ticket).where(Ticket.window_id == window.id, Ticket.status == "serving")
    )
    if ticket is None:
        raise RuleViolation("窗口当前没有正在办理的号", code="not_serving")
    item = session.get(ServiceItem, ticket.item_id)
    assert item is not None
    return item


def choose_delivery(
    *,
    session: Session,
    matter: Matter,
    method: str,
    actor: User | None,
    name: str | None = None,
    phone: str | None = None,
    address: str | None = None,
) -> Matter:
    """Pickup or post, until the result has left (posted) or the matter is closed."""
    if matter.state in CLOSED_STATES or matter.state == MatterState.POSTED:
        raise RuleViolation("结果已寄出或办件已办结，不能再更改领取方式", code="delivery_fixed")
    item = session.get(ServiceItem, matter.item_id)
    assert item is not None
    chosen = _delivery_method(method)
    if chosen == DeliveryMethod.POST:
        _set_post(
            matter, item, name or matter.applicant_name, phone or matter.applicant_phone, address
        )
    else:
        matter.delivery_method = DeliveryMethod.PICKUP
        matter.delivery_name = matter.delivery_phone = matter.delivery_address = None
    workflow.record_event(
        session, matter, "matter.delivery_chosen", actor=actor, detail={"method": chosen}
    )
    return matter


# --- reads -----------------------------------------------------------------------------


def get_matter(*, session: Session, number: str, lock: bool = False) -> Matter:
    stmt = select(Matter).where(Matter.number == (number or "").strip())
    if lock:
        stmt = stmt.with_for_update()
    matter = session.scalar(stmt)
    if matter is None:
        raise NotFound("未找到该办件", code="unknown_matter")
    return matter


def find_for_citizen(*, session: Session, number: str, phone: str) -> Matter:
    """The matter, only for the phone it was registered with; the same answer whichever
    half was wrong."""
    matter = session.scalar(select(Matter).where(Matter.number == (number or "").strip()))
    if matter is None or matter.applicant_phone != outbox.normalise_phone(phone):
        raise NotFound("办件编号与手机号不匹配，请核对后重试", code="no_match")
    return matter


def events(*, session: Session, matter: Matter) -> list[MatterEvent]:
    return list(
        session.scalars(
            select(MatterEvent)
            .where(MatterEvent.matter_id == matter.id)
            .order_by(MatterEvent.at, MatterEvent.id)
        )
    )


def workbench(
    *, session: Session, department_id: int | None, state: str | None = None, limit: int = 200
) -> list[Matter]:
    """A department's open matters, overdue first, then by due moment (None: every
    department, for the administrator)."""
    stmt = select(Matter).where(Matter.state.not_in(list(CLOSED_STATES)))
    if department_id is not None:
        stmt = stmt.where(Matter.department_id == department_id)
    if state:
        stmt = stmt.where(Matter.state == state)
    moment = now()
    overdue_first = case(
        (
            (Matter.promised_due_at < moment)
            & (Matter.state != MatterState.CORRECTION)
            & Matter.decided_at.is_(None),
            0,
        ),
        else_=1,
    )
    stmt = stmt.order_by(
        overdue_first, Matter.promised_due_at.is_(None), Matter.promised_due_at, Matter.id
    ).limit(limit)
    return list(session.scalars(stmt))


def counts_by_state(*, session: Session, department_id: int | None) -> dict[str, int]:
    stmt = select(Matter.state, func.count()).group_by(Matter.state)
    if department_id is not None:
        stmt = stmt.where(Matter.department_id == department_id)
    return {s: n for s, n in session.execute(stmt).all()}


def search(*, session: Session, query: str, department_id: int | None) -> list[Matter]:
    q = (query or "").strip()
    if not q:
        return []
    stmt = select(Matter).where(
        or_(Matter.number == q, Matter.applicant_phone == outbox.normalise_phone(q))
    )
    if department_id is not None:
        stmt = stmt.where(Matter.department_id == department_id)
    return list(session.scalars(stmt.order_by(Matter.id.desc()).limit(50)))
