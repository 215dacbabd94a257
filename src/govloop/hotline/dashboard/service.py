"""Figures of the 12345 hotline for a period: volumes, time limits, callbacks, satisfaction,
the overdue list and the department ranking.

The definitions below are the ones the dashboard page shows, and the same as the hotline
indicators of the indicator framework (``indicators/facts.py``), so the two agree:

* **Period** — local days ``start``–``end`` (inclusive; default the last 30 days). The
  figures are about the orders *accepted* (受理) in the period, with their outcome as
  known now; a merged duplicate still counts as a received order.
* **按时办结率 (on-time closing rate)** — closed orders that were closed no later than
  their time limit (``due_at``) ÷ closed orders. An order without a time limit (answered
  directly at intake, 即问即答, or closed by the center before any dispatch) counts as on
  time.
* **签收及时率 (on-time signing rate)** — orders whose lead unit signed for them (签收) no
  later than the sign-for deadline of the current dispatch ÷ orders signed for.
* **回访率 (callback rate)** — closed orders whose citizen was reached on the (last)
  callback ÷ closed orders.
* **满意率 (satisfaction rate)** — the orders' ratings (一事一评: ``ratings`` rows with
  matter source ``hotline`` and the order number) of 基本满意 or better (level ≥ 3) ÷
  ratings; ratings excluded on appeal are left out.
* **平均办理天数 (mean handling days)** — mean of (closed − accepted), in days, over the
  closed orders.
* **Overdue now** — open orders whose time limit has passed, whenever they were accepted,
  the longest overdue first.
* **Departments** — an order belongs to the unit of its *current* dispatch (派单 / 改派):
  the lead unit's part that was neither withdrawn (改派) nor returned (退单 approved).
  Orders never dispatched, or returned and not yet re-dispatched, are the center's.
  *Returns* (退单) count the unit's return requests on the period's orders, whatever the
  decision; the *return rate* divides them by the dispatches the unit received as lead.
  *Overdue now* counts the open overdue orders the unit currently leads.
* **Score (综合得分)** — 100 × the weighted mean of on-time closing rate (weight 0.4),
  on-time signing rate (0.2), satisfaction rate (0.3) and 1 − return rate (0.1), over the
  parts the unit has figures for (their weights renormalised). Ranked by score, highest
  first; equal scores share a rank; a unit without any part has no rank.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from govloop.core.clock import local_today, local_tz, now
from govloop.core.errors import BadRequest
from govloop.core.models import User
from govloop.hotline.models import (
    OPEN_STATUSES,
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    HotlineCategory,
    WorkOrder,
)
from govloop.hotline.orders import journal
from govloop.hotline.orders.sla import local_day
from govloop.org.models import Department
from govloop.ratings.models import Rating

DEFAULT_DAYS = 30
MAX_DAYS = 366
OVERDUE_LIMIT = 200
SATISFIED_LEVEL = 3
SCORE_WEIGHTS = {"on_time": 0.4, "sign_on_time": 0.2, "satisfaction": 0.3, "no_return": 0.1}
ENDED = (AssignmentStatus.WITHDRAWN, AssignmentStatus.RETURNED)


# --- the period ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def bounds(self) -> tuple[datetime, datetime]:
        """UTC instants of local midnight starting ``start`` and ending ``end``."""
        tz = local_tz()
        lo = datetime.combine(self.start, time(0), tz)
        hi = datetime.combine(self.end + timedelta(days=1), time(0), tz)
        return lo.astimezone(UTC), hi.astimezone(UTC)


def _day(text: str | None, label: str) -> date | None:
    value = (text or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"{label}格式不正确：{value!r}（例如 2026-11-01）", code="invalid_date"
        ) from None


def parse_period(start: str | None, end: str | None, today: date | None = None) -> Period:
    """The period from the query; a missing end is today, a missing start 30 days back."""
    last = _day(end, "结束日期") or (today or local_today())
    first = _day(start, "开始日期") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadRequest(
            f"开始日期 {first.isoformat()} 晚于结束日期 {last.isoformat()}",
            code="start_after_end",
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRequest(f"统计区间最长 {MAX_DAYS} 天", code="period_too_long")
    return Period(first, last)


# --- results --------------------------------------------------------------------------------


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Kpis:
    orders: int = 0
    open: int = 0
    closed: int = 0
    closed_on_time: int = 0
    signed: int = 0
    signed_on_time: int = 0
    callbacks_reached: int = 0
    rated: int = 0
    satisfied: int = 0
    handling_days_sum: float = 0.0
    overdue_now: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return rate(self.closed_on_time, self.closed)

    @property
    def sign_on_time_rate(self) -> float | None:
        return rate(self.signed_on_time, self.signed)

    @property
    def callback_rate(self) -> float | None:
        return rate(self.callbacks_reached, self.closed)

    @property
    def satisfaction_rate(self) -> float | None:
        return rate(self.satisfied, self.rated)

    @property
    def mean_handling_days(self) -> float | None:
        return self.handling_days_sum / self.closed if self.closed else None

    def as_dict(self) -> dict[str, Any]:
        rates = (
            "on_time_rate",
            "sign_on_time_rate",
            "callback_rate",
            "satisfaction_rate",
            "mean_handling_days",
        )
        return {**asdict(self), **{name: getattr(self, name) for name in rates}}


@dataclass
class DepartmentRow(Kpis):
    department_id: int = 0
    code: str = ""
    name: str = ""
    dispatches: int = 0
    returns: int = 0
    score: float | None = None
    rank: int | None = None

    @property
    def return_rate(self) -> float | None:
        return rate(self.returns, self.dispatches)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "return_rate": self.return_rate}


@dataclass(frozen=True)
class OverdueOrder:
    id: int
    number: str
    title: str
    department_id: int | None
    department: str | None
    due_at: datetime
    late: timedelta
    supervision_count: int

    @property
    def late_hours(self) -> float:
        return self.late.total_seconds() / 3600

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "title": self.title,
            "department_id": self.department_id,
            "department": self.department,
            "due_at": self.due_at.isoformat(),
            "late_hours": round(self.late_hours, 2),
            "supervision_count": self.supervision_count,
        }


@dataclass
class Dashboard:
    period: Period
    at: datetime
    kpis: Kpis
    by_channel: dict[str, int]
    by_type: dict[str, int]
    by_category: list[tuple[str, str, int]]  # code, name, orders (most first, then code)
    by_day: dict[str, list[int]]  # channel → orders per day of the period
    departments: list[DepartmentRow]
    overdue: list[OverdueOrder]
    overdue_total: int
    weights: dict[str, float] = field(default_factory=lambda: dict(SCORE_WEIGHTS))

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": {"from": self.period.start.isoformat(), "to": self.period.end.isoformat()},
            "at": self.at.isoformat(),
            "kpis": self.kpis.as_dict(),
            "by_channel": self.by_channel,
            "by_type": self.by_type,
            "by_category": [
                {"code": code, "name": name, "orders": n} for code, name, n in self.by_category
            ],
            "by_day": {
                "days": [d.isoformat() for d in self.period.days],
                "channels": self.by_day,
            },
            "departments": [row.as_dict() for row in self.departments],
            "overdue": [o.as_dict() for o in self.overdue],
            "overdue_total": self.overdue_total,
            "score_weights": self.weights,
        }


# --- computing ------------------------------------------------------------------------------


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


def _most_first(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _name(department: Department | None) -> str | None:
    return department.name if department else None


def score_of(row: DepartmentRow) -> float | None:
    """The documented composite: weighted mean of the parts the unit has figures for."""
    no_return = None if row.return_rate is None else 1 - row.return_rate
    parts = {
        "on_time": row.on_time_rate,
        "sign_on_time": row.sign_on_time_rate,
        "satisfaction": row.satisfaction_rate,
        "no_return": no_return,
    }
    known = {k: v for k, v in parts.items() if v is not None}
    weight = sum(SCORE_WEIGHTS[k] for k in known)
    if not weight:
        return None
    return 100 * sum(SCORE_WEIGHTS[k] * v for k, v in known.items()) / weight


def rank(rows: Iterable[DepartmentRow]) -> list[DepartmentRow]:
    """Rows by score (highest first; equal scores share a rank), then orders and name."""
    ordered = sorted(
        rows,
        key=lambda r: (r.score is None, -(r.score or 0.0), -r.orders, r.code),
    )
    position = 0
    previous: float | None = None
    for index, row in enumerate(ordered, start=1):
        if row.score is None:
            break
        rounded = round(row.score, 6)
        if rounded != previous:
            position, previous = index, rounded
        row.rank = position
    return ordered


def _current_leads(session: Session, lo: datetime, hi: datetime) -> list[Any]:
    return list(
        session.execute(
            select(
                Assignment.order_id,
                Assignment.department_id,
                Assignment.status,
                Assignment.return_requested_at,
            )
            .join(WorkOrder, WorkOrder.id == Assignment.order_id)
            .where(
                Assignment.role == AssignmentRole.LEAD,
                WorkOrder.created_at >= lo,
                WorkOrder.created_at < hi,
            )
        )
    )


def _ratings(session: Session, lo: datetime, hi: datetime) -> dict[int, int]:
    """Order id → level of its rating that still counts."""
    rows = session.execute(
        select(WorkOrder.id, Rating.level)
        .join(
            Rating,
            and_(Rating.matter_source == "hotline", Rating.matter_ref == WorkOrder.number),
        )
        .where(WorkOrder.created_at >= lo, WorkOrder.created_at < hi, Rating.excluded.is_(False))
    )
    return {order_id: level for order_id, level in rows}


def _count(kpis: Kpis, order: Any, level: int | None) -> None:
    """Add one order's outcome to a set of figures."""
    kpis.orders += 1
    kpis.open += order.status in OPEN_STATUSES
    if order.closed_at is not None:
        kpis.closed += 1
        kpis.closed_on_time += order.due_at is None or order.closed_at <= order.due_at
        kpis.callbacks_reached += order.callback_result == "reached"
        kpis.handling_days_sum += _days(order.closed_at - order.created_at)
    if order.signed_at is not None:
        kpis.signed += 1
        kpis.signed_on_time += (
            order.sign_due_at is not None and order.signed_at <= order.sign_due_at
        )
    if level is not None:
        kpis.rated += 1
        kpis.satisfied += level >= SATISFIED_LEVEL


def _overdue(session: Session, at: datetime) -> list[Any]:
    lead = (
        select(Assignment.order_id, Assignment.department_id)
        .where(Assignment.role == AssignmentRole.LEAD, Assignment.status.not_in(ENDED))
        .subquery()
    )
    return list(
        session.execute(
            select(
                WorkOrder.id,
                WorkOrder.number,
                WorkOrder.title,
                WorkOrder.due_at,
                WorkOrder.supervision_count,
                lead.c.department_id,
            )
            .outerjoin(lead, lead.c.order_id == WorkOrder.id)
            .where(WorkOrder.status.in_(list(OPEN_STATUSES)), WorkOrder.due_at < at)
            .order_by(WorkOrder.due_at, WorkOrder.id)
        )
    )


def compute(
    *,
    session: Session,
    period: Period,
    at: datetime | None = None,
    overdue_department_id: int | None = None,
) -> Dashboard:
    """Every figure of the dashboard for the orders accepted in ``period``.

    ``overdue_department_id`` limits the overdue list (not the counts) to one unit's
    orders: a department sees the titles of its own orders only.
    """
    moment = at or now()
    lo, hi = period.bounds()
    orders = list(
        session.execute(
            select(
                WorkOrder.id,
                WorkOrder.channel,
                WorkOrder.order_type,
                WorkOrder.category_id,
                WorkOrder.status,
                WorkOrder.created_at,
                WorkOrder.closed_at,
                WorkOrder.due_at,
                WorkOrder.signed_at,
                WorkOrder.sign_due_at,
                WorkOrder.callback_result,
            ).where(WorkOrder.created_at >= lo, WorkOrder.created_at < hi)
        )
    )
    levels = _ratings(session, lo, hi)
    departments = {d.id: d for d in session.scalars(select(Department))}
    categories = {c.id: c for c in session.scalars(select(HotlineCategory))}

    kpis = Kpis()
    by_channel: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    by_category: Counter[int | None] = Counter()
    index = {d: i for i, d in enumerate(period.days)}
    by_day: dict[str, list[int]] = defaultdict(lambda: [0] * len(index))
    by_id = {}
    for order in orders:
        by_id[order.id] = order
        _count(kpis, order, levels.get(order.id))
        by_channel[order.channel] += 1
        by_type[order.order_type] += 1
        by_category[order.category_id] += 1
        by_day[order.channel][index[local_day(order.created_at)]] += 1

    rows: dict[int, DepartmentRow] = {}

    def row_of(department_id: int) -> DepartmentRow:
        if department_id not in rows:
            dept = departments.get(department_id)
            rows[department_id] = DepartmentRow(
                department_id=department_id,
                code=dept.code if dept else str(department_id),
                name=dept.name if dept else str(department_id),
            )
        return rows[department_id]

    for order_id, department_id, status, return_requested_at in _current_leads(session, lo, hi):
        row = row_of(department_id)
        row.dispatches += 1
        row.returns += return_requested_at is not None
        if status not in ENDED:
            _count(row, by_id[order_id], levels.get(order_id))

    overdue_rows = _overdue(session, moment)
    kpis.overdue_now = len(overdue_rows)
    for o in overdue_rows:
        if o.department_id is not None:
            row_of(o.department_id).overdue_now += 1
    shown = [
        o
        for o in overdue_rows
        if overdue_department_id is None or o.department_id == overdue_department_id
    ]
    overdue = [
        OverdueOrder(
            id=o.id,
            number=o.number,
            title=o.title,
            department_id=o.department_id,
            department=_name(departments.get(o.department_id or 0)),
            due_at=o.due_at,
            late=moment - o.due_at,
            supervision_count=o.supervision_count,
        )
        for o in shown
    ]
    for row in rows.values():
        row.score = score_of(row)

    def category(category_id: int | None) -> tuple[str, str]:
        found = categories.get(category_id or 0)
        return (found.code, found.name) if found else ("", "")

    return Dashboard(
        period=period,
        at=moment,
        kpis=kpis,
        by_channel=dict(_most_first(by_channel)),
        by_type=dict(_most_first(by_type)),
        by_category=sorted(
            ((*category(c), n) for c, n in by_category.items()), key=lambda x: (-x[2], x[0])
        ),
        by_day=dict(by_day),
        departments=rank(rows.values()),
        overdue=overdue[:OVERDUE_LIMIT],
        overdue_total=len(shown),
    )


def for_viewer(
    *, session: Session, viewer: User, start: str | None, end: str | None
) -> tuple[Dashboard, int | None]:
    """The dashboard as ``viewer`` may see it, and the viewer's unit (None: the center).

    The center sees everything; a department sees the city-wide figures and ranking, and
    the overdue orders of its own unit only.
    """
    period = parse_period(start, end)
    own = None if journal.is_center(viewer) else journal.require_department(session, viewer)
    return compute(session=session, period=period, overdue_department_id=own), own
