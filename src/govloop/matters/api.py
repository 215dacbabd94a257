"""The matters JSON API: 受理 at a window, the department's workbench and its steps, the
delivery choice, and the citizen's progress look-up (number + phone, rate-limited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from govloop.core import ratelimit
from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, public, require
from govloop.core.errors import NotFound
from govloop.core.idempotency import Idempotency, idempotency
from govloop.core.models import User
from govloop.matters import actions, service, views, workflow
from govloop.matters.delivery import shipping
from govloop.matters.schemas import MatterAcceptIn, MatterDeliveryIn, MatterStepIn
from govloop.org import service as org_service
from govloop.org.service import department_of

router = APIRouter(prefix="/api/v1", tags=["matters"], dependencies=[Depends(csrf_protect)])
handler = require(Permission.MATTER_HANDLE)
operator = require(Permission.WINDOW_OPERATE)
track_limit = ratelimit.for_client(ratelimit.MATTER_TRACK)


def _scope(session: Session, user: User) -> int | None:
    """The department whose matters a handler sees (None: the administrator, all)."""
    if user.role == "admin":
        return None
    dept = department_of(session, user)
    return dept if dept is not None else -1


def _own_matter(session: Session, user: User, number: str, lock: bool = False) -> Any:
    matter = service.get_matter(session=session, number=number, lock=lock)
    if not workflow.is_department_staff(session, user, matter):
        # the same answer as an unknown number: nothing about other departments' matters
        raise NotFound("未找到该办件", code="unknown_matter")
    return matter


@router.post("/halls/{hall_code}/windows/{number}/accept", status_code=201)
def accept(
    hall_code: str,
    number: int,
    body: MatterAcceptIn,
    user: User = Depends(operator),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """受理: finish the window's ticket as accepted and open its matter, in one transaction."""
    idem.claim(session)
    matter = service.accept_at_window(
        session=session,
        hall=org_service.get_hall(session=session, code=hall_code),
        window_number=number,
        actor=user,
        applicant=service.Applicant(
            name=body.applicant_name,
            phone=body.applicant_phone,
            materials=body.materials,
            delivery_method=body.delivery_method,
            delivery_name=body.delivery_name,
            delivery_phone=body.delivery_phone,
            delivery_address=body.delivery_address,
        ),
    )
    return idem.remember(session, views.matter_out(session, matter))


@router.get("/matters")
def workbench(
    state: str | None = Query(default=None, max_length=24),
    user: User = Depends(handler),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    rows = service.workbench(session=session, department_id=_scope(session, user), state=state)
    return {"matters": [views.matter_out(session, m) for m in rows]}


@router.get("/matters/{number}")
def detail(
    number: str,
    user: User = Depends(handler),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    matter = _own_matter(session, user, number)
    out = views.matter_out(session, matter)
    out["events"] = [
        {
            "kind": e.kind,
            "from": e.from_state,
            "to": e.to_state,
            "at": e.at.isoformat(),
            "actor_id": e.actor_id,
            "note": e.note,
            "detail": e.detail,
        }
        for e in service.events(session=session, matter=matter)
    ]
    out["notifications"] = [
        {
            "template": n.template,
            "status": n.status,
            "created_at": n.created_at.isoformat(),
            "delivered_at": n.delivered_at.isoformat() if n.delivered_at else None,
        }
        for n in views.notifications(session, matter)
    ]
    out["shipments"] = [
        {
            "courier": s.courier,
            "waybill": s.waybill_no,
            "status": s.status,
            "tracking": [
                {"status": t.status, "description": t.description, "at": t.at.isoformat()}
                for t in events
            ],
        }
        for s, events in views.shipments(session, matter)
    ]
    return out


@router.post("/matters/{number}/actions/{action}")
def act(
    number: str,
    action: str,
    body: MatterStepIn | None = None,
    user: User = Depends(handler),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    idem.claim(session)
    b = body or MatterStepIn()
    matter = _own_matter(session, user, number, lock=True)
    actions.run(
        session=session,
        matter=matter,
        actor=user,
        action=action,
        note=b.note,
        materials=b.materials,
        in_person=b.in_person,
    )
    return idem.remember(session, views.matter_out(session, matter))


@router.post("/matters/{number}/ship", status_code=201)
def ship(
    number: str,
    user: User = Depends(handler),
    idem: Idempotency = Depends(idempotency),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """Hand the result to the courier (the matter's applicant chose post)."""
    idem.claim(session)
    matter = _own_matter(session, user, number, lock=True)
    shipment = shipping.ship(session=session, matter=matter, actor=user)
    out = views.matter_out(session, matter)
    out["shipment"] = {"courier": shipment.courier, "waybill": shipment.waybill_no}
    return idem.remember(session, out)


@router.post("/matters/{number}/delivery")
def delivery(
    number: str,
    body: MatterDeliveryIn,
    user: User = Depends(handler),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    matter = _own_matter(session, user, number, lock=True)
    service.choose_delivery(
        session=session,
        matter=matter,
        method=body.method,
        actor=user,
        name=body.name,
        phone=body.phone,
        address=body.address,
    )
    return views.matter_out(session, matter)


@router.get("/public/matters/{number}", dependencies=[Depends(public)])
def progress(
    number: str,
    phone: str = Query(max_length=20),
    limit: ratelimit.ClientLimit = Depends(track_limit),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """The citizen's view: state, due date and timeline; nothing about staff."""
    limit.check()
    try:
        matter = service.find_for_citizen(session=session, number=number, phone=phone)
    except NotFound:
        limit.failed()
        raise
    c = views.clock_of(matter)
    return {
        "number": matter.number,
        "item": views.names(session, matter)["item"],
        "state": matter.state,
        "state_label": views.state_label(matter.state),
        "promised_due_at": matter.promised_due_at.isoformat() if matter.promised_due_at else None,
        "clock_label": views.CLOCK_LABELS[c.state],
        "delivery_method": matter.delivery_method,
        "timeline": [
            {"at": s.at.isoformat(), "label": s.label, "detail": s.detail}
            for s in views.public_timeline(session, matter)
        ],
    }
