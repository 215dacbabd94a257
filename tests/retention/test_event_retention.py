"""Retention of hall and hotline events: old rows move to Parquet archives, the figures stay
the same, rows not yet in the analytics store wait — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from govloop.analytics.models import ExportWatermark
from govloop.cli import app as cli
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import RuleViolation
from govloop.core.parquet_archive import sha256_of
from govloop.hall.models import HallEvent
from govloop.hotline.models import WorkOrderEvent
from govloop.indicators import results, service
from govloop.retention import service as retention
from govloop.retention.models import EventArchive
from tests.hotline.factories import build_world, new_order
from tests.indicators.scenario import HALL_MONDAY, MONDAY_0900, build_monday
from tests.indicators.test_engine import check
from tests.indicators.test_service import serve_one

LATER = MONDAY_0900 + timedelta(days=410)  # the Monday is 410 days old
RANGE = "2026-11-20..2026-11-24"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(path))
    return path


@pytest.fixture
def monday(db, data_dir):
    day = build_monday()
    with frozen(MONDAY_0900 + timedelta(hours=9)), unit_of_work() as s:
        new_order(s, build_world(s))
    with frozen(MONDAY_0900 + timedelta(days=1)), unit_of_work() as s:
        service.refresh(session=s)
    return day


def _count(model) -> int:
    with unit_of_work(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _run(**kwargs) -> retention.RetentionResult:
    with frozen(LATER), unit_of_work() as s:
        return retention.run(session=s, audit_days=None, **{"days": 400, **kwargs})


def _hall_figures() -> dict:
    with unit_of_work() as s:
        out = results.scores(session=s, hall_code="H1", object_kind="hall", period_text=RANGE)
        return {i.code: i.value for i in out.objects[0].indicators}


def test_old_events_move_to_parquet_and_the_figures_stay(monday, data_dir):
    hall_rows, order_rows = _count(HallEvent), _count(WorkOrderEvent)
    assert hall_rows > 20 and order_rows >= 1
    before = _hall_figures()
    check(before, HALL_MONDAY)

    result = _run(data_dir=data_dir)

    assert result.sources["hall_events"].rows == hall_rows
    assert result.sources["work_order_events"].rows == order_rows
    assert _count(HallEvent) == 0 and _count(WorkOrderEvent) == 0
    # every archived row is in a file the manifest lists, with its checksum
    with unit_of_work(readonly=True) as s:
        archives = list(s.scalars(select(EventArchive).order_by(EventArchive.id)))
        marks = {m.source: m for m in s.scalars(select(ExportWatermark))}
    assert sum(a.rows for a in archives if a.source == "hall_events") == hall_rows
    for archive in archives:
        path = data_dir / archive.path
        assert sha256_of(path) == archive.sha256
        assert pq.read_metadata(path).num_rows == archive.rows
        assert archive.month == "2026-11"
    assert marks["hall_events"].archived_through == marks["hall_events"].last_id
    # what the rows said is all there: kinds, times, the JSON detail as text
    hall_files = [data_dir / a.path for a in archives if a.source == "hall_events"]
    table = pq.read_table(hall_files[0])
    assert {"id", "kind", "at", "ticket_id", "detail"} <= set(table.column_names)
    assert "ticket.issued" in table.column("kind").to_pylist()
    json.loads(table.column("detail").to_pylist()[0])
    # the figures are computed from the analytics store, which holds every event
    check(_hall_figures(), before)
    with frozen(LATER), unit_of_work() as s:
        service.refresh(session=s)
    check(_hall_figures(), HALL_MONDAY)


def test_rows_not_yet_exported_wait_and_a_second_run_does_nothing(monday, data_dir):
    serve_one(monday.world, MONDAY_0900 + timedelta(days=2, hours=1))  # after the refresh
    with unit_of_work(readonly=True) as s:
        mark = s.get(ExportWatermark, "hall_events")
        waiting = (
            s.scalar(select(func.count()).select_from(HallEvent).where(HallEvent.id > mark.last_id))
            or 0
        )
    assert waiting > 0

    first = _run(data_dir=data_dir)
    assert first.sources["hall_events"].waiting_for_export == waiting
    assert _count(HallEvent) == waiting  # only the exported rows left

    second = _run(data_dir=data_dir)
    assert second.sources["hall_events"].rows == 0
    assert second.sources["work_order_events"].rows == 0
    with unit_of_work(readonly=True) as s:
        files = s.scalar(select(func.count()).select_from(EventArchive))
    assert files == len(first.sources["hall_events"].files) + len(
        first.sources["work_order_events"].files
    )


def test_nothing_younger_than_the_age_leaves(monday, data_dir):
    with frozen(MONDAY_0900 + timedelta(days=30)), unit_of_work() as s:
        result = retention.run(session=s, days=400, audit_days=None, data_dir=data_dir)
    assert result.sources["hall_events"].rows == 0
    assert _count(HallEvent) > 0
    assert not (data_dir / "archive").exists()


def test_a_dry_run_counts_and_changes_nothing(monday, data_dir):
    rows = _count(HallEvent)
    result = _run(data_dir=data_dir, dry_run=True)
    assert result.sources["hall_events"].rows == rows
    assert _count(HallEvent) == rows
    assert not (data_dir / "archive").exists()
    assert _count(EventArchive) == 0


def test_the_store_is_not_rebuilt_from_a_database_missing_archived_rows(monday, data_dir):
    _run(data_dir=data_dir)
    (data_dir / "store.json").unlink()  # the store lost: a rebuild would miss the archived rows
    with pytest.raises(RuleViolation) as refused, frozen(LATER), unit_of_work() as s:
        service.refresh(session=s)
    assert refused.value.code == "store_needs_restore"
    assert "govloop restore" in refused.value.message


def test_the_cli_runs_retention_and_shows_the_tables(monday, data_dir, monkeypatch):
    runner = CliRunner()
    rows = _count(HallEvent)
    with frozen(LATER):
        dry = runner.invoke(cli, ["retention", "run", "--days", "400", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["sources"]["hall_events"]["rows"] == rows
    assert _count(HallEvent) == rows

    with frozen(LATER):
        done = runner.invoke(cli, ["retention", "run", "--days", "400"])
    assert done.exit_code == 0, done.output
    assert f"大厅事件：已归档 {rows} 行" in done.output
    shown = runner.invoke(cli, ["retention", "status"])
    assert shown.exit_code == 0, shown.output
    assert "大厅事件" in shown.output and "访问审计日志" in shown.output

    bad = runner.invoke(cli, ["retention", "run", "--days", "0"])
    assert bad.exit_code == 2
