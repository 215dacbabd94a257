"""Ingestion benchmark: ``govloop bench ingest [--quick] [--json]``.

* ``csv_rows_per_s`` — a generated CSV of person records (Chinese headers, mapped by the
  source) through the whole pipeline (decode, validate, normalize, deduplicate, store with
  lineage) into a fresh SQLite database (PostgreSQL with ``--backend postgresql``). The
  baseline in the same run is the plain ``csv`` module reading the same file plus bare
  ``executemany`` of the same rows into a table of the same database: the ceiling of any
  Python loader on this machine.
* ``replay_duplicates`` — the same file loaded again: records stored twice (must be 0).
* ``http_events_per_s`` — hall events posted in batches to ``/api/ingest/{key}/batch`` of a
  real uvicorn server on loopback, with every posted event checked to be stored once.
* MQTT figures come from ``govloop.bench.ingest.mqtt`` when it is installed; otherwise the
  report says ``"mqtt": "not available"``.
"""

from __future__ import annotations

import asyncio
import csv
import importlib
import json
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import typer
from sqlalchemy import func, make_url, select
from sqlalchemy.orm import Session

from govloop.bench.hall import BenchConfig, bench_database, running_server
from govloop.demo.ingest import PERSON_MAPPING, person_rows
from govloop.ingest import service
from govloop.ingest.models import IngestedRecord
from govloop.ingest.pipeline import create_source, issue_api_key

GOALS = {"csv_rows_per_s": 50_000, "http_events_per_s": 5_000, "mqtt_msgs_per_s": 1_000}


def write_person_csv(path: Path, rows: int, seed: int = 1) -> None:
    columns = list(PERSON_MAPPING)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in person_rows(seed=seed, count=rows, bad_share=0.0):
            writer.writerow([row.get(c, "") for c in columns])


_BASELINE_TABLE = (
    "CREATE TABLE bench_baseline (record_id TEXT, name TEXT, id_number TEXT, "
    "birth_date TEXT, sex TEXT, phone TEXT, address TEXT, updated_at TEXT)"
)


def _baseline(db_url: str, csv_path: Path) -> float:
    """Rows per second of csv.reader + bare executemany of 5,000-row batches into a plain
    table of the same database."""
    if db_url.startswith("sqlite"):
        return _baseline_sqlite(Path(db_url.split("///", 1)[1]), csv_path)
    return _baseline_postgresql(db_url, csv_path)


def _read_batches(csv_path: Path) -> Iterator[list[list[str]]]:
    with csv_path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        while batch := list(islice(reader, 5000)):
            yield batch


def _baseline_postgresql(db_url: str, csv_path: Path) -> float:
    import psycopg

    conninfo = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as con:
        con.execute(_BASELINE_TABLE)
        con.commit()
        started = time.perf_counter()
        count = 0
        with con.cursor() as cur:
            for batch in _read_batches(csv_path):
                cur.executemany(
                    "INSERT INTO bench_baseline VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", batch
                )
                count += len(batch)
        con.commit()
        return count / (time.perf_counter() - started)


def _baseline_sqlite(db_path: Path, csv_path: Path) -> float:
    con = sqlite3.connect(db_path)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute(_BASELINE_TABLE)
        started = time.perf_counter()
        with csv_path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            next(reader)
            count = 0
            with con:
                batch: list[list[str]] = []
                for cells in reader:
                    batch.append(cells)
                    if len(batch) == 5000:
                        con.executemany(
                            "INSERT INTO bench_baseline VALUES (?,?,?,?,?,?,?,?)", batch
                        )
                        count += len(batch)
                        batch = []
                if batch:
                    con.executemany("INSERT INTO bench_baseline VALUES (?,?,?,?,?,?,?,?)", batch)
                    count += len(batch)
        return count / (time.perf_counter() - started)
    finally:
        con.close()


def _hall_events(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    kinds = ["issued", "called", "started", "finished"]
    events = []
    for i in range(count):
        ticket = i // 4
        events.append(
            {
                "event_id": f"bench-{seed}-{i}",
                "hall_code": "H1",
                "ticket_code": f"A{ticket % 1000:03d}",
                "item_code": rng.choice(["GJJ01", "SB02", "HJ03", "QY04"]),
                "kind": kinds[i % 4],
                "occurred_at": (start + timedelta(seconds=i)).isoformat(),
                "window_number": rng.randint(1, 20),
            }
        )
    return events


async def _post_batches(
    base: str, key: str, batches: list[list[dict[str, Any]]], clients: int
) -> tuple[float, int, int]:
    """(seconds, stored reported by the server, failed requests)."""
    stored = 0
    failures = 0
    queue = list(reversed(batches))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal stored, failures
        while queue:
            batch = queue.pop()
            response = await client.post(
                "/api/ingest/bench-http/batch",
                content=json.dumps({"records": batch}),
                headers={"X-Source-Key": key, "Content-Type": "application/json"},
            )
            if response.status_code == 200:
                stored += int(response.json()["stored"])
            else:
                failures += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        return time.perf_counter() - started, stored, failures


def _mqtt(quick: bool) -> dict[str, Any]:
    try:
        module = importlib.import_module("govloop.bench.ingest.mqtt")
    except ImportError:
        return {"mqtt": "not available"}
    figures = module.bench_mqtt(quick=quick)
    return dict(figures)


def run_bench(
    *,
    rows: int = 200_000,
    http_events: int = 40_000,
    batch: int = 1000,
    clients: int = 4,
    quick: bool = False,
    seed: int = 1,
    backend: str = "sqlite",
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="govloop-bench-ingest-"))
    csv_path = folder / "persons.csv"
    result: dict[str, Any] = {
        "backend": backend,
        "rows": rows,
        "http_events": http_events,
        "http_batch": batch,
    }
    try:
        write_person_csv(csv_path, rows, seed)
        with bench_database(BenchConfig(backend=backend)) as db:
            with Session(db.engine, expire_on_commit=False) as s, s.begin():
                source = create_source(
                    session=s,
                    key="bench-csv",
                    name="基准：民政局人口记录",
                    kind="file",
                    schema_name="person_record",
                    mapping=PERSON_MAPPING,
                )
                http_source = create_source(
                    session=s,
                    key="bench-http",
                    name="基准：推送",
                    kind="http",
                    schema_name="hall_event",
                )
                api_key = issue_api_key(session=s, source=http_source)
            # the whole pipeline, committed, as the CLI does it
            started = time.perf_counter()
            with Session(db.engine, expire_on_commit=False) as s, s.begin():
                src = s.merge(source)
                first = service.load_file(session=s, source=src, path=csv_path)
            csv_s = time.perf_counter() - started
            # the same file again: everything must be a duplicate
            with Session(db.engine, expire_on_commit=False) as s, s.begin():
                src = s.merge(source)
                second = service.load_file(session=s, source=src, path=csv_path)
            with Session(db.engine) as s:
                total = (
                    s.scalar(select(func.count()).where(IngestedRecord.source_id == source.id)) or 0
                )
                distinct = (
                    s.scalar(
                        select(func.count(func.distinct(IngestedRecord.event_id))).where(
                            IngestedRecord.source_id == source.id
                        )
                    )
                    or 0
                )
            baseline = _baseline(db.url, csv_path)
            result.update(
                csv_rows_per_s=round(rows / csv_s, 1),
                csv_stored=first.counts.stored,
                csv_rejected=first.counts.rejected,
                baseline_csv_executemany_rows_per_s=round(baseline, 1),
                csv_vs_baseline=round((rows / csv_s) / baseline, 3),
                replay_stored_again=second.counts.stored,
                replay_reported_duplicates=second.counts.duplicates,
                replay_duplicates=second.counts.stored + (total - distinct),
            )
            events = _hall_events(http_events, seed)
            batches = [events[i : i + batch] for i in range(0, len(events), batch)]
            log = folder / "server.log"
            with running_server(db.url, 1, log) as (base, _pid):
                http_s, _reported, failures = asyncio.run(
                    _post_batches(base, api_key, batches, clients)
                )
            with Session(db.engine) as s:
                in_db = (
                    s.scalar(select(func.count()).where(IngestedRecord.source_id == http_source.id))
                    or 0
                )
            result.update(
                http_events_per_s=round(http_events / http_s, 1),
                http_failed_requests=failures,
                http_stored=in_db,
                http_lost=http_events - in_db,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.update(_mqtt(quick))
    goals: dict[str, bool] = {
        "csv_rows_per_s": result["csv_rows_per_s"] >= GOALS["csv_rows_per_s"],
        "http_events_per_s": result["http_events_per_s"] >= GOALS["http_events_per_s"],
        "replay_duplicates": result["replay_duplicates"] == 0,
    }
    if "mqtt_msgs_per_s" in result:
        goals["mqtt_msgs_per_s"] = result["mqtt_msgs_per_s"] >= GOALS["mqtt_msgs_per_s"]
    if "mqtt_lost" in result:
        goals["mqtt_lost"] = result["mqtt_lost"] == 0
    result["goals_met"] = goals
    return result


def bench_ingest(
    quick: bool = typer.Option(False, "--quick", help="Small sizes (for tests)"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
    rows: int = typer.Option(200_000, "--rows", help="CSV rows"),
    backend: str = typer.Option("sqlite", "--backend", help="sqlite or postgresql"),
) -> None:
    """CSV rows/s into SQLite or PostgreSQL (with a plain csv+executemany baseline in the
    same database), HTTP batch events/s through a real server, replay duplicates, and MQTT
    figures when available."""
    result = run_bench(
        rows=2_000 if quick else rows,
        http_events=1_000 if quick else 40_000,
        batch=500 if quick else 1000,
        quick=quick,
        backend=backend,
    )
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("figure", "value")
    for key, value in result.items():
        table.add_row(
            key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)
        )
    Console().print(table)
