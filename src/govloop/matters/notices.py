"""What the applicant is told when their matter changes: one outbox message per event,
written in the transaction of the change (the notify sender does the rest)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import local_tz, now
from govloop.core.errors import BadRequest
from govloop.core.settings import get_settings
from govloop.hall.models import ServiceItem
from govloop.matters.models import Matter, MatterEvent, MatterState
from govloop.notify import outbox
from govloop.org.models import Hall

S = MatterState
BACKFILL_AGE = timedelta(days=3)
# states the applicant hears about in words (matter_state); the others have their own
# templates or are internal steps (审查, 制证)
_STATE_WORDS = {
    S.GRANTED: "已准予许可，正在制作结果",
    S.REFUSED: "不予许可，决定书将送达您",
    S.RETURNED: "申请已退回，详情请查询进度",
    S.DELIVERED: "结果已送达",
    S.PICKED_UP: "结果已领取",
}


def _item_name(session: Session, matter: Matter) -> str:
    return session.scalar(select(ServiceItem.name).where(ServiceItem.id == matter.item_id)) or ""


def hall_name(session: Session, matter: Matter) -> str:
    if matter.hall_id is None:
        return "政务服务中心"
    return session.scalar(select(Hall.name).where(Hall.id == matter.hall_id)) or "政务服务中心"


def tell_applicant(
    session: Session, matter: Matter, key: str, template: str, **params: object
) -> None:
    """One message to the matter's applicant under ``key``; a number that cannot take a text
    (a landline) leaves the matter going without one."""
    try:
        outbox.enqueue(
            session=session,
            event_key=key,
            template=template,
            to=matter.applicant_phone,
            params={"number": matter.number, **params},
            case=outbox.CaseRef("matter", matter.id),
        )
    except BadRequest:
        # a landline or a number we cannot text: the matter goes on, the page says why
        # no message was sent (no row in the outbox)
        return


def on_accepted(*, session: Session, matter: Matter) -> None:
    due = (
        matter.promised_due_at.astimezone(local_tz()).date().isoformat()
        if matter.promised_due_at
        else "法定时限内"
    )
    tell_applicant(
        session,
        matter,
        f"matter:{matter.id}:accepted",
        "matter_accepted",
        item=_item_name(session, matter),
        due=due,
    )


def on_transition(*, session: Session, matter: Matter, event: MatterEvent) -> None:
    # a step the approval system skipped and govloop walked through, or history reported
    # days late, is not news to the applicant: no message for it
    if event.detail.get("implied") or now() - event.at > BACKFILL_AGE:
        return
    to = event.to_state
    key = f"matter:{matter.id}:event:{event.id}"
    if to == S.CORRECTION:
        wanted = "、".join(event.detail.get("materials", [])) or "见办件说明"
        tell_applicant(session, matter, key, "matter_correction", materials=wanted)
    elif to == S.AWAITING_PICKUP and event.from_state != S.POSTED:
        tell_applicant(
            session,
            matter,
            key,
            "matter_ready",
            item=_item_name(session, matter),
            hall=hall_name(session, matter),
        )
    elif to in _STATE_WORDS:
        tell_applicant(
            session,
            matter,
            key,
            "matter_state",
            item=_item_name(session, matter),
            state=_STATE_WORDS[S(to)],
        )
    if to in (S.DELIVERED, S.PICKED_UP):
        link = f"{get_settings().public_base_url}/matters/track?number={matter.number}"
        tell_applicant(
            session,
            matter,
            f"matter:{matter.id}:rating",
            "rating_invitation",
            hall=hall_name(session, matter),
            item=_item_name(session, matter),
            link=link,
        )
