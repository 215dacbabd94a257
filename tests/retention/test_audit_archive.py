"""Archiving the access log: whole signed segments leave the database, `audit verify` still
walks the whole chain and tells a missing or altered archive — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from govloop.audit import archive
from govloop.audit.models import AuditArchive, AuditEntry
from govloop.cli import app
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import RuleViolation
from tests.access.audit_support import fill, kinds, verify

T0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=401)


@pytest.fixture(autouse=True)
def audit_key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "audit-keys"
    monkeypatch.setenv("GOVLOOP_AUDIT_KEY_DIR", str(folder))
    monkeypatch.delenv("GOVLOOP_AUDIT_ANCHOR_DIR", raising=False)
    return folder


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(path))
    return path


@pytest.fixture
def old_log(db, data_dir):
    """95 entries a year old (checkpoints every 10), then 7 recent ones."""
    with frozen(T0):
        fill(95, every=10)
    with frozen(LATER - timedelta(days=1)):
        fill(7, every=10)


def _archive(data_dir: Path, **kwargs) -> archive.AuditArchiveResult:
    with frozen(LATER), unit_of_work() as s:
        return archive.archive_before(
            session=s, cutoff=LATER - timedelta(days=400), data_dir=data_dir, **kwargs
        )


def _live() -> int:
    with unit_of_work(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_old_entries_leave_up_to_a_signed_checkpoint_and_the_chain_still_verifies(
    old_log, data_dir
):
    result = _archive(data_dir)
    assert (result.entries, result.through_seq) == (90, 90)  # 91–95 wait for a checkpoint
    assert _live() == 102 - 90
    report = verify()
    assert report.ok, report.problems
    assert (report.entries, report.archived_segments, report.last_seq) == (102, 1, 102)
    # run again: nothing more is old enough and signed
    assert _archive(data_dir).entries == 0


def test_a_dry_run_leaves_the_log_alone(old_log, data_dir):
    assert _archive(data_dir, dry_run=True).entries == 90
    assert _live() == 102
    assert not (data_dir / "archive").exists()


def test_a_missing_archive_file_is_reported_and_the_rest_still_verifies(old_log, data_dir):
    [name] = _archive(data_dir).files
    (data_dir / name).unlink()
    report = verify()
    assert kinds(report) == [("archive_missing", 1)]
    assert report.last_seq == 102


def test_an_altered_archive_shows_the_altered_entry(old_log, data_dir):
    [name] = _archive(data_dir).files
    path = data_dir / name
    table = pq.read_table(path)
    actors = table.column("actor").to_pylist()
    actors[41] = "李四"  # entry 42 now names someone else
    table = table.set_column(table.schema.get_field_index("actor"), "actor", pa.array(actors))
    pq.write_table(table, path)
    assert kinds(verify()) == [("archive_replaced", 1), ("modified", 42)]


def test_a_forged_archive_record_is_caught_by_the_signed_checkpoint(old_log, data_dir):
    [name] = _archive(data_dir).files
    (data_dir / name).unlink()
    with unit_of_work() as s:
        s.execute(update(AuditArchive).values(last_hash="f" * 64))
    found = kinds(verify())
    assert ("archive_missing", 1) in found and ("rewritten", 90) in found


def test_a_log_that_does_not_verify_is_not_archived(old_log, data_dir):
    with unit_of_work() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 12).values(actor="王五"))
    with pytest.raises(RuleViolation) as refused:
        _archive(data_dir)
    assert refused.value.code == "audit_not_verified"
    assert _live() == 102
    assert not (data_dir / "archive").exists()


def test_audit_verify_says_which_part_it_read_from_archives(old_log, data_dir):
    _archive(data_dir)
    shown = CliRunner().invoke(app, ["audit", "verify"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "访问日志完整：102 条" in shown.output and "其中 1 段已归档" in shown.output
