"""Monthly partitions of the event tables on PostgreSQL: created ahead by the duty, rows of a
month that landed in the default partition moved into theirs, emptied months dropped."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text

from govloop.core import partitions
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hall.models import HallEvent
from govloop.org.models import Hall
from govloop.retention import service as retention
from tests.factories import make_hall

# the tests that need partitions run on PostgreSQL only (SQLite keeps plain tables)
postgresql_only = pytest.mark.parametrize("engine", ["postgresql"], indirect=True)


def _partition_of(event_id: int) -> str:
    with unit_of_work(readonly=True) as s:
        return s.execute(
            text("SELECT tableoid::regclass::text FROM hall_events WHERE id = :id"),
            {"id": event_id},
        ).scalar_one()


def _event(at: datetime) -> int:
    with unit_of_work() as s:
        hall_id = s.scalar(select(Hall.id)) or make_hall(s).hall.id
        event = HallEvent(hall_id=hall_id, kind="window.signed_in", at=at, detail={})
        s.add(event)
        s.flush()
        return event.id


def test_every_event_table_is_partitioned_with_months_ahead_on_postgresql(db, backend):
    with db.connect() as conn:
        for table in partitions.PARTITIONED_TABLES:
            assert partitions.is_partitioned(conn, table) == (backend == "postgresql")
            if backend != "postgresql":
                continue
            months = partitions.months(conn, table)
            this = partitions.Month.of(datetime.now(UTC))
            assert this in months and len(months) >= 1 + partitions.MONTHS_AHEAD


@postgresql_only
def test_a_new_month_takes_its_rows_out_of_the_default_partition(db):
    stray = _event(datetime(2023, 5, 10, 3, 0, tzinfo=UTC))
    assert _partition_of(stray).endswith("hall_events_default")
    with unit_of_work() as s:
        created = retention.ensure_partitions(s, date(2023, 5, 2))
    assert "hall_events_p202305" in created and "access_audit_log_p202305" in created
    assert _partition_of(stray).endswith("hall_events_p202305")
    # the duty run again creates nothing new
    with unit_of_work() as s:
        assert retention.ensure_partitions(s, date(2023, 5, 2)) == []


@postgresql_only
def test_retention_drops_the_months_it_emptied(db, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(tmp_path))
    with unit_of_work() as s:
        retention.ensure_partitions(s, date(2024, 1, 15))
    old = _event(datetime(2024, 1, 20, 3, 0, tzinfo=UTC))
    with unit_of_work() as s:  # as if exported to the analytics store
        s.execute(
            text(
                "INSERT INTO indicator_watermarks (source, last_id, store_token, updated_at, "
                "archived_through) VALUES ('hall_events', :id, 'x', now(), 0)"
            ),
            {"id": old},
        )
    with frozen(datetime(2025, 6, 1, tzinfo=UTC)), unit_of_work() as s:
        result = retention.run(session=s, days=400, audit_days=None, data_dir=tmp_path)
    assert result.sources["hall_events"].rows == 1
    assert "hall_events_p202401" in result.partitions_dropped
    # the cutoff is 2024-04-27: March went whole and empty, April reaches past it
    assert "hall_events_p202403" in result.partitions_dropped
    assert "hall_events_p202404" not in result.partitions_dropped
    with db.connect() as conn:
        assert partitions.Month(2024, 1) not in partitions.months(conn, "hall_events")
    with unit_of_work(readonly=True) as s:
        old_rows = select(func.count()).where(HallEvent.at < datetime(2024, 12, 1, tzinfo=UTC))
        assert s.scalar(old_rows) == 0
