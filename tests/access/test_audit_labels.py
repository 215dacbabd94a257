"""The audit console shows words, not the log's codes."""

from __future__ import annotations

from govloop.access.audit_labels import action_label, detail_text, outcome_label
from govloop.access.pages import CASE_LABELS
from govloop.core.i18n import set_locale


def test_actions_outcomes_and_details_read_as_chinese():
    set_locale("zh_CN")
    assert action_label("grant_opened") == "为办件开启授权"
    assert action_label("denied") in ("已拒绝", "被拒绝")
    assert outcome_label("denied") in ("已拒绝", "被拒绝")
    shown = detail_text("subjects=1 policy=ticket:BDC", CASE_LABELS)
    assert shown.startswith("涉及 1 个对象 · 规则：") and "（BDC）" in shown
    assert "ticket" not in shown and "subjects=" not in shown
    assert detail_text("case_closed", CASE_LABELS) == "办件已结束"
    assert detail_text("device=2 Linux", CASE_LABELS) == "设备 #2 · Linux"
    assert detail_text("not_your_case: 这不是您的办件", CASE_LABELS) == "这不是您的办件"
    assert detail_text("something else", CASE_LABELS) == "something else"  # kept as stored
    assert action_label("an.unknown.action") == "an.unknown.action"
