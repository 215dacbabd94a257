"""The world the page sweep visits: the demo builders' realistic data (a fortnight of hall
history, a week of 12345 orders, the data platform, purpose-bound access and the field
workbench) plus a little of today (tickets waiting, windows calling)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from govloop.hall import windows as hall_windows

SEED = 2026
HALL_DAYS = 16  # two working weeks: the forecast and staffing pages need ten open days
HOTLINE_DAYS = 7


@dataclass
class Citizen:
    ticket: str  # public id of a ticket waiting today
    finished: str  # public id of a finished, unrated visit
    order: tuple[str, str]  # hotline order number and phone, answered and not rated
    person: tuple[str, str, str]  # id number, name, phone with entries in /my-data
    # a matter (办件) number and its applicant's phone, a parcel's when one was posted;
    # None when the demo made no matters
    matter: tuple[str, str] | None = None


def seed(url: str) -> Citizen:
    from govloop.core.clock import now
    from govloop.core.db import make_engine
    from govloop.core.migrate import upgrade
    from govloop.demo.hall import seed as hall_demo
    from govloop.demo.hotline import seed as hotline_demo
    from govloop.demo.platform import STEPS
    from govloop.hall import service
    from govloop.hall.models import Ticket, TicketStatus
    from govloop.hotline.models import DONE_STATUSES, WorkOrder
    from govloop.matters.models import Matter, Shipment
    from govloop.ratings.models import Rating

    engine = make_engine(url)
    upgrade(engine)
    make_session = sessionmaker(engine, expire_on_commit=False)

    def unit(work: Callable[[Session], Any]) -> Any:
        with make_session() as s, s.begin():
            return work(s)

    def history(s: Session) -> int:
        world = hall_demo.seed_catalogue(session=s)
        hall_demo.generate_history(session=s, world=world, days=HALL_DAYS, seed=SEED)
        return world.hall.id

    hall_id = unit(history)
    unit(lambda s: hotline_demo.build(session=s, now=now(), seed=SEED, days=HOTLINE_DAYS))
    person = None
    for _label, step in STEPS:
        line = unit(lambda s, step=step: step(s, SEED, hall_id))
        # the access step names a citizen to try /my-data with: name, id number, phone
        person = person or re.search(r"([^\s：:]+) (\d{17}[\dX]) (1\d{10})", line)
    assert person, "the access demo names no citizen for /my-data"

    def today(s: Session) -> str:
        """Citizens waiting, three windows calling (window 2 is the signed-in staff's)."""
        world = hall_demo.load_world(session=s)
        assert world is not None
        waiting = [
            service.issue_ticket(session=s, hall=world.hall, item=world.items[code])
            for code in ("GA01", "RS01", "YB01", "GA01", "SJ01", "RS01", "GA01")
        ]
        for number in (1, 2, 3):
            staff = world.staff(number)
            hall_windows.sign_in(session=s, hall=world.hall, window_number=number, actor=staff)
            hall_windows.call_next(session=s, hall=world.hall, window_number=number, actor=staff)
        return waiting[-1].public_id

    waiting = unit(today)

    def decide(s: Session) -> None:
        """The closed loop: anomalies found in the history, one decided on and started."""
        from datetime import timedelta

        from govloop.actions import service as actions
        from govloop.actions.schemas import ActionIn, ScopeIn
        from govloop.insight import watch

        world = hall_demo.load_world(session=s)
        assert world is not None
        watch.scan(session=s, hall_code=world.hall.code)
        data = ActionIn(
            title="周一上午加开综合窗口",
            kind="open_windows",
            decision="周一 9:00–11:00 由 3 号综合窗口专办社保业务",
            owner_id=world.manager.id,
            starts_on=now().date(),
            due_date=now().date() + timedelta(days=14),
            scope=ScopeIn(items=["RS01"]),
            indicators=["wait_mean"],
        )
        action = actions.create_action(session=s, hall=world.hall, data=data, actor=world.manager)
        actions.start_action(session=s, action=action, actor=world.manager)

    unit(decide)

    def finds(s: Session) -> tuple[str, tuple[str, str], tuple[str, str] | None]:
        rated = select(Rating.ticket_id).where(Rating.ticket_id.is_not(None))
        finished = s.scalars(
            select(Ticket.public_id)
            .where(Ticket.status == TicketStatus.FINISHED, Ticket.id.not_in(rated))
            .order_by(Ticket.id.desc())
            .limit(1)
        ).one()
        order = s.execute(
            select(WorkOrder.number, WorkOrder.caller_phone)
            .where(
                WorkOrder.status.in_(list(DONE_STATUSES)),
                WorkOrder.rating_id.is_(None),
                WorkOrder.caller_phone.is_not(None),
            )
            .order_by(WorkOrder.id.desc())
            .limit(1)
        ).one()
        posted = select(Shipment.matter_id)
        matter = s.execute(
            select(Matter.number, Matter.applicant_phone)
            .order_by(Matter.id.in_(posted).desc(), Matter.id.desc())
            .limit(1)
        ).first()
        return finished, (order[0], order[1]), (matter[0], matter[1]) if matter else None

    finished, order, matter = unit(finds)
    engine.dispose()
    return Citizen(
        ticket=waiting,
        finished=finished,
        order=order,
        person=(person.group(2), person.group(1), person.group(3)),
        matter=matter,
    )
