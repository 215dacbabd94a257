"""A small hall day with hand-computed indicator figures (see the comments).

Monday 2026-11-23, hall H1 opens 09:00–17:00 (Asia/Shanghai). Items SB01 (A, window 1)
and GS01 (B, window 2) promise 10 minutes; window 3 is general. Staff sign in at 09:00.
Minutes below are after 09:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from govloop.core.clock import FrozenClock, frozen
from govloop.core.db import unit_of_work
from govloop.hall import service
from govloop.hall import windows as hall_windows
from govloop.org import service as org_service
from govloop.ratings import rectification
from govloop.ratings import service as ratings
from govloop.ratings.service import RatingInput
from tests.factories import HallWorld, make_hall

MONDAY_0900 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@dataclass
class Day:
    world: HallWorld
    clock: FrozenClock
    case_ids: dict[str, int]


def at(clock: FrozenClock, minutes: float) -> None:
    clock.current = MONDAY_0900 + timedelta(minutes=minutes)


def _do(world: HallWorld, action: str, window: int, **kwargs: object) -> object:
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        return getattr(hall_windows, action)(
            session=s, hall=hall, window_number=window, actor=world.staff[window], **kwargs
        )


def _issue(item: str, priority: str | None = None) -> str:
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        t = service.issue_ticket(
            session=s, hall=hall, item=service.get_item(session=s, code=item), priority=priority
        )
        return t.code


def _rate(code: str, level: int, phone: str | None = None) -> int | None:
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        ticket = service.get_ticket(session=s, hall=hall, code=code)
        rating = ratings.rate_ticket(
            session=s,
            ticket=ticket,
            data=RatingInput(level=level, channel="pad", citizen_phone=phone),
        )
        s.flush()
        case = rectification.list_cases(session=s)
        return next((c.id for c, r in case if r.id == rating.id), None)


def build_monday() -> Day:
    """The whole Monday; returns with the clock at 10:00 on Wednesday (frozen)."""
    with frozen(MONDAY_0900) as clock:
        with unit_of_work() as s:
            world = make_hall(s)
        at(clock, 0)
        _issue("SB01")  # A001
        _issue("SB01", priority="elderly")  # A002, priority lane
        at(clock, 5)
        _issue("GS01")  # B001
        at(clock, 10)
        _do(world, "call_next", 1)  # A002 first (priority): wait 10
        _do(world, "start_service", 1)
        at(clock, 12)
        _do(world, "call_next", 2)  # B001: wait 7
        _do(world, "start_service", 2)
        at(clock, 16)
        _do(world, "finish_service", 1)  # A002 handled 6 (on time), busy 6 at window 1
        _do(world, "call_next", 1)  # A001: wait 16
        at(clock, 17)
        _do(world, "recall", 1)
        at(clock, 18)
        _do(world, "mark_no_show", 1)  # requeued (grace 1)
        at(clock, 20)
        _do(world, "call_next", 3)  # A001 again, at the general window
        _do(world, "start_service", 3)
        at(clock, 25)
        _do(world, "finish_service", 3)  # A001 handled 5, busy 5 at window 3
        at(clock, 26)
        _rate("A001", 4)
        at(clock, 17)
        _rate("A002", 5)
        at(clock, 27)
        _do(world, "finish_service", 2, outcome="needs_documents")  # B001 handled 15: late
        at(clock, 28)
        case_b001 = _rate("B001", 2, phone="13800138000")  # real-name bad rating
        at(clock, 30)
        _do(world, "pause", 2)
        _issue("SB01")  # A003
        at(clock, 31)
        _do(world, "call_next", 1)  # A003: wait 1
        at(clock, 33)
        _do(world, "mark_no_show", 1)  # requeued
        at(clock, 34)
        _do(world, "call_next", 1)
        at(clock, 36)
        _do(world, "mark_no_show", 1)  # final no-show; busy 2 at window 1
        at(clock, 40)
        _do(world, "resume", 2)
        _issue("GS01")  # B002
        at(clock, 41)
        with unit_of_work() as s:
            hall = org_service.get_hall(session=s, code="H1")
            service.cancel_ticket(
                session=s, ticket=service.get_ticket(session=s, hall=hall, code="B002")
            )
        at(clock, 45)
        _issue("GS01")  # B003
        at(clock, 46)
        _do(world, "call_next", 2)  # B003: wait 1
        at(clock, 48)
        _do(world, "transfer", 2, to_window_number=3)
        at(clock, 50)
        _do(world, "call_next", 3)
        _do(world, "start_service", 3)
        at(clock, 58)
        _do(world, "finish_service", 3)  # B003 handled 8, busy 8 at window 3
        at(clock, 59)
        case_b003 = _rate("B003", 1)  # anonymous bad rating, appealed and excluded below
        at(clock, 60)
        _do(world, "sign_out", 1)  # window 1 on post 60
        at(clock, 120)
        _do(world, "sign_out", 2)  # window 2 on post 30 + 80 = 110; window 3 until 17:00
        assert case_b001 is not None and case_b003 is not None
        # Tuesday: callback of B001 (due Tuesday: on time); appeal of B003.
        clock.current = MONDAY_0900 + timedelta(days=1, hours=1)
        with unit_of_work() as s:
            rectification.record_callback(
                session=s, case_id=case_b001, actor=world.manager, note="已电话回访"
            )
            rectification.appeal(
                session=s, case_id=case_b003, actor=world.staff[3], reason="误评，群众已确认"
            )
        # Wednesday: B001 rectified (due the 5th working day: on time); appeal upheld.
        clock.current = MONDAY_0900 + timedelta(days=2, hours=1)
        with unit_of_work() as s:
            rectification.record_rectification(
                session=s,
                case_id=case_b001,
                actor=world.manager,
                evidence="补正清单",
                result="已整改",
            )
            rectification.review_appeal(
                session=s, case_id=case_b003, actor=world.manager, uphold=True, note="情况属实"
            )
    return Day(world, clock, {"B001": case_b001, "B003": case_b003})


# Hand-computed figures for the hall on Monday (minutes; see the timeline above).
HALL_MONDAY = {
    # tickets A001 A002 A003 B001 B002 B003 = 6; called 5; served 4; done 3
    "wait_mean": 35 / 5,  # waits 16, 10, 1, 7, 1
    "wait_p90": 10 + 0.6 * (16 - 10),  # sorted 1 1 7 10 16: position 3.6
    "served_within_20": 1.0,
    "appointment_wait": None,
    "priority_wait": 10.0,
    "handling_mean": (6 + 15 + 5 + 8) / 4,
    "handling_vs_promised": 34 / 40,
    "on_time_completion": 3 / 4,  # B001 took 15 > 10
    "one_visit_completion": 3 / 4,  # B001 needs documents
    "transfer_rate": 1 / 5,
    "no_show_rate": 1 / 5,
    "recall_rate": 1 / 5,
    "unserved_rate": 1 / 6,  # B002 cancelled
    "appointment_punctuality": None,
    "on_post_rate": (60 + 110 + 480) / (3 * 480),
    "window_utilization": (6 + 2 + 15 + 5 + 8) / (60 + 110 + 480),
    "served_per_duty_hour": 4 / ((60 + 110 + 480) / 60),
    "device_uptime": None,
    # ratings: A002 5, A001 4, B001 2 (real name); B003 1 excluded on appeal
    "satisfaction_rate": 2 / 3,
    "bad_rating_rate": 1 / 3,
    "rating_coverage": 3 / 4,
    "rectification_rate": 1.0,
    "on_time_rectification_rate": 1.0,
    "callback_rate": 1.0,
    "callback_on_time_rate": 1.0,
    "mean_rating": 11 / 3,
    "very_satisfied_rate": 1 / 3,
}

# Per window: (on post minutes, busy minutes, served) — window 1: A002 + A003's no-show.
WINDOWS_MONDAY = {1: (60, 6 + 2, 1), 2: (110, 15, 1), 3: (480, 5 + 8, 2)}
