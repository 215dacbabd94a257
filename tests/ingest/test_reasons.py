"""A dead letter's reason is read by a data steward: Chinese words, no pydantic English."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from govloop.ingest.schemas import HallEventRecord, PersonRecord, describe_errors


def reason_of(schema: type, values: dict) -> str:
    with pytest.raises(ValidationError) as caught:
        schema(**values)
    return describe_errors(caught.value)


def test_each_problem_names_the_field_in_words() -> None:
    reason = reason_of(
        PersonRecord,
        {"record_id": "P1", "name": "王芳", "birth_date": "1990-02-30", "sex": "X", "籍贯": "1"},
    )
    assert reason.split("；") == [
        "「出生日期」不是有效的日期",
        "「性别」应为以下之一：'M'、'F'",
        "未声明的字段「籍贯」",
    ]


def test_limits_from_the_schema_are_stated() -> None:
    reason = reason_of(
        HallEventRecord,
        {
            "event_id": "e1",
            "hall_code": "H",
            "ticket_code": "A001",
            "item_code": "X" * 40,
            "kind": "issued",
            "occurred_at": "2026-12-07T09:00:00",
            "window_number": 0,
        },
    )
    assert reason == "「事项编码」超过 32 个字符；「窗口号」不能小于 1"


def test_no_english_left_in_a_reason() -> None:
    reason = reason_of(PersonRecord, {"record_id": "P1", "updated_at": "yesterday"})
    assert "缺少必填字段「名称/姓名」" in reason and "「更新时间」不是有效的时间" in reason
    assert not re.search(r"[A-Za-z]{3,}", reason), reason
