"""The demo's matters (办件) on SQLite and PostgreSQL: built through the real workflow over a
short hall history, they are in every state, posted ones carry the courier's tracking, a
returned parcel is back in 待领取, messages are in every status, and the figures are not
uniform (most on time, not all; pickup and post; one phone for several matters)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.models import User
from govloop.demo import matter_items
from govloop.demo import matters as demo
from govloop.demo.hall import seed as hall_demo
from govloop.hall.models import ServiceItem
from govloop.matters import deadlines
from govloop.matters.delivery import registry, simulator
from govloop.matters.models import (
    DeliveryMethod,
    Matter,
    MatterEvent,
    MatterSource,
    MatterState,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from govloop.notify.models import (
    InboundMessage,
    Notification,
    NotificationEvent,
    NotificationStatus,
    OptOut,
    StaffContact,
)

# Tuesday 2026-11-24, 08:30 in Shanghai: the working morning has not started yet
NOW = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
SEED = 11


@pytest.fixture
def built(db):
    sim = simulator.SimulatedSf(partner_id=registry.SIMULATOR_PARTNER, check_word="demo-test")
    registry.install(registry.simulator_courier(sim), sim)
    try:
        with frozen(NOW), unit_of_work() as s:
            world = hall_demo.seed_catalogue(session=s)
            hall_demo.generate_history(session=s, world=world, days=6, seed=SEED)
        with frozen(NOW), unit_of_work() as s:
            report = demo.seed_demo(session=s, seed=SEED, hall_id=world.hall.id)
        with frozen(NOW), unit_of_work() as s:
            again = demo.seed_demo(session=s, seed=SEED, hall_id=world.hall.id)
        yield report, again
    finally:
        registry.install(None)


def test_the_demo_matters(built):
    report, again = built
    assert again.matters == 0  # a second run adds nothing
    with frozen(NOW), unit_of_work(readonly=True) as s:
        matters = list(s.scalars(select(Matter)))
        states = Counter(m.state for m in matters)
        # every state of the machine is in the demo today, and every one was reached
        assert set(states) == set(MatterState), states
        reached = set(s.scalars(select(MatterEvent.to_state).distinct()))
        assert set(MatterState) <= reached
        assert report.matters == len(matters) > 80

        # sources, tickets, limits from the items, the handler as actor
        sources = Counter(m.source for m in matters)
        assert set(sources) == set(MatterSource)
        assert sources[MatterSource.WINDOW] > sources[MatterSource.ONLINE]
        assert sum(m.ticket_id is not None for m in matters) > 8
        items = {i.id: i for i in s.scalars(select(ServiceItem))}
        for m in matters:
            code = items[m.item_id].code
            assert code in matter_items.TERMS
            assert m.promised_days == matter_items.TERMS[code].promised_days
            if m.delivery_method == DeliveryMethod.POST:
                assert items[m.item_id].by_post and m.delivery_address
        postable = [m for m in matters if items[m.item_id].by_post]
        post_share = sum(m.delivery_method == DeliveryMethod.POST for m in postable) / len(postable)
        assert 0.2 < post_share < 0.6
        handlers = set(s.scalars(select(MatterEvent.actor_id).where(MatterEvent.kind.in_(
            ["matter.reviewing", "matter.granted", "matter.refused"]))))  # fmt: skip
        assert handlers and all(
            u.startswith("dept-")
            for u in s.scalars(select(User.username).where(User.id.in_(handlers)))
        )

        # most decided on time, not all; some open today overdue, some due soon, 补正 stopped
        clocks = Counter(deadlines.clock(m, NOW).state for m in matters)
        done = clocks[deadlines.ClockState.DONE_ON_TIME] + clocks[deadlines.ClockState.DONE_LATE]
        share = clocks[deadlines.ClockState.DONE_ON_TIME] / done
        assert 0.5 < share < 1.0, clocks
        for state in ("OVERDUE", "WARNING", "STOPPED", "RUNNING", "WITHDRAWN"):
            assert clocks[deadlines.ClockState[state]] > 0, (state, clocks)
        assert any(m.paused_workdays > 0 for m in matters)
        rounds = Counter(
            s.scalars(select(MatterEvent.matter_id).where(MatterEvent.kind == "matter.correction"))
        )
        assert max(rounds.values()) >= 2  # 补正 in two rounds
        refusals = s.scalars(select(MatterEvent.note).where(MatterEvent.kind == "matter.refused"))
        assert all(note for note in refusals)

        # posted ones carry the courier's tracking; delivered after a failed attempt; a
        # returned parcel is back in 待领取
        shipments = list(s.scalars(select(Shipment)))
        assert len(shipments) == report.posted > 10
        events = Counter((e.shipment_id, e.status) for e in s.scalars(select(TrackingEvent)))
        tracked = {sid for sid, _status in events}
        assert len(tracked) >= len(shipments) - 3
        by_matter = {sh.matter_id: sh for sh in shipments}
        delivered = [m for m in matters if m.state == MatterState.DELIVERED]
        assert delivered and all(
            (by_matter[m.id].id, ShipmentStatus.DELIVERED) in events for m in delivered
        )
        assert any((by_matter[m.id].id, ShipmentStatus.FAILED_ATTEMPT) in events for m in delivered)
        back = [
            m
            for m in matters
            if m.state == MatterState.AWAITING_PICKUP
            and m.id in by_matter
            and by_matter[m.id].status == ShipmentStatus.RETURNED
        ]
        assert back
        assert any(m.state == MatterState.POSTED for m in matters)

        # messages in every status, with delivery reports, retries and a dead letter
        statuses = Counter(s.scalars(select(Notification.status)))
        assert set(statuses) == set(NotificationStatus), statuses
        assert statuses[NotificationStatus.DELIVERED] > 0.8 * sum(statuses.values())
        reasons = set(
            s.scalars(select(Notification.reason).where(Notification.reason.is_not(None)))
        )
        assert {"opted_out", "rate_capped", "undeliverable", "rejected"} <= reasons
        kinds = Counter(s.scalars(select(NotificationEvent.kind)))
        assert kinds["dlr"] > 0 and kinds["attempt_failed"] > 0
        assert s.scalar(select(func.count(OptOut.id))) == 1
        handled = Counter(s.scalars(select(InboundMessage.handled_as)))
        assert handled["opt_out"] == 1 and handled["query"] >= 2
        templates = set(s.scalars(select(Notification.template)))
        assert {"matter_accepted", "waybill_sent", "parcel_returned", "staff_due_soon"} <= templates
        assert s.scalar(select(func.count()).select_from(StaffContact)) >= 7

        # people: one phone for several matters, the same person twice
        phones = Counter(m.applicant_phone for m in matters)
        assert phones.most_common(1)[0][1] >= 3
        people = Counter((m.applicant_name, m.applicant_phone) for m in matters)
        assert people.most_common(1)[0][1] >= 2

    # what the summary prints to try
    assert report.showcase and all(len(n) == 15 and len(p) == 11 for _l, n, p in report.showcase)
    text = report.summary()
    assert "/matters/track" in text and report.handler in text
