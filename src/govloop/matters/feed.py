"""The matters' event feed, as the analytics store copies it.

One row per matter event (every change of state, the delivery choice, the deadline
sweep's warnings), joined to its matter for what the indicators read: the accepting hall,
department and item, the moment of acceptance (the row's anchor day), the promised limit
as it stands (moved later by every finished 补正 pause), the decision and certificate
moments, the trips so far (跑动次数) and the delivery method. The matter's attributes are
those of export time; the facts take each from a matter's newest row, so a later export
carries the matter as it is then.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Select, select

from govloop.core.feeds import EventFeed
from govloop.matters.models import Matter, MatterEvent


def _events() -> Select[Any]:
    stmt = select(
        MatterEvent.id,
        MatterEvent.kind,
        MatterEvent.from_state,
        MatterEvent.to_state,
        MatterEvent.at,
        MatterEvent.matter_id,
        Matter.hall_id,
        Matter.department_id,
        Matter.item_id,
        Matter.accepted_at,
        Matter.promised_due_at,
        Matter.decided_at,
        Matter.certified_at,
        Matter.visits,
        Matter.delivery_method,
    ).join(Matter, Matter.id == MatterEvent.matter_id)
    return cast("Select[Any]", stmt)


EVENTS = EventFeed("matter_events", MatterEvent.id, MatterEvent.at, _events)
