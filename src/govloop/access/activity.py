"""Read side of the access log: who accessed a citizen's data (the citizen's data tracker),
staff work figures, and flags for unusual behaviour."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.access.models import Grant
from govloop.audit.models import AuditEntry
from govloop.core import calendar, ratelimit
from govloop.core.clock import now, to_local
from govloop.core.errors import BadRequest, NotFound
from govloop.core.models import User
from govloop.core.settings import get_settings
from govloop.notify import outbox as notify_outbox
from govloop.notify import service as notify
from govloop.subjects import identifiers as ids
from govloop.subjects import service as subjects
from govloop.subjects.models import SubjectMaster

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


# How long the tracker's answer may be acted on (the opt-out buttons) without verifying again.
TRACKER_TOKEN_MAX_AGE_S = 15 * 60


@dataclass(frozen=True)
class Verified:
    """A citizen the tracker verified: the person master, the phone on record, and a signed
    token the tracker's own forms carry instead of the ID number."""

    person_id: int
    name: str
    phone: str
    email: str | None
    token: str


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="govloop.my-data")


def _verified(person_id: int, attributes: dict[str, Any]) -> Verified:
    email = str(attributes.get("email") or "").strip().lower() or None
    return Verified(
        person_id,
        str(attributes.get("name") or ""),
        str(attributes.get("phone") or ""),
        email,
        str(_signer().dumps({"p": person_id})),
    )


def verify_citizen(
    *, session: Session, id_number: str, name: str, phone: str, client: str
) -> Verified:
    """The three facts must match the master record, and failed attempts are rate-limited
    per client address (a match resets nothing, so one's own identity cannot clear the
    count between guesses)."""
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
    return _verified(person.id, person.attributes)


def verified_by_token(*, session: Session, token: str) -> Verified:
    """The citizen the tracker verified a little earlier (its page's forms carry the token)."""
    try:
        data = _signer().loads(token or "", max_age=TRACKER_TOKEN_MAX_AGE_S)
        person_id = int(data["p"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise BadRequest(
            "页面已过期或无效，请重新核实身份后再操作", code="tracker_expired"
        ) from None
    row = session.execute(
        select(SubjectMaster.attributes).where(
            SubjectMaster.id == person_id, SubjectMaster.kind == "person"
        )
    ).first()
    if row is None:
        raise BadRequest("页面已过期或无效，请重新核实身份后再操作", code="tracker_expired")
    return _verified(person_id, dict(row[0] or {}))


def accesses_of(*, session: Session, person_id: int) -> list[AccessLine]:
    rows = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.subject_id == person_id,
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


def citizen_accesses(
    *, session: Session, id_number: str, name: str, phone: str, client: str
) -> list[AccessLine]:
    """The reads of a citizen's data, for the citizen, once verified."""
    who = verify_citizen(
        session=session, id_number=id_number, name=name, phone=phone, client=client
    )
    return accesses_of(session=session, person_id=who.person_id)


# --- the messages sent to the citizen, and their choice of channels -------------------------


@dataclass(frozen=True)
class ChannelChoice:
    channel: str
    address: str  # masked
    opted_out: bool


def _addresses(who: Verified) -> list[tuple[str, str]]:
    found = []
    if notify_outbox.valid_address("sms", notify_outbox.normalise_phone(who.phone)):
        found.append(("sms", notify_outbox.normalise_phone(who.phone)))
    if who.email and notify_outbox.valid_address("email", who.email):
        found.append(("email", who.email))
    return found


def citizen_messages(
    *, session: Session, who: Verified
) -> tuple[list[notify.MessageView], list[ChannelChoice]]:
    """What was sent to the verified phone (and the e-mail address on record), newest first,
    and whether each of them has opted out."""
    messages: list[notify.MessageView] = []
    choices = []
    for channel, address in _addresses(who):
        messages += notify.messages_to(session=session, channel=channel, address=address)
        choices.append(
            ChannelChoice(
                channel,
                notify_outbox.mask_recipient(channel, address),
                notify.opt_out_state(session=session, channel=channel, address=address),
            )
        )
    messages.sort(key=lambda m: (m.created_at, m.id), reverse=True)
    return messages, choices


def set_citizen_opt_out(*, session: Session, who: Verified, channel: str, choice: str) -> str:
    """The citizen opts out of a channel, or back in, for the phone or e-mail address on record
    (never an address from the form). Returns what the page tells them."""
    if choice not in ("out", "in"):
        raise BadRequest("请选择退订还是恢复接收", code="bad_choice")
    address = dict(_addresses(who)).get(channel)
    if address is None:
        raise BadRequest("没有登记该通知方式，无法更改", code="bad_channel")
    notify.set_opt_out(
        session=session, channel=channel, address=address, opted_out=choice == "out", via="web"
    )
    kind = "短信" if channel == "sms" else "电子邮件"
    return f"已退订{kind}通知" if choice == "out" else f"已恢复接收{kind}通知"


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
