"""Results by post on SQLite and PostgreSQL: posting a matter (and the refusals that change
nothing), the courier's pushes through the endpoint and the simulator's duty (taken once
when sent twice), delivered closes the delivery, returned goes back to 待领取 with a notice,
and a push with a bad signature, an unknown waybill or an unknown courier is refused and
recorded while nothing else changes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import RuleViolation
from govloop.core.models import User
from govloop.hall.models import ServiceItem
from govloop.matters import workflow
from govloop.matters.delivery import callback_api, jobs, registry, sf, shipping, simulator, tracking
from govloop.matters.delivery.base import Party, TrackingUpdate, WaybillRequest
from govloop.matters.models import (
    Matter,
    MatterEvent,
    MatterState,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from govloop.notify.models import Notification, RefusedCallback
from tests.matters.conftest import MONDAY_10, accept, build

HOME = "北京市海淀区中关村大街1号院2号楼301"
PUSH_URL = "/api/v1/couriers/simulator/push"
REPLY = {"return_code": "0000", "return_msg": "成功"}


@pytest.fixture(scope="module")
def app():
    application = create_app(run_jobs=False)
    paths = {getattr(r, "path", None) for r in application.routes}
    if "/api/v1/couriers/{code}/push" not in paths:  # until matters/web.py mounts it
        application.include_router(callback_api.router)
    return application


@pytest.fixture
def sim():
    s = simulator.SimulatedSf(partner_id="GOVLOOP-SIM", check_word="test-check-word")
    registry.install(registry.simulator_courier(s), s)
    yield s
    registry.install(None)


@pytest.fixture
def clock(db):
    with frozen(MONDAY_10) as c:
        yield c


@pytest.fixture
def client(app, db):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@dataclass
class Posted:
    matter_id: int
    shipment_id: int
    waybill: str
    route: list[simulator.RouteEvent]


def _certifying(s, mw, **applicant) -> Matter:
    mw.world.hall.address = "北京市东城区政务服务中心1号"
    data = {"delivery_method": "post", "delivery_address": HOME} | applicant
    matter = accept(s, mw, **data)
    workflow.start_review(session=s, matter=matter, actor=mw.handler)
    workflow.decide(session=s, matter=matter, actor=mw.handler, granted=True, note="")
    workflow.start_certificate(session=s, matter=matter, actor=mw.handler)
    return matter


def _handler(s) -> User:
    return s.scalars(select(User).where(User.username == "handler")).one()


def _post(sim, fate: str = "normal") -> Posted:
    """A world, a matter in 制证 that the applicant wants posted, and its parcel."""
    with unit_of_work() as s:
        mw = build(s)
        matter = _certifying(s, mw)
        sim.steer(fate)
        shipment = shipping.ship(session=s, matter=matter, actor=mw.handler)
        ids = (matter.id, shipment.id, shipment.waybill_no)
    return Posted(*ids, route=sim.route(ids[2]))


def _deliver(client, sim, moment: datetime, *, times: int = 1) -> list:
    """Send every due push ``times`` times through the endpoint, as the courier would."""
    answers = []
    for push in sim.due_pushes(moment):
        for _ in range(times):
            answers.append(client.post(PUSH_URL, content=push.body, headers=push.headers))
        if answers[-1].status_code == 200:
            sim.acknowledge(push)
    return answers


def _after(event: simulator.RouteEvent, **delta: float) -> datetime:
    return event.at.astimezone(UTC) + timedelta(**delta)


def _count(model, *where) -> int:
    with unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _state(posted: Posted) -> tuple[str, str]:
    with unit_of_work() as s:
        return s.get(Matter, posted.matter_id).state, s.get(Shipment, posted.shipment_id).status


# --- posting ------------------------------------------------------------------------------


def test_posting_makes_the_waybill_moves_the_matter_and_tells_the_applicant(sim, clock):
    posted = _post(sim)
    with unit_of_work() as s:
        matter = s.get(Matter, posted.matter_id)
        shipment = s.get(Shipment, posted.shipment_id)
        assert matter.state == MatterState.POSTED and matter.delivery_method == "post"
        assert shipment.courier == "simulator" and simulator.valid_waybill(shipment.waybill_no)
        assert shipment.order_ref == f"{matter.number}-1"
        assert shipment.status == ShipmentStatus.CREATED
        assert (shipment.recipient_name, shipment.recipient_phone, shipment.address) == (
            "张三",
            "13800138000",
            HOME,
        )
        event = s.scalars(
            select(MatterEvent).where(
                MatterEvent.matter_id == matter.id, MatterEvent.to_state == MatterState.POSTED
            )
        ).one()
        assert event.detail["waybill"] == shipment.waybill_no and event.actor_id is not None
        note = s.scalars(
            select(Notification).where(Notification.event_key == f"shipment:{shipment.id}:sent")
        ).one()
        assert note.template == "waybill_sent" and (note.case_type, note.case_id) == (
            "matter",
            matter.id,
        )
        assert shipment.waybill_no in note.body and "模拟快递" in note.body
        assert matter.number in note.body and note.recipient == "13800138000"


@pytest.mark.parametrize(
    "case", ["item_not_postable", "not_postable_state", "no_address", "courier_refused"]
)
def test_a_refused_posting_changes_nothing(sim, clock, case):
    with unit_of_work() as s:
        mw = build(s)
        if case == "not_postable_state":
            matter = accept(s, mw, delivery_method="post", delivery_address=HOME)
        elif case == "no_address":
            matter = _certifying(s, mw, delivery_method="pickup", delivery_address=None)
        else:
            matter = _certifying(s, mw)
        if case == "item_not_postable":
            s.get(ServiceItem, matter.item_id).by_post = False
        if case == "courier_refused":
            matter.delivery_address = "楼下小卖部隔壁"  # no district or city: not deliverable
        s.flush()
        before = matter.state
        events = s.scalar(select(func.count(MatterEvent.id)))
        with pytest.raises(RuleViolation) as exc:
            shipping.ship(session=s, matter=matter, actor=mw.handler)
        assert exc.value.code == case and exc.value.message
        assert matter.state == before
        assert s.scalar(select(func.count(Shipment.id))) == 0
        assert s.scalar(select(func.count(MatterEvent.id))) == events
        assert (
            s.scalar(
                select(func.count(Notification.id)).where(Notification.template == "waybill_sent")
            )
            == 0
        )
    # the courier holds an order only when it was asked (and refused it: none either)
    assert sim.due_pushes(MONDAY_10 + timedelta(days=30)) == []


# --- pushes -------------------------------------------------------------------------------


def test_a_push_sent_twice_is_taken_once_and_delivered_closes_the_delivery(sim, clock, client):
    posted = _post(sim, "normal")
    clock.current = _after(posted.route[-1], minutes=5)
    answers = _deliver(client, sim, clock.current, times=2)
    assert [a.status_code for a in answers] == [200, 200]
    assert all(a.json() == REPLY for a in answers)
    assert _count(TrackingEvent) == len(posted.route)
    with unit_of_work() as s:
        shipment = s.get(Shipment, posted.shipment_id)
        matter = s.get(Matter, posted.matter_id)
        assert shipment.status == ShipmentStatus.DELIVERED
        assert shipment.closed_at == posted.route[-1].at
        assert matter.state == MatterState.DELIVERED and matter.closed_at == clock.current
        delivered = s.scalars(
            select(MatterEvent).where(
                MatterEvent.matter_id == matter.id, MatterEvent.to_state == MatterState.DELIVERED
            )
        ).all()
        assert len(delivered) == 1 and delivered[0].detail["waybill"] == posted.waybill
        assert delivered[0].actor_id is None
        stored = s.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.shipment_id == shipment.id)
            .order_by(TrackingEvent.at)
        ).all()
        assert [t.external_id for t in stored] == [e.id for e in posted.route]
        assert stored[0].description == "顺丰速运 已收取快件"
        assert stored[-1].status == ShipmentStatus.DELIVERED and "签收" in stored[-1].description
    # nothing is due any more: everything was taken
    assert sim.due_pushes(clock.current) == []


def test_the_duty_follows_a_failed_attempt_over_the_days(sim, clock):
    posted = _post(sim, "failed_once")
    failed = next(e for e in posted.route if e.op_code == "70")
    clock.current = _after(failed, minutes=1)
    first = jobs.push_simulator_events()
    assert (first.sent, first.taken, first.refused, first.failed) == (1, 1, 0, 0)
    assert _state(posted) == (MatterState.POSTED, ShipmentStatus.FAILED_ATTEMPT)
    # the next working day's second attempt, hour by hour
    while clock.current < _after(posted.route[-1], hours=1):
        clock.advance(hours=1)
        jobs.push_simulator_events()
    assert _state(posted) == (MatterState.DELIVERED, ShipmentStatus.DELIVERED)
    assert _count(TrackingEvent) == len(posted.route)
    assert _count(TrackingEvent, TrackingEvent.status == ShipmentStatus.FAILED_ATTEMPT) == 1


def test_a_returned_parcel_goes_back_to_awaiting_pickup_with_a_notice(sim, clock, client):
    posted = _post(sim, "returned")
    clock.current = _after(posted.route[-1], minutes=5)
    assert [a.status_code for a in _deliver(client, sim, clock.current)] == [200]
    assert _state(posted) == (MatterState.AWAITING_PICKUP, ShipmentStatus.RETURNED)
    with unit_of_work() as s:
        matter = s.get(Matter, posted.matter_id)
        back = s.scalars(
            select(MatterEvent).where(
                MatterEvent.matter_id == matter.id,
                MatterEvent.from_state == MatterState.POSTED,
                MatterEvent.to_state == MatterState.AWAITING_PICKUP,
            )
        ).one()
        assert back.detail["returned"] == posted.waybill
        notes = s.scalars(select(Notification).where(Notification.case_id == matter.id)).all()
        returned = [n for n in notes if n.template == "parcel_returned"]
        assert (
            len(returned) == 1
            and returned[0].event_key == f"shipment:{posted.shipment_id}:returned"
        )
        assert "退回" in returned[0].body and "测试大厅" in returned[0].body
        assert not [n for n in notes if n.template == "matter_ready" and n.created_at > back.at]
        # the result may go again: a second parcel with its own order id
        again = shipping.ship(session=s, matter=matter, actor=_handler(s))
        assert again.order_ref == f"{matter.number}-2" and again.waybill_no != posted.waybill
        assert matter.state == MatterState.POSTED


def test_a_push_with_a_bad_signature_is_refused_recorded_and_changes_nothing(sim, clock, client):
    posted = _post(sim)
    clock.current = _after(posted.route[0], minutes=5)
    (push,) = sim.due_pushes(clock.current)
    forged = simulator.SimulatedSf(partner_id="GOVLOOP-SIM", check_word="a-guess")
    forged_body = push.body.replace(b"msgDigest=", b"msgDigest=AAAA", 1)
    answers = [
        client.post(PUSH_URL, content=forged_body, headers=push.headers),
        client.post(PUSH_URL, content=push.body.split(b"&msgData=")[0], headers=push.headers),
    ]
    # the same events signed with another check word
    fields = sf.form_fields(push.body)
    resigned = sf.signed_form(
        partner_id=forged.partner_id,
        check_word=forged.check_word,
        service_code=simulator.PUSH_SERVICE,
        message=json.loads(fields["msgData"]),
        timestamp=fields["timestamp"],
    )
    answers.append(client.post(PUSH_URL, content=urlencode(resigned), headers=push.headers))
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert {a.json()["error"] for a in answers} == {"bad_signature"}
    assert _count(RefusedCallback, RefusedCallback.reason == "bad_signature") == 3
    assert _count(RefusedCallback, RefusedCallback.source == "courier") == 3
    assert _count(TrackingEvent) == 0
    assert _state(posted) == (MatterState.POSTED, ShipmentStatus.CREATED)
    # the genuine push is taken afterwards
    assert client.post(PUSH_URL, content=push.body, headers=push.headers).status_code == 200
    assert _state(posted) == (MatterState.POSTED, ShipmentStatus.IN_TRANSIT)


def test_a_push_for_an_unknown_waybill_is_refused_recorded_and_changes_nothing(sim, clock, client):
    posted = _post(sim)
    # an order govloop never stored (its transaction rolled back, or someone else's)
    stranger = registry.current().create_waybill(
        WaybillRequest(
            order_ref="SOMEONE-1",
            customer_ref="SOMEONE",
            sender=Party("别处", "12345", "北京市朝阳区某路1号"),
            recipient=Party("李四", "13900139000", HOME),
        )
    )
    pickups = [posted.route[0], sim.route(stranger.waybill_no)[0]]
    clock.current = _after(max(pickups, key=lambda e: e.at), minutes=1)
    pushes = {p.waybill_no: p for p in sim.due_pushes(clock.current)}
    alone = client.post(PUSH_URL, content=pushes[stranger.waybill_no].body)
    # one push naming both: nothing of it is taken, not even the known parcel's events
    routes = []
    for push in pushes.values():
        routes += json.loads(sf.form_fields(push.body)["msgData"])["Body"]["WaybillRoute"]
    both = sf.signed_form(
        partner_id=sim.partner_id,
        check_word=sim.check_word,
        service_code=simulator.PUSH_SERVICE,
        message={"Body": {"WaybillRoute": routes}},
    )
    mixed = client.post(PUSH_URL, content=urlencode(both))
    assert [alone.status_code, mixed.status_code] == [404, 404]
    assert {alone.json()["error"], mixed.json()["error"]} == {"unknown_waybill"}
    assert _count(RefusedCallback, RefusedCallback.reason == "unknown_waybill") == 2
    assert _count(TrackingEvent) == 0
    assert _state(posted) == (MatterState.POSTED, ShipmentStatus.CREATED)


def test_a_push_for_a_courier_that_is_not_configured_is_refused(sim, clock, client):
    answer = client.post("/api/v1/couriers/sf/push", content=b"msgData=x")
    assert answer.status_code == 403 and answer.json()["error"] == "unknown_courier"
    assert _count(RefusedCallback, RefusedCallback.reason == "unknown_courier") == 1


def test_a_late_event_never_reopens_a_closed_parcel(sim, clock):
    posted = _post(sim)
    courier = registry.current()
    late = posted.route[-1].at

    def update(external: str, status: ShipmentStatus, at: datetime) -> TrackingUpdate:
        return TrackingUpdate(posted.waybill, external, status, "测试", "北京", at)

    with unit_of_work() as s:
        tracking.apply_updates(
            session=s, courier=courier, updates=[update("d", ShipmentStatus.DELIVERED, late)]
        )
    with unit_of_work() as s:
        applied = tracking.apply_updates(
            session=s,
            courier=courier,
            updates=[
                update("t", ShipmentStatus.IN_TRANSIT, late + timedelta(hours=1)),
                update("d", ShipmentStatus.DELIVERED, late),
            ],
        )
    assert (applied.stored, applied.duplicates, applied.delivered) == (1, 1, 0)
    assert _state(posted) == (MatterState.DELIVERED, ShipmentStatus.DELIVERED)
    assert _count(TrackingEvent) == 2


def test_a_parcel_is_cancelled_before_pickup_only(sim, clock):
    first = _post(sim)
    with unit_of_work() as s:
        shipping.cancel(session=s, shipment=s.get(Shipment, first.shipment_id), actor=_handler(s))
    assert _state(first) == (MatterState.AWAITING_PICKUP, ShipmentStatus.CANCELLED)
    with unit_of_work() as s:
        matter = s.get(Matter, first.matter_id)
        second = shipping.ship(session=s, matter=matter, actor=_handler(s))
        second_id, waybill = second.id, second.waybill_no
    clock.current = _after(sim.route(waybill)[0], minutes=1)  # collected, not yet pushed
    with unit_of_work() as s, pytest.raises(RuleViolation) as exc:
        shipping.cancel(session=s, shipment=s.get(Shipment, second_id), actor=_handler(s))
    assert exc.value.code == "already_picked_up"
    with unit_of_work() as s:
        assert s.get(Shipment, second_id).status == ShipmentStatus.CREATED
        assert s.get(Matter, first.matter_id).state == MatterState.POSTED


def test_posting_again_after_a_rollback_gets_the_same_waybill(sim, clock):
    with unit_of_work() as s:
        mw = build(s)
        matter_id = _certifying(s, mw).id
    with pytest.raises(RuntimeError), unit_of_work() as s:
        lost = shipping.ship(session=s, matter=s.get(Matter, matter_id), actor=_handler(s))
        waybill = lost.waybill_no
        raise RuntimeError("the commit failed")  # the courier has the order, govloop not
    assert _count(Shipment) == 0
    with unit_of_work() as s:
        again = shipping.ship(session=s, matter=s.get(Matter, matter_id), actor=_handler(s))
        assert again.waybill_no == waybill and again.order_ref.endswith("-1")
    assert _count(Shipment) == 1


def test_an_oversized_push_is_refused_before_it_is_read(sim, clock, client):
    answer = client.post(PUSH_URL, content=b"x" * (callback_api.MAX_PUSH_BYTES + 1))
    assert answer.status_code == 413
    assert _count(RefusedCallback) == 0 and _count(TrackingEvent) == 0
