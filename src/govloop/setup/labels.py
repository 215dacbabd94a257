"""What the console calls the workbook's columns, and the choices some of them take."""

from __future__ import annotations

from govloop.core.auth import Role
from govloop.core.i18n import N_
from govloop.org.hours import WEEKDAY_NAMES

# English msgids; the Chinese catalogue gives back the template's own column names
COLUMN_LABELS: dict[str, str] = {
    "部门编码": N_("Department code"),
    "部门名称": N_("Department name"),
    "上级部门编码": N_("Parent department code"),
    "大厅编码": N_("Hall code"),
    "大厅名称": N_("Hall name"),
    "地址": N_("Address"),
    "工作日开放时间": N_("Opening hours on working days"),
    "周末开放": N_("Open at weekends"),
    "事项编码": N_("Item code"),
    "事项名称": N_("Item name"),
    "取号前缀": N_("Ticket prefix"),
    "法定时限(工作日)": N_("Statutory time limit (working days)"),
    "承诺时限(工作日)": N_("Promised time limit (working days)"),
    "平均办理分钟": N_("Average handling minutes"),
    "收费标准": N_("Fee"),
    "申请材料": N_("Required materials"),
    "可网办": N_("Can be done online"),
    "可自助": N_("Can be done at a self-service terminal"),
    "可邮寄": N_("Results by post"),
    "窗口号": N_("Window number"),
    "窗口名称": N_("Window name"),
    "窗口类型": N_("Window type"),
    "可办事项": N_("Items served"),
    "星期": N_("Weekday"),
    "时段": N_("Time slot"),
    "号源数": N_("Places"),
    "用户名": N_("Username"),
    "姓名": N_("Name"),
    "角色": N_("Role"),
}
# the values a select offers (the value is what the workbook holds)
CHOICES: dict[str, list[str]] = {
    "窗口类型": ["综合", "专窗"],
    "可网办": ["否", "是"],
    "可自助": ["否", "是"],
    "可邮寄": ["否", "是"],
    "周末开放": ["否", "周六", "周六,周日"],
    "星期": ["每天", *WEEKDAY_NAMES.values()],
    "角色": [r.value for r in Role],
}
HINTS: dict[str, str] = {
    "工作日开放时间": "09:00-12:00,13:30-17:00",
    "时段": "09:00-09:30",
    "申请材料": "身份证原件；申请表",
    "可办事项": "SB01,SB02 或 全部",
}

# the fields of the change log's snapshots (English msgids)
FIELD_LABELS: dict[str, str] = {
    "name": N_("Name shown"),
    "parent": N_("Parent department code"),
    "archived": N_("Archived"),
    "address": N_("Address"),
    "hours": N_("Opening hours on working days"),
    "weekend_days": N_("Open at weekends"),
    "closed_days": N_("Closed on"),
    "extra_days": N_("Extra working days"),
    "department": N_("Department code"),
    "ticket_prefix": N_("Ticket prefix"),
    "statutory_days": N_("Statutory time limit (working days)"),
    "promised_days": N_("Promised time limit (working days)"),
    "promised_minutes": N_("Average handling minutes"),
    "fee": N_("Fee"),
    "materials": N_("Required materials"),
    "online": N_("Can be done online"),
    "self_service": N_("Can be done at a self-service terminal"),
    "by_post": N_("Results by post"),
    "active": N_("In use"),
    "is_general": N_("Serves every item"),
    "items": N_("Items served"),
    "slot_end": N_("Slot ends"),
    "capacity": N_("Places"),
    "role": N_("Role"),
    "hall": N_("Hall code"),
    "group": N_("Group"),
    "default_type": N_("Order type"),
    "keywords": N_("Keywords (comma-separated)"),
    "public": N_("Open to citizens (web, H5, Open311)"),
    "sign_days": N_("Sign within (working days)"),
    "handle_days": N_("Handle within (working days)"),
    "warn_hours": N_("Warn before (hours)"),
}
