"""The 事项清单 import and export, as the console, the API and the CLI use them.

An import reads the whole workbook, checks all of it, and then applies all of it or nothing:
a workbook with any problem changes nothing. A dry run checks and counts without writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.auth import Role
from govloop.core.errors import BadRequest
from govloop.core.models import User
from govloop.hall.models import AppointmentQuota, ServiceItem, Window, window_items
from govloop.org import hours
from govloop.org.models import Department, DepartmentMember, Hall, HallMember
from govloop.setup import sheets
from govloop.setup.apply import Applied, apply
from govloop.setup.validate import Problem, check

SOURCES = ("console", "api", "cli", "import", "demo")


@dataclass
class ImportResult:
    problems: list[Problem] = field(default_factory=list)
    applied: Applied | None = None
    dry_run: bool = False
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        counts = self.applied.counts if self.applied else {}
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "problems": [
                {"sheet": p.sheet, "row": p.row, "column": p.column, "message": p.message}
                for p in self.problems
            ],
            "counts": {sheet: dict(c) for sheet, c in counts.items()},
            "passwords": self.applied.passwords if self.applied else {},
        }


def import_files(
    *,
    session: Session,
    files: Sequence[tuple[str, bytes]],
    actor: User | None,
    source: str,
    dry_run: bool = False,
) -> ImportResult:
    """Check the workbook (or CSV files); apply it when it has no problem and this is not a
    dry run. A dry run applies in a savepoint it then rolls back, so its counts are exact."""
    read = sheets.read_files(files)
    plan = check(session, read)
    result = ImportResult(
        problems=plan.problems, dry_run=dry_run, rows={n: len(s.rows) for n, s in read.items()}
    )
    if plan.problems:
        return result
    if dry_run:
        savepoint = session.begin_nested()
        result.applied = apply(session, plan, actor=actor, source=source, dry_run=True)
        savepoint.rollback()
    else:
        result.applied = apply(session, plan, actor=actor, source=source)
    return result


def typed_sheet(sheet: str, rows: Sequence[dict[str, Any]]) -> sheets.Sheet:
    """Rows entered by hand as a sheet of the workbook (row 2 is the first)."""
    columns = sheets.COLUMNS[sheet]
    unknown = sorted({k for row in rows for k in row} - set(columns))
    if unknown:
        raise BadRequest(f"未知的字段：{'、'.join(unknown)}", code="unknown_columns")
    return sheets.Sheet(
        sheet,
        rows=[{c: sheets.cell_text(row.get(c)) for c in columns} for row in rows],
        numbers=list(range(2, len(rows) + 2)),
    )


def apply_rows(
    *,
    session: Session,
    sheet: str,
    rows: Sequence[dict[str, Any]],
    actor: User | None,
    source: str,
    effective_on: date | None = None,
) -> ImportResult:
    """Rows of one sheet entered by hand (a console form, an API call), checked and applied
    exactly as an imported workbook's: the same rules, the same change log."""
    typed = typed_sheet(sheet, rows)
    plan = check(session, {sheet: typed})
    result = ImportResult(problems=plan.problems, rows={sheet: len(rows)})
    if not plan.problems:
        result.applied = apply(session, plan, actor=actor, source=source, effective_on=effective_on)
    return result


def export(session: Session) -> bytes:
    """The current configuration in the template's layout (archived objects left out)."""
    return sheets.write(current_rows(session))


def current_rows(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """The configuration as the workbook's rows, sheet by sheet (archived objects left out)."""
    departments = {d.id: d for d in session.scalars(select(Department).order_by(Department.code))}
    halls = list(session.scalars(select(Hall).where(Hall.archived.is_(False)).order_by(Hall.code)))
    hall_codes = {h.id: h.code for h in halls}
    items = list(
        session.scalars(select(ServiceItem).where(ServiceItem.active).order_by(ServiceItem.code))
    )
    item_codes = {i.id: i.code for i in items}
    served: dict[int, list[str]] = {}
    for window_id, item_id in session.execute(select(window_items)):
        if item_id in item_codes:
            served.setdefault(window_id, []).append(item_codes[item_id])
    windows = session.scalars(
        select(Window)
        .where(Window.active, Window.hall_id.in_(hall_codes))
        .order_by(Window.hall_id, Window.number)
    )
    quotas = session.scalars(
        select(AppointmentQuota).order_by(
            AppointmentQuota.hall_id, AppointmentQuota.item_id, AppointmentQuota.slot_start
        )
    )
    members = dict(
        session.execute(select(DepartmentMember.user_id, DepartmentMember.department_id)).all()
    )
    hall_of = dict(session.execute(select(HallMember.user_id, HallMember.hall_id)).all())
    users = session.scalars(select(User).where(User.active).order_by(User.username))
    yes = {True: "是", False: "否"}
    rows: dict[str, list[tuple[Any, ...]]] = {
        sheets.DEPARTMENTS: [
            (d.code, d.name, departments[d.parent_id].code if d.parent_id else "")
            for d in departments.values()
            if not d.archived
        ],
        sheets.HALLS: [
            (h.code, h.name, h.address or "", hours.describe(h), hours.describe_weekend(h))
            for h in halls
        ],
        sheets.ITEMS: [
            (
                i.code,
                i.name,
                departments[i.department_id].code,
                i.ticket_prefix,
                i.statutory_days or "",
                i.promised_days or "",
                i.promised_minutes,
                i.fee or "",
                "；".join(i.materials or []),
                yes[bool(i.online)],
                yes[bool(i.self_service)],
                yes[bool(i.by_post)],
            )
            for i in items
        ],
        sheets.WINDOWS: [
            (
                hall_codes[w.hall_id],
                w.number,
                w.name,
                "综合" if w.is_general or len(served.get(w.id, [])) > 1 else "专窗",
                "全部" if w.is_general else ",".join(sorted(served.get(w.id, []))),
            )
            for w in windows
        ],
        sheets.QUOTAS: [
            (
                hall_codes[q.hall_id],
                item_codes[q.item_id],
                hours.WEEKDAY_NAMES[q.weekday] if q.weekday else "每天",
                f"{q.slot_start:%H:%M}-{q.slot_end:%H:%M}",
                q.capacity,
            )
            for q in quotas
            if q.hall_id in hall_codes and q.item_id in item_codes
        ],
        sheets.USERS: [
            (
                u.username,
                u.display_name,
                u.role,
                departments[members[u.id]].code if u.id in members else "",
                hall_codes.get(hall_of.get(u.id, 0), ""),
            )
            for u in users
            if u.role in {r.value for r in Role}
        ],
    }
    return rows
