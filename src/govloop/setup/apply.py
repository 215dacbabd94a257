"""Applying a checked workbook: every row is created or updated by its code, and only what
differs is written (and logged), so loading the same workbook twice changes nothing."""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from govloop.core.auth import create_user
from govloop.core.clock import local_today
from govloop.core.models import User
from govloop.hall.models import AppointmentQuota, ServiceItem, Window, window_items
from govloop.org import hours, in_force
from govloop.org.hours import WEEKDAY_NAMES
from govloop.org.models import Department, DepartmentMember, Hall, HallMember
from govloop.setup import changes
from govloop.setup.sheets import DEPARTMENTS, HALLS, ITEMS, QUOTAS, USERS, WINDOWS
from govloop.setup.validate import (
    DepartmentRow,
    HallRow,
    ItemRow,
    Plan,
    QuotaRow,
    UserRow,
    WindowRow,
)


@dataclass
class Applied:
    """What an import did, per sheet: created / updated / unchanged counts, and the
    one-time passwords of the users it created (shown once, never stored in clear)."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    # states that figures depend on (hours, windows), to be in force from the change's day
    versions: list[dict[str, Any]] = field(default_factory=list)

    def count(self, sheet: str, outcome: str) -> None:
        self.counts.setdefault(sheet, Counter())[outcome] += 1

    @property
    def changed(self) -> int:
        return sum(c["created"] + c["updated"] for c in self.counts.values())


class _Applier:
    def __init__(self, session: Session, actor: User | None, source: str, dry_run: bool) -> None:
        self.session = session
        self.actor = actor
        self.source = source
        self.dry_run = dry_run
        self.done = Applied()

    def _logged(
        self,
        sheet: str,
        kind: str,
        key: str,
        before: dict[str, Any] | None,
        after: dict[str, Any],
    ) -> None:
        """Log a change that was written, and count it for the sheet."""
        changes.record(
            self.session,
            actor=self.actor,
            source=self.source,
            kind=kind,
            key=key,
            before=before,
            after=after,
        )
        self.done.count(sheet, "created" if before is None else "updated")

    def _in_force(
        self,
        kind: str,
        key: str,
        hall_code: str,
        state: dict[str, Any],
        before: dict[str, Any] | None,
    ) -> None:
        self.done.versions.append(
            {"kind": kind, "key": key, "hall_code": hall_code, "state": state, "before": before}
        )

    def departments(self, rows: list[DepartmentRow]) -> None:
        existing = {d.code: d for d in self.session.scalars(select(Department))}
        created = set()
        for row in rows:  # first every department, then the tree (a parent may come later)
            if row.code not in existing:
                existing[row.code] = Department(code=row.code, name=row.name)
                self.session.add(existing[row.code])
                created.add(row.code)
        self.session.flush()
        codes = {d.id: code for code, d in existing.items()}
        for row in rows:
            dept = existing[row.code]
            before = None if row.code in created else _department(dept, codes)
            after = {"name": row.name, "parent": row.parent, "archived": False}
            if before == after:
                self.done.count(DEPARTMENTS, "unchanged")
                continue
            dept.name, dept.archived = row.name, False
            dept.parent_id = existing[row.parent].id if row.parent else None
            self._logged(DEPARTMENTS, "department", row.code, before, after)
        self.session.flush()

    def halls(self, rows: list[HallRow]) -> None:
        existing = {h.code: h for h in self.session.scalars(select(Hall))}
        for row in rows:
            hall = existing.get(row.code)
            before = _hall(hall) if hall else None
            if hall is None:
                hall = Hall(code=row.code, name=row.name)
                self.session.add(hall)
            after = {
                "name": row.name,
                "address": row.address,
                "hours": ",".join(str(p) for p in row.periods),
                "weekend_days": list(row.weekend),
                "archived": False,
            }
            if before == after:
                self.done.count(HALLS, "unchanged")
                continue
            hall.name, hall.address, hall.archived = row.name, row.address, False
            state = in_force.hours_state(row.periods, row.weekend)
            if _hours_of(before) != state:
                self._in_force(in_force.HOURS, row.code, row.code, state, _hours_of(before))
            hours.set_hours(hall, list(row.periods), list(row.weekend))
            self._logged(HALLS, "hall", row.code, before, after)
        self.session.flush()

    def items(self, rows: list[ItemRow]) -> None:
        existing = {i.code: i for i in self.session.scalars(select(ServiceItem))}
        departments = dict(self.session.execute(select(Department.code, Department.id)).all())
        codes = {id_: code for code, id_ in departments.items()}
        for row in rows:
            item = existing.get(row.code)
            before = _item(item, codes) if item else None
            if item is None:
                item = ServiceItem(code=row.code)
                self.session.add(item)
            after = {
                "name": row.name,
                "department": row.department,
                "ticket_prefix": row.prefix,
                "statutory_days": row.statutory_days,
                "promised_days": row.promised_days,
                "promised_minutes": row.minutes,
                "fee": row.fee,
                "materials": list(row.materials),
                "online": row.online,
                "self_service": row.self_service,
                "by_post": row.by_post,
                "active": True,
            }
            if before == after:
                self.done.count(ITEMS, "unchanged")
                continue
            for name, value in after.items():
                if name == "department":
                    item.department_id = departments[row.department]
                else:
                    setattr(item, name, value)
            self._logged(ITEMS, "item", row.code, before, after)
        self.session.flush()

    def windows(self, rows: list[WindowRow]) -> None:
        halls = dict(self.session.execute(select(Hall.code, Hall.id)).all())
        items = dict(self.session.execute(select(ServiceItem.code, ServiceItem.id)).all())
        existing = {(w.hall_id, w.number): w for w in self.session.scalars(select(Window))}
        for row in rows:
            hall_id = halls[row.hall]
            window = existing.get((hall_id, row.number))
            before = window_snapshot(self.session, window) if window else None
            if window is None:
                window = Window(hall_id=hall_id, number=row.number)
                self.session.add(window)
            after = {
                "name": row.name,
                "is_general": row.general,
                "active": True,
                "items": sorted(row.items or []),
            }
            if before == after:
                self.done.count(WINDOWS, "unchanged")
                continue
            key = in_force.window_key(row.hall, row.number)
            self._in_force(in_force.WINDOW, key, row.hall, after, before)
            window.name, window.is_general, window.active = row.name, row.general, True
            self.session.flush()
            self.session.execute(delete(window_items).where(window_items.c.window_id == window.id))
            if row.items:
                self.session.execute(
                    insert(window_items),
                    [{"window_id": window.id, "item_id": items[c]} for c in sorted(set(row.items))],
                )
            self._logged(WINDOWS, "window", key, before, after)

    def quotas(self, rows: list[QuotaRow]) -> None:
        halls = dict(self.session.execute(select(Hall.code, Hall.id)).all())
        items = dict(self.session.execute(select(ServiceItem.code, ServiceItem.id)).all())
        existing = {
            (q.hall_id, q.item_id, q.weekday, q.slot_start): q
            for q in self.session.scalars(select(AppointmentQuota))
        }
        for row in rows:
            key = (halls[row.hall], items[row.item], row.weekday, row.period.start)
            quota = existing.get(key)
            before = _quota(quota) if quota else None
            if quota is None:
                quota = AppointmentQuota(
                    hall_id=key[0], item_id=key[1], weekday=row.weekday, slot_start=key[3]
                )
                self.session.add(quota)
            after = {"slot_end": f"{row.period.end:%H:%M}", "capacity": row.capacity}
            if before == after:
                self.done.count(QUOTAS, "unchanged")
                continue
            quota.slot_end, quota.capacity = row.period.end, row.capacity
            day = WEEKDAY_NAMES.get(row.weekday or 0, "每天")
            self._logged(
                QUOTAS, "quota", f"{row.hall}/{row.item}/{day}/{row.period}", before, after
            )
        self.session.flush()

    def users(self, rows: list[UserRow]) -> None:
        existing = {u.username: u for u in self.session.scalars(select(User))}
        departments = dict(self.session.execute(select(Department.code, Department.id)).all())
        halls = dict(self.session.execute(select(Hall.code, Hall.id)).all())
        for row in rows:
            user = existing.get(row.username)
            before = _user(self.session, user) if user else None
            if user is None and self.dry_run:  # rolled back: nobody to hash a password for
                user = User(
                    username=row.username,
                    display_name=row.name,
                    role=row.role.value,
                    password_hash="!",
                )
                self.session.add(user)
                self.session.flush()
            elif user is None:
                password = one_time_password()
                user = create_user(
                    session=self.session,
                    username=row.username,
                    password=password,
                    role=row.role,
                    display_name=row.name,
                    one_time=True,
                )
                self.done.passwords[row.username] = password
            after = {
                "name": row.name,
                "role": row.role.value,
                "department": row.department,
                "hall": row.hall,
            }
            if before == after:
                self.done.count(USERS, "unchanged")
                continue
            user.display_name, user.role = row.name, row.role.value
            _set_membership(
                self.session,
                user,
                departments.get(row.department) if row.department else None,
                halls.get(row.hall) if row.hall else None,
            )
            self._logged(USERS, "user", row.username, before, after)
        self.session.flush()


def one_time_password() -> str:
    """Twelve characters people can read out and type: no 0/O, 1/l/I."""
    letters, digits = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ", "23456789"
    while True:  # the password policy wants letters and digits
        password = "".join(secrets.choice(letters + digits) for _ in range(12))
        if any(c in digits for c in password) and any(c in letters for c in password):
            return password


def _set_membership(
    session: Session, user: User, department_id: int | None, hall_id: int | None
) -> None:
    """The workbook names one department and one hall per person: it replaces both."""
    session.execute(delete(DepartmentMember).where(DepartmentMember.user_id == user.id))
    if department_id is not None:
        session.add(DepartmentMember(user_id=user.id, department_id=department_id))
    session.execute(delete(HallMember).where(HallMember.user_id == user.id))
    if hall_id is not None:
        session.add(HallMember(user_id=user.id, hall_id=hall_id))


# --- the snapshots the change log keeps (plain JSON values) ---------------------------------


def _hours_of(snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
    if snapshot is None:
        return None
    return {"hours": snapshot["hours"], "weekend_days": sorted(snapshot["weekend_days"])}


def _department(dept: Department, codes: dict[int, str]) -> dict[str, Any]:
    return {
        "name": dept.name,
        "parent": codes.get(dept.parent_id) if dept.parent_id else None,
        "archived": bool(dept.archived),
    }


def _hall(hall: Hall) -> dict[str, Any]:
    return {
        "name": hall.name,
        "address": hall.address,
        "hours": hours.describe(hall),
        "weekend_days": list(hall.weekend_days or []),
        "archived": bool(hall.archived),
    }


def _item(item: ServiceItem, departments: dict[int, str]) -> dict[str, Any]:
    return {
        "name": item.name,
        "department": departments.get(item.department_id),
        "ticket_prefix": item.ticket_prefix,
        "statutory_days": item.statutory_days,
        "promised_days": item.promised_days,
        "promised_minutes": item.promised_minutes,
        "fee": item.fee,
        "materials": list(item.materials or []),
        "online": bool(item.online),
        "self_service": bool(item.self_service),
        "by_post": bool(item.by_post),
        "active": bool(item.active),
    }


def window_snapshot(session: Session, window: Window) -> dict[str, Any]:
    codes = session.scalars(
        select(ServiceItem.code)
        .join(window_items, window_items.c.item_id == ServiceItem.id)
        .where(window_items.c.window_id == window.id)
    )
    return {
        "name": window.name,
        "is_general": bool(window.is_general),
        "active": bool(window.active),
        "items": [] if window.is_general else sorted(codes),
    }


def _quota(quota: AppointmentQuota) -> dict[str, Any]:
    return {"slot_end": f"{quota.slot_end:%H:%M}", "capacity": quota.capacity}


def _user(session: Session, user: User) -> dict[str, Any]:
    department = session.scalar(
        select(Department.code)
        .join(DepartmentMember, DepartmentMember.department_id == Department.id)
        .where(DepartmentMember.user_id == user.id)
    )
    hall = session.scalar(
        select(Hall.code)
        .join(HallMember, HallMember.hall_id == Hall.id)
        .where(HallMember.user_id == user.id)
        .order_by(Hall.code)
        .limit(1)
    )
    return {"name": user.display_name, "role": user.role, "department": department, "hall": hall}


def apply(
    session: Session,
    plan: Plan,
    *,
    actor: User | None,
    source: str,
    dry_run: bool = False,
    effective_on: date | None = None,
) -> Applied:
    """Write a plan that has no problems, sheet by sheet in reference order, its hours and
    windows in force from ``effective_on`` (today). A ``dry_run`` is rolled back by the
    caller; it writes everything but hashes no password."""
    assert not plan.problems, "a workbook with problems is never applied"
    applier = _Applier(session, actor, source, dry_run)
    applier.departments(plan.departments)
    applier.halls(plan.halls)
    applier.items(plan.items)
    applier.windows(plan.windows)
    applier.quotas(plan.quotas)
    applier.users(plan.users)
    record_versions(session, applier.done, effective_on or local_today())
    return applier.done


def record_versions(
    session: Session, done: Applied, valid_from: date, scheduled_id: int | None = None
) -> None:
    for version in done.versions:
        in_force.record(session, valid_from=valid_from, scheduled_id=scheduled_id, **version)
