"""The 事项清单 import: checked whole, applied all or nothing, idempotent, logged; and the
export that reads back unchanged."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest, RuleViolation
from govloop.core.models import User
from govloop.hall import service as hall_service
from govloop.hall.models import AppointmentQuota, ServiceItem, Window, window_items
from govloop.org.models import Department, DepartmentMember, Hall, HallMember
from govloop.setup import service, sheets
from govloop.setup.models import ConfigChange
from tests.setup.workbooks import GOOD, with_rows, workbook


def _import(data: bytes, *, dry_run: bool = False, name: str = "清单.xlsx") -> service.ImportResult:
    with unit_of_work() as s:
        return service.import_files(
            session=s, files=[(name, data)], actor=None, source="cli", dry_run=dry_run
        )


def _rows(s: Session) -> dict[str, int]:
    tables = {
        "departments": Department,
        "halls": Hall,
        "items": ServiceItem,
        "windows": Window,
        "quotas": AppointmentQuota,
        "users": User,
        "changes": ConfigChange,
    }
    return {k: int(s.scalar(select(func.count()).select_from(t)) or 0) for k, t in tables.items()}


def test_template_has_every_sheet_and_column_in_order():
    book = load_workbook(io.BytesIO(sheets.template()))
    assert book.sheetnames[:6] == list(sheets.ORDER)
    for name in sheets.ORDER:
        header = [c.value for c in book[name][1]]
        assert tuple(header) == sheets.COLUMNS[name]
        assert book[name].max_row == 1  # nothing to import by accident
    assert "填写说明" in book.sheetnames


def test_a_workbook_configures_the_centre(db):
    result = _import(workbook(GOOD))
    assert result.ok, result.problems
    assert result.applied is not None
    assert {k: v["created"] for k, v in result.applied.counts.items()} == {
        "部门": 3,
        "大厅": 2,
        "事项": 2,
        "窗口": 3,
        "预约号源": 1,
        "人员": 2,
    }
    with unit_of_work() as s:
        city = s.scalars(select(Hall).where(Hall.code == "CITY")).one()
        assert city.sessions == [["09:00", "12:00"], ["13:30", "17:00"]]
        assert (city.opens_at, city.closes_at, city.weekend_days) == (time(9), time(17), [6])
        rsj = s.scalars(select(Department).where(Department.code == "RSJ")).one()
        zf = s.scalars(select(Department).where(Department.code == "ZF")).one()
        assert rsj.parent_id == zf.id
        ga01 = s.scalars(select(ServiceItem).where(ServiceItem.code == "GA01")).one()
        assert (ga01.statutory_days, ga01.promised_days, ga01.promised_minutes) == (30, 7, 15)
        assert ga01.materials == ["户口簿", "照片回执"] and ga01.fee == "20元"
        assert (ga01.online, ga01.self_service, ga01.by_post) == (False, True, True)
        windows = {w.number: w for w in s.scalars(select(Window).where(Window.hall_id == city.id))}
        assert windows[1].is_general and not windows[2].is_general
        served = s.scalars(
            select(window_items.c.item_id).where(window_items.c.window_id == windows[2].id)
        ).all()
        assert served == [ga01.id]
        quota = s.scalars(select(AppointmentQuota)).one()
        assert (quota.weekday, quota.slot_start, quota.slot_end, quota.capacity) == (
            1,
            time(9),
            time(9, 30),
            6,
        )
        clerk = s.scalars(select(User).where(User.username == "clerk1")).one()
        assert clerk.role == "window_staff" and clerk.must_change_password
        assert s.scalar(select(HallMember.hall_id).where(HallMember.user_id == clerk.id)) == city.id
        handler = s.scalars(select(User).where(User.username == "handler1")).one()
        assert handler.role == "department_handler"
        member = s.scalar(
            select(DepartmentMember.department_id).where(DepartmentMember.user_id == handler.id)
        )
        assert member is not None
        assert _rows(s)["changes"] == 13  # one entry per object created
    # the one-time passwords are shown once and work, nothing else is stored in clear
    assert set(result.applied.passwords) == {"clerk1", "handler1"}
    assert len(result.applied.passwords["clerk1"]) == 12


def test_the_same_workbook_twice_changes_nothing(db):
    data = workbook(GOOD)
    _import(data)
    with unit_of_work() as s:
        before = _rows(s)
    again = _import(data)
    assert again.ok and again.applied is not None
    assert all(c["created"] == c["updated"] == 0 for c in again.applied.counts.values())
    assert again.applied.passwords == {}
    with unit_of_work() as s:
        assert _rows(s) == before


def test_a_changed_row_is_updated_and_logged_with_before_and_after(db):
    _import(workbook(GOOD))
    items = [(*GOOD[sheets.ITEMS][0][:6], 25, *GOOD[sheets.ITEMS][0][7:]), GOOD[sheets.ITEMS][1]]
    result = _import(workbook(with_rows(ITEMS=items)))
    assert result.applied is not None and result.applied.counts["事项"]["updated"] == 1
    with unit_of_work() as s:
        change = s.scalars(
            select(ConfigChange).where(
                ConfigChange.kind == "item", ConfigChange.action == "updated"
            )
        ).one()
        assert change.key == "SB01"
        assert (change.before or {})["promised_minutes"] == 12
        assert (change.after or {})["promised_minutes"] == 25


def test_export_reads_back_unchanged(db):
    _import(workbook(GOOD))
    with unit_of_work() as s:
        exported = service.export(s)
    book = load_workbook(io.BytesIO(exported))
    assert [c.value for c in book["大厅"][2]][:5] == [
        "CITY",
        "市民中心政务服务大厅",
        "市民大道 1 号",
        "09:00-12:00,13:30-17:00",
        "周六",
    ]
    again = _import(exported)
    assert again.ok and again.applied is not None
    assert all(c["created"] == c["updated"] == 0 for c in again.applied.counts.values())


def test_a_dry_run_counts_but_writes_nothing(db):
    result = _import(workbook(GOOD), dry_run=True)
    assert result.ok and result.applied is not None
    assert result.applied.counts["事项"]["created"] == 2 and result.applied.passwords == {}
    with unit_of_work() as s:
        assert _rows(s) == {k: 0 for k in _rows(s)}


BAD_ROWS = [
    ("DEPARTMENTS", [("X1", "某局", "NOPE")], ("部门", 2, "上级部门编码", "未知的上级部门")),
    ("DEPARTMENTS", [("A", "甲", "B"), ("B", "乙", "A")], ("部门", 2, "上级部门编码", "循环")),
    ("DEPARTMENTS", [("RSJ", "甲", ""), ("RSJ", "乙", "")], ("部门", 3, "部门编码", "重复")),
    (
        "HALLS",
        [("H2", "二号厅", "", "09:00-12:00,11:00-17:00", "否")],
        ("大厅", 2, "工作日开放时间", "重叠"),
    ),
    ("HALLS", [("H2", "二号厅", "", "9点到5点", "否")], ("大厅", 2, "工作日开放时间", "格式")),
    ("HALLS", [("H2", "二号厅", "", "09:00-17:00", "周五")], ("大厅", 2, "周末开放", "周六")),
    (
        "ITEMS",
        [("Q1", "某事项", "ZZZ", "C", "", "", 10, "", "", "否", "否", "否")],
        ("事项", 2, "部门编码", "未知的部门"),
    ),
    (
        "ITEMS",
        [("Q1", "某事项", "RSJ", "C", 5, 10, 10, "", "", "否", "否", "否")],
        ("事项", 2, "承诺时限(工作日)", "不能长于法定时限"),
    ),
    (
        "ITEMS",
        [("Q1", "某事项", "RSJ", "C", "", "", "十", "", "", "否", "否", "否")],
        ("事项", 2, "平均办理分钟", "正整数"),
    ),
    (
        "ITEMS",
        [("Q1", "某事项", "RSJ", "C", "", "", 10, "", "", "也许", "否", "否")],
        ("事项", 2, "可网办", "是 或 否"),
    ),
    ("WINDOWS", [("CITY", 1, "窗", "专窗", "全部")], ("窗口", 2, "可办事项", "专窗")),
    ("WINDOWS", [("CITY", 1, "窗", "综合", "SB01,QQ")], ("窗口", 2, "可办事项", "QQ")),
    ("WINDOWS", [("NOWHERE", 1, "窗", "综合", "全部")], ("窗口", 2, "大厅编码", "未知的大厅")),
    ("QUOTAS", [("CITY", "SB01", "周八", "09:00-09:30", 6)], ("预约号源", 2, "星期", "周一")),
    (
        "QUOTAS",
        [("CITY", "SB01", "周一", "12:30-13:00", 6)],
        ("预约号源", 2, "时段", "不在大厅开放时间"),
    ),
    (
        "QUOTAS",
        [("EAST", "GA01", "周一", "09:00-09:30", 6)],
        ("预约号源", 2, "事项编码", "没有办理"),
    ),
    ("USERS", [("li si", "李四", "window_staff", "", "")], ("人员", 2, "用户名", "字母")),
    ("USERS", [("lisi", "李四", "boss", "", "")], ("人员", 2, "角色", "未知的角色")),
    ("USERS", [("lisi", "李四", "department_handler", "", "")], ("人员", 2, "部门编码", "必须")),
]


@pytest.mark.parametrize(("sheet", "rows", "expected"), BAD_ROWS)
def test_each_problem_is_placed_and_nothing_is_applied(db, sheet, rows, expected):
    result = _import(workbook(with_rows(**{sheet: rows})))
    assert not result.ok and result.applied is None
    found = [(p.sheet, p.row, p.column) for p in result.problems]
    assert expected[:3] in found, result.problems
    message = next(p.message for p in result.problems if (p.sheet, p.row, p.column) == expected[:3])
    assert expected[3] in message
    with unit_of_work() as s:
        assert _rows(s) == {k: 0 for k in _rows(s)}


def test_two_items_of_one_hall_cannot_share_a_ticket_prefix(db):
    items = [GOOD[sheets.ITEMS][0], (*GOOD[sheets.ITEMS][1][:3], "A", *GOOD[sheets.ITEMS][1][4:])]
    result = _import(workbook(with_rows(ITEMS=items)))
    assert any(p.sheet == "窗口" and "同一取号前缀“A”" in p.message for p in result.problems), (
        result.problems
    )


def test_an_item_with_waiting_tickets_keeps_a_window(db):
    _import(workbook(GOOD))
    with unit_of_work() as s:
        east = s.scalars(select(Hall).where(Hall.code == "EAST")).one()
        item = s.scalars(select(ServiceItem).where(ServiceItem.code == "SB01")).one()
        hall_service.issue_ticket(session=s, hall=east, item=item, check_hours=False)
    windows = [("EAST", 1, "公安专窗", "专窗", "GA01")]
    result = _import(workbook(with_rows(WINDOWS=windows)))
    assert [(p.sheet, p.row, p.column) for p in result.problems] == [("窗口", 2, "可办事项")]
    assert "1 张等候号票" in result.problems[0].message


def test_csv_sheets_in_gbk_and_utf8(db):
    header = ",".join(sheets.COLUMNS[sheets.DEPARTMENTS])
    gbk = f"{header}\nRSJ,市人力资源和社会保障局,\n".encode("gbk")
    utf8 = (
        "\ufeff" + ",".join(sheets.COLUMNS[sheets.ITEMS]) + "\n"
        "SB01,社会保险参保登记,RSJ,A,20,5,12,不收费,身份证原件；登记表,是,否,否\n"
    ).encode()
    with unit_of_work() as s:
        result = service.import_files(
            session=s, files=[("部门.csv", gbk), ("事项.csv", utf8)], actor=None, source="cli"
        )
    assert result.ok, result.problems
    with unit_of_work() as s:
        item = s.scalars(select(ServiceItem)).one()
        assert item.name == "社会保险参保登记" and item.materials == ["身份证原件", "登记表"]


def test_unreadable_files_are_refused_with_the_reason(db):
    with pytest.raises(BadRequest, match="工作表名"), unit_of_work() as s:
        service.import_files(session=s, files=[("其他.csv", b"a,b\n")], actor=None, source="cli")
    with pytest.raises(BadRequest, match="缺少列"), unit_of_work() as s:
        service.import_files(session=s, files=[("部门.csv", b"x,y\n")], actor=None, source="cli")
    with pytest.raises(BadRequest, match="Excel"), unit_of_work() as s:
        service.import_files(
            session=s, files=[("a.xlsx", b"PK\x03\x04broken")], actor=None, source="cli"
        )


def test_hours_refuse_tickets_in_the_lunch_break_and_serve_saturdays(db):
    _import(workbook(GOOD))
    with unit_of_work() as s:
        city = s.scalars(select(Hall).where(Hall.code == "CITY")).one()
        east = s.scalars(select(Hall).where(Hall.code == "EAST")).one()
        # 2026-11-24 is a Tuesday; 12:30 Beijing is 04:30 UTC
        with pytest.raises(RuleViolation) as exc:
            hall_service.check_open(city, datetime(2026, 11, 24, 4, 30, tzinfo=UTC))
        assert exc.value.code == "hall_closed_break" and "13:30" in exc.value.message
        hall_service.check_open(city, datetime(2026, 11, 24, 6, 0, tzinfo=UTC))  # 14:00
        saturday = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00
        hall_service.check_open(city, saturday)
        with pytest.raises(RuleViolation) as closed:
            hall_service.check_open(east, saturday)
        assert closed.value.code == "hall_closed_day"
        # the hall's own closure wins over the calendar
        city.closed_days = ["2026-11-24"]
        with pytest.raises(RuleViolation):
            hall_service.check_open(city, datetime(2026, 11, 24, 2, 0, tzinfo=UTC))


def test_items_of_one_department_may_share_its_letter(db):
    items = [
        *GOOD[sheets.ITEMS],
        ("SB02", "失业保险金申领", "RSJ", "A", 15, 5, 20, "", "", "否", "否", "否"),
    ]
    result = _import(workbook(with_rows(ITEMS=items)))
    assert result.ok, result.problems
