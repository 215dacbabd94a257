"""Read side of the access log: who accessed a citizen's data (the citizen's data tracker),
staff work figures, and flags for unusual behaviour."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.access.models import Grant
from govloop.audit.models import AuditEntry
from govloop.core import calendar, ratelimit
from govloop.core.clock import now, to_local
from govloop.core.errors import NotFound
from govloop.core.models import User
from govloop.subjects import identifiers as ids
from govloop.subjects import service as subjects

BULK_SUBJECTS = 20  # distinct subjects read …
BULK_MINUTES = 10  # … within this many minutes
OFFICE_HOURS = (time(8, 0), time(18, 30))
BREAK_GLASS_REPEAT = 2  # break-glass uses within a week that call for a look
OUTSIDE_CASE_CODES = frozenset(
    {
        "subject_not_in_case",
        "not_your_case",
        "field_not_granted",
        "break_glass_not_allowed",
        "break_glass_limit",
    }
)
BREAK_GLASS_ACTIONS = frozenset({"break_glass", "bg_requested"})  # served now, or asked for


@dataclass(frozen=True)
class AccessLine:
    at: datetime
    staff: str
    matter: str
    fields: list[str]
    purpose: str | None
    emergency: bool


def citizen_accesses(
    *, session: Session, id_number: str, name: str, phone: str, client: str
) -> list[AccessLine]:
    """The reads of a citizen's data, for the citizen. The three facts must match the master
    record, and failed attempts are rate-limited per client address (a match resets
    nothing, so one's own identity cannot clear the count between guesses)."""
    ratelimit.check(ratelimit.MY_DATA, client)
    check = ids.check_resident_id(id_number)
    person = subjects.find_person(session=session, id_number=check.value) if check.valid else None
    phone_check = ids.check_phone(phone)
    if (
        person is None
        or person.attributes.get("name") != name.strip()
        or person.attributes.get("phone") != phone_check.value
    ):
        ratelimit.hit(ratelimit.MY_DATA, client)
        raise NotFound("未能核实身份：请检查身份证号码、姓名和手机号码", code="not_verified")
    rows = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.subject_id == person.id,
            AuditEntry.action.in_(("read", "break_glass")),
            AuditEntry.outcome == "ok",
        )
        .order_by(AuditEntry.seq.desc())
        .limit(500)
    ).all()
    return [
        AccessLine(
            e.at,
            e.actor,
            e.case_label or ("紧急查看" if e.action == "break_glass" else "—"),
            [f for f in (e.fields or "").split(",") if f],
            e.purpose,
            e.action == "break_glass" or e.case_type == "break_glass",
        )
        for e in rows
    ]


@dataclass
class StaffActivity:
    staff_id: int
    staff: str
    cases: int = 0
    case_minutes: list[float] = field(default_factory=list)
    reads: int = 0
    subjects: set[int] = field(default_factory=set)
    denied: int = 0
    break_glass: int = 0
    flags: list[str] = field(default_factory=list)

    @property
    def mean_case_minutes(self) -> float | None:
        return sum(self.case_minutes) / len(self.case_minutes) if self.case_minutes else None


def _off_hours(moment: datetime) -> bool:
    local = to_local(moment)
    if not calendar.is_workday(local.date()):
        return True
    return not (OFFICE_HOURS[0] <= local.time() <= OFFICE_HOURS[1])


def staff_activity(*, session: Session, days: int = 30) -> list[StaffActivity]:
    since = now() - timedelta(days=days)
    by_staff: dict[int, StaffActivity] = {}

    def of(staff_id: int, name: str) -> StaffActivity:
        if staff_id not in by_staff:
            by_staff[staff_id] = StaffActivity(staff_id, name)
        return by_staff[staff_id]

    reads: dict[int, deque[tuple[datetime, int]]] = defaultdict(deque)
    flags: dict[int, set[str]] = defaultdict(set)
    glass: dict[int, list[datetime]] = defaultdict(list)
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.at >= since, AuditEntry.actor_id.is_not(None))
        .order_by(AuditEntry.seq)
    )
    for e in entries:
        assert e.actor_id is not None
        row = of(e.actor_id, e.actor)
        if e.action == "read":
            row.reads += 1
            if e.subject_id is not None:
                row.subjects.add(e.subject_id)
                window = reads[e.actor_id]
                window.append((e.at, e.subject_id))
                while window and e.at - window[0][0] > timedelta(minutes=BULK_MINUTES):
                    window.popleft()
                if len({s for _, s in window}) >= BULK_SUBJECTS:
                    flags[e.actor_id].add("bulk")
            if _off_hours(e.at):
                flags[e.actor_id].add("off_hours")
        elif e.action == "denied":
            row.denied += 1
            code = (e.detail or "").split(":", 1)[0]
            if code in OUTSIDE_CASE_CODES:
                flags[e.actor_id].add("outside_case")
        elif e.action in BREAK_GLASS_ACTIONS:
            row.break_glass += 1
            glass[e.actor_id].append(e.at)
            flags[e.actor_id].add("outside_case")
    for staff_id, moments in glass.items():
        moments.sort()
        for i in range(len(moments) - BREAK_GLASS_REPEAT + 1):
            if moments[i + BREAK_GLASS_REPEAT - 1] - moments[i] <= timedelta(days=7):
                flags[staff_id].add("repeated_break_glass")
    for g in session.scalars(select(Grant).where(Grant.opened_at >= since)):
        if g.staff_id not in by_staff:
            continue
        row = by_staff[g.staff_id]
        if not g.break_glass:
            row.cases += 1
            if g.ended_at is not None:
                row.case_minutes.append((g.ended_at - g.opened_at).total_seconds() / 60)
    for staff_id, row in by_staff.items():
        row.flags = sorted(flags[staff_id])
    return sorted(by_staff.values(), key=lambda r: (-len(r.flags), r.staff))


def pending_break_glass(*, session: Session) -> list[tuple[Grant, str]]:
    """Break-glass grants awaiting review, with the staff member's name."""
    rows = session.execute(
        select(Grant, User.display_name, User.username)
        .join(User, User.id == Grant.staff_id)
        .where(Grant.break_glass.is_(True), Grant.review_status == "pending")
        .order_by(Grant.opened_at)
    ).all()
    return [(grant, display or username) for grant, display, username in rows]


def recent_entries(*, session: Session, limit: int = 100) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)))
