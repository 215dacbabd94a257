"""Demo matters (办件): months of applications moved through the real workflow with the clock
set back, results posted through the courier simulator with its tracking pushes, and every
message the workflow writes sent through a simulated SMS gateway with delivery reports.

The history is a discrete-event simulation: each matter's life is a generator that performs
one step (受理, 审查, 补正, 决定, 制证, 领取 or 寄出) through ``matters.workflow`` /
``matters.delivery.shipping`` and yields the moment of its next step; the scheduler runs all
of them, the courier's pushes, the notification sender's rounds, the gateway's delivery
reports and the deadline sweep in time order under a frozen clock, and stops at the present:
whatever is planned later has not happened yet, so recent matters are still open today.

What a visitor should find (``tests/demo/test_matters_demo.py`` checks it):

* matters accepted at the window from the hall's finished tickets, online (evenings and
  weekends too) and pushed by the 不动产 system for mortgages registered at a bank;
* most decided on time, some late (slower departments more often); 补正 with the clock
  stopped, some in two rounds, one never answered and returned; refusals with the reason the
  department gives; a few still overdue or due soon today;
* about a third of postable results posted: delivered, delivered after a failed attempt, one
  parcel returned recently (back to 待领取), one returned earlier and collected at the hall,
  parcels in transit today (the live server's courier duty keeps pushing their events);
* applicants from the demo's households: one phone for a whole family, people applying twice,
  an estate agent who gives their own phone for six clients in an hour (the per-phone cap
  holds back the sixth message), a citizen who replies TD, numbers that are out of service
  (delivery reports say undeliverable) and one the operator refuses (dead letter), an SMS
  gateway outage that the sender retries through, SMS queries "查询 + 办件编号";
* department handlers (``dept-<code>``) as the actors, with phones (``StaffContact``) for the
  deadline sweep's warnings.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools
import random
import time as _time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from govloop.core import calendar
from govloop.core.auth import Role, hash_password
from govloop.core.calendar import is_workday, next_workday
from govloop.core.clock import FrozenClock, frozen, local_tz, now
from govloop.core.models import User
from govloop.core.settings import get_settings
from govloop.demo import city, households, matter_items
from govloop.demo.hall import seed as hall_demo
from govloop.demo.people import MOBILE_PREFIXES
from govloop.hall.models import ServiceItem, Ticket, TicketStatus
from govloop.matters import deadlines, service, sweep, workflow
from govloop.matters.delivery import registry, shipping, tracking
from govloop.matters.delivery.simulator import SimulatedSf
from govloop.matters.models import (
    DeliveryMethod,
    Matter,
    MatterSource,
    MatterState,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from govloop.notify import callbacks, dispatch, inbound
from govloop.notify.channels.base import Outgoing
from govloop.notify.channels.kannel import (
    DLR_DELIVERED,
    DLR_SMSC_ACCEPTED,
    DLR_UNDELIVERABLE,
    dlr_signature,
)
from govloop.notify.models import (
    ChannelName,
    Notification,
    NotificationStatus,
    StaffContact,
)
from govloop.org.models import Department, DepartmentMember

S = MatterState
DAYS_MIN = 20  # matters over at least this many days, however short the hall's history
DAYS_MAX = 60
WINDOW_PER_DAY = 4.0  # matters accepted at the window per working day …
ONLINE_PER_DAY = 1.2  # … applied for online per calendar day …
DEPARTMENT_PER_DAY = 0.4  # … and pushed by the 不动产 system per working day
POST_SHARE = {MatterSource.WINDOW: 0.33, MatterSource.ONLINE: 0.6, MatterSource.DEPARTMENT: 0.5}
# chance a department decides after its promise (the slow ones are slow more often)
LATE_SHARE = {"GA": 0.05, "RS": 0.09, "YB": 0.07, "SJ": 0.04, "BDC": 0.12, "GJJ": 0.1, "MZ": 0.16}
REFUSED_SHARE = 0.06
RETURNED_SHARE = 0.025  # withdrawn by the applicant or not the department's to decide
CORRECTION_SHARE = 0.14
SECOND_ROUND_SHARE = 0.25
ABANDONED_SHARE = 0.08  # of corrections: never answered, the application goes back
NEVER_COLLECTED = 0.06  # results still waiting at the hall weeks later
# the items each source applies for
ONLINE_ITEMS = tuple(code for code, t in matter_items.TERMS.items() if t.online)
DEPARTMENT_ITEMS = ("BDC02",)
RETURN_REASONS = (
    "申请人申请撤回",
    "申请事项不属于本部门职权范围，已告知向有关部门申请",
)
ABANDONED_REASON = "申请人逾期未补正材料，申请退回"
FLAWS = ("（缺少签字）", "（复印件不清晰）", "（缺页）", "（与原件不一致）")
OUTAGE_MINUTES = 15  # the SMS gateway could not be reached for this long, one afternoon
CLOSING_OP_CODES = ("80", "631")  # signed for; back at the sender
AGENT_DAY = 24  # working days back: the estate agent's six applications, and the outage


@dataclass(frozen=True)
class Person:
    name: str
    phone: str
    address: str
    household: int


@dataclass
class Plan:
    """One matter's life as planned; what happens after today does not happen."""

    key: int
    item: str
    source: str
    person: Person
    accepted_at: datetime  # UTC
    post: bool
    ticket_id: int | None = None
    window_staff_id: int | None = None
    review_clock: int = 0  # working days (of the running clock) to the start of review
    # (clock day asked, working days the clock stood still, documents brought in person)
    corrections: list[tuple[int, int, bool]] = field(default_factory=list)
    abandoned: bool = False  # the last correction is never answered
    outcome: str = "granted"  # granted, refused, returned
    reason: str = ""
    decision_clock: int = 1
    certify_days: int = 1
    collect_days: int | None = 2  # working days from 待领取 to pickup (None: not yet)
    fate: str = "normal"  # the parcel's, when posted
    sms_query_days: int | None = None  # the applicant texts 查询 this many days after 受理
    # the department has gone no further than this state yet (the newest matters)
    hold: str | None = None
    external_ref: str | None = None
    delivery_name: str | None = None


@dataclass
class MatterDemo:
    matters: int = 0
    by_state: Counter[str] = field(default_factory=Counter)
    on_time: int = 0
    decided: int = 0
    posted: int = 0
    tracking_events: int = 0
    messages: Counter[str] = field(default_factory=Counter)
    showcase: list[tuple[str, str, str]] = field(default_factory=list)  # label, number, phone
    handler: str = ""
    seconds: float = 0.0
    note: str = ""

    def summary(self) -> str:
        if not self.matters:
            return self.note or "办件：演示办件已存在，未重复生成"
        states = "，".join(
            f"{workflow.STATE_LABELS[S(s)]} {n}" for s, n in sorted(self.by_state.items())
        )
        share = self.on_time / self.decided if self.decided else 0.0
        sms = "，".join(f"{STATUS_WORDS.get(s, s)} {n}" for s, n in sorted(self.messages.items()))
        lines = [
            f"办件：{self.matters} 件（{states}）；承诺时限内办结率 {share:.1%}；"
            f"邮寄 {self.posted} 件，快递轨迹 {self.tracking_events} 条；"
            f"用时 {self.seconds:.1f} 秒",
            f"  短信 {sum(self.messages.values())} 条（{sms}）",
            f"  部门办件台 /matters（以 {self.handler} 等承办人登录，密码同上）；"
            "通知记录 /notify/log（admin）",
            "  办件进度查询 /matters/track 试用（办件编号 + 手机号）：",
        ]
        lines += [f"    {label}：{number}  {phone}" for label, number, phone in self.showcase]
        return "\n".join(lines)


STATUS_WORDS = {
    "queued": "待发送",
    "sent": "已发送",
    "delivered": "已送达",
    "failed": "未送达",
    "dead": "发送失败",
    "suppressed": "未发送",
}


# --- time --------------------------------------------------------------------------------


def _local(moment: datetime) -> datetime:
    return moment.astimezone(local_tz())


def _at(day: date, hour: float) -> datetime:
    minutes = round(hour * 60)
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=local_tz())
    return local.astimezone(UTC)


def _workday(day: date, offset: int) -> date:
    """The ``offset``-th working day after ``day`` (0: ``day`` itself if it is one)."""
    current = day if is_workday(day) else next_workday(day)
    if not is_workday(day) and offset > 0:
        offset -= 1
    for _ in range(offset):
        current = next_workday(current)
    return current


def _workdays_back(day: date, count: int) -> date:
    current = day
    while count > 0:
        current -= timedelta(days=1)
        if is_workday(current):
            count -= 1
    return current


def _later(rng: random.Random, after: datetime, day: date) -> datetime:
    """A moment in office hours of ``day``, after ``after``."""
    if _local(after).date() >= day:
        return after + timedelta(minutes=rng.uniform(8, 90))
    return _at(day, rng.uniform(9.0, 16.8))


# --- people --------------------------------------------------------------------------------


def applicants(seed: int, today: date) -> list[Person]:
    """Adults of the demo's households (the people of the 主题库): families share a phone."""
    frame = households.household_persons(400, seed=seed)
    adult = (today - timedelta(days=18 * 366)).isoformat()
    return [
        Person(str(r["name"]), str(r["phone"]), str(r["address"]), int(r["household_id"]))
        for r in frame.to_dict("records")
        if str(r["birth_date"]) <= adult
    ]


def _phone(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _work_address(rng: random.Random) -> str:
    d = rng.choice(city.DISTRICTS)
    return city.address(d, rng.choice(d.roads), rng.randint(1, 300), f"{rng.randint(2, 18)}层")


# --- the plans -----------------------------------------------------------------------------


class Planner:
    def __init__(
        self, *, seed: int, today: date, people: list[Person], items: dict[str, ServiceItem]
    ) -> None:
        self.rng = random.Random(seed * 7919 + 17)
        self.today = today
        self.people = people
        self.items = items
        self.keys = itertools.count(1)

    def person(self) -> Person:
        return self.rng.choice(self.people)

    def plan(
        self,
        item: str,
        source: str,
        accepted_at: datetime,
        person: Person | None = None,
        **fixed: Any,
    ) -> Plan:
        rng = self.rng
        terms = matter_items.TERMS[item]
        dept = "".join(ch for ch in item if ch.isalpha())
        promised = terms.promised_days
        post = terms.by_post and rng.random() < POST_SHARE[MatterSource(source)]
        p = Plan(
            key=next(self.keys),
            item=item,
            source=source,
            person=person or self.person(),
            accepted_at=accepted_at,
            post=post,
        )
        accepted_day = _local(accepted_at).date()
        p.review_clock = 0 if (is_workday(accepted_day) and rng.random() < 0.6) else 1
        draw = rng.random()
        if draw < RETURNED_SHARE:
            p.outcome, p.reason = "returned", rng.choice(RETURN_REASONS)
        elif draw < RETURNED_SHARE + REFUSED_SHARE and terms.refusals:
            p.outcome, p.reason = "refused", rng.choice(terms.refusals)
        late = rng.random() < LATE_SHARE.get(dept, 0.08)
        if late:
            p.decision_clock = promised + rng.choice((1, 1, 2, 2, 3, 5))
        else:
            low = max(p.review_clock, 1, round(promised * 0.3))
            p.decision_clock = rng.randint(min(low, promised), promised)
        if p.outcome != "returned" and rng.random() < CORRECTION_SHARE:
            asked = rng.randint(p.review_clock, max(p.review_clock, p.decision_clock - 1))
            p.corrections.append((asked, rng.randint(1, 6), rng.random() < 0.5))
            if rng.random() < SECOND_ROUND_SHARE:
                p.corrections.append((asked, rng.randint(1, 4), rng.random() < 0.5))
            if rng.random() < ABANDONED_SHARE:
                p.abandoned, p.outcome, p.reason = True, "returned", ABANDONED_REASON
        p.certify_days = rng.choice((0, 1, 1, 1, 2, 2, 3))
        if rng.random() < NEVER_COLLECTED or (p.outcome == "refused" and rng.random() < 0.4):
            p.collect_days = None
        else:
            p.collect_days = rng.choice((0, 1, 1, 2, 2, 3, 4, 6, 9))
        if post:
            p.fate = "failed_once" if rng.random() < 0.1 else "normal"
        if p.person.phone and rng.random() < 0.04:
            p.sms_query_days = rng.randint(1, 4)
        for name, value in fixed.items():
            setattr(p, name, value)
        return p


Tickets = dict[date, list[tuple[int, str, datetime, int]]]


def _window_tickets(
    session: Session, hall_id: int, items: dict[str, ServiceItem], first: date
) -> Tickets:
    """Finished tickets of items that become matters, by day (the window's 受理)."""
    codes = {i.id: code for code, i in items.items() if code in matter_items.TERMS}
    rows = session.execute(
        select(Ticket.id, Ticket.item_id, Ticket.finished_at, Ticket.staff_id, Ticket.service_date)
        .where(
            Ticket.hall_id == hall_id,
            Ticket.status == TicketStatus.FINISHED,
            Ticket.item_id.in_(list(codes)),
            Ticket.finished_at.is_not(None),
            Ticket.staff_id.is_not(None),
            Ticket.service_date >= first,
        )
        .order_by(Ticket.id)
    ).all()
    by_day: Tickets = {}
    for tid, item_id, finished, staff_id, day in rows:
        if finished is not None and staff_id is not None:
            by_day.setdefault(day, []).append((tid, codes[item_id], finished, staff_id))
    return by_day


def _poisson(rng: random.Random, mean: float) -> int:
    k, threshold, product = 0, pow(2.718281828459045, -mean), rng.random()
    while product > threshold:
        k += 1
        product *= rng.random()
    return k


def regular_plans(
    planner: Planner,
    *,
    first: date,
    end: datetime,
    tickets: Tickets,
    default_staff: int,
) -> list[Plan]:
    rng = planner.rng
    plans: list[Plan] = []
    day = first
    while day <= _local(end).date():
        if is_workday(day):
            todays = tickets.get(day, [])
            count = _poisson(rng, WINDOW_PER_DAY)
            if todays:
                for tid, code, finished, staff in rng.sample(todays, min(count, len(todays))):
                    plans.append(
                        planner.plan(
                            code, MatterSource.WINDOW, finished, ticket_id=tid,
                            window_staff_id=staff,
                        )
                    )  # fmt: skip
            else:  # before the hall's history: accepted at the 综合窗口
                for _ in range(count):
                    code = rng.choice(list(matter_items.TERMS))
                    at = _at(day, rng.uniform(9.2, 16.8))
                    plans.append(
                        planner.plan(code, MatterSource.WINDOW, at, window_staff_id=default_staff)
                    )
            for _ in range(_poisson(rng, DEPARTMENT_PER_DAY)):
                at = _at(day, rng.uniform(9.5, 17.5))
                ref = f"BDC{day:%Y%m%d}{rng.randrange(10000):04d}"
                plans.append(
                    planner.plan(
                        rng.choice(DEPARTMENT_ITEMS), MatterSource.DEPARTMENT, at, external_ref=ref
                    )
                )
        for _ in range(_poisson(rng, ONLINE_PER_DAY * (1.0 if is_workday(day) else 0.5))):
            hour = rng.choice((rng.uniform(8, 12), rng.uniform(13, 18), rng.uniform(19, 23)))
            at = _at(day, hour)
            plans.append(planner.plan(rng.choice(ONLINE_ITEMS), MatterSource.ONLINE, at))
        day += timedelta(days=1)
    return [p for p in plans if p.accepted_at <= end]


@dataclass
class Cast:
    """The people of the hard cases, kept to print them."""

    family: list[Person]
    agent_phone: str
    opted_out: Person
    out_of_service: list[str]  # numbers whose delivery reports say undeliverable
    blocked: str  # a number the operator refuses to deliver to (dead letter)
    tracked: Person | None  # the /my-data citizen of the access demo


def hard_cases(planner: Planner, *, end: datetime, cast: Cast) -> list[Plan]:
    """Matters that must be there whatever the draws: each is a case a visitor should see."""
    rng = planner.rng
    today = _local(end).date()
    out: list[Plan] = []

    def day_back(n: int) -> date:
        return _workdays_back(today, n)

    def plan(item: str, day: date, hour: float, **fixed: Any) -> Plan:
        source = fixed.pop("source", MatterSource.WINDOW)
        person = fixed.pop("person", None)
        p = planner.plan(item, source, _at(day, hour), person, **fixed)
        out.append(p)
        return p

    # a family on one phone: three of them apply one morning
    father, mother, *rest = cast.family
    day = day_back(18)
    plan("GA02", day, 9.4, person=father, outcome="granted", corrections=[], post=True)
    plan("RS01", day, 9.7, person=mother, outcome="granted", corrections=[], post=True)
    if rest:
        plan("GA01", day, 10.1, person=rest[0], outcome="granted", corrections=[], post=False)
    # an estate agent gives their own phone for six clients' transfers within the hour
    day = day_back(AGENT_DAY)
    for k in range(6):
        client = planner.person()
        agent = Person(client.name, cast.agent_phone, client.address, -1)
        plan("BDC01", day, 14.0 + k * 0.12, person=agent, outcome="granted", corrections=[])
    # a person applies, is refused, and applies again with what was missing
    again = planner.person()
    plan(
        "SJ01",
        day_back(30),
        10.5,
        person=again,
        outcome="refused",
        corrections=[],
        reason=matter_items.TERMS["SJ01"].refusals[0],
        post=False,
        decision_clock=2,
    )
    plan("SJ01", day_back(26), 15.2, person=again, outcome="granted", corrections=[], post=True,
         fate="normal", decision_clock=1)  # fmt: skip
    # the citizen who replies TD after the first message, and applies again later
    plan("RS01", day_back(40), 11.0, person=cast.opted_out, outcome="granted", post=False,
         corrections=[])  # fmt: skip
    plan("GA02", day_back(12), 10.0, person=cast.opted_out, outcome="granted", post=False,
         corrections=[])  # fmt: skip
    # numbers out of service, and one the operator refuses
    for phone in cast.out_of_service:
        person = Person(planner.person().name, phone, planner.person().address, -2)
        plan("GA02", day_back(rng.randint(15, 35)), 10.0, person=person, outcome="granted")
    blocked = Person(planner.person().name, cast.blocked, planner.person().address, -3)
    plan("RS01", day_back(22), 15.0, person=blocked, outcome="granted", post=False)
    # parcels: one returned recently (waits at the hall now), one returned and collected,
    # two with a failed attempt, one in transit today
    plan("BDC01", day_back(13), 10.2, outcome="granted", corrections=[], post=True,
         fate="returned", decision_clock=3, certify_days=0, collect_days=None)  # fmt: skip
    plan("SJ02", day_back(35), 9.8, outcome="granted", corrections=[], post=True,
         fate="returned", decision_clock=2, certify_days=1, collect_days=2)  # fmt: skip
    for back in (20, 9):
        plan("GA01", day_back(back + 10), 14.3, outcome="granted", corrections=[], post=True,
             fate="failed_once", decision_clock=8, certify_days=1)  # fmt: skip
    plan("SJ01", day_back(2), 9.6, outcome="granted", corrections=[], post=True, fate="normal",
         decision_clock=1, certify_days=0, review_clock=0)  # fmt: skip
    # 补正 in two rounds (done), one waiting for documents now, one never answered
    plan("BDC03", day_back(45), 10.0, outcome="granted", post=False, decision_clock=12,
         corrections=[(2, 3, True), (5, 2, False)])  # fmt: skip
    plan("SJ04", day_back(4), 11.0, outcome="granted", post=True, decision_clock=8,
         corrections=[(1, 30, False)])  # fmt: skip
    plan("MZ02", day_back(40), 10.5, outcome="returned", reason=ABANDONED_REASON, abandoned=True,
         corrections=[(3, 20, False)], post=False)  # fmt: skip
    # open today: two overdue, two due today or the next working day
    plan("MZ03", day_back(18), 10.0, outcome="granted", corrections=[], decision_clock=40)
    plan("GJJ02", day_back(13), 15.0, outcome="granted", corrections=[], decision_clock=30)
    plan("BDC01", day_back(4), 9.8, outcome="granted", corrections=[], decision_clock=5,
         review_clock=0)  # fmt: skip
    plan("SJ01", day_back(2), 16.0, outcome="granted", corrections=[], decision_clock=3)
    # the newest: applied for online a few hours ago; decided yesterday, nothing since; a
    # certificate in the making; a parcel on its first rounds (it will come back)
    out.append(planner.plan("SJ02", MatterSource.ONLINE, end - timedelta(hours=3),
                            hold=S.ACCEPTED))  # fmt: skip
    plan("SJ03", day_back(3), 10.3, outcome="granted", corrections=[], decision_clock=2,
         hold=S.GRANTED)  # fmt: skip
    plan("GJJ02", day_back(4), 14.2, outcome="refused", corrections=[], decision_clock=3,
         hold=S.REFUSED)  # fmt: skip
    plan("GA01", day_back(5), 9.5, outcome="granted", corrections=[], decision_clock=3,
         hold=S.CERTIFYING)  # fmt: skip
    plan("BDC02", day_back(4), 11.0, outcome="granted", corrections=[], post=True,
         fate="returned", decision_clock=1, certify_days=0, review_clock=0)  # fmt: skip
    # the /my-data citizen has matters too, so their tracker lists the messages
    if cast.tracked is not None:
        plan("RS01", day_back(16), 9.9, person=cast.tracked, outcome="granted", corrections=[],
             post=True, fate="normal")  # fmt: skip
        plan("GA02", day_back(3), 10.4, person=cast.tracked, outcome="granted", corrections=[],
             post=False, decision_clock=10)  # fmt: skip
    # SMS queries 查询 + 办件编号 by some applicants
    for p in out[:3]:
        p.sms_query_days = 1
    for p in out:
        terms = matter_items.TERMS[p.item]
        if p.post and not terms.by_post:
            p.post = False
        if p.outcome == "refused" and not p.reason:
            p.reason = terms.refusals[0]
    return out


# --- the gateway ---------------------------------------------------------------------------


class DemoGateway:
    """A simulated SMS gateway with an operator behind it: it takes messages (except during
    one outage and for a number the operator refuses) and reports delivery."""

    name = ChannelName.SMS

    def __init__(self, seed: int, cast: Cast, outage: tuple[datetime, datetime]) -> None:
        self.seed = seed
        self.cast = cast
        self.outage = outage

    def send(self, message: Outgoing) -> tuple[str, str]:
        moment = now()
        if message.recipient == self.cast.blocked:
            return "rejected", "运营商拒绝投递：号码在拒收名单中"
        if self.outage[0] <= moment < self.outage[1]:
            return "retry", "短信网关连接超时"
        return "sent", f"sim-{message.notification_id}"

    def reports(self, notification_id: int, recipient: str) -> list[tuple[float, int]]:
        """(seconds after sending, report type) of one message's delivery reports."""
        digest = hashlib.sha256(f"{self.seed}:{notification_id}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        if recipient in self.cast.out_of_service:
            accepted = rng.uniform(1, 3)
            return [(accepted, DLR_SMSC_ACCEPTED), (rng.uniform(40, 300), DLR_UNDELIVERABLE)]
        draw = rng.random()
        if draw < 0.03:  # the operator never reports beyond its SMSC
            return [(rng.uniform(1, 3), DLR_SMSC_ACCEPTED)]
        if draw < 0.06:  # the phone was off: delivered when it came back on
            return [(rng.uniform(1, 3), DLR_SMSC_ACCEPTED), (rng.uniform(600, 4 * 3600), 1)]
        if draw < 0.12:
            return [(rng.uniform(1, 3), DLR_SMSC_ACCEPTED), (rng.uniform(4, 40), DLR_DELIVERED)]
        return [(rng.uniform(3, 30), DLR_DELIVERED)]


# --- the simulation ------------------------------------------------------------------------


Action = Callable[[], None]


class Simulation:
    def __init__(
        self,
        *,
        session: Session,
        clock: FrozenClock,
        end: datetime,
        world: hall_demo.DemoWorld,
        handlers: dict[int, User],
        gateway: DemoGateway,
        sim: SimulatedSf | None,
    ) -> None:
        self.session = session
        self.clock = clock
        self.end = end
        self.world = world
        self.handlers = handlers  # department id → handler
        self.gateway = gateway
        self.sim = sim
        self.heap: list[tuple[datetime, int, Action]] = []
        self.seq = itertools.count()
        self.secret = get_settings().secret_key
        self.matters: dict[int, Matter] = {}  # plan key → matter
        self.plans: dict[int, Plan] = {}
        self.courier_code = registry.current().code if sim is not None else ""
        self.desk = world.staff(1)  # results are handed over at the 综合窗口
        self.push_times: set[datetime] = set()
        self.inbound = itertools.count(1)
        # messages written (or due again) and not yet taken by the sender
        self.pending: dict[int, Outgoing] = {}

    def at(self, moment: datetime, action: Action) -> None:
        if moment <= self.end:
            heapq.heappush(self.heap, (moment, next(self.seq), action))

    def run(self) -> None:
        """Every planned moment up to the present, in time order; the sender takes what a
        moment wrote at once (the real sender polls every second)."""
        listener = self._written
        event.listen(self.session, "pending_to_persistent", listener)
        try:
            while self.heap:
                moment, _, action = heapq.heappop(self.heap)
                self.clock.current = moment
                action()
                if self.pending:
                    self.send_due()
        finally:
            event.remove(self.session, "pending_to_persistent", listener)

    def _written(self, _session: Session, obj: object) -> None:
        if isinstance(obj, Notification) and obj.status == NotificationStatus.QUEUED:
            self.pending[obj.id] = Outgoing(obj.id, obj.recipient, obj.body)

    def retry(self, message: Outgoing) -> Action:
        def again() -> None:
            self.pending[message.notification_id] = message

        return again

    # --- matters ---------------------------------------------------------------------

    def start(self, plan: Plan) -> None:
        self.plans[plan.key] = plan
        life = self.life(plan)

        def step() -> None:
            try:
                upcoming = next(life)
            except StopIteration:
                return
            self.at(upcoming, step)

        self.at(plan.accepted_at, step)

    def life(self, p: Plan) -> Iterator[datetime]:
        rng = random.Random(p.key * 104729 + 3)
        s = self.session
        item = self.world.items[p.item]
        person = p.person
        method = DeliveryMethod.POST if p.post else DeliveryMethod.PICKUP
        applicant = service.Applicant(
            name=person.name,
            phone=person.phone,
            materials=list(matter_items.TERMS[p.item].materials),
            delivery_method=method,
            delivery_name=p.delivery_name,
            delivery_address=(
                (person.address if rng.random() < 0.8 else _work_address(rng)) if p.post else None
            ),
        )
        actor = s.get(User, p.window_staff_id) if p.window_staff_id else None
        ticket = s.get(Ticket, p.ticket_id) if p.ticket_id else None
        matter = service.open_matter(
            session=s,
            item=item,
            applicant=applicant,
            source=p.source,
            actor=actor if p.source == MatterSource.WINDOW else None,
            hall=self.world.hall,
            ticket=ticket,
            external_ref=p.external_ref,
            accepted_at=now(),
        )
        self.matters[p.key] = matter
        if p.sms_query_days is not None:
            self.query_later(matter, p.sms_query_days, rng)
        if p.hold == S.ACCEPTED:
            return
        handler = self.handlers[matter.department_id]
        day0 = _local(p.accepted_at).date()
        last = now()
        shift = 0  # working days the clock stood still so far

        def on(clock_day: int) -> date:
            return _workday(day0, clock_day + shift)

        last = _later(rng, last, on(p.review_clock))
        yield last
        workflow.start_review(session=s, matter=matter, actor=handler)
        if p.outcome == "returned" and not p.corrections:
            last = _later(rng, last, on(p.review_clock + rng.randint(0, 2)))
            yield last
            workflow.return_application(session=s, matter=matter, actor=handler, reason=p.reason)
            return
        for n, (asked, pause, in_person) in enumerate(p.corrections):
            last = _later(rng, last, on(max(asked, p.review_clock)))
            yield last
            papers = [m for m in matter_items.TERMS[p.item].materials if "身份" not in m]
            wanted = [rng.choice(papers) + rng.choice(FLAWS)]
            note = "材料不齐全" if n == 0 else "补正材料仍不符合要求"
            workflow.request_correction(
                session=s, matter=matter, actor=handler, materials=wanted, note=note
            )
            if p.abandoned and n == len(p.corrections) - 1:
                last = _later(rng, last, on(max(asked, p.review_clock) + pause))
                yield last
                workflow.return_application(
                    session=s, matter=matter, actor=handler, reason=p.reason
                )
                return
            shift += pause
            last = _later(rng, last, on(max(asked, p.review_clock)))
            yield last
            workflow.receive_correction(
                session=s, matter=matter, actor=handler, in_person=in_person
            )
        last = _later(rng, last, on(max(p.decision_clock, p.review_clock)))
        yield last
        if p.outcome == "returned":
            workflow.return_application(session=s, matter=matter, actor=handler, reason=p.reason)
            return
        granted = p.outcome == "granted"
        note = "" if granted else p.reason
        workflow.decide(session=s, matter=matter, actor=handler, granted=granted, note=note)
        if p.hold in (S.GRANTED, S.REFUSED):
            return
        decided_day = _local(last).date()
        if granted:
            last = _later(rng, last, _workday(decided_day, rng.choice((0, 0, 1))))
            yield last
            workflow.start_certificate(session=s, matter=matter, actor=handler)
            if p.hold == S.CERTIFYING:
                return
            decided_day = _local(last).date()
        last = _later(rng, last, _workday(decided_day, p.certify_days))
        yield last
        if p.post and self.sim is not None:
            shipment = self.ship(matter, handler, p.fate)
            if shipment is None or p.fate != "returned":
                return
            # a returned parcel waits at the hall; the applicant may come for it
            back = self.sim.route(shipment.waybill_no)[-1].at
            if p.collect_days is None:
                return
            yield _later(rng, back, _workday(_local(back).date(), p.collect_days + 1))
            if matter.state == S.AWAITING_PICKUP:
                workflow.hand_over(session=s, matter=matter, actor=self.desk)
            return
        if p.post:  # no simulator (a real courier is configured): handed over at the hall
            service.choose_delivery(session=s, matter=matter, method="pickup", actor=handler)
        workflow.result_ready(session=s, matter=matter, actor=handler)
        if p.collect_days is None:
            return
        last = _later(rng, last, _workday(_local(last).date(), p.collect_days))
        yield last
        workflow.hand_over(session=s, matter=matter, actor=self.desk)

    def ship(self, matter: Matter, actor: User, fate: str) -> Shipment | None:
        assert self.sim is not None
        self.sim.steer(fate)
        shipment = shipping.ship(session=self.session, matter=matter, actor=actor)
        for step in self.sim.route(shipment.waybill_no):
            # the courier's pushes of a parcel on its way are taken in rounds every four
            # hours (the tracker shows each event at its own time); a delivery or a return
            # at once (the matter is 已送达 within minutes of the signature)
            after = step.at.astimezone(UTC) + timedelta(minutes=3)
            hour = after.replace(minute=0, second=0, microsecond=0)
            pushed = hour + timedelta(hours=4 - hour.hour % 4)
            if step.op_code in CLOSING_OP_CODES:
                pushed = after.replace(microsecond=0)
            if pushed not in self.push_times:
                self.push_times.add(pushed)
                self.at(pushed, self.push)
        return shipment

    def push(self) -> None:
        assert self.sim is not None
        pushes = self.sim.due_pushes(now())
        for p in pushes:
            tracking.receive_push(
                session=self.session, code=self.courier_code, headers=p.headers, body=p.body
            )
        self.sim.settle(taken=pushes)

    # --- the citizen's SMS ---------------------------------------------------------------

    def text_in(self, phone: str, text: str) -> None:
        inbound.receive(
            session=self.session,
            channel=ChannelName.SMS,
            gateway_ref=f"kannel:demo-{next(self.inbound):05d}",
            sender=phone,
            text=text,
            source=callbacks.INBOUND_SOURCE,
        )

    def query_later(self, matter: Matter, days: int, rng: random.Random) -> None:
        day = _workday(_local(now()).date(), days)
        moment = _at(day, rng.uniform(8.0, 21.5))
        number, phone = matter.number, matter.applicant_phone
        self.at(moment, lambda: self.text_in(phone, f"查询{number}"))

    # --- the sender and the operator ---------------------------------------------------

    def send_due(self) -> None:
        """One round of the sender over the messages just written (or due for a retry): the
        gateway's answers recorded by ``dispatch.settle``, as the sender records them. (The
        sender's claim, a lease that keeps concurrent senders apart, has nothing to keep
        apart here.)"""
        session = self.session
        due, self.pending = self.pending, {}
        moment = now()
        outcomes: list[dispatch.Outcome] = []
        for message in due.values():
            result, info = self.gateway.send(message)
            outcomes.append((message.notification_id, result, info))
        self.clock.current = moment + timedelta(seconds=1)
        dispatch.settle(session, outcomes, dispatch.DispatchReport())
        self.clock.current = moment
        for nid, result, _info in outcomes:
            if result == "sent":
                for delay, kind in self.gateway.reports(nid, due[nid].recipient):
                    self.at(moment + timedelta(seconds=1 + delay), self.report(nid, kind))
            elif result == "retry":
                n = session.get(Notification, nid)
                if n is not None and n.status == NotificationStatus.QUEUED:
                    self.at(n.next_attempt_at, self.retry(due[nid]))

    def report(self, nid: int, kind: int) -> Action:
        def deliver() -> None:
            callbacks.record_dlr(
                self.session,
                notification_id=str(nid),
                signature=dlr_signature(self.secret, nid),
                dlr_type=str(kind),
                ts=str(int(now().timestamp())),
            )

        return deliver

    def sweep(self) -> None:
        sweep.sweep(session=self.session)

    def sweeps(self, first: date) -> None:
        """The deadline sweep each working morning (the timed duty runs it more often; what it
        flags is the same, a few hours later)."""
        day = first
        while day <= _local(self.end).date():
            if is_workday(day):
                self.at(_at(day, 8.75), self.sweep)
            day += timedelta(days=1)


# --- set-up --------------------------------------------------------------------------------


def ensure_terms(session: Session, items: dict[str, ServiceItem]) -> None:
    """Demo databases built before the items had limits get them (new ones have them from
    the 事项清单 workbook)."""
    for code, t in matter_items.TERMS.items():
        item = items.get(code)
        if item is None or item.promised_days is not None:
            continue
        item.statutory_days, item.promised_days = t.statutory_days, t.promised_days
        item.materials, item.by_post, item.online, item.fee = (
            list(t.materials), t.by_post, t.online, t.fee,
        )  # fmt: skip
    session.flush()


def handler_username(department_code: str) -> str:
    return f"dept-{department_code.lower()}"


def ensure_handlers(session: Session, seed: int) -> dict[int, User]:
    """One handler per department with matters (the hotline demo makes most of them), each
    with a phone for the deadline sweep's messages."""
    from govloop.demo.hall.seed import DEMO_PASSWORD

    rng = random.Random(seed + 4242)
    codes = sorted({"".join(ch for ch in code if ch.isalpha()) for code in matter_items.TERMS})
    departments = {d.code: d for d in session.scalars(select(Department))}
    users = {u.username: u for u in session.scalars(select(User))}
    digest: str | None = None
    out: dict[int, User] = {}
    for code in codes:
        dept = departments.get(code)
        if dept is None:
            continue
        name = handler_username(code)
        user = users.get(name)
        if user is None:
            digest = digest or hash_password(DEMO_PASSWORD)
            user = User(
                username=name,
                display_name=f"{dept.name} 承办人",
                password_hash=digest,
                role=Role.DEPARTMENT_HANDLER,
            )
            session.add(user)
            session.flush()
        member = session.scalar(
            select(DepartmentMember.user_id).where(DepartmentMember.user_id == user.id)
        )
        if member is None:
            session.add(DepartmentMember(user_id=user.id, department_id=dept.id))
        if session.get(StaffContact, user.id) is None:
            session.add(StaffContact(user_id=user.id, phone=_phone(rng)))
        out[dept.id] = user
    session.flush()
    return out


def _tracked_citizen(session: Session) -> Person | None:
    """The citizen the access demo prints for /my-data (the first person master with a name
    and a phone), so their tracker lists messages too."""
    from govloop.subjects.models import SubjectMaster

    for m in session.scalars(
        select(SubjectMaster)
        .where(SubjectMaster.kind == "person", SubjectMaster.identifier.is_not(None))
        .order_by(SubjectMaster.id)
        .limit(30)
    ):
        attrs = m.attributes or {}
        if attrs.get("phone") and attrs.get("name"):
            address = str(attrs.get("address") or "")
            if not address.startswith(city.CITY):
                address = city.CITY + address if address else ""
            return Person(str(attrs["name"]), str(attrs["phone"]), address or city.HALL.address, -9)
    return None


def _fresh_simulator(session: Session) -> SimulatedSf | None:
    """The courier simulator the live server goes on pushing from; its state is forgotten
    when the database has no parcels yet (a new demo), so the same seed gives the same
    waybills. None when a real courier is configured: the demo posts nothing then."""
    try:
        sim = registry.simulator()
    except registry.CourierNotConfigured:
        return None
    if sim is None:
        return None
    if session.scalar(select(func.count(Shipment.id))) == 0 and sim.state_path is not None:
        Path(sim.state_path).unlink(missing_ok=True)
    return sim


def _cast(planner: Planner, people: list[Person], tracked: Person | None) -> Cast:
    rng = planner.rng
    by_household: dict[int, list[Person]] = {}
    for p in people:
        by_household.setdefault(p.household, []).append(p)
    families = [
        members
        for members in by_household.values()
        if len(members) >= 3 and len({m.phone for m in members}) == 1
    ] or [sorted(by_household.values(), key=len)[-1]]
    # one phone for the whole family (the head's), as families give it at the counter
    family = [Person(m.name, families[0][0].phone, m.address, m.household) for m in families[0]]
    opted = rng.choice([p for p in people if p not in family])
    return Cast(
        family=family,
        agent_phone=_phone(rng),
        opted_out=opted,
        out_of_service=[_phone(rng), _phone(rng)],
        blocked=_phone(rng),
        tracked=tracked,
    )


@contextmanager
def _calendar_cached() -> Iterator[None]:
    """The holiday calendar answers from a cache while the demo builds: the deadlines, the
    sweep and the courier's routes ask it about the same few hundred days tens of thousands
    of times, and each answer costs a lookup in the chinese-calendar tables."""
    plain = calendar.day_info
    calendar.day_info = functools.cache(plain)
    try:
        yield
    finally:
        calendar.day_info = plain


def seed_demo(*, session: Session, seed: int, hall_id: int) -> MatterDemo:
    """Build the matters once (a second run adds nothing)."""
    if session.scalar(select(Matter.id).limit(1)) is not None:
        return MatterDemo()
    with _calendar_cached():
        return _build(session=session, seed=seed, hall_id=hall_id)


def _build(*, session: Session, seed: int, hall_id: int) -> MatterDemo:
    started = _time.perf_counter()
    world = hall_demo.load_world(session=session)
    if world is None:
        return MatterDemo(note="办件：没有演示大厅，未生成")
    ensure_terms(session, world.items)
    handlers = ensure_handlers(session, seed)
    end = now()
    today = _local(end).date()
    first_ticket = session.scalar(
        select(func.min(Ticket.service_date)).where(Ticket.hall_id == hall_id)
    )
    span = (today - first_ticket).days if first_ticket else 0
    first = today - timedelta(days=min(max(span, DAYS_MIN), DAYS_MAX))
    people = applicants(seed, today)
    planner = Planner(seed=seed, today=today, people=people, items=world.items)
    tracked = _tracked_citizen(session)
    cast = _cast(planner, people, tracked)
    tickets = _window_tickets(session, hall_id, world.items, first)
    plans = regular_plans(
        planner, first=first, end=end, tickets=tickets, default_staff=world.staff(1).id
    )
    special = hard_cases(planner, end=end, cast=cast)
    sim = _fresh_simulator(session)
    # the gateway is out while the estate agent's applications are being accepted
    outage_start = _at(_workdays_back(today, AGENT_DAY), 14.1)
    gateway = DemoGateway(
        seed, cast, (outage_start, outage_start + timedelta(minutes=OUTAGE_MINUTES))
    )
    with frozen(_at(first, 8.0)) as clock:
        simulation = Simulation(
            session=session,
            clock=clock,
            end=end,
            world=world,
            handlers=handlers,
            gateway=gateway,
            sim=sim,
        )
        for plan in sorted(plans + special, key=lambda p: (p.accepted_at, p.key)):
            simulation.start(plan)
        simulation.sweeps(first)
        # the opted-out citizen replies TD an hour after their first message
        opt_at = next(p.accepted_at for p in special if p.person == cast.opted_out)
        simulation.at(
            opt_at + timedelta(hours=1), lambda: simulation.text_in(cast.opted_out.phone, "TD")
        )
        # a query with a mistyped number
        simulation.at(
            _at(_workdays_back(today, 5), 20.2),
            lambda: simulation.text_in(cast.family[0].phone, "查询 2026000000"),
        )
        simulation.run()
        # a citizen texts just now: the reply waits for the sender (the live server sends it)
        clock.current = end - timedelta(seconds=20)
        recent = max(simulation.matters.values(), key=lambda m: m.accepted_at)
        simulation.text_in(recent.applicant_phone, f"查询 {recent.number}")
    session.flush()
    report = _report(session, simulation, handlers)
    report.seconds = _time.perf_counter() - started
    return report


def _report(session: Session, simulation: Simulation, handlers: dict[int, User]) -> MatterDemo:
    report = MatterDemo()
    matters = list(session.scalars(select(Matter)))
    report.matters = len(matters)
    report.by_state = Counter(m.state for m in matters)
    moment = now()
    clocks = [deadlines.clock(m, moment).state for m in matters]
    report.on_time = clocks.count(deadlines.ClockState.DONE_ON_TIME)
    report.decided = report.on_time + clocks.count(deadlines.ClockState.DONE_LATE)
    report.posted = session.scalar(select(func.count(Shipment.id))) or 0
    report.tracking_events = session.scalar(select(func.count(TrackingEvent.id))) or 0
    by_status = select(Notification.status, func.count()).group_by(Notification.status)
    report.messages = Counter({str(st): int(n) for st, n in session.execute(by_status).all()})
    sj = next((u for u in handlers.values() if u.username == handler_username("SJ")), None)
    report.handler = sj.username if sj else next(iter(handlers.values())).username
    report.showcase = showcase(session, simulation)
    return report


def showcase(session: Session, simulation: Simulation) -> list[tuple[str, str, str]]:
    """Matters worth opening on the tracker: one of each kind, the newest of each."""
    moment = now()
    out: list[tuple[str, str, str]] = []
    newest_first = sorted(
        simulation.matters.items(), key=lambda kv: kv[1].accepted_at, reverse=True
    )

    def parcel(m: Matter) -> set[str]:
        return {
            str(st)
            for st in session.scalars(
                select(TrackingEvent.status)
                .join(Shipment, Shipment.id == TrackingEvent.shipment_id)
                .where(Shipment.matter_id == m.id)
            )
        }

    def first(label: str, test: Callable[[Plan, Matter], bool]) -> None:
        for key, m in newest_first:
            if m.number not in {o[1] for o in out} and test(simulation.plans[key], m):
                out.append((label, m.number, m.applicant_phone))
                return

    first(
        "快递已签收（中途派送失败一次）",
        lambda p, m: m.state == S.DELIVERED and ShipmentStatus.FAILED_ATTEMPT in parcel(m),
    )
    first(
        "邮件被退回，改为到厅领取",
        lambda p, m: m.state == S.AWAITING_PICKUP and ShipmentStatus.RETURNED in parcel(m),
    )
    first("快递运输中", lambda p, m: m.state == S.POSTED)
    first("补正中（计时暂停）", lambda p, m: m.state == S.CORRECTION)
    first(
        "已超期未办结",
        lambda p, m: deadlines.clock(m, moment).state == deadlines.ClockState.OVERDUE,
    )
    first("不予许可", lambda p, m: p.outcome == "refused" and m.decided_at is not None)
    return out


def run(session: Session, seed: int, hall_id: int) -> str:
    """The platform step: build the matters and say what to try."""
    return seed_demo(session=session, seed=seed, hall_id=hall_id).summary()
