"""The vendor queue-export adapter: one ticket row → its hall events with stable ids, a row it
cannot map → one dead letter holding the vendor row, re-imports add nothing."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import select

from govloop.core.db import unit_of_work
from govloop.demo.ingest import VENDOR_COLUMNS
from govloop.ingest import pipeline, service
from govloop.ingest.adapters import VendorRowError, ticket_events
from govloop.ingest.models import DeadLetter, IngestedRecord

SERVED = {
    "流水号": "20261120-000001",
    "网点编码": "XH01",
    "票号": "A001",
    "业务类型编码": "GJJ01",
    "取号时间": "2026/11/20 09:00:05",
    "叫号时间": "2026-11-20 09:12:00",
    "开始办理时间": "2026-11-20 09:12:40",
    "结束时间": "2026-11-20 09:20:00",
    "窗口号": "3",
    "工号": "GH0007",
    "状态": "已办结",
}


def test_a_served_ticket_becomes_four_events_with_stable_ids():
    events = ticket_events(SERVED)
    assert [e["kind"] for e in events] == ["issued", "called", "started", "finished"]
    assert events[0]["event_id"] == "20261120-000001:ISSUED"
    assert events[0]["occurred_at"] == "2026-11-20T09:00:05"  # slashes read as dashes
    assert "window_number" not in events[0]  # issued at the kiosk, not at a window
    assert events[3]["window_number"] == "3" and events[3]["staff_code"] == "GH0007"
    assert ticket_events(SERVED) == events  # the same row always gives the same ids


def test_no_show_and_cancelled_tickets():
    no_show = {**SERVED, "状态": "过号", "开始办理时间": "", "结束时间": ""}
    assert [e["kind"] for e in ticket_events(no_show)] == ["issued", "called", "no_show"]
    assert ticket_events(no_show)[-1]["occurred_at"] == "2026-11-20T09:12:00"
    gone = {**SERVED, "状态": "弃号", "叫号时间": "", "开始办理时间": "", "结束时间": ""}
    assert [e["kind"] for e in ticket_events(gone)] == ["issued", "cancelled"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"状态": "挂起"}, "未知的状态"),
        ({"取号时间": "昨天上午"}, "取号时间 不是可识别的时间"),
        ({"流水号": ""}, "缺少必填列的值：流水号"),
        ({"结束时间": ""}, "没有结束时间"),
    ],
)
def test_rows_the_adapter_cannot_map(change, words):
    with pytest.raises(VendorRowError, match=words):
        ticket_events({**SERVED, **change})


def test_vendor_file_is_idempotent_and_bad_rows_are_dead_letters(db, tmp_path):
    path = tmp_path / "queue.csv"
    with path.open("w", newline="", encoding="gbk") as fh:
        writer = csv.DictWriter(fh, fieldnames=VENDOR_COLUMNS)
        writer.writeheader()
        writer.writerow(SERVED)
        writer.writerow({**SERVED, "流水号": "20261120-000002", "状态": "挂起"})
        writer.writerow({**SERVED, "流水号": "20261120-000003", "窗口号": "0"})  # window ≥ 1
    with unit_of_work() as s:
        source = pipeline.create_source(
            session=s, key="queue", name="原排队系统", kind="vendor", schema_name="hall_event"
        )
        first = service.load_file(session=s, source=source, path=path, vendor="queue_ticket_csv")
    # 4 events of row 2, the unmappable row 3, 4 events of row 4 of which 3 carry window 0
    assert (first.counts.rows_in, first.counts.stored, first.counts.rejected) == (9, 5, 4)
    with unit_of_work(readonly=True) as s:
        dead = {(d.row_number, d.reason_code) for d in s.scalars(select(DeadLetter))}
        assert (3, "vendor_row") in dead and (4, "invalid") in dead
        bad_row = s.scalar(select(DeadLetter).where(DeadLetter.reason_code == "vendor_row"))
        assert bad_row is not None and json.loads(bad_row.raw)["状态"] == "挂起"
        bad_id = bad_row.id
    with unit_of_work() as s:
        source = pipeline.get_source(session=s, key="queue")
        again = service.load_file(session=s, source=source, path=path, vendor="queue_ticket_csv")
    assert (again.counts.stored, again.counts.duplicates) == (0, 5)
    # the steward corrects the vendor row; replay runs it through the adapter again
    corrected = {**json.loads(bad_row.raw), "状态": "过号", "开始办理时间": "", "结束时间": ""}
    with unit_of_work() as s:
        result = service.replay_dead_letters(session=s, ids=[bad_id], corrected=corrected)
    assert result.replayed == [bad_id]
    with unit_of_work(readonly=True) as s:
        ids = set(s.scalars(select(IngestedRecord.event_id)))
    assert {"20261120-000002:ISSUED", "20261120-000002:NO_SHOW"} <= ids
