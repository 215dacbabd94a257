"""`govloop notify`: drain, status, dead, retry, opt-out, contact — on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from govloop.core.auth import Role
from govloop.core.db import unit_of_work
from govloop.core.settings import get_settings
from govloop.notify import outbox
from govloop.notify.channels.base import Rejected
from govloop.notify.cli import notify_app
from govloop.notify.models import Notification, NotificationStatus, StaffContact
from tests.factories import make_user

runner = CliRunner()


def _queue(key: str, to: str = "13812341234") -> int:
    with unit_of_work() as s:
        return outbox.enqueue(
            session=s, event_key=key, template="order_accepted", to=to, params={"number": "1"}
        ).id


def test_drain_status_dead_and_retry(db, fake_sms, monkeypatch):
    monkeypatch.setattr(get_settings(), "notify_max_attempts", 1)
    ok, bad = _queue("a"), _queue("b", to="13900000000")
    fake_sms_send = fake_sms.send

    def send(message):
        if message.notification_id == bad:
            raise Rejected("no such number")
        return fake_sms_send(message)

    monkeypatch.setattr(fake_sms, "send", send)
    r = runner.invoke(notify_app, ["drain", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"sent": 1, "retried": 0, "dead": 1}
    r = runner.invoke(notify_app, ["status", "--json"])
    counts = json.loads(r.output)["counts"]
    assert (counts["sent"], counts["dead"], counts["queued"]) == (1, 1, 0)
    r = runner.invoke(notify_app, ["status"])
    assert "已发送" in r.output and "发送失败" in r.output
    r = runner.invoke(notify_app, ["dead", "--json"])
    rows = json.loads(r.output)
    assert [(row["id"], row["recipient"], row["reason"]) for row in rows] == [
        (bad, "139****0000", "rejected")
    ]
    table = runner.invoke(notify_app, ["dead"]).output
    assert "收件人" in table and "139**" in table
    r = runner.invoke(notify_app, ["retry", str(bad)])
    assert r.exit_code == 0 and "重新排队" in r.output
    r = runner.invoke(notify_app, ["retry", str(ok)])
    assert r.exit_code == 1 and "只有发送失败" in r.output
    with unit_of_work() as s:
        assert s.get(Notification, bad).status == NotificationStatus.QUEUED


def test_opt_out_and_back(db):
    r = runner.invoke(notify_app, ["opt-out", "+86 138 1234 1234"])
    assert r.exit_code == 0 and "已退订" in r.output
    assert "此前已退订" in runner.invoke(notify_app, ["opt-out", "13812341234"]).output
    with unit_of_work() as s:
        assert outbox.opted_out(s, "sms", "13812341234")
    assert "已恢复" in runner.invoke(notify_app, ["opt-out", "13812341234", "--undo"]).output
    bad = runner.invoke(notify_app, ["opt-out", "12345"])
    assert bad.exit_code == 1 and "格式不正确" in bad.output


def test_staff_contact(db):
    with unit_of_work() as s:
        make_user(s, "handler", Role.DEPARTMENT_HANDLER)
    r = runner.invoke(notify_app, ["contact", "handler", "--phone", "13700001111"])
    assert r.exit_code == 0 and "13700001111" in r.output and "未设置" in r.output
    r = runner.invoke(notify_app, ["contact", "handler", "--email", "H@Example.cn"])
    assert "13700001111" in r.output and "h@example.cn" in r.output
    bad = runner.invoke(notify_app, ["contact", "handler", "--phone", "123"])
    assert bad.exit_code == 1 and "手机号格式不正确" in bad.output
    assert runner.invoke(notify_app, ["contact", "nobody"]).exit_code == 1
    r = runner.invoke(notify_app, ["contact", "handler", "--phone", ""])
    assert r.exit_code == 0
    with unit_of_work() as s:
        row = s.scalar(select(StaffContact))
        assert (row.phone, row.email) == (None, "h@example.cn")
