"""The ingest analytics store: stored records exported incrementally to partitioned Parquet,
queried with DuckDB.

Layout under the data directory (``GOVLOOP_DATA_DIR``, as for the indicators store)::

    ingest/watermark.json                     the last exported record id
    ingest/records/schema_name=S/month=YYYY-MM/part-<first id>.parquet

Each export appends one file per (schema, month) holding the records stored since the
watermark, named after the first record id it holds; the watermark moves in the same step,
so exporting again adds nothing. The month is the month (Beijing time) the record happened,
or was stored when it carries no time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import local_tz
from govloop.core.settings import analytics_settings
from govloop.ingest.models import IngestedRecord, Source

BATCH = 20_000

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("source_key", pa.string()),
        ("event_id", pa.string()),
        ("occurred_at", pa.timestamp("us", tz="UTC")),
        ("day", pa.date32()),  # local day of the record
        ("payload", pa.string()),  # JSON text
        ("run_id", pa.int64()),
        ("file_name", pa.string()),
        ("row_number", pa.int64()),
        ("stored_at", pa.timestamp("us", tz="UTC")),
    ]
)


def store_root(root: Path | None = None) -> Path:
    return (root or analytics_settings().data_dir) / "ingest"


def _watermark_path(root: Path) -> Path:
    return root / "watermark.json"


def read_watermark(root: Path | None = None) -> int:
    path = _watermark_path(store_root(root))
    if not path.exists():
        return 0
    return int(json.loads(path.read_text())["last_id"])


@dataclass
class ExportResult:
    exported: int
    files: list[str]
    watermark: int


def export_records(*, session: Session, root: Path | None = None) -> ExportResult:
    """Append records stored since the watermark to the Parquet store."""
    base = store_root(root)
    base.mkdir(parents=True, exist_ok=True)
    last = read_watermark(root)
    keys = {source_id: key for source_id, key in session.execute(select(Source.id, Source.key))}
    files: list[str] = []
    exported = 0
    tz = local_tz()
    while True:
        batch = list(
            session.scalars(
                select(IngestedRecord)
                .where(IngestedRecord.id > last)
                .order_by(IngestedRecord.id)
                .limit(BATCH)
            )
        )
        if not batch:
            break
        parts: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in batch:
            when: datetime = r.occurred_at or r.stored_at
            local = when.astimezone(tz)
            parts[(r.schema_name, local.strftime("%Y-%m"))].append(
                {
                    "id": r.id,
                    "source_key": keys.get(r.source_id, ""),
                    "event_id": r.event_id,
                    "occurred_at": r.occurred_at,
                    "day": local.date(),
                    "payload": json.dumps(r.payload, ensure_ascii=False),
                    "run_id": r.run_id,
                    "file_name": r.file_name,
                    "row_number": r.row_number,
                    "stored_at": r.stored_at,
                }
            )
        for (schema_name, month), rows in sorted(parts.items()):
            folder = base / "records" / f"schema_name={schema_name}" / f"month={month}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"part-{rows[0]['id']:012d}.parquet"
            tmp = path.with_suffix(".tmp")
            pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), tmp)
            tmp.replace(path)
            files.append(str(path.relative_to(base)))
        exported += len(batch)
        last = batch[-1].id
        # the watermark moves only after the batch's files are in place
        tmp_mark = _watermark_path(base).with_suffix(".tmp")
        tmp_mark.write_text(json.dumps({"last_id": last}))
        tmp_mark.replace(_watermark_path(base))
        session.expunge_all()
    return ExportResult(exported, files, last)


def _connect() -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads TO {analytics_settings().duckdb_threads}")
    con.execute(f"SET memory_limit = '{analytics_settings().duckdb_memory_limit}'")
    return con


def counts_per_schema_day(root: Path | None = None) -> list[tuple[str, str, int]]:
    """(schema, local day ISO, records) from the Parquet store, ordered."""
    folder = store_root(root) / "records"
    if not any(folder.glob("*/*/*.parquet")):
        return []
    con = _connect()
    try:
        rows = con.execute(
            "SELECT schema_name, CAST(day AS VARCHAR), COUNT(*) FROM read_parquet(?, "
            "hive_partitioning = true) GROUP BY 1, 2 ORDER BY 1, 2",
            [str(folder / "*" / "*" / "*.parquet")],
        ).fetchall()
    finally:
        con.close()
    return [(str(s), str(d), int(n)) for s, d, n in rows]
