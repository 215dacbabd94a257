"""Demo data of the 12345 hotline: the dispatch catalogue, agents and department handlers,
weeks of orders played through the closed loop with each unit's own pace, ratings given at
callbacks, the knowledge base, a trained routing model and the hot-topic scan.

History is simulated in Python and written in bulk (the services would take minutes for
thousands of orders); ratings go through the ratings service, so bad ones open
rectification cases exactly as in production. Orders still open at "now" stop where their
simulated life has reached, so the workbench queues look like a real morning.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from govloop.core.auth import Role, hash_password
from govloop.core.clock import frozen
from govloop.core.models import User
from govloop.demo.hall.seed import DEMO_PASSWORD
from govloop.demo.hotline.orders import GeneratedOrder, Surge, generate_orders
from govloop.hotline.catalogue import load_catalogue, seed_catalogue
from govloop.hotline.models import (
    Assignment,
    HotlineCategory,
    OrderStatus,
    OrderType,
    WorkOrder,
    WorkOrderEvent,
)
from govloop.hotline.orders import sla
from govloop.org.models import Department, DepartmentMember
from govloop.ratings import service as ratings
from govloop.ratings.models import RatingChannel

AGENTS = (("agent1", "坐席 林晓燕"), ("agent2", "坐席 陈志强"))
ORDERS_PER_DAY = 55
CHUNK = 2000


@dataclass(frozen=True)
class Pace:
    """How a unit works: hours to sign for, working days to answer, share it returns."""

    sign_hours: float
    answer_days: float
    quality: float  # 0..1: how often citizens are satisfied


# Slow and quick units, so rankings and overdue lists have something to say.
PACES: dict[str, Pace] = {
    "CG": Pace(5, 6.0, 0.78),
    "HB": Pace(8, 7.5, 0.74),
    "ZJ": Pace(20, 9.0, 0.62),
    "JT": Pace(6, 4.0, 0.85),
    "JY": Pace(4, 2.0, 0.9),
    "WJ": Pace(7, 5.0, 0.8),
    "SWJT": Pace(2, 1.5, 0.88),
    "GD": Pace(2, 1.2, 0.9),
    "RQ": Pace(3, 1.5, 0.87),
    "RS": Pace(10, 6.0, 0.7),
    "YB": Pace(5, 2.0, 0.86),
    "SJ": Pace(9, 7.0, 0.72),
    "GA": Pace(4, 1.5, 0.9),
    "GJJ": Pace(3, 1.5, 0.92),
    "MZ": Pace(6, 3.0, 0.84),
    "BDC": Pace(6, 2.5, 0.83),
}
DEFAULT_PACE = Pace(6, 3.0, 0.8)


@dataclass
class HotlineDemoReport:
    orders: int = 0
    open_orders: int = 0
    overdue_open: int = 0
    rated: int = 0
    articles: int = 0
    routing_accuracy: float | None = None
    alerts: int = 0
    users: list[tuple[str, str, str]] = field(default_factory=list)  # username, role, name


def handler_username(department_code: str) -> str:
    return f"dept-{department_code.lower()}"


def ensure_users(session: Session) -> dict[str, User]:
    """Two agents and one handler per department (created once; passwords in the README)."""
    users = {u.username: u for u in session.scalars(select(User))}
    departments = {d.code: d for d in session.scalars(select(Department))}
    wanted = [(name, Role.HOTLINE_AGENT, display) for name, display in AGENTS] + [
        (handler_username(code), Role.DEPARTMENT_HANDLER, f"{departments[code].name} 承办人")
        for code in load_catalogue().departments
    ]
    missing = [w for w in wanted if w[0] not in users]
    # One shared password: hash it once (argon2 is slow by design).
    password_hash = hash_password(DEMO_PASSWORD) if missing else ""
    for username, role, display in missing:
        users[username] = User(
            username=username, display_name=display, password_hash=password_hash, role=role
        )
        session.add(users[username])
    session.flush()
    members = set(session.scalars(select(DepartmentMember.user_id)))
    for code in load_catalogue().departments:
        user = users[handler_username(code)]
        if user.id not in members:
            session.add(DepartmentMember(user_id=user.id, department_id=departments[code].id))
    session.flush()
    return users


def demo_surges(end: datetime) -> list[Surge]:
    """A burst of one concrete matter yesterday and a category surge three days ago."""
    day = (end - timedelta(days=1)).date()
    return [
        Surge(day=day, category_code="SW-WATER", district="明湖区", extra=18, theme=None),
        Surge(day=day - timedelta(days=2), category_code="CG-NOISE", district=None, extra=25),
    ]


class _Life:
    """Rows of one simulated order, cut off at ``now``."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.events: list[dict[str, Any]] = []

    def event(self, order_id: int, kind: str, at: datetime, **extra: Any) -> bool:
        if at > self.now:
            return False
        detail = extra.pop("detail", {})
        self.events.append(
            {"order_id": order_id, "kind": kind, "at": at, "detail": detail, **extra}
        )
        return True


def _hours(rng: random.Random, median: float, sigma: float = 0.6) -> timedelta:
    return timedelta(hours=median * rng.lognormvariate(0, sigma))


def simulate(
    *,
    orders: list[GeneratedOrder],
    first_id: int,
    now: datetime,
    seed: int,
    ids: dict[str, dict[str, int]],
    users: dict[str, User],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict]]:
    """Order rows, assignment rows, event rows and rating requests."""
    rng = random.Random(seed)
    life = _Life(now)
    order_rows: list[dict[str, Any]] = []
    assignment_rows: list[dict[str, Any]] = []
    rating_requests: list[dict[str, Any]] = []
    agents = [users[name].id for name, _ in AGENTS]
    dept_codes = list(ids["department"])
    for offset, g in enumerate(sorted(orders, key=lambda o: o.created_at)):
        oid = first_id + offset
        agent = rng.choice(agents)
        t0 = g.created_at
        dept_code = g.department_code
        pace = PACES.get(dept_code, DEFAULT_PACE)
        category_id = ids["category"][g.category_code]
        row: dict[str, Any] = {
            "id": oid,
            "number": f"{sla.local_day(t0):%Y%m%d}{oid:06d}",
            "channel": g.channel,
            "external_ref": None,
            "order_type": g.order_type,
            "urgency": g.urgency,
            "title": g.title,
            "content": g.content,
            "category_id": category_id,
            "department_id": None,
            "status": OrderStatus.ACCEPTED,
            "caller_name": g.caller_name,
            "caller_phone": g.caller_phone,
            "caller_email": g.caller_email,
            "confidential": g.confidential,
            "district": g.district,
            "address": g.address,
            "lat": g.lat,
            "long": g.long,
            "attributes": {},
            "suggested_category_id": category_id if rng.random() < 0.9 else None,
            "suggested_department_id": ids["department"][dept_code],
            "suggestion_confidence": round(rng.uniform(0.55, 0.98), 3),
            "suggestion_source": "model",
            "created_at": t0,
            "updated_at": t0,
            "accepted_by": agent,
            "direct_answer": False,
            "supervision_count": 0,
        }
        order_rows.append(row)
        life.event(oid, "order.accepted", t0, actor_id=agent, detail={"channel": g.channel})
        if g.order_type == OrderType.ENQUIRY and rng.random() < 0.4:
            at = t0 + timedelta(minutes=rng.uniform(3, 12))
            if life.event(oid, "order.answered_directly", at, actor_id=agent):
                life.event(oid, "order.closed", at, actor_id=agent, detail={"direct": True})
                row.update(
                    status=OrderStatus.CLOSED,
                    answer="已在受理时依据知识库答复。",
                    answered_at=at,
                    closed_at=at,
                    closed_by=agent,
                    direct_answer=True,
                    updated_at=at,
                )
                _after_close(rng, life, row, at, agent, pace, rating_requests)
            continue
        limit = sla.default_limit(g.order_type, g.urgency)
        t = t0 + _hours(rng, 1.0 if g.urgency == "normal" else 0.2)
        wrong = rng.random() < 0.06
        first_dept = rng.choice([d for d in dept_codes if d != dept_code]) if wrong else dept_code
        if not life.event(
            oid, "order.dispatched", t, actor_id=agent, department_id=ids["department"][first_dept]
        ):
            continue
        due = sla.deadline(t, limit.handle_working_days)
        row.update(
            status=OrderStatus.DISPATCHED,
            department_id=ids["department"][first_dept],
            dispatched_at=t,
            due_at=due.at,
            due_estimated=due.estimated,
            sign_due_at=sla.deadline(t, limit.sign_working_days).at,
            updated_at=t,
        )
        lead = {
            "order_id": oid,
            "department_id": ids["department"][first_dept],
            "role": "lead",
            "status": "dispatched",
            "dispatched_at": t,
            "dispatched_by": agent,
        }
        assignment_rows.append(lead)
        if wrong:
            back = t + _hours(rng, 4)
            reason = "经核实不属于本单位职责，请改派"
            if not life.event(
                oid,
                "order.return_requested",
                back,
                department_id=lead["department_id"],
                detail={"reason": reason},
            ):
                continue
            lead.update(status="return_requested", return_reason=reason, return_requested_at=back)
            t = back + _hours(rng, 1.5)
            if not life.event(
                oid, "order.return_approved", t, actor_id=agent, department_id=lead["department_id"]
            ):
                continue
            lead.update(status="returned", return_decision="approved", ended_at=t)
            life.event(
                oid,
                "order.redispatched",
                t,
                actor_id=agent,
                department_id=ids["department"][dept_code],
            )
            lead = {
                "order_id": oid,
                "department_id": ids["department"][dept_code],
                "role": "lead",
                "status": "dispatched",
                "dispatched_at": t,
                "dispatched_by": agent,
            }
            assignment_rows.append(lead)
            row.update(
                status=OrderStatus.DISPATCHED,
                department_id=lead["department_id"],
                sign_due_at=sla.deadline(t, limit.sign_working_days).at,
                updated_at=t,
            )
        handler = users[handler_username(dept_code)].id
        signed = t + _hours(rng, pace.sign_hours)
        if not life.event(
            oid, "order.signed", signed, actor_id=handler, department_id=lead["department_id"]
        ):
            continue
        lead.update(status="signed", signed_at=signed, signed_by=handler)
        row.update(status=OrderStatus.SIGNED, signed_at=signed, updated_at=signed)
        days = pace.answer_days * (0.3 if g.urgency == "urgent" else 1.0)
        days *= limit.handle_working_days / 5
        answered = signed + _hours(rng, 24 * days, 0.7)
        note_at = signed + (answered - signed) / 3
        if life.event(
            oid,
            "order.progress",
            note_at,
            actor_id=handler,
            department_id=lead["department_id"],
            detail={"note": "已联系市民并现场核查"},
        ):
            row.update(status=OrderStatus.IN_PROGRESS, updated_at=note_at)
        _overdue_events(rng, life, row, agent, until=answered)
        answer_text = (
            f"经{load_catalogue().departments[dept_code]}核查处理：已按规定办理并告知诉求人。"
        )
        if not life.event(
            oid,
            "order.answered",
            answered,
            actor_id=handler,
            department_id=lead["department_id"],
            detail={"role": "lead"},
        ):
            continue
        lead.update(status="answered", answered_at=answered, answer=answer_text)
        row.update(
            status=OrderStatus.ANSWERED,
            answer=answer_text,
            answered_at=answered,
            updated_at=answered,
        )
        closed = answered + _hours(rng, 3)
        on_time = closed <= row["due_at"]
        if not life.event(oid, "order.closed", closed, actor_id=agent, detail={"on_time": on_time}):
            continue
        lead["ended_at"] = closed
        row.update(status=OrderStatus.CLOSED, closed_at=closed, closed_by=agent, updated_at=closed)
        _after_close(rng, life, row, closed, agent, pace, rating_requests)
    for event_id, event in enumerate(life.events):
        event.setdefault("actor_id", None)
        event.setdefault("department_id", None)
        event["_seq"] = event_id
    life.events.sort(key=lambda e: (e["at"], e["_seq"]))
    for event in life.events:
        del event["_seq"]
    return order_rows, assignment_rows, life.events, rating_requests


def _overdue_events(
    rng: random.Random, life: _Life, row: dict[str, Any], agent: int, until: datetime
) -> None:
    """The deadline sweep's flag and, often, the center's supervision of a late order."""
    due = row["due_at"]
    if until <= due or due > life.now:
        return
    life.event(row["id"], "sla.overdue", due, department_id=row["department_id"])
    supervise = due + _hours(rng, 2)
    if (
        rng.random() < 0.7
        and supervise < until
        and life.event(
            row["id"],
            "order.supervised",
            supervise,
            actor_id=agent,
            department_id=row["department_id"],
            detail={"note": "已超期，请加快办理", "level": 1},
        )
    ):
        row.update(supervision_count=1, last_supervised_at=supervise)


def _after_close(
    rng: random.Random,
    life: _Life,
    row: dict[str, Any],
    closed: datetime,
    agent: int,
    pace: Pace,
    rating_requests: list[dict[str, Any]],
) -> None:
    if rng.random() > 0.8:
        return
    at = closed + _hours(rng, 20)
    reached = rng.random() < 0.85
    if not life.event(
        row["id"], "order.called_back", at, actor_id=agent, detail={"reached": reached}
    ):
        return
    row.update(
        status=OrderStatus.CALLED_BACK,
        callback_at=at,
        callback_result="reached" if reached else "unreachable",
        updated_at=at,
    )
    if not reached or rng.random() > 0.7:
        return
    late = row.get("due_at") is not None and closed > row["due_at"]
    good = pace.quality - (0.25 if late else 0.0)
    roll = rng.random()
    level = 5 if roll < good * 0.6 else 4 if roll < good else 3 if roll < good + 0.1 else 2
    if level == 2 and rng.random() < 0.3:
        level = 1
    rated_at = at + timedelta(minutes=2)
    if rated_at > life.now:
        return
    rating_requests.append({"row": row, "level": level, "at": rated_at})


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    table = _table(model)
    columns = {c.name for c in table.columns}
    defaults = {c.name: None for c in table.columns if c.name != "id"}
    for start in range(0, len(rows), CHUNK):
        chunk = [
            {**defaults, **{k: v for k, v in r.items() if k in columns}}
            for r in rows[start : start + CHUNK]
        ]
        session.execute(table.insert(), chunk)


def _fill_defaults(rows: list[dict[str, Any]], **defaults: Any) -> None:
    for row in rows:
        for key, value in defaults.items():
            if row.get(key) is None:
                row[key] = value


def generate_history(*, session: Session, now: datetime, days: int, seed: int) -> HotlineDemoReport:
    """Seed everything the hotline pages need, once (a second run adds nothing)."""
    report = HotlineDemoReport()
    seed_catalogue(session=session)
    users = ensure_users(session)
    report.users = [(name, "热线坐席", display) for name, display in AGENTS] + [
        (handler_username(code), "承办单位", name)
        for code, name in load_catalogue().departments.items()
    ]
    if session.scalar(select(func.count(WorkOrder.id))):
        return report
    ids = {
        "department": {d.code: d.id for d in session.scalars(select(Department))},
        "category": {c.code: c.id for c in session.scalars(select(HotlineCategory))},
    }
    start = now - timedelta(days=days)
    generated = generate_orders(
        seed=seed, count=days * ORDERS_PER_DAY, start=start, end=now, surges=demo_surges(now)
    )
    orders, assignments, events, rating_requests = simulate(
        orders=generated, first_id=1, now=now, seed=seed, ids=ids, users=users
    )
    for request in rating_requests:
        row = request["row"]
        with frozen(request["at"]):
            rating = ratings.rate_matter(
                session=session,
                source="hotline",
                ref=row["number"],
                department_id=row["department_id"],
                item_id=None,
                staff_id=None,
                data=ratings.RatingInput(level=request["level"], channel=RatingChannel.HOTLINE),
            )
        row.update(rating_id=rating.id, status=OrderStatus.RATED, updated_at=request["at"])
        events.append(
            {
                "order_id": row["id"],
                "kind": "order.rated",
                "at": request["at"],
                "actor_id": None,
                "department_id": None,
                "detail": {"level": request["level"], "rating_id": rating.id},
            }
        )
    _fill_defaults(orders, due_estimated=False, attributes={})
    _insert(session, WorkOrder, orders)
    _insert(session, Assignment, assignments)
    _insert(session, WorkOrderEvent, sorted(events, key=lambda e: e["at"]))
    if session.get_bind().dialect.name == "postgresql":
        for name in ("work_orders", "work_order_assignments", "work_order_events"):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
                )
            )
    open_rows = [r for r in orders if r["status"] not in sla_done()]
    report.orders = len(orders)
    report.open_orders = len(open_rows)
    report.overdue_open = sum(1 for r in open_rows if r.get("due_at") and r["due_at"] < now)
    report.rated = len(rating_requests)
    return report


def sla_done() -> set[str]:
    return {OrderStatus.CLOSED, OrderStatus.CALLED_BACK, OrderStatus.RATED}


HISTORY_DAYS = 45


def build(
    *, session: Session, now: datetime, seed: int, days: int = HISTORY_DAYS
) -> HotlineDemoReport:
    """Everything the hotline demo shows: ``days`` of history, then the parts that learn
    from it (fewer days seed the browser tests faster)."""
    from govloop.demo.hotline import kb as kb_demo
    from govloop.hotline.orders import routing
    from govloop.hotline.topics import service as topics

    report = generate_history(session=session, now=now, days=days, seed=seed)
    users = {u.username: u for u in session.scalars(select(User))}
    report.articles = kb_demo.seed_demo_articles(
        session=session, author=users[AGENTS[0][0]], reviewer=users[AGENTS[1][0]]
    )
    if report.orders:
        session.flush()
        trained = routing.train(session=session, seed=seed)
        report.routing_accuracy = trained.category_accuracy
        today = sla.local_day(now)
        for back in range(14, -1, -1):
            scan = topics.scan_day(session=session, day=today - timedelta(days=back))
            report.alerts += scan.created
    return report


def summary_line(report: HotlineDemoReport) -> str:
    if not report.orders:
        return "12345 热线：演示工单已存在，未重复生成"
    return (
        f"12345 热线：工单 {report.orders} 件（在办 {report.open_orders}，"
        f"其中超期 {report.overdue_open}），回访评价 {report.rated} 件；"
        f"知识库文章 {report.articles} 篇；"
        f"派单模型留出集准确率 {report.routing_accuracy or 0:.1%}；热点提醒 {report.alerts} 条"
    )


def login_table(report: HotlineDemoReport) -> Any:
    from rich.table import Table as RichTable

    table = RichTable(title="12345 热线演示账号（密码同上）")
    for column in ("用户名", "密码", "角色", "姓名 / 单位"):
        table.add_column(column)
    for username, role, name in report.users[:6]:
        table.add_row(username, DEMO_PASSWORD, role, name)
    table.add_row(
        "…", "", "", f"每个承办单位一个账号：dept-<单位代码>，共 {len(report.users) - 2} 个"
    )
    return table
