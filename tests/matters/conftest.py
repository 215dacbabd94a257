"""Matters fixtures: a hall whose items have time limits, one postable, a department
handler of the items' department and one of another department."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from govloop.core.auth import Role
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.models import User
from govloop.hall import service as hall_service
from govloop.hall import windows as hall_windows
from govloop.matters import service
from govloop.matters.models import Matter
from govloop.org.models import Department, DepartmentMember
from tests.factories import HallWorld, make_hall, make_user


@dataclass
class MatterWorld:
    world: HallWorld
    handler: User
    outsider: User
    admin: User


def build(session: Session) -> MatterWorld:
    world = make_hall(session)
    world.hall.address = "北京市东城区政务服务中心一楼"
    world.items["SB01"].promised_days = 5
    world.items["SB01"].statutory_days = 20
    world.items["SB01"].by_post = True
    world.items["SB01"].materials = ["身份证", "申请表"]
    world.items["GS01"].promised_days = 3
    other = Department(code="D2", name="另一部门")
    session.add(other)
    session.flush()
    handler = make_user(session, "handler", Role.DEPARTMENT_HANDLER)
    outsider = make_user(session, "outsider", Role.DEPARTMENT_HANDLER)
    session.add_all(
        [
            DepartmentMember(user_id=handler.id, department_id=world.items["SB01"].department_id),
            DepartmentMember(user_id=outsider.id, department_id=other.id),
        ]
    )
    admin = make_user(session, "admin", Role.ADMIN)
    session.flush()
    return MatterWorld(world, handler, outsider, admin)


def serve_one(session: Session, mw: MatterWorld, item: str = "SB01", window: int = 1) -> None:
    """Issue a ticket for ``item`` and bring it to 'serving' at ``window``."""
    hall = mw.world.hall
    hall_service.issue_ticket(session=session, hall=hall, item=mw.world.items[item])
    actor = mw.world.staff[window]
    hall_windows.call_next(session=session, hall=hall, window_number=window, actor=actor)
    hall_windows.start_service(session=session, hall=hall, window_number=window, actor=actor)


def accept(session: Session, mw: MatterWorld, **applicant: object) -> Matter:
    serve_one(session, mw)
    data = {"name": "张三", "phone": "13800138000", "materials": ["身份证"]} | applicant
    return service.accept_at_window(
        session=session,
        hall=mw.world.hall,
        window_number=1,
        actor=mw.world.staff[1],
        applicant=service.Applicant(**data),  # type: ignore[arg-type]
    )


MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def ms(db):
    """(session, world, clock): one unit of work on a frozen Monday morning."""
    with frozen(MONDAY_10) as clock, unit_of_work() as s:
        yield s, build(s), clock


@pytest.fixture(autouse=True)
def fresh_courier():
    """Each test ships with a courier simulator of its own, in memory: the same order id in
    two tests (the SQLite and the PostgreSQL run) must not meet at one simulator."""
    from govloop.matters.delivery import registry, simulator

    sim = simulator.SimulatedSf(partner_id=registry.SIMULATOR_PARTNER, check_word="test")
    registry.install(registry.simulator_courier(sim), sim)
    yield sim
    registry.install(None)
