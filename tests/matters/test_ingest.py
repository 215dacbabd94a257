"""Matters from a department's approval system over the ingest pipeline: a pushed batch or
a CSV file opens matters and moves them (through the states a record skips), taken once;
bad rows and changes the machine forbids are dead letters and change nothing; events lead
back to the ingest record; late, doubled and out-of-order records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from govloop.app import create_app
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hall.models import ServiceItem
from govloop.ingest import pipeline
from govloop.ingest import service as ingest_service
from govloop.ingest.models import DeadLetter, IngestedRecord, IngestRun
from govloop.matters import ingest_consumer
from govloop.matters.ingest_cli import matter_ingest_app
from govloop.matters.ingest_models import MatterIngestRecord
from govloop.matters.ingest_walk import Refused, plan
from govloop.matters.models import Matter, MatterEvent, MatterSource, MatterState
from govloop.notify.models import Notification
from tests.matters.conftest import build

S = MatterState
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tuesday 1 December, 10:00 in Shanghai


def rec(ref: str, state: str, at: str, **more: Any) -> dict[str, Any]:
    """A record as the approval system pushes it (times in Beijing time)."""
    return {
        "external_ref": ref,
        "item_code": "SB01",
        "applicant_name": "张三",
        "applicant_phone": "13800138000",
        "accepted_at": "2026-11-23 09:30:00",
        "state": state,
        "state_at": at,
        "department_code": "D1",
        **more,
    }


@pytest.fixture
def push(db):
    """(post(records) → response JSON, apply() → report) against a source of 审批系统."""
    with frozen(NOW), unit_of_work() as s:
        build(s)
        source = pipeline.create_source(
            session=s,
            key="approval-d1",
            name="测试部门审批系统",
            kind="http",
            schema_name="matter_record",
            department="测试部门",
        )
        key = pipeline.issue_api_key(session=s, source=source)
    client = TestClient(create_app(run_jobs=False))

    def post(records: list[dict[str, Any]]) -> dict[str, Any]:
        r = client.post(
            "/api/ingest/approval-d1/batch",
            json={"records": records},
            headers={"X-Source-Key": key},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    with frozen(NOW):
        yield post, apply


def apply() -> ingest_consumer.ApplyReport:
    with unit_of_work() as s:
        return ingest_consumer.apply_pending(session=s)


def matter(ref: str) -> Matter:
    with unit_of_work(readonly=True) as s:
        found = s.scalar(select(Matter).where(Matter.external_ref == ref))
        assert found is not None, ref
        s.expunge(found)
        return found


def events(ref: str) -> list[tuple[str | None, str | None, dict[str, Any], datetime]]:
    with unit_of_work(readonly=True) as s:
        m = s.scalar(select(Matter).where(Matter.external_ref == ref))
        assert m is not None
        rows = s.scalars(
            select(MatterEvent)
            .where(MatterEvent.matter_id == m.id)
            .order_by(MatterEvent.at, MatterEvent.id)
        )
        return [(e.from_state, e.to_state, dict(e.detail), e.at) for e in rows]


def count(model: Any) -> int:
    with unit_of_work(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def snapshot() -> tuple[int, ...]:
    """What a refused record must not change."""
    return (count(Matter), count(MatterEvent), count(Notification))


BATCH = [
    rec("BJ-1", "受理", "2026-11-23 09:30:00"),
    rec("BJ-2", "受理", "2026-11-23 09:30:00"),
    rec("BJ-2", "审查中", "2026-11-24 10:00:00"),
    # the first record of BJ-3 already says 准予: opened, then 受理 → 审查 → 准予
    rec("BJ-3", "准予", "2026-11-25 15:00:00", decided_at="2026-11-25 15:00:00"),
]


def test_a_pushed_batch_opens_matters_and_moves_them(push):
    post, apply = push
    result = post(BATCH)
    assert result["stored"] == 4 and result["rejected"] == 0
    report = apply()
    assert report.outcomes == {"opened": 3, "moved": 1}
    one, two, three = matter("BJ-1"), matter("BJ-2"), matter("BJ-3")
    assert one.source == MatterSource.DEPARTMENT and one.state == S.ACCEPTED
    assert one.accepted_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert one.number.startswith("20261123") and one.accepted_by is None
    assert two.state == S.REVIEWING
    assert three.state == S.GRANTED
    assert three.decided_at == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    # every step by the department system, at its time; the skipped 审查 marked implied
    steps = events("BJ-3")
    assert [(f, t) for f, t, _, _ in steps] == [
        (None, S.ACCEPTED),
        (S.ACCEPTED, S.REVIEWING),
        (S.REVIEWING, S.GRANTED),
    ]
    assert steps[1][2].get("implied") is True and "implied" not in steps[2][2]
    assert steps[2][3] == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    with unit_of_work(readonly=True) as s:
        actors = s.scalars(select(MatterEvent.actor_id)).all()
        assert actors and set(actors) == {None}
        # the citizen hears of it like any matter
        templates = s.scalars(
            select(Notification.template).where(Notification.case_id == three.id)
        ).all()
        assert "matter_accepted" in templates and "matter_state" in templates


def test_the_same_batch_again_changes_nothing(push):
    post, apply = push
    post(BATCH)
    apply()
    before = snapshot()
    again = post(BATCH)
    assert again["stored"] == 0 and again["duplicates"] == 4
    assert apply().taken == 0
    # the same report under another record id (a re-sent message) is taken, and is a no-op
    resent = post([rec("BJ-2", "审查", "2026-11-24 10:00:00", record_id="MSG-99")])
    assert resent["stored"] == 1
    assert apply().outcomes == {"same": 1}
    assert snapshot() == before
    assert count(MatterIngestRecord) == 5


CSV = """办件编号,事项编码,申请人,手机号,受理时间,状态,状态时间,办结时间,收取材料
BJ-1,SB01,张三,138 0013 8000,2026-11-23 09:30:00,受理,2026-11-23 09:30:00,,身份证
BJ-2,SB01,李四,13900139000,2026-11-23 09:30:00,受理,,,身份证、申请表
BJ-2,SB01,李四,13900139000,2026-11-23 09:30:00,审查中,2026-11-24 10:00:00,,身份证、申请表
BJ-3,SB01,王五,+8613700137000,2026-11-23 09:30:00,已办结,,2026-11-25 15:00:00,
BJ-4,SB01,赵六,1380013,2026-11-23 09:30:00,受理,,,
BJ-5,XX99,钱七,13600136000,2026-11-23 09:30:00,受理,,,
"""
MAPPING = {
    "办件编号": "external_ref",
    "事项编码": "item_code",
    "申请人": "applicant_name",
    "手机号": "applicant_phone",
    "受理时间": "accepted_at",
    "状态": "state",
    "状态时间": "state_at",
    "办结时间": "decided_at",
    "收取材料": "materials",
}


def test_a_csv_file_does_the_same_and_bad_rows_are_dead_letters(push, tmp_path: Path):
    _post, apply = push
    path = tmp_path / "办件导出.csv"
    path.write_text(CSV, encoding="utf-8")
    with unit_of_work() as s:
        source = pipeline.create_source(
            session=s,
            key="approval-file",
            name="审批系统导出",
            kind="file",
            schema_name="matter_record",
            mapping=MAPPING,
        )
        loaded = ingest_service.load_file(session=s, source=source, path=path)
    # the bad phone is refused by the pipeline; the unknown item code by the consumer
    assert (loaded.counts.stored, loaded.counts.rejected) == (5, 1)
    report = apply()
    assert report.outcomes == {"opened": 3, "moved": 1, "rejected": 1}
    assert matter("BJ-2").state == S.REVIEWING
    assert matter("BJ-2").materials == ["身份证", "申请表"]
    assert matter("BJ-3").state == S.GRANTED and matter("BJ-3").applicant_phone == "13700137000"
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(Matter).where(Matter.external_ref.in_(["BJ-4", "BJ-5"]))) is None
        letters = {d.row_number: d for d in s.scalars(select(DeadLetter))}
    # lines of the file (the header is line 1)
    assert set(letters) == {6, 7}
    assert "不是有效的 11 位手机号" in letters[6].reason
    assert letters[7].reason_code == "matter_unknown_item"
    assert "未知的事项编码“XX99”" in letters[7].reason and letters[7].file_name == path.name


def test_refused_records_are_dead_letters_and_change_nothing(push):
    post, apply = push
    post(
        [
            rec("BJ-1", "受理", "2026-11-23 09:30:00"),
            rec("BJ-1", "已领取", "2026-11-27 10:00:00", result="准予"),
        ]
    )
    apply()
    assert matter("BJ-1").state == S.PICKED_UP
    before = snapshot()
    bad = [
        rec("BJ-2", "飞走了", "2026-11-24 10:00:00"),  # unknown state word
        rec("BJ-3", "受理", "2026-11-24 10:00:00", applicant_phone="12345"),
        rec("BJ-4", "受理", "2026-11-24 10:00:00", item_code="NOPE"),
        rec("BJ-5", "受理", "2026-11-24 10:00:00", department_code="D2"),  # not the item's
        rec("BJ-6", "受理", "2026-11-24 10:00:00", hall_code="H9"),
        # already picked up: a newer 审查 is a change the machine forbids
        rec("BJ-1", "审查", "2026-11-28 10:00:00"),
        # the item cannot be posted
        rec(
            "BJ-7",
            "受理",
            "2026-11-24 10:00:00",
            item_code="GS01",
            delivery_method="邮寄",
            delivery_address="北京市东城区测试街道1号",
        ),
    ]
    result = post(bad)
    assert (result["stored"], result["rejected"]) == (5, 2)
    report = apply()
    assert report.outcomes == {"rejected": 5}
    assert snapshot() == before
    with unit_of_work(readonly=True) as s:
        letters = s.scalars(select(DeadLetter)).all()
        assert all(d.status == "open" for d in letters)
    reasons = {d.reason_code: d.reason for d in letters if d.reason_code != "invalid"}
    invalid = [d.reason for d in letters if d.reason_code == "invalid"]
    assert len(invalid) == 2
    assert any("「办件状态」未知的办件状态“飞走了”" in r for r in invalid)
    assert any("「申请人手机号」“12345”不是有效的 11 位手机号" in r for r in invalid)
    assert "未知的事项编码“NOPE”" in reasons["matter_unknown_item"]
    assert "不属于部门" in reasons["matter_wrong_department"]
    assert "未知的大厅编码“H9”" in reasons["matter_unknown_hall"]
    assert reasons["matter_closed"] == "办件 BJ-1（审查）：办件已已领取，不能再变为“审查中”"
    assert "不能邮寄" in reasons["matter_item_not_postable"]


def test_events_lead_back_to_the_ingest_record(push):
    post, apply = push
    result = post(
        [
            rec("BJ-1", "受理", "2026-11-23 09:30:00", record_id="R-1"),
            rec(
                "BJ-1",
                "补正",
                "2026-11-24 10:00:00",
                record_id="R-2",
                correction_materials="户口簿、结婚证",
                note="请补交户口簿",
            ),
        ]
    )
    apply()
    steps = events("BJ-1")
    with unit_of_work(readonly=True) as s:
        for _f, _t, detail, _at in steps:
            record = s.get(IngestedRecord, detail["ingest_record"])
            assert record is not None and record.run_id == result["run_id"]
            assert detail["ingest_source"] == "approval-d1"
            assert record.event_id == {S.ACCEPTED: "R-1", S.CORRECTION: "R-2"}[S(_t)]
        taken = s.scalars(select(MatterIngestRecord).order_by(MatterIngestRecord.id)).all()
        assert [(t.outcome, t.matter_id) for t in taken] == [
            ("opened", matter("BJ-1").id),
            ("moved", matter("BJ-1").id),
        ]
        run = s.get(IngestRun, result["run_id"])
        assert run is not None and run.stored == 2
    assert steps[1][2]["materials"] == ["户口簿", "结婚证"]
    assert matter("BJ-1").clock_stopped_at == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def test_late_doubled_and_out_of_order_records(push):
    post, apply = push
    # two records of one matter in one batch, the later state listed first
    post(
        [
            rec("BJ-1", "准予许可", "2026-11-25 15:00:00"),
            rec("BJ-1", "审查", "2026-11-24 10:00:00"),
        ]
    )
    report = apply()
    assert report.outcomes == {"opened": 1, "moved": 1}
    steps = events("BJ-1")
    assert [t for _, t, _, _ in steps] == [S.ACCEPTED, S.REVIEWING, S.GRANTED]
    assert not any(d.get("implied") for _, _, d, _ in steps)  # each step was reported
    # a late record of an older state: history, changes nothing
    before = snapshot()
    post([rec("BJ-1", "补正", "2026-11-24 15:00:00")])
    assert apply().outcomes == {"stale": 1}
    assert snapshot() == before and matter("BJ-1").state == S.GRANTED
    # a newer record skips 制证 and the wait: 准予 → 制证 → 待领取 → 已领取
    post([rec("BJ-1", "已领取", "2026-11-30 11:00:00")])
    assert apply().outcomes == {"moved": 1}
    done = matter("BJ-1")
    assert done.state == S.PICKED_UP and done.visits == 1
    assert done.closed_at == datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    assert done.certified_at == datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    assert [t for _, t, _, _ in events("BJ-1")][-3:] == [
        S.CERTIFYING,
        S.AWAITING_PICKUP,
        S.PICKED_UP,
    ]


def test_a_skipped_decision_must_be_named(push):
    post, apply = push
    post([rec("BJ-1", "审查", "2026-11-24 10:00:00"), rec("BJ-2", "审查", "2026-11-24 10:00:00")])
    apply()
    post(
        [
            rec("BJ-1", "待领取", "2026-11-26 10:00:00"),  # granted or refused?
            rec("BJ-2", "待领取", "2026-11-26 10:00:00", result="不予", note="材料不符合要求"),
        ]
    )
    report = apply()
    assert report.outcomes == {"moved": 1, "rejected": 1}
    assert matter("BJ-1").state == S.REVIEWING
    with unit_of_work(readonly=True) as s:
        dead = s.scalar(select(DeadLetter))
        assert dead is not None and dead.reason_code == "matter_decision_unknown"
    assert [t for _, t, _, _ in events("BJ-2")][-2:] == [S.REFUSED, S.AWAITING_PICKUP]


def test_a_correction_stops_the_clock_until_review_resumes(push):
    post, apply = push
    post(
        [
            rec("BJ-1", "受理", "2026-11-23 09:30:00"),
            rec("BJ-1", "补正", "2026-11-24 10:00:00"),
            rec("BJ-1", "审查", "2026-11-27 10:00:00"),  # documents in on Friday
        ]
    )
    apply()
    m = matter("BJ-1")
    # Tue, Wed, Thu stood still: 5 working days from Mon 23 Nov end on Mon 30 Nov, + 3
    assert m.paused_workdays == 3 and m.clock_stopped_at is None
    assert m.promised_due_at == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)


def test_a_replayed_dead_letter_is_applied_once_the_cause_is_fixed(push):
    post, apply = push
    post([rec("BJ-1", "受理", "2026-11-23 09:30:00", item_code="NEW01")])
    report = apply()
    assert report.outcomes == {"rejected": 1}
    with unit_of_work() as s:
        dept = s.scalar(select(ServiceItem.department_id).where(ServiceItem.code == "SB01"))
        s.add(
            ServiceItem(
                code="NEW01",
                name="新事项",
                department_id=dept,
                ticket_prefix="N",
                promised_minutes=10,
            )
        )
        replay = ingest_service.replay_dead_letters(session=s, ids=report.dead_letters)
    assert replay.replayed == report.dead_letters
    again = apply()
    assert again.retried == 1 and again.outcomes == {"opened": 1}
    assert matter("BJ-1").state == S.ACCEPTED
    assert apply().taken == 0


def test_the_command_applies_everything_pending(push):
    post, _apply = push
    post(BATCH)
    result = CliRunner().invoke(matter_ingest_app, ["apply", "--json"])
    assert result.exit_code == 0, result.output
    assert '"opened": 3' in result.output and '"moved": 1' in result.output
    assert matter("BJ-3").state == S.GRANTED


@pytest.mark.parametrize(
    ("start", "target", "decision", "steps"),
    [
        (S.ACCEPTED, S.GRANTED, S.GRANTED, [S.REVIEWING, S.GRANTED]),
        (S.ACCEPTED, S.CERTIFYING, None, [S.REVIEWING, S.GRANTED, S.CERTIFYING]),
        (S.CORRECTION, S.REFUSED, S.REFUSED, [S.REVIEWING, S.REFUSED]),
        (S.GRANTED, S.DELIVERED, None, [S.CERTIFYING, S.POSTED, S.DELIVERED]),
        (S.REVIEWING, S.RETURNED, None, [S.RETURNED]),
        (S.POSTED, S.AWAITING_PICKUP, None, [S.AWAITING_PICKUP]),
    ],
)
def test_the_walk_through_the_machine(start, target, decision, steps):
    assert plan(start, target, decision) == steps


@pytest.mark.parametrize(
    ("start", "target", "decision", "code"),
    [
        (S.PICKED_UP, S.REVIEWING, None, "matter_closed"),
        (S.GRANTED, S.REVIEWING, None, "matter_bad_transition"),
        (S.GRANTED, S.RETURNED, None, "matter_bad_transition"),
        (S.REVIEWING, S.AWAITING_PICKUP, None, "matter_decision_unknown"),
        (S.REFUSED, S.CERTIFYING, None, "matter_bad_transition"),
    ],
)
def test_impossible_walks_are_refused(start, target, decision, code):
    with pytest.raises(Refused) as exc:
        plan(start, target, decision)
    assert exc.value.code == code


def test_another_source_cannot_move_a_matter_it_did_not_open(push):
    post, apply = push
    post([rec("BJ-1", "受理", "2026-11-23 09:30:00")])
    apply()
    with unit_of_work() as s:
        other = pipeline.create_source(
            session=s,
            key="approval-x",
            name="另一审批系统",
            kind="http",
            schema_name="matter_record",
        )
        ingest_service.load_batch(
            session=s, source=other, records=[rec("BJ-1", "审查", "2026-11-24 10:00:00")]
        )
    before = snapshot()
    assert apply().outcomes == {"rejected": 1}
    assert snapshot() == before and matter("BJ-1").state == S.ACCEPTED
    with unit_of_work(readonly=True) as s:
        dead = s.scalar(select(DeadLetter))
        assert dead is not None and dead.reason_code == "matter_other_source"
        assert dead.source_key == "approval-x"


def test_a_later_record_carries_the_choice_of_post(push):
    post, apply = push
    post(
        [
            rec("BJ-1", "受理", "2026-11-23 09:30:00"),
            rec(
                "BJ-1",
                "制证",
                "2026-11-26 10:00:00",
                result="准予",
                delivery_method="快递",
                delivery_address="北京市东城区测试街道1号",
            ),
        ]
    )
    apply()
    m = matter("BJ-1")
    assert m.state == S.CERTIFYING and m.delivery_method == "post"
    assert m.delivery_address == "北京市东城区测试街道1号" and m.delivery_phone == "13800138000"
    chosen = [d for f, t, d, _ in events("BJ-1") if t is None]
    assert len(chosen) == 1 and chosen[0]["method"] == "post" and "ingest_record" in chosen[0]


def test_the_timed_duty_applies_what_was_pushed(push):
    post, _apply = push
    post(BATCH)
    ingest_consumer.run_duty()
    assert matter("BJ-3").state == S.GRANTED
    assert ingest_consumer.JOB.interval_s() == ingest_consumer.APPLY_EVERY_S


def test_the_duty_looks_above_the_settled_records_only(push):
    post, _apply = push
    post([rec("BJ-1", "受理", "2026-11-23 09:30:00"), rec("BJ-2", "受理", "2026-11-23 09:30:00")])
    with unit_of_work() as s:
        _first, second = s.scalars(select(IngestedRecord).order_by(IngestedRecord.id)).all()
        # the second was taken over an hour ago; the first (a lower id) is still pending,
        # as if stored by a transaction that stayed open that long
        s.add(
            MatterIngestRecord(
                record_id=second.id,
                source_id=second.source_id,
                external_ref="BJ-2",
                outcome="same",
                state="accepted",
                state_at=NOW,
                applied_at=datetime(2026, 11, 30, tzinfo=UTC),
            )
        )
    with unit_of_work() as s:
        assert ingest_consumer.apply_pending(session=s, everything=False).taken == 0
    with unit_of_work() as s:  # the command looks at every record
        assert ingest_consumer.apply_pending(session=s).outcomes == {"opened": 1}
    assert matter("BJ-1").state == S.ACCEPTED


def test_a_stored_record_the_schema_no_longer_reads_is_a_dead_letter(push):
    post, apply = push
    post([rec("BJ-1", "受理", "2026-11-23 09:30:00")])
    with unit_of_work() as s:
        record = s.scalars(select(IngestedRecord)).one()
        # stored under an older declaration (a state word since withdrawn)
        record.payload = {**record.payload, "state": "挂起"}
    report = apply()
    assert report.outcomes == {"rejected": 1} and count(Matter) == 0
    with unit_of_work(readonly=True) as s:
        dead = s.scalars(select(DeadLetter)).one()
        assert dead.reason_code == "invalid" and "挂起" in dead.reason
        assert dead.run_id == record.run_id
    assert apply().taken == 0


def test_a_refused_record_of_a_known_matter_keeps_the_link(push):
    post, apply = push
    post(
        [
            rec("BJ-1", "准予", "2026-11-25 15:00:00"),
            rec("BJ-1", "退回", "2026-11-26 15:00:00", note="申请人撤回"),
        ]
    )
    report = apply()
    assert report.outcomes == {"opened": 1, "rejected": 1}
    with unit_of_work(readonly=True) as s:
        refused = s.scalars(
            select(MatterIngestRecord).where(MatterIngestRecord.outcome == "rejected")
        ).one()
        assert refused.matter_id == matter("BJ-1").id and refused.state == S.RETURNED
        dead = s.get(DeadLetter, refused.dead_letter_id)
        assert dead is not None and dead.reason_code == "matter_bad_transition"
        assert "不能变为“已退回申请”" in dead.reason


def test_the_acceptance_arriving_after_a_later_state(push):
    post, apply = push
    # the system sent 审查 first (it opens the matter, 受理 from its 受理时间) …
    post([rec("BJ-1", "审查", "2026-11-24 10:00:00")])
    assert apply().outcomes == {"opened": 1}
    before = snapshot()
    # … and its 受理 record a batch later: history, nothing changes
    post([rec("BJ-1", "受理", "2026-11-23 09:30:00")])
    assert apply().outcomes == {"stale": 1}
    assert snapshot() == before
    assert [t for _, t, _, _ in events("BJ-1")] == [S.ACCEPTED, S.REVIEWING]
    with unit_of_work(readonly=True) as s:
        stale = s.scalars(
            select(MatterIngestRecord).where(MatterIngestRecord.outcome == "stale")
        ).one()
        assert stale.matter_id == matter("BJ-1").id and stale.dead_letter_id is None
