"""The courier simulator behaves like SF: waybill numbers with a check digit, the same order
twice gives the same waybill, cancel only before pickup, routes over working days (pickup,
1–3 sorting centres, out for delivery the next working morning, delivered), a failed attempt
then delivery the next working day, a return after repeated attempts, and signed pushes the
SF adapter takes — all on the injectable clock."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pytest

from govloop.core.calendar import is_workday, next_workday
from govloop.core.clock import frozen, local_tz
from govloop.matters.delivery import registry, simulator
from govloop.matters.delivery.base import (
    CourierRejected,
    CourierUnavailable,
    Party,
    WaybillRequest,
)
from govloop.matters.models import ShipmentStatus

MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
FRIDAY_17 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai
SENDER = Party("测试大厅", "12345", "北京市东城区政务服务中心1号", company="测试大厅")
HOME = "北京市海淀区中关村大街1号院2号楼301"


def _request(ref: str, address: str = HOME) -> WaybillRequest:
    return WaybillRequest(
        order_ref=ref,
        customer_ref=ref.rsplit("-", 1)[0],
        sender=SENDER,
        recipient=Party("张三", "13800138000", address),
    )


@pytest.fixture
def sim():
    return simulator.SimulatedSf(partner_id="GOVLOOP-SIM", check_word="test-check-word")


@pytest.fixture
def courier(sim):
    return registry.simulator_courier(sim)


def _local(moment: datetime) -> datetime:
    return moment.astimezone(local_tz())


def test_waybill_numbers_look_like_sf_and_carry_a_check_digit():
    numbers = [simulator.make_waybill(i) for i in range(1, 2001)]
    assert len(set(numbers)) == len(numbers)
    assert all(len(n) == 15 and n.startswith("SF") and n[2:].isdigit() for n in numbers)
    assert all(simulator.valid_waybill(n) for n in numbers)
    # one digit wrong, or two swapped: the check digit says so
    n = numbers[0]
    wrong = n[:5] + str((int(n[5]) + 1) % 10) + n[6:]
    assert not simulator.valid_waybill(wrong)
    swapped = n[:6] + n[7] + n[6] + n[8:]
    assert swapped == n or not simulator.valid_waybill(swapped)


def test_creating_the_same_order_twice_gives_the_same_waybill(courier):
    with frozen(MONDAY_10):
        first = courier.create_waybill(_request("M1-1"))
        again = courier.create_waybill(_request("M1-1"))
        other = courier.create_waybill(_request("M2-1"))
    assert first.created and not again.created
    assert again.waybill_no == first.waybill_no != other.waybill_no
    assert simulator.valid_waybill(first.waybill_no)


def test_an_address_without_a_delivery_area_is_rejected(courier):
    with frozen(MONDAY_10), pytest.raises(CourierRejected) as exc:
        courier.create_waybill(_request("M1-1", address="楼下小卖部"))
    assert "派送范围" in exc.value.message


def test_a_service_that_is_down_is_unavailable(sim, courier):
    with frozen(MONDAY_10) as clock:
        sim.down_until = clock.current + timedelta(minutes=5)
        with pytest.raises(CourierUnavailable):
            courier.create_waybill(_request("M1-1"))
        clock.advance(minutes=6)
        assert courier.create_waybill(_request("M1-1")).created


def test_cancel_only_before_pickup(sim, courier):
    with frozen(MONDAY_10) as clock:
        early = courier.create_waybill(_request("M1-1"))
        late = courier.create_waybill(_request("M2-1"))
        courier.cancel(early.waybill_no, order_ref="M1-1")
        courier.cancel(early.waybill_no, order_ref="M1-1")  # again: still cancelled
        pickup = sim.route(late.waybill_no)[0].at
        clock.current = pickup.astimezone(UTC) + timedelta(minutes=1)
        with pytest.raises(CourierRejected):
            courier.cancel(late.waybill_no, order_ref="M2-1")
        clock.advance(days=10)
        pushed = {p.waybill_no for p in sim.due_pushes(clock.current)}
    assert pushed == {late.waybill_no}  # a cancelled parcel never moves


def _ship(sim, courier, fate: str, ref: str = "M1-1") -> list[simulator.RouteEvent]:
    expected = sim.steer(fate)
    result = courier.create_waybill(_request(ref))
    assert result.waybill_no == expected and simulator.scenario(expected) == fate
    return sim.route(result.waybill_no)


def test_a_normal_parcel_over_working_days(sim, courier):
    with frozen(MONDAY_10):
        route = _ship(sim, courier, "normal")
    ops = [e.op_code for e in route]
    assert ops[0] == "50" and ops[-2:] == ["44", "80"]
    centres = ops[1:-2]
    assert centres == ["31", "30", "36"] * (len(centres) // 3) and 1 <= len(centres) // 3 <= 3
    times = [e.at for e in route]
    assert times == sorted(times)
    # collected the same Monday (ordered at 10:00), out the next working morning
    assert _local(route[0].at).date() == _local(MONDAY_10).date()
    out = _local(route[-2].at)
    assert out.date() == next_workday(_local(route[-3].at).date())
    assert time(8, 0) <= out.time() <= time(10, 0)
    assert _local(route[-1].at).date() == out.date()
    assert "签收" in route[-1].remark


def test_an_order_on_friday_evening_is_collected_on_monday(sim, courier):
    with frozen(FRIDAY_17):
        route = _ship(sim, courier, "normal")
    pickup = _local(route[0].at)
    assert pickup.date().isoformat() == "2026-11-30" and pickup.time() >= time(9, 30)
    assert all(is_workday(_local(e.at).date()) for e in route if e.op_code in ("50", "44"))


def test_a_failed_attempt_is_delivered_the_next_working_day(sim, courier):
    with frozen(MONDAY_10):
        route = _ship(sim, courier, "failed_once")
    tail = [(e.op_code, _local(e.at).date()) for e in route if e.op_code in ("44", "70", "80")]
    assert [op for op, _ in tail] == ["44", "70", "44", "80"]
    assert tail[1][1] == tail[0][1] and tail[2][1] == next_workday(tail[1][1])
    assert "不在家" in next(e.remark for e in route if e.op_code == "70")


def test_repeated_failures_return_the_parcel_to_the_sender(sim, courier):
    with frozen(MONDAY_10):
        route = _ship(sim, courier, "returned")
    tail = [e.op_code for e in route if e.op_code in ("44", "70", "80", "99", "631")]
    assert tail == ["44", "70"] * simulator.ATTEMPTS_BEFORE_RETURN + ["99", "631"]
    attempts = [_local(e.at).date() for e in route if e.op_code == "70"]
    assert attempts[1] == next_workday(attempts[0]) and attempts[2] == next_workday(attempts[1])
    assert "退回" in route[-1].remark and "80" not in [e.op_code for e in route]


def test_fates_are_a_few_percent():
    fates = Counter(simulator.scenario(simulator.make_waybill(i)) for i in range(1, 5001))
    assert 0.02 <= fates["returned"] / 5000 <= 0.06
    assert 0.07 <= fates["failed_once"] / 5000 <= 0.13


def test_pushes_come_as_events_happen_and_stop_once_taken(sim, courier):
    with frozen(MONDAY_10) as clock:
        route = _ship(sim, courier, "failed_once")
        assert sim.due_pushes(clock.current) == []  # nothing happened yet
        clock.current = route[0].at.astimezone(UTC)
        (push,) = sim.due_pushes(clock.current)
        updates = courier.verify_and_parse_push(push.headers, push.body)
        assert [u.external_id for u in updates] == [route[0].id]
        assert updates[0].status == ShipmentStatus.IN_TRANSIT
        # not acknowledged: the same events come again (as SF retries)
        (again,) = sim.due_pushes(clock.current)
        assert again.event_ids == push.event_ids
        sim.acknowledge(push)
        assert sim.due_pushes(clock.current) == []
        clock.current = route[-1].at.astimezone(UTC) + timedelta(hours=1)
        (rest,) = sim.due_pushes(clock.current)
        updates = courier.verify_and_parse_push(rest.headers, rest.body)
    assert [u.external_id for u in updates] == [e.id for e in route[1:]]
    assert [u.status for u in updates][-4:] == [
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.FAILED_ATTEMPT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
    ]
    assert all(u.at == e.at for u, e in zip(updates, route[1:], strict=True))


def test_a_push_refused_five_times_is_given_up(sim, courier):
    with frozen(MONDAY_10) as clock:
        route = _ship(sim, courier, "normal")
        clock.current = route[0].at.astimezone(UTC)
        for _ in range(simulator.MAX_REFUSALS):
            (push,) = sim.due_pushes(clock.current)
            sim.refused(push)
        assert sim.due_pushes(clock.current) == []


def test_the_state_file_is_shared_between_processes(tmp_path):
    path = tmp_path / "courier-simulator.json"
    web = simulator.SimulatedSf(partner_id="P", check_word="w", state_path=path)
    worker = simulator.SimulatedSf(partner_id="P", check_word="w", state_path=path)
    with frozen(MONDAY_10) as clock:
        made = registry.simulator_courier(web).create_waybill(_request("M1-1"))
        again = registry.simulator_courier(worker).create_waybill(_request("M1-1"))
        assert again.waybill_no == made.waybill_no and not again.created
        clock.advance(days=10)
        (push,) = worker.due_pushes(clock.current)
        worker.acknowledge(push)
        assert web.due_pushes(clock.current) == []
    assert path.exists() and made.waybill_no in path.read_text(encoding="utf-8")
