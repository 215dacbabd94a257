"""Where the tags and the knowledge graph get their subjects and relations from.

Every read of another domain's data for tags and the graph lives here, so the subject
master data of a later issue (``subjects/``) can replace these functions one by one
without touching the rules or the graph.

Subjects come from the department records the ingest pipeline stored
(``ingest_records``: ``person_record``, ``enterprise_record``, ``project_record``).
Hall tickets and hotline orders name no resident ID: a ticket is tied to a person only
through the phone of the appointment it was checked in from, and a work order through
the caller's phone. A phone shared by several registered persons identifies nobody and
is not used (see :class:`SubjectIndex`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from govloop.core.models import User
from govloop.hall.models import Appointment, ServiceItem, Ticket, TicketStatus, Window, window_items
from govloop.hotline.models import OrderStatus, WorkOrder
from govloop.ingest.models import IngestedRecord
from govloop.org.models import Department, Hall

PERSON_SCHEMA = "person_record"
ENTERPRISE_SCHEMA = "enterprise_record"
PROJECT_SCHEMA = "project_record"
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


def clean_phone(value: Any) -> str | None:
    """Digits of a phone as typed (spaces, dashes, +86 dropped); None when empty."""
    if not isinstance(value, str):
        return None
    digits = re.sub(r"[\s\-()]", "", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits or None


def valid_mobile(value: Any) -> bool:
    phone = clean_phone(value)
    return phone is not None and MOBILE_RE.match(phone) is not None


def valid_id_number(value: Any) -> bool:
    """18-digit resident ID (GB 11643): format, check digit and birth date.

    The region code is not checked: python-stdnum's region table lacks many current
    city districts, and refusing real IDs would understate quality.
    """
    if not isinstance(value, str):
        return False
    number = ric.compact(value)
    if len(number) != 18 or not (number[:17].isascii() and number[:17].isdigit()):
        return False
    if number[-1] != ric.calc_check_digit(number):
        return False
    try:
        ric.get_birth_date(number)
    except ric.ValidationError:
        return False
    return True


def birth_date_of_id(value: str) -> date | None:
    return ric.get_birth_date(ric.compact(value)) if valid_id_number(value) else None


def sex_of_id(value: str) -> str | None:
    """The 17th digit: odd for men, even for women."""
    return ("M" if int(ric.compact(value)[16]) % 2 else "F") if valid_id_number(value) else None


def parse_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


@dataclass(frozen=True)
class Person:
    key: str  # the resident ID when valid, else "R<record id>"
    name: str
    id_number: str | None
    birth_date: date | None
    sex: str | None
    phone: str | None  # the latest record's
    address: str | None
    record_ids: tuple[int, ...]
    phones: tuple[str, ...] = ()  # every number any department recorded for the person


@dataclass(frozen=True)
class Enterprise:
    key: str  # unified social credit code, else "R<record id>"
    name: str
    credit_code: str | None
    legal_rep_name: str | None
    legal_rep_id_number: str | None
    address: str | None


@dataclass(frozen=True)
class Project:
    key: str  # project code
    name: str
    enterprise_credit_code: str | None
    address: str | None


@dataclass(frozen=True)
class Visit:
    """A hall ticket checked in from an appointment (the only tickets with a phone)."""

    ticket_id: int
    phone: str
    service_date: date
    status: str
    item_code: str
    item_name: str
    staff_username: str | None
    staff_name: str | None


@dataclass(frozen=True)
class HotlineCall:
    number: str
    title: str
    phone: str | None  # None: the caller left no number
    created_at: datetime
    status: str
    department_code: str | None
    handler_username: str | None
    handler_name: str | None


def _records(session: Session, schema_name: str) -> Iterable[IngestedRecord]:
    # Oldest first: a later record of the same subject overrides an earlier one.
    return session.scalars(
        select(IngestedRecord)
        .where(IngestedRecord.schema_name == schema_name)
        .order_by(IngestedRecord.id)
    )


def persons(*, session: Session) -> list[Person]:
    """One person per valid resident ID (latest record wins, ids of all kept); records
    without a valid ID stay separate persons, because nothing proves they are the same."""
    by_key: dict[str, Person] = {}
    for record in _records(session, PERSON_SCHEMA):
        p = record.payload or {}
        name = _text(p.get("name"))
        if name is None:
            continue  # the declared schema requires a name; quality checks count it
        id_number = _text(p.get("id_number"))
        valid = id_number is not None and valid_id_number(id_number)
        key = ric.compact(id_number).upper() if valid and id_number else f"R{record.id}"
        previous = by_key.get(key)
        phone = clean_phone(p.get("phone"))
        phones = previous.phones if previous else ()
        if phone and phone not in phones:
            phones = (*phones, phone)
        by_key[key] = Person(
            key=key,
            name=name,
            id_number=id_number,
            birth_date=parse_date(p.get("birth_date"))
            or (birth_date_of_id(id_number) if id_number else None),
            sex=_text(p.get("sex")) or (sex_of_id(id_number) if id_number else None),
            phone=phone or (previous.phone if previous else None),
            address=_text(p.get("address")) or (previous.address if previous else None),
            record_ids=((previous.record_ids if previous else ()) + (record.id,)),
            phones=phones,
        )
    return list(by_key.values())


def enterprises(*, session: Session) -> list[Enterprise]:
    by_key: dict[str, Enterprise] = {}
    for record in _records(session, ENTERPRISE_SCHEMA):
        p = record.payload or {}
        name = _text(p.get("name"))
        if name is None:
            continue
        code = _text(p.get("credit_code"))
        key = code.upper() if code else f"R{record.id}"
        by_key[key] = Enterprise(
            key=key,
            name=name,
            credit_code=code,
            legal_rep_name=_text(p.get("legal_rep_name")),
            legal_rep_id_number=_text(p.get("legal_rep_id_number")),
            address=_text(p.get("address")),
        )
    return list(by_key.values())


def projects(*, session: Session) -> list[Project]:
    by_key: dict[str, Project] = {}
    for record in _records(session, PROJECT_SCHEMA):
        p = record.payload or {}
        code, name = _text(p.get("project_code")), _text(p.get("name"))
        if code is None or name is None:
            continue
        credit = _text(p.get("enterprise_credit_code"))
        by_key[code] = Project(
            key=code,
            name=name,
            enterprise_credit_code=credit.upper() if credit else None,
            address=_text(p.get("address")),
        )
    return list(by_key.values())


def visits(*, session: Session, since: date | None = None) -> list[Visit]:
    """Tickets issued at check-in of an appointment, with the appointment's phone."""
    query = (
        select(
            Ticket.id,
            Appointment.citizen_phone,
            Ticket.service_date,
            Ticket.status,
            ServiceItem.code,
            ServiceItem.name,
            User.username,
            User.display_name,
        )
        .join(Appointment, Appointment.id == Ticket.appointment_id)
        .join(ServiceItem, ServiceItem.id == Ticket.item_id)
        .outerjoin(User, User.id == Ticket.staff_id)
        .where(Ticket.status != TicketStatus.CANCELLED)
        .order_by(Ticket.id)
    )
    if since is not None:
        query = query.where(Ticket.service_date >= since)
    out = []
    for row in session.execute(query):
        phone = clean_phone(row[1])
        if phone:
            out.append(Visit(row[0], phone, row[2], row[3], row[4], row[5], row[6], row[7]))
    return out


def hotline_calls(*, session: Session, since: datetime | None = None) -> list[HotlineCall]:
    """Work orders and their caller's phone (merged duplicates are not counted twice)."""
    query = (
        select(
            WorkOrder.number,
            WorkOrder.title,
            WorkOrder.caller_phone,
            WorkOrder.created_at,
            WorkOrder.status,
            Department.code,
            User.username,
            User.display_name,
        )
        .outerjoin(Department, Department.id == WorkOrder.department_id)
        .outerjoin(User, User.id == WorkOrder.closed_by)
        .where(WorkOrder.status != OrderStatus.MERGED)
        .order_by(WorkOrder.id)
    )
    if since is not None:
        query = query.where(WorkOrder.created_at >= since)
    return [
        HotlineCall(row[0], row[1], clean_phone(row[2]), row[3], row[4], row[5], row[6], row[7])
        for row in session.execute(query)
    ]


@dataclass
class Organisation:
    """The platform's own reference data: halls, departments, items, windows, staff."""

    halls: dict[int, tuple[str, str]] = field(default_factory=dict)  # id → (code, name)
    departments: dict[int, tuple[str, str]] = field(default_factory=dict)
    # code → (name, department id)
    items: dict[str, tuple[str, int]] = field(default_factory=dict)
    # window id → (hall id, number, name, staff username)
    windows: dict[int, tuple[int, int, str, str | None]] = field(default_factory=dict)
    window_items: list[tuple[int, str]] = field(default_factory=list)  # (window id, item code)
    staff: dict[str, str] = field(default_factory=dict)  # username → display name


def organisation(*, session: Session) -> Organisation:
    org = Organisation()
    org.halls = {h.id: (h.code, h.name) for h in session.scalars(select(Hall))}
    org.departments = {d.id: (d.code, d.name) for d in session.scalars(select(Department))}
    org.items = {
        i.code: (i.name, i.department_id)
        for i in session.scalars(select(ServiceItem).where(ServiceItem.active))
    }
    usernames = {uid: name for uid, name in session.execute(select(User.id, User.username))}
    org.staff = {
        name: shown for name, shown in session.execute(select(User.username, User.display_name))
    }
    for w in session.scalars(select(Window).where(Window.active)):
        org.windows[w.id] = (w.hall_id, w.number, w.name, usernames.get(w.staff_id or 0))
    org.window_items = [
        (wid, code)
        for wid, code in session.execute(
            select(window_items.c.window_id, ServiceItem.code).join(
                ServiceItem, ServiceItem.id == window_items.c.item_id
            )
        )
    ]
    return org


@dataclass
class SubjectIndex:
    """Persons by key and by any phone recorded for them; a phone shared by several persons
    identifies nobody."""

    persons: dict[str, Person]
    by_phone: dict[str, str]
    ambiguous_phones: set[str]

    @classmethod
    def build(cls, people: Iterable[Person]) -> SubjectIndex:
        persons = {p.key: p for p in people}
        holders: dict[str, set[str]] = defaultdict(set)
        for p in persons.values():
            for phone in p.phones:
                holders[phone].add(p.key)
        by_phone = {ph: next(iter(keys)) for ph, keys in holders.items() if len(keys) == 1}
        return cls(persons, by_phone, {ph for ph, keys in holders.items() if len(keys) > 1})

    def person_for_phone(self, phone: str) -> str | None:
        return self.by_phone.get(phone)
