"""The closed loop of a work order, its rules and its time limits, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest, NotFound, PermissionDenied, RuleViolation
from govloop.hotline.models import (
    AssignmentStatus,
    OrderStatus,
    TimeLimit,
    WorkOrder,
    WorkOrderEvent,
)
from govloop.hotline.orders import intake, queries, sla, workflow
from govloop.ratings.models import Rating, RectificationCase
from tests.hotline.factories import build_world, new_order

# Monday 2026-11-23, 10:00 in Shanghai
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db):
    with unit_of_work() as s:
        w = build_world(s)
    return w


def _kinds(s, order_id):
    return list(
        s.scalars(
            select(WorkOrderEvent.kind)
            .where(WorkOrderEvent.order_id == order_id)
            .order_by(WorkOrderEvent.id)
        )
    )


def test_full_loop_from_intake_to_rating(world):
    cg = world.departments["CG"]
    with frozen(MONDAY_10), unit_of_work() as s:
        order = new_order(s, world)
        assert order.number.startswith("20261123")
        assert order.status == OrderStatus.ACCEPTED
        # the catalogue's keywords recognise a noise complaint
        assert order.suggested_department_id == cg
        assert order.suggestion_source == "catalogue"
        workflow.dispatch(session=s, order_id=order.id, actor=world.agent, department_id=cg)
        order_id = order.id
    with unit_of_work() as s:
        order = s.get(WorkOrder, order_id)
        # complaint: 13 working days from Monday 23 Nov → Thu 10 Dec, end of day (local)
        assert order.due_at == datetime(2026, 12, 10, 16, 0, tzinfo=UTC)
        assert order.sign_due_at == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
        handler = world.handlers["CG"]
        workflow.sign(session=s, order_id=order_id, actor=handler)
        workflow.add_progress(session=s, order_id=order_id, actor=handler, note="已到现场核查")
        assert s.get(WorkOrder, order_id).status == OrderStatus.IN_PROGRESS
        workflow.answer(session=s, order_id=order_id, actor=handler, text="已责令工地夜间停工")
        workflow.close(session=s, order_id=order_id, actor=world.agent)
        workflow.record_callback(
            session=s, order_id=order_id, actor=world.agent, reached=True, level=2, comment="没改"
        )
    with unit_of_work(readonly=True) as s:
        order = s.get(WorkOrder, order_id)
        assert order.status == OrderStatus.RATED
        assert order.answer == "已责令工地夜间停工"
        rating = s.get(Rating, order.rating_id)
        assert (rating.matter_source, rating.matter_ref, rating.department_id) == (
            "hotline",
            order.number,
            cg,
        )
        # a bad rating opens a rectification case for the unit that handled it
        case = s.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
        assert case is not None and case.department_id == cg
        assert _kinds(s, order_id) == [
            "order.accepted",
            "order.dispatched",
            "order.signed",
            "order.progress",
            "order.answered",
            "order.closed",
            "order.called_back",
            "order.rated",
        ]


def test_department_cannot_act_on_an_order_not_dispatched_to_it(world):
    with unit_of_work() as s:
        order = new_order(s, world)
        workflow.dispatch(
            session=s, order_id=order.id, actor=world.agent, department_id=world.departments["CG"]
        )
        order_id = order.id
    with pytest.raises(PermissionDenied), unit_of_work() as s:
        workflow.sign(session=s, order_id=order_id, actor=world.handlers["HB"])
    with pytest.raises(PermissionDenied), unit_of_work() as s:
        workflow.dispatch(
            session=s,
            order_id=order_id,
            actor=world.handlers["CG"],
            department_id=world.departments["HB"],
        )
    with unit_of_work(readonly=True) as s:
        assert s.get(WorkOrder, order_id).status == OrderStatus.DISPATCHED
        assert _kinds(s, order_id) == ["order.accepted", "order.dispatched"]


def test_closing_without_an_answer_is_refused_and_changes_nothing(world):
    with unit_of_work() as s:
        order = new_order(s, world)
        workflow.dispatch(
            session=s, order_id=order.id, actor=world.agent, department_id=world.departments["CG"]
        )
        order_id = order.id
    with pytest.raises(RuleViolation, match="尚未答复"), unit_of_work() as s:
        workflow.close(session=s, order_id=order_id, actor=world.agent)
    with unit_of_work(readonly=True) as s:
        assert s.get(WorkOrder, order_id).status == OrderStatus.DISPATCHED


def test_return_is_reviewed_and_redispatch_keeps_the_handling_clock(world):
    cg, hb = world.departments["CG"], world.departments["HB"]
    with frozen(MONDAY_10), unit_of_work() as s:
        order = new_order(s, world, content="河道里有工厂偷排污水，水面发黑有异味")
        workflow.dispatch(session=s, order_id=order.id, actor=world.agent, department_id=cg)
        order_id, due = order.id, order.due_at
    with unit_of_work() as s:
        workflow.request_return(
            session=s, order_id=order_id, actor=world.handlers["CG"], reason="属环保职责"
        )
        # rejecting needs a reason
        with pytest.raises(BadRequest):
            workflow.review_return(session=s, order_id=order_id, actor=world.agent, approve=False)
        workflow.review_return(session=s, order_id=order_id, actor=world.agent, approve=True)
        assert s.get(WorkOrder, order_id).status == OrderStatus.ACCEPTED
        workflow.dispatch(session=s, order_id=order_id, actor=world.agent, department_id=hb)
    with unit_of_work(readonly=True) as s:
        order = s.get(WorkOrder, order_id)
        assert order.department_id == hb
        assert order.due_at == due  # the time lost by the wrong dispatch still counts
        view = queries.view(s, order, world.agent)
        assert [(a["department_id"], a["status"]) for a in view.assignments] == [
            (cg, AssignmentStatus.RETURNED),
            (hb, AssignmentStatus.DISPATCHED),
        ]
        assert "order.redispatched" in _kinds(s, order_id)


def test_lead_and_assisting_units(world):
    cg, swjt = world.departments["CG"], world.departments["SWJT"]
    with unit_of_work() as s:
        order = new_order(s, world, content="路面塌陷，下面的自来水管爆裂，水漫到马路上")
        workflow.dispatch(
            session=s,
            order_id=order.id,
            actor=world.agent,
            department_id=cg,
            assist_department_ids=[swjt],
        )
        order_id = order.id
    with unit_of_work() as s:
        workflow.sign(session=s, order_id=order_id, actor=world.handlers["SWJT"])
        # the assisting unit's signature does not sign the order for the lead
        assert s.get(WorkOrder, order_id).status == OrderStatus.DISPATCHED
        workflow.answer(session=s, order_id=order_id, actor=world.handlers["SWJT"], text="已抢修")
        with pytest.raises(RuleViolation):
            workflow.request_return(
                session=s, order_id=order_id, actor=world.handlers["SWJT"], reason="不归我们"
            )
        assert s.get(WorkOrder, order_id).answer is None
        workflow.sign(session=s, order_id=order_id, actor=world.handlers["CG"])
        workflow.answer(session=s, order_id=order_id, actor=world.handlers["CG"], text="已修复")
        assert s.get(WorkOrder, order_id).status == OrderStatus.ANSWERED


def test_confidential_caller_is_absent_for_departments(world):
    with unit_of_work() as s:
        order = new_order(s, world, confidential=True)
        workflow.dispatch(
            session=s, order_id=order.id, actor=world.agent, department_id=world.departments["CG"]
        )
        order_id = order.id
    with unit_of_work(readonly=True) as s:
        order = s.get(WorkOrder, order_id)
        assert queries.view(s, order, world.agent).caller()["caller_phone"] == "13800138000"
        assert queries.view(s, order, world.handlers["CG"]).caller() == {}
        with pytest.raises(PermissionDenied):
            queries.view(s, order, world.handlers["HB"])
        rows, total = queries.list_orders(session=s, viewer=world.handlers["HB"])
        assert (rows, total) == ([], 0)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("", "诉求内容"),
        ("字" * 2001, "诉求内容"),
    ],
)
def test_bad_intake_is_refused_and_stores_nothing(world, content, field):
    with pytest.raises(BadRequest) as info, unit_of_work() as s:
        new_order(s, world, content=content)
    assert info.value.details["field"] == field
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 0


def test_unknown_category_and_bad_phone_are_refused(world):
    with pytest.raises(NotFound), unit_of_work() as s:
        new_order(s, world, category_code="NOPE")
    with pytest.raises(BadRequest, match="电话"), unit_of_work() as s:
        new_order(s, world, caller_phone="12345")
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 0


def test_duplicates_are_found_and_merged(world):
    with unit_of_work() as s:
        first = new_order(s, world, category_code="CG-NOISE")
        second = new_order(s, world, category_code="CG-NOISE", caller_phone="13900139000")
        other = new_order(
            s, world, content="公交线路班次太少", caller_phone="13700137000", address="别处"
        )
        assert [o.id for o in intake.find_duplicates(session=s, order=second)] == [first.id]
        assert intake.find_duplicates(session=s, order=other) == []
        intake.merge_order(session=s, order_id=second.id, into_id=first.id, actor=world.agent)
        assert second.status == OrderStatus.MERGED
        with pytest.raises(RuleViolation):
            intake.merge_order(session=s, order_id=other.id, into_id=second.id, actor=world.agent)


def test_direct_answer_closes_an_enquiry_at_intake(world):
    with unit_of_work() as s:
        order = new_order(
            s, world, content="请问公积金提取需要带什么材料？", category_code="GJJ-FUND"
        )
        workflow_order = intake.answer_directly(
            session=s, order_id=order.id, actor=world.agent, answer="带身份证和购房合同。"
        )
        assert workflow_order.status == OrderStatus.CLOSED and workflow_order.direct_answer
        with pytest.raises(RuleViolation):
            workflow.dispatch(
                session=s,
                order_id=order.id,
                actor=world.agent,
                department_id=world.departments["GJJ"],
            )


def test_external_reference_imports_once(world):
    with unit_of_work() as s:
        new_order(s, world, channel="email", external_ref="<abc@mail>")
    with pytest.raises(Exception, match="已受理"), unit_of_work() as s:
        new_order(s, world, channel="email", external_ref="<abc@mail>")


def test_deadlines_follow_the_holiday_calendar_and_configuration(world):
    # Dispatched on Wednesday 30 Sep 2026: the National Day holiday runs 1–7 Oct and the
    # make-up working day Saturday 10 Oct counts.
    start = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
    due = sla.deadline(start, 3)
    assert due.at == datetime(2026, 10, 10, 16, 0, tzinfo=UTC)  # midnight ending 10 Oct
    assert not due.estimated
    # Urgent: the same day; on a Sunday the next working day.
    sunday = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    assert sla.deadline(sunday, 0).at == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    # Past the official calendar the deadline is marked as estimated.
    assert sla.deadline(datetime(2027, 3, 1, 2, 0, tzinfo=UTC), 3).estimated
    with unit_of_work() as s:
        s.add(
            TimeLimit(
                order_type="complaint", urgency="normal", sign_working_days=2, handle_working_days=7
            )
        )
        s.flush()
        limit = sla.limit_for(session=s, order_type="complaint", urgency="normal", category_id=None)
        assert (limit.sign_working_days, limit.handle_working_days) == (2, 7)


def test_sweep_flags_warnings_and_overdue_once_and_supervision_counts(world):
    with frozen(MONDAY_10), unit_of_work() as s:
        order = new_order(s, world, urgency="urgent")
        workflow.dispatch(
            session=s, order_id=order.id, actor=world.agent, department_id=world.departments["CG"]
        )
        order_id = order.id
    evening = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 21:00 next day: 3 h left
    with unit_of_work() as s:
        assert workflow.sweep_deadlines(session=s, at=evening) == {"warning": 1, "overdue": 0}
        assert workflow.sweep_deadlines(session=s, at=evening) == {"warning": 0, "overdue": 0}
        later = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
        assert workflow.sweep_deadlines(session=s, at=later) == {"warning": 0, "overdue": 1}
        workflow.supervise(session=s, order_id=order_id, actor=world.agent, note="请今日办结")
        assert s.get(WorkOrder, order_id).supervision_count == 1
