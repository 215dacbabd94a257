"""The hotline's SMS: order accepted and replied to the caller, dispatched and due soon to the
unit's members, and a text to the center's number opening an order. Each written once per
event, in the transaction of the change, on both databases; nothing without a mobile."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from govloop.core.auth import Role, create_user
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import RecordedRefusal
from govloop.hotline.models import Channel, WorkOrder
from govloop.hotline.orders import intake, workflow
from govloop.notify import inbound
from govloop.notify.models import InboundMessage, Notification, StaffContact
from govloop.org.models import DepartmentMember
from tests.hotline.factories import PASSWORD, build_world, new_order

# Monday 2026-11-23, 10:00 in Shanghai
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
CALLER = "13800138000"
CG_PHONE = "13600136001"
HB_PHONE = "13600136002"


@pytest.fixture
def world(db):
    with unit_of_work() as s:
        w = build_world(s)
        # CG: its handler has a phone on record, a second member has none
        s.add(StaffContact(user_id=w.handlers["CG"].id, phone=CG_PHONE))
        s.add(StaffContact(user_id=w.handlers["HB"].id, phone=HB_PHONE))
        quiet = create_user(
            session=s, username="cg-2", password=PASSWORD, role=Role.DEPARTMENT_HANDLER
        )
        s.add(DepartmentMember(user_id=quiet.id, department_id=w.departments["CG"]))
        s.add(StaffContact(user_id=quiet.id, email="cg2@example.cn"))
    return w


def _messages(template: str | None = None) -> list[Notification]:
    with unit_of_work() as s:
        stmt = select(Notification).order_by(Notification.id)
        if template is not None:
            stmt = stmt.where(Notification.template == template)
        return list(s.scalars(stmt))


def _dispatch(s, world, order_id: int, code: str = "CG", **kwargs) -> None:
    workflow.dispatch(
        session=s,
        order_id=order_id,
        actor=world.agent,
        department_id=world.departments[code],
        **kwargs,
    )


# --- to the caller -------------------------------------------------------------------


def test_intake_writes_one_acceptance_to_a_mobile_caller(world):
    with frozen(MONDAY_10), unit_of_work() as s:
        order = new_order(s, world)
        order_id, number = order.id, order.number
    [message] = _messages()
    assert message.template == "order_accepted"
    assert message.recipient == CALLER
    assert (message.case_type, message.case_id) == ("work_order", order_id)
    assert number in message.body and "张三" not in message.body


@pytest.mark.parametrize("phone", [None, "0591-87654321"])
def test_no_mobile_no_message(world, phone):
    with frozen(MONDAY_10), unit_of_work() as s:
        order = new_order(s, world, caller_phone=phone)
        _dispatch(s, world, order.id, "SWJT")  # a unit without phones on record
        intake_order = new_order(s, world, caller_phone=phone, order_type="enquiry")
        intake.answer_directly(
            session=s, order_id=intake_order.id, actor=world.agent, answer="请拨打物业电话"
        )
    assert _messages() == []


def test_a_refused_intake_writes_nothing(world):
    with frozen(MONDAY_10), pytest.raises(RuntimeError), unit_of_work() as s:
        new_order(s, world)
        raise RuntimeError("the request fails after intake")
    assert _messages() == []


def test_closing_writes_one_reply_notice(world):
    with frozen(MONDAY_10), unit_of_work() as s:
        order = new_order(s, world)
        _dispatch(s, world, order.id)
        order_id, number = order.id, order.number
    handler = world.handlers["CG"]
    with frozen(MONDAY_10), unit_of_work() as s:
        workflow.sign(session=s, order_id=order_id, actor=handler)
        workflow.answer(session=s, order_id=order_id, actor=handler, text="已责令工地停止夜间施工")
    assert _messages("order_replied") == []  # the center reviews the answer first
    with frozen(MONDAY_10), unit_of_work() as s:
        workflow.close(session=s, order_id=order_id, actor=world.agent)
    [reply] = _messages("order_replied")
    assert reply.recipient == CALLER and reply.case_id == order_id and number in reply.body


def test_a_direct_answer_at_intake_writes_one_reply(world):
    with frozen(MONDAY_10), unit_of_work() as s:
        order = new_order(s, world, order_type="enquiry", content="公积金提取需要哪些材料")
        intake.answer_directly(session=s, order_id=order.id, actor=world.agent, answer="身份证")
    assert [m.template for m in _messages()] == ["order_accepted", "order_replied"]


# --- to staff ------------------------------------------------------------------------


def test_dispatch_tells_every_member_with_a_phone_once_per_dispatch(world):
    with frozen(MONDAY_10), unit_of_work() as s:
        order = new_order(s, world)
        _dispatch(s, world, order.id, assist_department_ids=[world.departments["HB"]])
        order_id, number = order.id, order.number
    sent = _messages("staff_order_dispatched")
    assert sorted(m.recipient for m in sent) == [CG_PHONE, HB_PHONE]  # not the email-only one
    cg = next(m for m in sent if m.recipient == CG_PHONE)
    assert cg.case_id == order_id and cg.audience == "staff"
    assert number in cg.body and "11月24日24:00" in cg.body  # sign for by end of Tuesday
    assert "张三" not in cg.body and CALLER not in cg.body
    # 改派 to the same unit: a new dispatch, a new message; the earlier ones stay one each
    with frozen(MONDAY_10), unit_of_work() as s:
        _dispatch(s, world, order_id)
    assert len([m for m in _messages("staff_order_dispatched") if m.recipient == CG_PHONE]) == 2
    assert len([m for m in _messages("staff_order_dispatched") if m.recipient == HB_PHONE]) == 1


def test_due_soon_from_the_deadline_sweep_once_per_order_and_deadline(world):
    with frozen(MONDAY_10), unit_of_work() as s:
        order = new_order(s, world, urgency="urgent")
        _dispatch(s, world, order.id)
        order_id = order.id
    evening = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 21:00 next day: 3 h left
    for _ in range(3):
        with unit_of_work() as s:
            workflow.sweep_deadlines(session=s, at=evening)
    later = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # overdue: no "due soon" any more
    with unit_of_work() as s:
        workflow.sweep_deadlines(session=s, at=later)
    [due] = _messages("staff_due_soon")
    assert due.recipient == CG_PHONE and due.case_id == order_id
    assert "工单" in due.body and "11月24日24:00" in due.body


# --- a text to the center's number ---------------------------------------------------


def _receive(s, ref: str, text: str = "我家楼下路灯坏了一个星期了", sender: str = "13900139000"):
    return inbound.receive(
        session=s, channel="sms", gateway_ref=ref, sender=sender, text=text, source="test"
    )


def test_an_inbound_sms_opens_one_order_and_is_answered_with_its_number(world):
    with frozen(MONDAY_10), unit_of_work() as s:
        msg = _receive(s, "kannel-1")
        assert msg.handled_as == "work_order"
        msg_id, number = msg.id, msg.result
    with unit_of_work() as s:
        [order] = s.scalars(select(WorkOrder)).all()
        assert order.channel == Channel.SMS == "sms"
        assert order.number == number
        assert order.caller_phone == "13900139000"
        assert order.content == "我家楼下路灯坏了一个星期了"
        assert order.external_ref == "kannel-1"
    [reply] = _messages()  # the reply, not also an "accepted" notice
    assert reply.template == "sms_received"
    assert reply.event_key == f"inbound:{msg_id}:reply"
    assert reply.recipient == "13900139000"
    assert number in reply.body
    assert (reply.case_type, reply.case_id) == ("work_order", order.id)


def test_a_redelivered_inbound_sms_is_still_one_order(world):
    for _ in range(3):
        with frozen(MONDAY_10), unit_of_work() as s:
            _receive(s, "kannel-7")
    with unit_of_work() as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 1
        assert s.scalar(select(func.count(InboundMessage.id))) == 1
    assert [m.template for m in _messages()] == ["sms_received"]
    with frozen(MONDAY_10), unit_of_work() as s:
        _receive(s, "kannel-8", text="另外小区门口垃圾没人清")  # another message: another order
    with unit_of_work() as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 2


def test_opting_out_is_not_an_order(world):
    with frozen(MONDAY_10), unit_of_work() as s:
        assert _receive(s, "kannel-9", text="TD").handled_as == "opt_out"
    with unit_of_work() as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 0


def test_a_malformed_inbound_sms_opens_nothing(world):
    with frozen(MONDAY_10), pytest.raises(RecordedRefusal), unit_of_work() as s:
        _receive(s, "kannel-10", sender="not-a-phone")
    with unit_of_work() as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 0
    assert _messages() == []


def test_sms_channel_has_a_chinese_label():
    from govloop.core.i18n import translations
    from govloop.hotline.dashboard.pages import LABELS as DASHBOARD_LABELS
    from govloop.hotline.orders.pages import LABELS

    zh = translations("zh_CN").gettext
    assert zh(LABELS["channel"]["sms"]) == zh(DASHBOARD_LABELS["channel"]["sms"]) == "短信"
