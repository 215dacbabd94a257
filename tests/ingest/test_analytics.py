"""The Parquet export is incremental (a watermark; exporting again adds nothing) and DuckDB
counts per schema and day match the database."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from govloop.analytics import records as analytics
from govloop.core.clock import to_local
from govloop.core.db import unit_of_work
from govloop.ingest import pipeline
from govloop.ingest.models import IngestedRecord, Source
from govloop.ingest.pipeline import RawRow


def _events(start: int, count: int) -> list[RawRow]:
    return [
        RawRow(
            {
                "event_id": f"E{i}",
                "hall_code": "H1",
                "ticket_code": f"A{i}",
                "item_code": "GJJ01",
                "kind": "issued",
                # across a month boundary, in Beijing time
                "occurred_at": f"2026-{10 + i % 2}-{'31' if i % 2 == 0 else '01'}T23:30:00+08:00",
            },
            i,
        )
        for i in range(start, start + count)
    ]


def _load(rows: list[RawRow], schema: str = "hall_event", key: str = "hall") -> None:
    with unit_of_work() as s:
        source = s.scalar(select(Source).where(Source.key == key))
        if source is None:
            source = pipeline.create_source(
                session=s, key=key, name=key, kind="http", schema_name=schema
            )
        run = pipeline.start_run(session=s, source=source, channel="http")
        pipeline.ingest_rows(session=s, source=source, run=run, rows=rows)


def _db_counts() -> list[tuple[str, str, int]]:
    with unit_of_work(readonly=True) as s:
        counts = Counter(
            (r.schema_name, to_local(r.occurred_at or r.stored_at).date().isoformat())
            for r in s.scalars(select(IngestedRecord))
        )
    return sorted((schema, day, n) for (schema, day), n in counts.items())


def test_incremental_export_and_duckdb_counts(db, tmp_path):
    _load(_events(0, 10))
    _load([RawRow({"record_id": "P1", "name": "张伟"}, 2)], schema="person_record", key="civil")
    with unit_of_work(readonly=True) as s:
        first = analytics.export_records(session=s, root=tmp_path)
    assert first.exported == 11
    assert any("schema_name=hall_event/month=2026-10" in f for f in first.files)
    assert any("schema_name=hall_event/month=2026-11" in f for f in first.files)
    assert analytics.counts_per_schema_day(tmp_path) == _db_counts()
    with unit_of_work(readonly=True) as s:
        again = analytics.export_records(session=s, root=tmp_path)
    assert (again.exported, again.files) == (0, [])
    assert analytics.read_watermark(tmp_path) == first.watermark
    _load(_events(10, 4))
    with unit_of_work(readonly=True) as s:
        more = analytics.export_records(session=s, root=tmp_path)
    assert more.exported == 4
    counts = analytics.counts_per_schema_day(tmp_path)
    assert counts == _db_counts()
    assert sum(n for _, _, n in counts) == 15


def test_empty_store(db, tmp_path):
    assert analytics.counts_per_schema_day(tmp_path) == []
    with unit_of_work(readonly=True) as s:
        assert analytics.export_records(session=s, root=tmp_path).exported == 0
