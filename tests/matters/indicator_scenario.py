"""Seven matters through the real workflow, with the figures of the matter indicators
worked out by hand (see FIGURES).

All are accepted at hall H1 on Monday 2026-09-28 (Asia/Shanghai), just before the National
Day holidays: 10-01..10-07 are rest days and Saturday 10-10 is a working day (调休). SB01
(department D1, window 1, postable) promises 5 working days: 09-29, 09-30, 10-08, 10-09,
10-10, so it is due at the end of Saturday 10-10 (without the holidays it would have been
Monday 10-05). GS01 (department D2, window 2) promises 3: due at the end of 10-08.

M1 SB01 pickup — decided Fri 10-09 (on time thanks to the holidays); ready 10-09 11:00,
   collected Mon 10-12 11:00: 3 days; trips: acceptance + pickup = 2.
M2 SB01 post — decided 09-29; posted straight from 制证 09-29 15:00, delivered 09-30 15:00:
   1 day; trips: 1 (acceptance only).
M3 SB01 pickup, late — decided Tue 10-13 (due 10-10); ready 10-13 11:00, collected 10-14
   11:00: 1 day; trips 2.
M4 SB01 with 补正 — documents asked for 09-29, brought in person Mon 10-12: the clock stood
   still 5 working days (09-29, 09-30, 10-08, 10-09, 10-10), so it is due at the end of
   10-16, and the decision of 10-14 — late by the original limit — is on time. Ready 10-14
   11:00, collected 10-15 11:00: 1 day; trips: acceptance + 补正 + pickup = 3.
M5 GS01 — still under review: neither decided nor finished.
M6 GS01 refused 09-30 (on time); the written decision ready 09-30 11:00, collected 10-08
   11:00: 8 days; trips 2.
M7 SB01 returned to the applicant (退回) on 09-28: closed, not decided, not finished.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import FrozenClock, frozen, local_tz
from govloop.core.db import unit_of_work
from govloop.core.models import User
from govloop.hall import service as hall_service
from govloop.hall import windows as hall_windows
from govloop.matters import service, workflow
from govloop.matters.delivery import registry, shipping, tracking
from govloop.matters.delivery.base import TrackingUpdate
from govloop.matters.models import Matter, Shipment, ShipmentStatus
from govloop.org import service as org_service
from govloop.org.models import Department
from tests.matters.conftest import MatterWorld, build

ADDRESS = "北京市海淀区中关村大街1号院2号楼301"


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=local_tz())


def _accept(s: Session, mw: MatterWorld, item: str, window: int, **extra: Any) -> Matter:
    hall = mw.world.hall
    hall_service.issue_ticket(session=s, hall=hall, item=mw.world.items[item])
    actor = mw.world.staff[window]
    hall_windows.call_next(session=s, hall=hall, window_number=window, actor=actor)
    hall_windows.start_service(session=s, hall=hall, window_number=window, actor=actor)
    return service.accept_at_window(
        session=s,
        hall=hall,
        window_number=window,
        actor=actor,
        applicant=service.Applicant(name="张三", phone="13800138000", **extra),
    )


class Steps:
    """Each step in its own unit of work at a given local moment."""

    def __init__(self, clock: FrozenClock, actor: User) -> None:
        self.clock, self.actor = clock, actor

    def __call__(self, when: datetime, number: str, action: str, **kwargs: Any) -> None:
        self.clock.current = when
        with unit_of_work() as s:
            matter = service.get_matter(session=s, number=number)
            admin = s.merge(self.actor)
            if action == "ship":
                shipping.ship(session=s, matter=matter, actor=admin)
            elif action == "deliver":
                shipment = matter_shipment(s, matter)
                tracking.apply_updates(
                    session=s,
                    courier=registry.current(),
                    updates=[
                        TrackingUpdate(
                            waybill_no=shipment.waybill_no,
                            external_id=f"{shipment.waybill_no}-80",
                            status=ShipmentStatus.DELIVERED,
                            description="已签收",
                            location="北京",
                            at=when,
                        )
                    ],
                )
            else:
                getattr(workflow, action)(session=s, matter=matter, actor=admin, **kwargs)


def matter_shipment(s: Session, matter: Matter) -> Shipment:
    return s.scalars(select(Shipment).where(Shipment.matter_id == matter.id)).one()


def build_matters() -> dict[str, str]:
    """The seven matters; returns their numbers by name (M1…M7). Leaves the clock free."""
    numbers: dict[str, str] = {}
    with frozen(local(9, 28, 9)) as clock:
        with unit_of_work() as s:
            mw = build(s)
            mw.world.hall.address = "北京市海淀区政务服务中心"
            # GS01 belongs to the second department: figures per department differ
            mw.world.items["GS01"].department_id = s.scalars(
                select(Department.id).where(Department.code == "D2")
            ).one()
        for name, item, window, hour, extra in (
            ("M1", "SB01", 1, 9, {}),
            ("M2", "SB01", 1, 9, {"delivery_method": "post", "delivery_address": ADDRESS}),
            ("M3", "SB01", 1, 10, {}),
            ("M4", "SB01", 1, 10, {}),
            ("M5", "GS01", 2, 11, {}),
            ("M6", "GS01", 2, 11, {}),
            ("M7", "SB01", 1, 11, {}),
        ):
            clock.current = local(9, 28, hour, len(numbers) * 5)
            with unit_of_work() as s:
                mw = _reload(s, mw)
                numbers[name] = _accept(s, mw, item, window, **extra).number
        step = Steps(clock, mw.admin)
        m1, m2, m3, m4, m5, m6, m7 = (numbers[f"M{i}"] for i in range(1, 8))
        for n in (m1, m2, m3, m4, m5, m6):
            step(local(9, 28, 14), n, "start_review")
        step(local(9, 28, 15), m7, "return_application", reason="不属于本事项受理范围")
        # M2: decided, certificate, posted, delivered
        step(local(9, 29, 10), m2, "decide", granted=True, note="")
        step(local(9, 29, 11), m2, "start_certificate")
        step(local(9, 29, 15), m2, "ship")
        step(local(9, 30, 15), m2, "deliver")
        # M4: 补正 requested, brought in person after the holidays
        step(local(9, 29, 10), m4, "request_correction", materials=["户口簿"], note="缺户口簿")
        step(local(10, 12, 10), m4, "receive_correction", in_person=True)
        # M6: refused, the decision collected after the holidays
        step(local(9, 30, 10), m6, "decide", granted=False, note="材料不符合法定条件")
        step(local(9, 30, 11), m6, "result_ready")
        step(local(10, 8, 11), m6, "hand_over")
        # M1: decided on the last working days before its (holiday-extended) limit
        step(local(10, 9, 10), m1, "decide", granted=True, note="")
        step(local(10, 9, 10, 30), m1, "start_certificate")
        step(local(10, 9, 11), m1, "result_ready")
        step(local(10, 12, 11), m1, "hand_over")
        # M3: late
        step(local(10, 13, 10), m3, "decide", granted=True, note="")
        step(local(10, 13, 10, 30), m3, "start_certificate")
        step(local(10, 13, 11), m3, "result_ready")
        step(local(10, 14, 11), m3, "hand_over")
        # M4: on time once the pause is counted
        step(local(10, 14, 10), m4, "decide", granted=True, note="")
        step(local(10, 14, 10, 30), m4, "start_certificate")
        step(local(10, 14, 11), m4, "result_ready")
        step(local(10, 15, 11), m4, "hand_over")
        assert m5  # M5 stays under review
    return numbers


def _reload(s: Session, mw: MatterWorld) -> MatterWorld:
    world = mw.world
    world.hall = org_service.get_hall(session=s, code="H1")
    world.items = {code: s.merge(item) for code, item in world.items.items()}
    world.staff = {n: s.merge(u) for n, u in world.staff.items()}
    return mw


# Hand-computed figures of September 2026 (every matter was accepted on 09-28).
FIGURES: dict[tuple[str, str], dict[str, float]] = {
    # decided with a limit: M1 M2 M3 M4 M6, on time: M1 M2 M4 M6; finished: M1 M2 M3 M4 M6
    # with trips 2 1 2 3 2 and ready→handed days 3 1 1 1 8; by post: M2
    ("hall", "H1"): {
        "matter_on_time_rate": 4 / 5,
        "matter_visits_mean": 10 / 5,
        "matter_one_trip_rate": 1 / 5,
        "matter_post_share": 1 / 5,
        "matter_ready_to_handover_days": 14 / 5,
    },
    # department D1 = item SB01: M1 M2 M3 M4 (M7 returned)
    ("item", "SB01"): {
        "matter_on_time_rate": 3 / 4,
        "matter_visits_mean": 8 / 4,
        "matter_one_trip_rate": 1 / 4,
        "matter_post_share": 1 / 4,
        "matter_ready_to_handover_days": 6 / 4,
    },
    # department D2 = item GS01: M6 (M5 open)
    ("item", "GS01"): {
        "matter_on_time_rate": 1.0,
        "matter_visits_mean": 2.0,
        "matter_one_trip_rate": 0.0,
        "matter_post_share": 0.0,
        "matter_ready_to_handover_days": 8.0,
    },
}
MATTER_CODES = (
    "matter_on_time_rate",
    "matter_visits_mean",
    "matter_one_trip_rate",
    "matter_post_share",
    "matter_ready_to_handover_days",
)
