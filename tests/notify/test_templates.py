"""The message templates: every one in Chinese, signed, filled by name, with no room for an ID
number; a missing parameter is refused by name."""

from __future__ import annotations

import re

import pytest

from govloop.core.errors import BadRequest
from govloop.notify import templates

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_every_template_is_chinese_and_has_a_known_audience():
    catalogue = templates.templates()
    assert {"appointment_booked", "matter_state", "opt_out_done", "staff_due_soon"} <= set(
        catalogue
    )
    for key, t in catalogue.items():
        assert t.audience in ("citizen", "staff"), key
        assert HAN.search(t.text), key
        # nothing in a template asks for an ID number or a full name
        assert not t.fields & {"id_number", "name", "address"}, key


def test_citizen_messages_that_are_not_replies_tell_how_to_opt_out():
    replies = {"query_reply", "query_unknown", "opt_out_done"}
    for key, t in templates.templates().items():
        if t.audience == "citizen" and key not in replies:
            assert "回复TD退订" in t.text, key


def test_render_fills_by_name_and_signs():
    text = templates.render("waybill_sent", {"number": "BJ1", "courier": "顺丰", "waybill": "SF1"})
    assert text == "【政务服务】您的办件BJ1结果已由顺丰寄出，运单号SF1。回复TD退订"
    assert not templates.render("opt_out_done", {}, signed=False).startswith("【")
    # None is an empty value, extra parameters are ignored
    text = templates.render(
        "query_reply",
        {"number": "BJ1", "item": "社保", "state": "审查", "due_text": None, "extra": 1},
    )
    assert text.endswith("当前状态：审查。")


def test_a_missing_parameter_is_refused_by_name():
    with pytest.raises(BadRequest) as caught:
        templates.render("waybill_sent", {"number": "BJ1"})
    assert caught.value.code == "template_params_missing"
    assert "courier" in caught.value.message and "waybill" in caught.value.message


def test_unknown_template_is_refused():
    with pytest.raises(BadRequest) as caught:
        templates.get("no_such_template")
    assert caught.value.code == "unknown_template"
