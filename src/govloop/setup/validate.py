"""Checking a whole 事项清单 workbook against itself and the database before anything is
applied: every problem is reported with its sheet, row, column and a reason in Chinese."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.auth import Role
from govloop.core.errors import GovloopError
from govloop.core.models import User
from govloop.hall.models import ServiceItem, Ticket, TicketStatus, Window, window_items
from govloop.org import hours
from govloop.org.models import Department, Hall
from govloop.setup.sheets import (
    DEPARTMENTS,
    HALLS,
    ITEMS,
    QUOTAS,
    USERS,
    WINDOWS,
    Sheet,
)

CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
PREFIX = re.compile(r"^[A-Z][A-Z0-9]?$")
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
ROLE_NAMES = {
    "系统管理员": Role.ADMIN,
    "大厅管理员": Role.HALL_MANAGER,
    "窗口人员": Role.WINDOW_STAFF,
    "热线坐席": Role.HOTLINE_AGENT,
    "承办单位": Role.DEPARTMENT_HANDLER,
    "部门办理人员": Role.DEPARTMENT_HANDLER,
    "数据专员": Role.DATA_STEWARD,
    "审计员": Role.AUDITOR,
    "外勤人员": Role.FIELD_STAFF,
}
WEEKDAYS = {name: number for number, name in hours.WEEKDAY_NAMES.items()}
WEEKDAYS |= {"星期" + "一二三四五六日"[i]: i + 1 for i in range(7)} | {"星期天": 7}
EVERY_DAY = ("每天", "每日", "工作日", "")
YES, NO = ("是", "Y", "y", "1", "TRUE", "true"), ("否", "N", "n", "0", "FALSE", "false", "")
ALL_ITEMS = "全部"


@dataclass(frozen=True)
class Problem:
    sheet: str
    row: int
    column: str
    message: str


@dataclass(frozen=True)
class DepartmentRow:
    code: str
    name: str
    parent: str | None


@dataclass(frozen=True)
class HallRow:
    code: str
    name: str
    address: str | None
    periods: tuple[hours.Period, ...]
    weekend: tuple[int, ...]


@dataclass(frozen=True)
class ItemRow:
    code: str
    name: str
    department: str
    prefix: str
    statutory_days: int | None
    promised_days: int | None
    minutes: int
    fee: str | None
    materials: tuple[str, ...]
    online: bool
    self_service: bool
    by_post: bool


@dataclass(frozen=True)
class WindowRow:
    hall: str
    number: int
    name: str
    general: bool
    items: tuple[str, ...] | None  # None: every item (全部)


@dataclass(frozen=True)
class QuotaRow:
    hall: str
    item: str
    weekday: int | None  # None: every working day
    period: hours.Period
    capacity: int


@dataclass(frozen=True)
class UserRow:
    username: str
    name: str
    role: Role
    department: str | None
    hall: str | None


@dataclass
class Plan:
    departments: list[DepartmentRow] = field(default_factory=list)
    halls: list[HallRow] = field(default_factory=list)
    items: list[ItemRow] = field(default_factory=list)
    windows: list[WindowRow] = field(default_factory=list)
    quotas: list[QuotaRow] = field(default_factory=list)
    users: list[UserRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # where each row came from, to place the problems found across sheets
    rows: dict[tuple[str, str], int] = field(default_factory=dict)


class _Checker:
    """Reads each sheet into typed rows, noting every problem instead of stopping."""

    def __init__(self, session: Session, sheets: dict[str, Sheet]) -> None:
        self.session = session
        self.sheets = sheets
        self.plan = Plan()

    def problem(self, sheet: str, row: int, column: str, message: str) -> None:
        self.plan.problems.append(Problem(sheet, row, column, message))

    def required(self, sheet: str, row: int, values: dict[str, str], column: str) -> str | None:
        value = values[column]
        if not value:
            self.problem(sheet, row, column, f"“{column}”不能为空")
            return None
        return value

    def code(self, sheet: str, row: int, values: dict[str, str], column: str) -> str | None:
        value = self.required(sheet, row, values, column)
        if value is not None and not CODE.match(value):
            self.problem(sheet, row, column, f"编码“{value}”只能由字母、数字、-_. 组成，最长 32 位")
            return None
        return value

    def number(
        self, sheet: str, row: int, values: dict[str, str], column: str, *, optional: bool = False
    ) -> int | None:
        value = values[column]
        if not value and optional:
            return None
        if not value.isdigit() or int(value) <= 0 or int(value) > 100_000:
            self.problem(sheet, row, column, f"“{column}”应为正整数，现为“{value}”")
            return None
        return int(value)

    def flag(self, sheet: str, row: int, values: dict[str, str], column: str) -> bool:
        value = values[column]
        if value not in YES + NO:
            self.problem(sheet, row, column, f"“{column}”应填 是 或 否，现为“{value}”")
        return value in YES

    def unique(self, sheet: str, row: int, column: str, key: str, seen: dict[str, int]) -> bool:
        if key in seen:
            self.problem(sheet, row, column, f"“{key}”与第 {seen[key]} 行重复")
            return False
        seen[key] = row
        return True

    def sheet_rows(self, name: str) -> list[tuple[int, dict[str, str]]]:
        sheet = self.sheets.get(name)
        return sheet.entries() if sheet else []

    # --- the sheets, in the order they refer to each other -------------------------------

    def departments(self) -> None:
        seen: dict[str, int] = {}
        for row, v in self.sheet_rows(DEPARTMENTS):
            code = self.code(DEPARTMENTS, row, v, "部门编码")
            name = self.required(DEPARTMENTS, row, v, "部门名称")
            if code is None or name is None:
                continue
            if self.unique(DEPARTMENTS, row, "部门编码", code, seen):
                self.plan.departments.append(DepartmentRow(code, name, v["上级部门编码"] or None))
                self.plan.rows[(DEPARTMENTS, code)] = row
        stored = dict(
            self.session.execute(
                select(Department.code, Department.parent_id).where(Department.code.isnot(None))
            ).all()
        )
        by_id = dict(self.session.execute(select(Department.id, Department.code)).all())
        parents = {code: by_id.get(parent) if parent else None for code, parent in stored.items()}
        parents |= {d.code: d.parent for d in self.plan.departments}
        for d in self.plan.departments:
            row = self.plan.rows[(DEPARTMENTS, d.code)]
            if d.parent is None:
                continue
            if d.parent not in parents:
                self.problem(DEPARTMENTS, row, "上级部门编码", f"未知的上级部门“{d.parent}”")
                continue
            seen_codes: set[str] = {d.code}
            current: str | None = d.parent
            while current is not None:
                if current in seen_codes:
                    self.problem(DEPARTMENTS, row, "上级部门编码", "上级部门形成了循环")
                    break
                seen_codes.add(current)
                current = parents.get(current)
        self.department_codes = set(parents)

    def halls(self) -> None:
        seen: dict[str, int] = {}
        for row, v in self.sheet_rows(HALLS):
            code = self.code(HALLS, row, v, "大厅编码")
            name = self.required(HALLS, row, v, "大厅名称")
            periods = weekend = None
            try:
                periods = hours.parse_periods(v["工作日开放时间"])
            except GovloopError as exc:
                self.problem(HALLS, row, "工作日开放时间", exc.message)
            try:
                weekend = hours.parse_weekend(v["周末开放"])
            except GovloopError as exc:
                self.problem(HALLS, row, "周末开放", exc.message)
            if None in (code, name, periods, weekend):
                continue
            assert code and name and periods is not None and weekend is not None
            if self.unique(HALLS, row, "大厅编码", code, seen):
                self.plan.halls.append(
                    HallRow(code, name, v["地址"] or None, tuple(periods), tuple(weekend))
                )
                self.plan.rows[(HALLS, code)] = row
        stored = self.session.scalars(select(Hall).where(Hall.archived.is_(False))).all()
        self.hall_periods = {h.code: tuple(hours.periods_of(h)) for h in stored}
        self.hall_periods |= {h.code: h.periods for h in self.plan.halls}

    def items(self) -> None:
        seen: dict[str, int] = {}
        for row, v in self.sheet_rows(ITEMS):
            code = self.code(ITEMS, row, v, "事项编码")
            name = self.required(ITEMS, row, v, "事项名称")
            department = self.required(ITEMS, row, v, "部门编码")
            if department is not None and department not in self.department_codes:
                self.problem(ITEMS, row, "部门编码", f"未知的部门“{department}”")
                department = None
            prefix = v["取号前缀"].upper()
            if not PREFIX.match(prefix):
                self.problem(
                    ITEMS, row, "取号前缀", f"取号前缀“{v['取号前缀']}”应为 1–2 位字母或字母加数字"
                )
            statutory = self.number(ITEMS, row, v, "法定时限(工作日)", optional=True)
            promised = self.number(ITEMS, row, v, "承诺时限(工作日)", optional=True)
            if statutory and promised and promised > statutory:
                self.problem(ITEMS, row, "承诺时限(工作日)", "承诺时限不能长于法定时限")
            minutes = self.number(ITEMS, row, v, "平均办理分钟")
            flags = [self.flag(ITEMS, row, v, c) for c in ("可网办", "可自助", "可邮寄")]
            materials = tuple(m.strip() for m in re.split(r"[；;\n]", v["申请材料"]) if m.strip())
            if None in (code, name, department, minutes) or not PREFIX.match(prefix):
                continue
            assert code and name and department and minutes
            if self.unique(ITEMS, row, "事项编码", code, seen):
                self.plan.items.append(
                    ItemRow(
                        code,
                        name,
                        department,
                        prefix,
                        statutory,
                        promised,
                        minutes,
                        v["收费标准"] or None,
                        materials,
                        *flags,
                    )
                )
                self.plan.rows[(ITEMS, code)] = row
        stored = self.session.execute(
            select(ServiceItem.code, ServiceItem.ticket_prefix, Department.code)
            .join(Department, Department.id == ServiceItem.department_id)
            .where(ServiceItem.active)
        ).all()
        self.item_prefixes = {code: prefix for code, prefix, _ in stored}
        self.item_prefixes |= {i.code: i.prefix for i in self.plan.items}
        self.item_departments = {code: dept for code, _, dept in stored}
        self.item_departments |= {i.code: i.department for i in self.plan.items}

    def windows(self) -> None:
        seen: dict[str, int] = {}
        for row, v in self.sheet_rows(WINDOWS):
            hall = self.required(WINDOWS, row, v, "大厅编码")
            if hall is not None and hall not in self.hall_periods:
                self.problem(WINDOWS, row, "大厅编码", f"未知的大厅“{hall}”")
                hall = None
            number = self.number(WINDOWS, row, v, "窗口号")
            kind = v["窗口类型"]
            if kind not in ("综合", "专窗"):
                self.problem(WINDOWS, row, "窗口类型", f"窗口类型应为 综合 或 专窗，现为“{kind}”")
            served = v["可办事项"]
            items: tuple[str, ...] | None = None
            usable = True
            if served != ALL_ITEMS:
                items = tuple(c.strip() for c in re.split(r"[,，、\s]+", served) if c.strip())
                unknown = [c for c in items if c not in self.item_prefixes]
                if not items:
                    self.problem(WINDOWS, row, "可办事项", "请填写事项编码（逗号分隔）或“全部”")
                elif unknown:
                    self.problem(WINDOWS, row, "可办事项", f"未知的事项：{'、'.join(unknown)}")
                usable = bool(items) and not unknown
            elif kind == "专窗":
                self.problem(WINDOWS, row, "可办事项", "专窗只能办理列出的事项，不能填“全部”")
            if hall is None or number is None or not usable:
                continue
            key = f"{hall}/{number}"
            if self.unique(WINDOWS, row, "窗口号", key, seen):
                name = v["窗口名称"] or f"{number} 号窗口"
                self.plan.windows.append(WindowRow(hall, number, name, items is None, items))
                self.plan.rows[(WINDOWS, key)] = row
        self._served_after()

    def _served_after(self) -> None:
        """What each hall will serve once the workbook is in; refuse a ticket prefix shared
        by two departments in one hall (a department's items may share its letter, as
        halls commonly give each department one), and an item left without a window while
        tickets wait for it."""
        every = set(self.item_prefixes)
        served: dict[str, dict[int, set[str]]] = defaultdict(dict)
        rows = self.session.execute(
            select(Hall.code, Window.number, Window.is_general, ServiceItem.code)
            .join(Window, Window.hall_id == Hall.id)
            .outerjoin(window_items, window_items.c.window_id == Window.id)
            .outerjoin(ServiceItem, ServiceItem.id == window_items.c.item_id)
            .where(Window.active)
        )
        for hall, number, general, item in rows:
            items = served[hall].setdefault(number, set(every) if general else set())
            if item is not None and item in every:
                items.add(item)
        for w in self.plan.windows:
            served[w.hall][w.number] = set(every) if w.items is None else set(w.items)
        self.served = {hall: set().union(*windows.values()) for hall, windows in served.items()}
        for hall, codes in self.served.items():
            by_prefix: dict[str, list[str]] = defaultdict(list)
            for code in sorted(codes):
                by_prefix[self.item_prefixes[code]].append(code)
            for prefix, shared in by_prefix.items():
                if len({self.item_departments[code] for code in shared}) > 1:
                    self._place_hall_problem(
                        hall,
                        shared,
                        f"大厅“{hall}”中不同部门的事项 {'、'.join(shared)} "
                        f"使用了同一取号前缀“{prefix}”",
                    )
        self._waiting_left_without_window()

    def _waiting_left_without_window(self) -> None:
        halls = {w.hall for w in self.plan.windows}
        if not halls:
            return
        waiting = self.session.execute(
            select(Hall.code, ServiceItem.code, func.count())
            .join(Ticket, Ticket.hall_id == Hall.id)
            .join(ServiceItem, ServiceItem.id == Ticket.item_id)
            .where(Hall.code.in_(halls), Ticket.status == TicketStatus.WAITING)
            .group_by(Hall.code, ServiceItem.code)
        )
        for hall, item, count in waiting:
            if item not in self.served.get(hall, set()):
                self._place_hall_problem(
                    hall,
                    [item],
                    f"大厅“{hall}”仍有事项“{item}”的 {count} 张等候号票，"
                    "请至少保留一个办理该事项的窗口",
                )

    def _place_hall_problem(self, hall: str, items: list[str], message: str) -> None:
        """On the hall's first window row in the workbook, else on the items' rows."""
        rows = [self.plan.rows[(WINDOWS, f"{w.hall}/{w.number}")] for w in self.plan.windows]
        own = [r for w, r in zip(self.plan.windows, rows, strict=True) if w.hall == hall]
        if own:
            self.problem(WINDOWS, own[0], "可办事项", message)
            return
        placed = [self.plan.rows[(ITEMS, c)] for c in items if (ITEMS, c) in self.plan.rows]
        self.problem(ITEMS, placed[0] if placed else 0, "取号前缀", message)

    def quotas(self) -> None:
        seen: dict[str, int] = {}
        for row, v in self.sheet_rows(QUOTAS):
            hall = self.required(QUOTAS, row, v, "大厅编码")
            if hall is not None and hall not in self.hall_periods:
                self.problem(QUOTAS, row, "大厅编码", f"未知的大厅“{hall}”")
                hall = None
            item = self.required(QUOTAS, row, v, "事项编码")
            if item is not None and item not in self.item_prefixes:
                self.problem(QUOTAS, row, "事项编码", f"未知的事项“{item}”")
                item = None
            elif item and hall and item not in self.served.get(hall, set()):
                self.problem(QUOTAS, row, "事项编码", f"大厅“{hall}”没有办理事项“{item}”的窗口")
            day = v["星期"]
            weekday = None if day in EVERY_DAY else WEEKDAYS.get(day)
            if day not in EVERY_DAY and weekday is None:
                self.problem(QUOTAS, row, "星期", f"星期应为 周一…周日 或 每天，现为“{day}”")
            period = None
            try:
                period = hours.parse_period(v["时段"])
            except GovloopError as exc:
                self.problem(QUOTAS, row, "时段", exc.message)
            if (
                period
                and hall
                and not any(
                    p.start <= period.start and period.end <= p.end for p in self.hall_periods[hall]
                )
            ):
                opening = ",".join(str(p) for p in self.hall_periods[hall])
                self.problem(QUOTAS, row, "时段", f"时段 {period} 不在大厅开放时间（{opening}）内")
                period = None
            capacity = self.number(QUOTAS, row, v, "号源数")
            if None in (hall, item, period, capacity) or (day not in EVERY_DAY and not weekday):
                continue
            assert hall and item and period and capacity
            key = f"{hall}/{item}/{weekday}/{period.start:%H:%M}"
            if self.unique(QUOTAS, row, "时段", key, seen):
                self.plan.quotas.append(QuotaRow(hall, item, weekday, period, capacity))

    def users(self) -> None:
        seen: dict[str, int] = {}
        for row, v in self.sheet_rows(USERS):
            username = self.required(USERS, row, v, "用户名")
            if username is not None and not USERNAME.match(username):
                self.problem(USERS, row, "用户名", "用户名只能由字母、数字和 _.@- 组成，2–64 位")
                username = None
            name = self.required(USERS, row, v, "姓名")
            role_text = v["角色"]
            role = ROLE_NAMES.get(role_text)
            if role is None and role_text in {r.value for r in Role}:
                role = Role(role_text)
            if role is None:
                self.problem(USERS, row, "角色", f"未知的角色“{role_text}”")
            department = v["部门编码"] or None
            if department is not None and department not in self.department_codes:
                self.problem(USERS, row, "部门编码", f"未知的部门“{department}”")
            elif role == Role.DEPARTMENT_HANDLER and department is None:
                self.problem(USERS, row, "部门编码", "承办单位人员必须填写所属部门")
            hall = v["大厅编码"] or None
            if hall is not None and hall not in self.hall_periods:
                self.problem(USERS, row, "大厅编码", f"未知的大厅“{hall}”")
            if username is None or name is None or role is None:
                continue
            if self.unique(USERS, row, "用户名", username, seen):
                self.plan.users.append(UserRow(username, name, role, department, hall))
        admins = [u.username for u in self.plan.users if u.role != Role.ADMIN]
        demoted = self.session.scalars(
            select(User.username).where(User.username.in_(admins), User.role == Role.ADMIN)
        ).all()
        for username in demoted:
            self.problem(USERS, seen[username], "角色", "导入不能取消管理员的角色，请在控制台操作")


def check(session: Session, sheets: dict[str, Sheet]) -> Plan:
    """The workbook as typed rows, and every problem found in it."""
    checker = _Checker(session, sheets)
    checker.departments()
    checker.halls()
    checker.items()
    checker.windows()
    checker.quotas()
    checker.users()
    checker.plan.problems.sort(
        key=lambda p: (list(sheets).index(p.sheet) if p.sheet in sheets else 9, p.row)
    )
    return checker.plan
