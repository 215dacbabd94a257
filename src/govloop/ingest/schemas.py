"""Declared record schemas: what each source's rows must look like once their columns are
mapped. Pydantic validates; `normalize` records every change it makes to a value."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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


# 办件 state words of departments' approval systems → the matters domain's state codes.
# The record keeps the word as sent; the matters consumer maps it (matters/ingest_consumer).
MATTER_STATE_WORDS: dict[str, str] = {
    **dict.fromkeys(("受理", "已受理", "收件", "已收件"), "accepted"),
    **dict.fromkeys(("审查", "审查中", "审核", "审核中", "审批", "审批中", "办理中"), "reviewing"),
    **dict.fromkeys(("补正", "待补正", "补齐补正", "补正告知"), "correction"),
    **dict.fromkeys(("准予", "准予许可", "批准", "同意", "办结", "已办结"), "granted"),
    **dict.fromkeys(("不予", "不予许可", "不批准", "不予批准", "不同意"), "refused"),
    **dict.fromkeys(("制证", "制证中"), "certifying"),
    **dict.fromkeys(("待领取", "待领证", "可领取"), "awaiting_pickup"),
    **dict.fromkeys(("已寄出", "已邮寄", "寄出"), "posted"),
    **dict.fromkeys(("已送达", "已签收"), "delivered"),
    **dict.fromkeys(("已领取", "已领证"), "picked_up"),
    **dict.fromkeys(("退回", "已退回", "不予受理", "退件", "撤件", "撤回"), "returned"),
}
# 决定结果 when a record's state lies past the decision (待领取, 已寄出, …)
MATTER_RESULT_WORDS: dict[str, str] = {
    **dict.fromkeys(("准予", "准予许可", "批准", "同意"), "granted"),
    **dict.fromkeys(("不予", "不予许可", "不批准", "不予批准", "不同意"), "refused"),
}
MATTER_DELIVERY_WORDS: dict[str, str] = {
    **dict.fromkeys(("邮寄", "快递", "寄递", "EMS", "post"), "post"),
    **dict.fromkeys(("自取", "窗口领取", "现场领取", "自领", "pickup"), "pickup"),
}
# in the order a matter normally passes them: the tie-break of records at the same moment
MATTER_STATE_ORDER = (
    "accepted",
    "reviewing",
    "correction",
    "granted",
    "refused",
    "certifying",
    "awaiting_pickup",
    "posted",
    "delivered",
    "picked_up",
    "returned",
)
_DECIDED = frozenset(MATTER_STATE_ORDER[3:10])
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_LIST_SEPARATORS = re.compile(r"[、,，;；\n]")


def _word(value: str, words: dict[str, str], what: str) -> str:
    if value not in words:
        raise ValueError(f"未知的{what}“{value}”（可用：{'、'.join(words)}）")
    return value


class MatterRecord(RecordSchema):
    """A matter (办件) as a department's approval system reports it: one record per state
    it reached (or a snapshot of its current state). The first record of an 办件编号 opens
    the matter in govloop, later ones move it (matters/ingest_consumer.py).

    ``record_id`` is the system's id of this record; when absent it is
    ``<办件编号>:<STATE CODE>:<state time, UTC>``, so the same report sent twice is one record.
    ``state_at`` (when the matter reached the state) defaults to ``decided_at`` for a state
    at or past the decision, else to ``accepted_at``.
    """

    record_id: str | None = Field(default=None, min_length=1, max_length=128)
    external_ref: str = Field(min_length=1, max_length=64)
    item_code: str = Field(min_length=1, max_length=32)
    applicant_name: str = Field(min_length=1, max_length=100)
    applicant_phone: str = Field(min_length=1, max_length=20)
    accepted_at: datetime
    state: str = Field(min_length=1, max_length=16)
    state_at: datetime | None = None
    decided_at: datetime | None = None
    result: str | None = Field(default=None, max_length=16)
    department_code: str | None = Field(default=None, max_length=32)
    hall_code: str | None = Field(default=None, max_length=32)
    materials: list[str] | None = Field(default=None, max_length=40)
    correction_materials: list[str] | None = Field(default=None, max_length=40)
    note: str | None = Field(default=None, max_length=1000)
    delivery_method: str | None = Field(default=None, max_length=16)
    delivery_name: str | None = Field(default=None, max_length=100)
    delivery_phone: str | None = Field(default=None, max_length=20)
    delivery_address: str | None = Field(default=None, max_length=300)

    @field_validator("accepted_at", "state_at", "decided_at")
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return _local_aware(value) if value is not None else None

    @field_validator("applicant_phone", "delivery_phone")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = re.sub(r"[\s-]", "", value)
        digits = digits[3:] if digits.startswith("+86") else digits
        digits = digits[2:] if digits.startswith("86") and len(digits) == 13 else digits
        if not _MOBILE.match(digits):
            raise ValueError(f"“{value}”不是有效的 11 位手机号")
        return digits

    @field_validator("state")
    @classmethod
    def _state(cls, value: str) -> str:
        return _word(value, MATTER_STATE_WORDS, "办件状态")

    @field_validator("result")
    @classmethod
    def _result(cls, value: str | None) -> str | None:
        return None if value is None else _word(value, MATTER_RESULT_WORDS, "决定结果")

    @field_validator("delivery_method")
    @classmethod
    def _delivery(cls, value: str | None) -> str | None:
        return None if value is None else _word(value, MATTER_DELIVERY_WORDS, "领取方式")

    @field_validator("materials", "correction_materials", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        if isinstance(value, str):  # a file's cell: 身份证、申请表
            return [p.strip() for p in _LIST_SEPARATORS.split(value) if p.strip()]
        return value

    @model_validator(mode="after")
    def _derived(self) -> MatterRecord:
        code = MATTER_STATE_WORDS[self.state]
        if self.state_at is None:
            decided = code in _DECIDED and self.decided_at is not None
            self.state_at = self.decided_at if decided else self.accepted_at
        if self.record_id is None:
            assert self.state_at is not None
            at = self.state_at.astimezone(UTC)
            # in the identifier's normal form (upper case): sent again with the derived id
            # (a replayed dead letter), it is the same record
            self.record_id = f"{self.external_ref}:{code.upper()}:{at:%Y%m%dT%H%M%S}"
        return self


# schema name → (model, id field, time field)
SCHEMAS: dict[str, tuple[type[RecordSchema], str, str | None]] = {
    "hall_event": (HallEventRecord, "event_id", "occurred_at"),
    "device_event": (DeviceEventRecord, "event_id", "occurred_at"),
    "person_record": (PersonRecord, "record_id", "updated_at"),
    "enterprise_record": (EnterpriseRecord, "record_id", "updated_at"),
    "project_record": (ProjectRecord, "record_id", "updated_at"),
    "matter_record": (MatterRecord, "record_id", "state_at"),
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
        "external_ref",
        "applicant_phone",
        "delivery_phone",
        "department_code",
    }
)


DATE_FIELDS = frozenset(
    {"birth_date", "updated_at", "occurred_at", "accepted_at", "state_at", "decided_at"}
)
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
    "external_ref": "办件编号",
    "applicant_name": "申请人",
    "applicant_phone": "申请人手机号",
    "accepted_at": "受理时间",
    "state": "办件状态",
    "state_at": "状态时间",
    "decided_at": "办结时间",
    "result": "决定结果",
    "department_code": "部门编码",
    "materials": "收取材料",
    "correction_materials": "补正材料",
    "note": "办理意见",
    "delivery_method": "领取方式",
    "delivery_name": "收件人",
    "delivery_phone": "收件人手机号",
    "delivery_address": "邮寄地址",
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
    "list_type": "应为列表",
    "too_long": "最多 {max_length} 项",
    "value_error": "{error}",
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
