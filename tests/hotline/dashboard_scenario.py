"""A week of work orders with known outcomes, and hall H1 whose windows serve CG and SWJT.

All Monday orders are accepted on Monday 2026-11-23 at 09:00 (Asia/Shanghai); times
below are local. Time limits (hotline/sla.py): a complaint or report 13 working days
(due Thursday 10 Dec, end of day), help 5 (due Monday 30 Nov), urgent 1 (due Tuesday
24 Nov); signing 1 working day (Tuesday 24 Nov), urgent the same day (Monday).

=====  ==========  =======================================================================
order  lead        what happens
=====  ==========  =======================================================================
o1     CG          complaint, phone, assisted by SWJT (which signs too); CG signs Mon 11:00,
                   closes Tue 11:00 (on time), callback reached, rated 5
o2     CG          urgent complaint: signed Wed (late), closed Thu 10:00 (late), callback
                   unreachable, rated 2 online — appeal upheld: the rating is excluded
o3     CG → SWJT   help, web: CG returns it (approved), re-dispatched to SWJT, which signs
                   Tue 09:00 (on time), closes Tue 11:00, callback reached, rated 4
o4     CG          report: signed Tue 09:00, still open — overdue from Friday 11 Dec
o5     SWJT        help: SWJT asks to return (rejected), signs Wed 09:00 (late), closes
                   Wed 11:00 (on time); no callback, no rating
o6     HB          report: signed Mon 11:00, closed Mon 14:00, callback reached, rated 5
                   (HB serves no item in H1)
o7     —           enquiry, h5: answered at intake (即问即答) Mon 09:30
o8     CG          complaint: signed Mon 11:00, closed Mon 13:00, callback reached,
                   rated 1 (stays: not appealed)
o9     CG          accepted Tue 1 Dec: signed and closed on time the same day
=====  ==========  =======================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from govloop.core.auth import Role, create_user
from govloop.core.clock import FrozenClock, frozen
from govloop.core.db import unit_of_work
from govloop.core.models import User
from govloop.hall.models import ServiceItem, Window
from govloop.hotline.orders import intake, workflow
from govloop.org.models import Hall
from govloop.ratings import rectification
from govloop.ratings.models import RectificationCase
from tests.hotline.factories import PASSWORD, HotlineWorld, build_world, new_order

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


MONDAY_0900 = local(23, 9)
# "now" of the dashboard checks: Friday 11 Dec, 10:00 — o4 is 10 hours late.
FRIDAY_DEC_11 = local(11, 10, month=12)


@dataclass
class Week:
    world: HotlineWorld
    orders: dict[str, int] = field(default_factory=dict)  # o1 … o9 → order id
    numbers: dict[str, str] = field(default_factory=dict)
    hall_id: int = 0


def _step(clock: FrozenClock, moment: datetime, action, **kwargs):  # type: ignore[no-untyped-def]
    clock.current = moment
    with unit_of_work() as s:
        return action(session=s, **kwargs)


def _hall(world: HotlineWorld) -> tuple[int, User]:
    """H1 with a general window (every active item) and items of CG and SWJT only."""
    with unit_of_work() as s:
        for code, dept in (("CG01", "CG"), ("SW01", "SWJT")):
            s.add(
                ServiceItem(
                    code=code,
                    name=f"事项{code}",
                    department_id=world.departments[dept],
                    ticket_prefix=code[0],
                    promised_minutes=10,
                )
            )
        hall = Hall(code="H1", name="市民服务中心", enforce_hours=False)
        s.add(hall)
        s.flush()
        s.add(Window(hall_id=hall.id, number=1, name="综合窗口", is_general=True))
        manager = create_user(
            session=s, username="manager", password=PASSWORD, role=Role.HALL_MANAGER
        )
        return hall.id, manager


def build_week() -> Week:
    with frozen(MONDAY_0900) as clock:
        with unit_of_work() as s:
            world = build_world(s)
        hall_id, manager = _hall(world)
        week = Week(world, hall_id=hall_id)
        w, d, h = world, world.departments, world.handlers
        cg, swjt, hb = h["CG"], h["SWJT"], h["HB"]
        specs = {
            "o1": {"category_code": "CG-NOISE"},
            "o2": {"category_code": "CG-NOISE", "urgency": "urgent"},
            "o3": {"category_code": "SW-WATER", "channel": "web"},
            "o4": {"category_code": "CG-ROAD"},
            "o5": {"category_code": "SW-WATER"},
            "o6": {"category_code": "HB-POLLUTION"},
            "o7": {"category_code": "GJJ-FUND", "channel": "h5"},
            "o8": {"category_code": "CG-GARBAGE"},
        }
        with unit_of_work() as s:
            for key, spec in specs.items():
                order = new_order(s, w, **spec)
                week.orders[key], week.numbers[key] = order.id, order.number
        o = week.orders

        def dispatch(key: str, dept: str, **kw: object) -> None:
            kw.setdefault("department_id", d[dept])
            _step(clock, local(23, 10), workflow.dispatch, order_id=o[key], actor=w.agent, **kw)

        def finish(key: str, unit, answered: datetime, closed: datetime) -> None:  # type: ignore[no-untyped-def]
            _step(clock, answered, workflow.answer, order_id=o[key], actor=unit, text="已处理完毕")
            _step(clock, closed, workflow.close, order_id=o[key], actor=w.agent)

        _step(clock, local(23, 9, 30), intake.answer_directly, order_id=o["o7"], actor=w.agent,
              answer="带身份证和购房合同。")  # fmt: skip
        # o1: CG leads, SWJT assists
        dispatch("o1", "CG", assist_department_ids=[d["SWJT"]])
        _step(clock, local(23, 11), workflow.sign, order_id=o["o1"], actor=cg)
        _step(clock, local(23, 12), workflow.sign, order_id=o["o1"], actor=swjt)
        finish("o1", cg, local(24, 10), local(24, 11))
        _step(clock, local(25, 10), workflow.record_callback, order_id=o["o1"], actor=w.agent,
              reached=True, level=5)  # fmt: skip
        # o2: urgent, late on both counts, bad rating excluded on appeal
        dispatch("o2", "CG")
        _step(clock, local(25, 9), workflow.sign, order_id=o["o2"], actor=cg)
        finish("o2", cg, local(25, 11), local(26, 10))
        _step(clock, local(26, 11), workflow.record_callback, order_id=o["o2"], actor=w.agent,
              reached=False)  # fmt: skip
        _step(clock, local(26, 12), workflow.rate, number=week.numbers["o2"], level=2)
        # o3: CG returns it, SWJT takes it
        dispatch("o3", "CG")
        _step(clock, local(23, 14), workflow.request_return, order_id=o["o3"], actor=cg,
              reason="属供水职责")  # fmt: skip
        _step(clock, local(23, 15), workflow.review_return, order_id=o["o3"], actor=w.agent,
              approve=True)  # fmt: skip
        _step(clock, local(23, 16), workflow.dispatch, order_id=o["o3"], actor=w.agent,
              department_id=d["SWJT"])  # fmt: skip
        _step(clock, local(24, 9), workflow.sign, order_id=o["o3"], actor=swjt)
        finish("o3", swjt, local(24, 10), local(24, 11))
        _step(clock, local(25, 10), workflow.record_callback, order_id=o["o3"], actor=w.agent,
              reached=True, level=4)  # fmt: skip
        # o4: open
        dispatch("o4", "CG")
        _step(clock, local(24, 9), workflow.sign, order_id=o["o4"], actor=cg)
        _step(clock, local(24, 10), workflow.add_progress, order_id=o["o4"], actor=cg,
              note="已到现场")  # fmt: skip
        # o5: a rejected return, then a late signature
        dispatch("o5", "SWJT")
        _step(clock, local(23, 11), workflow.request_return, order_id=o["o5"], actor=swjt,
              reason="不归我们")  # fmt: skip
        _step(clock, local(23, 12), workflow.review_return, order_id=o["o5"], actor=w.agent,
              approve=False, note="属于供水范围")  # fmt: skip
        _step(clock, local(25, 9), workflow.sign, order_id=o["o5"], actor=swjt)
        finish("o5", swjt, local(25, 10), local(25, 11))
        # o6: HB
        dispatch("o6", "HB")
        _step(clock, local(23, 11), workflow.sign, order_id=o["o6"], actor=hb)
        finish("o6", hb, local(23, 13), local(23, 14))
        _step(clock, local(24, 10), workflow.record_callback, order_id=o["o6"], actor=w.agent,
              reached=True, level=5)  # fmt: skip
        # o8: CG, a bad rating that stays
        dispatch("o8", "CG")
        _step(clock, local(23, 11), workflow.sign, order_id=o["o8"], actor=cg)
        finish("o8", cg, local(23, 12), local(23, 13))
        _step(clock, local(24, 10), workflow.record_callback, order_id=o["o8"], actor=w.agent,
              reached=True, level=1)  # fmt: skip
        # o2's rating: CG appeals, the hall manager upholds it
        with unit_of_work() as s:
            case_id = s.scalar(
                select(RectificationCase.id).where(RectificationCase.department_id == d["CG"])
                .order_by(RectificationCase.id)
            )  # fmt: skip
        _step(clock, local(27, 9), rectification.appeal, case_id=case_id, actor=cg,
              reason="市民误评，已电话确认")  # fmt: skip
        _step(clock, local(27, 10), rectification.review_appeal, case_id=case_id, actor=manager,
              uphold=True, note="情况属实")  # fmt: skip
        # o9: December
        clock.current = local(1, 9, month=12)
        with unit_of_work() as s:
            order = new_order(s, w, category_code="CG-NOISE")
            week.orders["o9"], week.numbers["o9"] = order.id, order.number
        _step(clock, local(1, 10, month=12), workflow.dispatch, order_id=week.orders["o9"],
              actor=w.agent, department_id=d["CG"])  # fmt: skip
        _step(clock, local(1, 11, month=12), workflow.sign, order_id=week.orders["o9"], actor=cg)
        finish("o9", cg, local(1, 12, month=12), local(1, 13, month=12))
        # o4 is pressed twice once it is late
        for hour in (8, 9):
            _step(clock, local(11, hour, month=12), workflow.supervise, order_id=o["o4"],
                  actor=w.agent, note="请尽快办结")  # fmt: skip
    return week


# Hand-computed figures per lead unit for November (see the table above).
CG_NOVEMBER = {
    "dispatches": 5,  # o1 o2 o3 o4 o8
    "orders": 4,  # o3 went to SWJT
    "closed": 3,  # o1 o2 o8
    "on_time_rate": 2 / 3,  # o2 late
    "sign_on_time_rate": 3 / 4,  # o1 o4 o8 of o1 o2 o4 o8
    "return_rate": 1 / 5,  # o3
    "callback_rate": 2 / 3,  # o1 o8 reached
    "satisfaction_rate": 1 / 2,  # o1 5, o8 1; o2 excluded
}
SWJT_NOVEMBER = {
    "dispatches": 2,  # o3 o5
    "orders": 2,
    "closed": 2,
    "on_time_rate": 1.0,
    "sign_on_time_rate": 1 / 2,  # o5 late
    "return_rate": 1 / 2,  # o5 asked (rejected)
    "callback_rate": 1 / 2,  # o3
    "satisfaction_rate": 1.0,  # o3 4
}


def hours_after_monday_0900(moment: datetime) -> float:
    return (moment - MONDAY_0900) / timedelta(hours=1)
