"""Declared record schemas: what each source's rows must look like once their columns are
mapped. Pydantic validates; `normalize` records every change it makes to a value."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from govloop.core.clock import local_tz


class RecordSchema(BaseModel):
    """Base of every declared schema: undeclared fields are refused, blanks are missing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _local_aware(value: datetime) -> datetime:
    """Naive times from hall systems are Beijing time."""
    return value if value.tzinfo else value.replace(tzinfo=local_tz())


class HallEventRecord(RecordSchema):
    """A queue event from a hall system (ours or another vendor's)."""

    event_id: str = Field(min_length=1, max_length=128)
    hall_code: str = Field(min_length=1, max_length=32)
    ticket_code: str = Field(min_length=1, max_length=32)
    item_code: str = Field(min_length=1, max_length=32)
    kind: Literal[
        "issued",
        "called",
        "recalled",
        "started",
        "finished",
        "no_show",
        "transferred",
        "cancelled",
    ]
    occurred_at: datetime
    window_number: int | None = Field(default=None, ge=1, le=999)
    staff_code: str | None = Field(default=None, max_length=64)

    @field_validator("occurred_at")
    @classmethod
    def _tz(cls, value: datetime) -> datetime:
        return _local_aware(value)


class DeviceEventRecord(RecordSchema):
    """A message from a hall device: heartbeat, status change, fault or a usage event."""

    event_id: str = Field(min_length=1, max_length=128)
    device_code: str = Field(min_length=1, max_length=64)
    kind: Literal[
        "heartbeat", "online", "offline", "fault", "ticket_issued", "rating_submitted", "usage"
    ]
    occurred_at: datetime
    detail: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _tz(cls, value: datetime) -> datetime:
        return _local_aware(value)


class PersonRecord(RecordSchema):
    """A department's record of a person (civil affairs, social security, …)."""

    record_id: str = Field(min_length=1, max_length=128)
    id_number: str | None = Field(default=None, max_length=32)
    name: str = Field(min_length=1, max_length=100)
    birth_date: date | None = None
    sex: Literal["M", "F"] | None = None
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=300)
    updated_at: datetime | None = None


class EnterpriseRecord(RecordSchema):
    record_id: str = Field(min_length=1, max_length=128)
    credit_code: str | None = Field(default=None, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    legal_rep_name: str | None = Field(default=None, max_length=100)
    legal_rep_id_number: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=300)
    updated_at: datetime | None = None


class ProjectRecord(RecordSchema):
    record_id: str = Field(min_length=1, max_length=128)
    project_code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    enterprise_credit_code: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=300)
    updated_at: datetime | None = None


# schema name → (model, id field, time field)
SCHEMAS: dict[str, tuple[type[RecordSchema], str, str | None]] = {
    "hall_event": (HallEventRecord, "event_id", "occurred_at"),
    "device_event": (DeviceEventRecord, "event_id", "occurred_at"),
    "person_record": (PersonRecord, "record_id", "updated_at"),
    "enterprise_record": (EnterpriseRecord, "record_id", "updated_at"),
    "project_record": (ProjectRecord, "record_id", "updated_at"),
}

# Identifier-like fields: full-width characters and inner spaces are normalized, and recorded.
IDENTIFIER_FIELDS = frozenset(
    {
        "event_id",
        "record_id",
        "id_number",
        "credit_code",
        "legal_rep_id_number",
        "enterprise_credit_code",
        "project_code",
        "phone",
        "ticket_code",
        "item_code",
        "hall_code",
        "device_code",
    }
)


DATE_FIELDS = frozenset({"birth_date", "updated_at", "occurred_at"})
# GB/T 2261.1 codes sex as 1 / 2; departments also write 男 / 女
SEX_CODES = {"M": "M", "F": "F", "男": "M", "女": "F", "1": "M", "2": "F", "m": "M", "f": "F"}


def normalize_identifier(value: str) -> str:
    """NFKC folds full-width letters and digits; spaces inside an identifier are typing noise;
    check letters are upper case (身份证 x → X)."""
    # ASCII needs no folding; most identifiers are ASCII letters and digits, and this runs
    # once per cell of a large file
    if value.isascii():
        if value.isalnum():
            return value.upper()
        folded = value
    else:
        folded = unicodedata.normalize("NFKC", value)
    return "".join(folded.split()).upper() if folded else folded


def normalize(
    values: dict[str, Any], mapping: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Return normalized values and the changes made, field → [before, after]. Blank cells
    are missing values, so a required field that is blank is reported as missing.

    With ``mapping`` (source column → field), columns are renamed on the way; unmapped
    columns keep their name, so the schema refuses them by name instead of them vanishing.
    """
    out: dict[str, Any] = {}
    changes: dict[str, list[Any]] = {}
    rename = mapping.get if mapping else None
    for column, value in values.items():
        key = rename(column, column) if rename else column
        if value is None:
            continue
        if isinstance(value, str):
            new = value.strip()
            if not new:
                continue
            if key in IDENTIFIER_FIELDS:
                # inline fast path of normalize_identifier: this runs per cell of a file
                folded = (
                    new.upper() if new.isascii() and new.isalnum() else normalize_identifier(new)
                )
                if folded != new:
                    changes[key] = [value, folded]
                    new = folded
            elif key in DATE_FIELDS and not new.isascii():
                folded = unicodedata.normalize("NFKC", new)  # １９４８－１２－０７
                changes[key] = [value, folded]
                new = folded
            elif key == "sex" and new in SEX_CODES:
                coded = SEX_CODES[new]
                if coded != new:
                    changes[key] = [value, coded]
                    new = coded
            out[key] = new
        else:
            out[key] = value
    return out, changes


# The declared fields in words, for the reasons a data steward reads.
FIELD_NAMES = {
    "event_id": "事件编号",
    "hall_code": "大厅编码",
    "ticket_code": "号票",
    "item_code": "事项编码",
    "kind": "事件类型",
    "occurred_at": "发生时间",
    "window_number": "窗口号",
    "staff_code": "工作人员编码",
    "device_code": "设备编码",
    "detail": "明细",
    "record_id": "记录编号",
    "id_number": "身份证号码",
    "name": "名称/姓名",
    "birth_date": "出生日期",
    "sex": "性别",
    "phone": "电话",
    "address": "地址",
    "credit_code": "统一社会信用代码",
    "legal_rep_name": "法定代表人",
    "legal_rep_id_number": "法定代表人身份证号码",
    "project_code": "项目代码",
    "enterprise_credit_code": "建设单位信用代码",
    "updated_at": "更新时间",
}
# pydantic's error types in words; ctx fills the placeholders
PROBLEMS = {
    "string_too_long": "超过 {max_length} 个字符",
    "string_too_short": "不能为空",
    "string_type": "应为文字",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}",
    "date_parsing": "不是有效的日期",
    "date_from_datetime_parsing": "不是有效的日期",
    "date_from_datetime_inexact": "应为日期，不含时间",
    "date_type": "不是有效的日期",
    "datetime_parsing": "不是有效的时间",
    "datetime_from_date_parsing": "不是有效的时间",
    "datetime_type": "不是有效的时间",
    "literal_error": "应为以下之一：{expected}",
    "dict_type": "应为键值对象",
}


def describe_errors(exc: ValidationError) -> str:
    """One line per problem, in Chinese, naming the field in words."""
    parts = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        field = "·".join(FIELD_NAMES.get(p, p) for p in loc) or "记录"
        kind = error.get("type", "")
        if kind == "missing":
            parts.append(f"缺少必填字段「{field}」")
        elif kind == "extra_forbidden":
            parts.append(f"未声明的字段「{'.'.join(loc)}」")
        else:
            problem = PROBLEMS.get(kind, "格式不正确")
            ctx = dict(error.get("ctx") or {})
            if "expected" in ctx:  # "'M' or 'F'" → 'M'、'F'
                ctx["expected"] = re.sub(r"', '|' or '", "'、'", str(ctx["expected"]))
            with contextlib.suppress(KeyError, IndexError):
                problem = problem.format(**ctx)
            parts.append(f"「{field}」{problem}")
    return "；".join(parts)
