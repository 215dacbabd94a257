"""Email intake: mbox and .eml folders, idempotent by Message-ID, bad messages reported."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from govloop.core.db import unit_of_work
from govloop.hotline.models import WorkOrder
from govloop.hotline.orders.email_import import import_mailbox
from tests.hotline.factories import build_world


def _message(msg_id: str, subject: str, body: str, html: bool = False) -> EmailMessage:
    m = EmailMessage()
    m["From"] = "王女士 <wang@example.cn>"
    m["To"] = "12345@city.gov.cn"
    m["Subject"] = subject
    m["Date"] = "Mon, 23 Nov 2026 09:30:00 +0800"
    if msg_id:
        m["Message-ID"] = msg_id
    if html:
        m.set_content(body, subtype="html")
    else:
        m.set_content(body)
    return m


@pytest.fixture
def world(db):
    with unit_of_work() as s:
        return build_world(s)


def test_mbox_import_is_idempotent_and_reports_bad_messages(world, tmp_path):
    box_path = tmp_path / "inbox.mbox"
    box = mailbox.mbox(box_path)
    box.add(_message("<a@x>", "小区停水", "我们小区从昨晚开始停水，电话 13612345678，请尽快处理"))
    box.add(_message("<b@x>", "路灯不亮", "<p>湖东路的<b>路灯</b>坏了一个月</p>", html=True))
    box.add(_message("", "无编号", "这封邮件没有 Message-ID"))
    box.add(_message("<c@x>", "空邮件", ""))
    box.flush()
    box.close()
    with unit_of_work() as s:
        report = import_mailbox(session=s, source=box_path, actor=world.agent)
    assert len(report.imported) == 2
    assert [where for where, _ in report.rejected] == ["inbox.mbox#3", "inbox.mbox#4"]
    assert "Message-ID" in report.rejected[0][1] and "诉求内容" in report.rejected[1][1]
    with unit_of_work(readonly=True) as s:
        orders = {o.external_ref: o for o in s.scalars(select(WorkOrder))}
    water = orders["<a@x>"]
    assert (water.channel, water.caller_phone, water.caller_email, water.caller_name) == (
        "email",
        "13612345678",
        "wang@example.cn",
        "王女士",
    )
    assert water.created_at.isoformat().startswith("2026-11-23T01:30")
    # the HTML-only message became text, not a refusal
    assert orders["<b@x>"].content == "湖东路的路灯坏了一个月"
    with unit_of_work() as s:
        again = import_mailbox(session=s, source=box_path, actor=world.agent)
    assert again.imported == [] and again.already_imported == ["<a@x>", "<b@x>"]


def test_folder_of_eml_files(world, tmp_path):
    (tmp_path / "1.eml").write_bytes(bytes(_message("<d@x>", "噪音", "楼下广场舞音响太吵")))
    with unit_of_work() as s:
        report = import_mailbox(session=s, source=tmp_path, actor=None)
    assert len(report.imported) == 1 and not report.rejected
