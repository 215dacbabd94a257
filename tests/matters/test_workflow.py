"""The life of a matter: 受理 at the window, review, 补正 with the clock stopped, decision,
pickup; the refusals of the state machine; working-day deadlines with holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from govloop.core.clock import local_tz
from govloop.core.errors import BadRequest, PermissionDenied, RuleViolation
from govloop.hall import windows as hall_windows
from govloop.hall.models import Outcome, Ticket
from govloop.matters import deadlines, service, sweep, workflow
from govloop.matters.models import MatterEvent, MatterState
from govloop.notify.models import Notification
from tests.matters.conftest import accept, serve_one


def _local_date(moment):
    return moment.astimezone(local_tz()).date()


def _notes(s, matter, template):
    return s.scalars(
        select(Notification).where(
            Notification.case_id == matter.id, Notification.template == template
        )
    ).all()


def test_accepting_at_the_window_finishes_the_ticket_and_opens_the_matter(ms):
    s, mw, _ = ms
    matter = accept(s, mw, materials=["身份证", "申请表"])
    ticket = s.get(Ticket, matter.ticket_id)
    assert ticket.status == "finished" and ticket.outcome == Outcome.ACCEPTED
    assert matter.state == MatterState.ACCEPTED and matter.visits == 1
    assert matter.number.startswith("20261123") and matter.materials == ["身份证", "申请表"]
    # 5 working days from Monday 23 Nov: due at the end of Monday 30 Nov
    assert _local_date(matter.promised_due_at - timedelta(seconds=1)).isoformat() == "2026-11-30"
    notes = _notes(s, matter, "matter_accepted")
    assert len(notes) == 1 and notes[0].recipient == "13800138000"
    assert matter.number in notes[0].body and "张三" not in notes[0].body


def test_accepted_outcome_without_a_matter_is_refused(ms):
    s, mw, _ = ms
    serve_one(s, mw)
    with pytest.raises(RuleViolation) as exc:
        hall_windows.finish_service(
            session=s,
            hall=mw.world.hall,
            window_number=1,
            actor=mw.world.staff[1],
            outcome=Outcome.ACCEPTED,
        )
    assert exc.value.code == "matter_form_required"


def test_bad_applicant_input_is_refused(ms):
    s, mw, _ = ms
    with pytest.raises(BadRequest) as exc:
        accept(s, mw, phone="010-12345678")
    assert exc.value.code == "bad_phone"


def test_post_refused_for_an_item_that_cannot_be_posted(ms):
    s, mw, _ = ms
    serve_one(s, mw, item="GS01", window=2)
    with pytest.raises(RuleViolation) as exc:
        service.accept_at_window(
            session=s,
            hall=mw.world.hall,
            window_number=2,
            actor=mw.world.staff[2],
            applicant=service.Applicant(
                name="李四",
                phone="13900139000",
                delivery_method="post",
                delivery_address="北京市朝阳区建国路1号",
            ),
        )
    assert exc.value.code == "item_not_postable"


def test_correction_stops_the_clock_and_the_whole_life_to_pickup(ms):
    s, mw, clock = ms
    matter = accept(s, mw)
    due_before = matter.promised_due_at
    workflow.start_review(session=s, matter=matter, actor=mw.handler)
    workflow.request_correction(
        session=s, matter=matter, actor=mw.handler, materials=["户口簿"], note="缺户口簿"
    )
    assert deadlines.clock(matter, clock.current).state == deadlines.ClockState.STOPPED
    assert len(_notes(s, matter, "matter_correction")) == 1
    clock.advance(days=3)  # Monday → Thursday: Mon, Tue, Wed stood still
    workflow.receive_correction(session=s, matter=matter, actor=mw.handler, in_person=True)
    assert matter.paused_workdays == 3 and matter.visits == 2
    assert _local_date(matter.promised_due_at - timedelta(seconds=1)).isoformat() == "2026-12-03"
    assert matter.promised_due_at > due_before
    workflow.decide(session=s, matter=matter, actor=mw.handler, granted=True, note="")
    workflow.start_certificate(session=s, matter=matter, actor=mw.handler)
    workflow.result_ready(session=s, matter=matter, actor=mw.handler)
    assert len(_notes(s, matter, "matter_ready")) == 1
    workflow.hand_over(session=s, matter=matter, actor=mw.world.staff[1])
    assert matter.state == MatterState.PICKED_UP and matter.closed_at is not None
    assert matter.visits == 3
    assert deadlines.clock(matter, clock.current).state == deadlines.ClockState.DONE_ON_TIME
    kinds = s.scalars(
        select(MatterEvent.kind).where(MatterEvent.matter_id == matter.id).order_by(MatterEvent.id)
    ).all()
    assert kinds == [
        "matter.accepted",
        "matter.reviewing",
        "matter.correction",
        "matter.reviewing",
        "matter.granted",
        "matter.certifying",
        "matter.awaiting_pickup",
        "matter.picked_up",
    ]
    assert len(_notes(s, matter, "rating_invitation")) == 1
    with pytest.raises(RuleViolation) as exc:
        workflow.start_review(session=s, matter=matter, actor=mw.handler)
    assert exc.value.code == "matter_closed"


def test_refusals_of_the_machine_change_nothing(ms):
    s, mw, _ = ms
    matter = accept(s, mw)
    events_before = s.scalar(select(func.count()).select_from(MatterEvent))
    with pytest.raises(RuleViolation) as exc:
        workflow.decide(session=s, matter=matter, actor=mw.handler, granted=True, note="")
    assert exc.value.code == "bad_transition"
    with pytest.raises(PermissionDenied):
        workflow.start_review(session=s, matter=matter, actor=mw.outsider)
    with pytest.raises(PermissionDenied):
        workflow.start_review(session=s, matter=matter, actor=mw.world.staff[1])
    workflow.start_review(session=s, matter=matter, actor=mw.handler)
    with pytest.raises(RuleViolation) as exc:
        workflow.decide(session=s, matter=matter, actor=mw.handler, granted=False, note=" ")
    assert exc.value.code == "reason_required"
    with pytest.raises(RuleViolation) as exc:
        workflow.request_correction(
            session=s, matter=matter, actor=mw.handler, materials=[], note=""
        )
    assert exc.value.code == "no_materials"
    assert matter.state == MatterState.REVIEWING
    assert s.scalar(select(func.count()).select_from(MatterEvent)) == events_before + 1


def test_deadline_skips_the_national_day_holiday():
    # accepted on Wednesday 30 Sep 2026: 1–7 October are holidays (国庆节、中秋节)
    start = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
    due = deadlines.due_after(start, 2)
    last_day = _local_date(due.at - timedelta(seconds=1))
    assert last_day > datetime(2026, 10, 7).date()
    assert due.estimated is False
    # a year past the official calendar is counted on weekends only, and says so
    assert deadlines.due_after(datetime(2031, 3, 3, 2, 0, tzinfo=UTC), 2).estimated is True


def test_sweep_warns_then_flags_overdue_once(ms):
    s, mw, clock = ms
    matter = accept(s, mw)
    assert sweep.sweep(session=s).warned == 0
    clock.advance(days=6)  # Sunday 29 Nov: due end of Monday 30 Nov
    assert sweep.sweep(session=s).warned == 1
    clock.advance(days=2)
    report = sweep.sweep(session=s)
    assert report.overdue == 1
    assert sweep.sweep(session=s).overdue == 0
    assert matter.overdue_at is not None
    assert deadlines.clock(matter, clock.current).state == deadlines.ClockState.OVERDUE


def test_workbench_lists_overdue_first_and_only_the_department(ms):
    s, mw, clock = ms
    first = accept(s, mw)
    clock.advance(days=10)
    second = accept(s, mw)
    rows = service.workbench(session=s, department_id=first.department_id)
    assert [m.number for m in rows] == [first.number, second.number]
    assert service.workbench(session=s, department_id=-1) == []
