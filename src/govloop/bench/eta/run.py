"""`govloop bench eta`: run scenarios on fresh databases and collect their figures."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from govloop.bench.eta.metrics import goals, score, utilisation
from govloop.bench.eta.scenario import Scenario, ScenarioError, load_scenario, shipped
from govloop.bench.eta.simulate import simulate
from govloop.core.clock import frozen, local_tz
from govloop.core.db import make_engine
from govloop.core.migrate import upgrade
from govloop.hall.waits import clear_stats_cache

Progress = Callable[[str], None]


class DatabaseError(ValueError):
    """A --database-url the bench cannot use; the message says why."""


def check_database_url(url: str | None) -> None:
    if url is None:
        return
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"not a database URL: {url!r}") from None
    if not parsed.drivername.startswith("postgresql"):
        raise DatabaseError(
            "--database-url takes a PostgreSQL URL (postgresql+psycopg://user@host/db); "
            "without it the bench uses a temporary SQLite file"
        )


@contextlib.contextmanager
def scenario_database(url: str | None) -> Iterator[Engine]:
    """A fresh migrated database: a temporary SQLite file, or a schema of its own in the
    PostgreSQL database ``url`` (dropped afterwards)."""
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="govloop-bench-eta-"))
        engine = make_engine(f"sqlite:///{folder / 'eta.db'}")
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()
            shutil.rmtree(folder, ignore_errors=True)
        return
    schema = f"govloop_eta_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except SQLAlchemyError as exc:
        admin.dispose()
        raise DatabaseError(f"cannot use {url}: {exc.__class__.__name__}: {exc}") from None
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(scoped.render_as_string(hide_password=False), pool_size=2, max_overflow=2)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run_scenario(
    engine: Engine, scenario: Scenario, *, seed: int, progress: Progress | None = None
) -> dict[str, Any]:
    """Simulate the scenario's days on ``engine`` (a migrated, empty database) and score
    the shown estimates; returns the scenario's figures."""
    began = time.perf_counter()
    clear_stats_cache()  # hall ids repeat across fresh databases
    start = datetime.combine(scenario.start_date, clock_time(6), tzinfo=local_tz())
    try:
        with frozen(start) as clock:
            records, days = simulate(engine, scenario, seed=seed, clock=clock, progress=progress)
    finally:
        clear_stats_cache()
    scored = [r for r in records.values() if r.scored]
    figures = score(scored)
    peaks = [(a.period.start_s, a.period.end_s) for a in scenario.arrivals]
    figures.update(utilisation(days, scored, peaks))
    figures["nominal_peak_load"] = round(scenario.nominal_peak_load(), 3)
    figures["goals_met"] = goals(figures)
    kinds = Counter(r.kind for r in scored)
    figures["tickets"] = {
        "issued": len(scored),
        "served": sum(1 for r in scored if r.served),
        "no_show_final": sum(1 for r in scored if not r.served and r.calls),
        "called_absent": sum(max(r.calls - (1 if r.served else 0), 0) for r in scored),
        **{f"kind_{k}": n for k, n in sorted(kinds.items())},
    }
    errors = [e for d in days for e in d.errors]
    figures["days"] = {
        "scored": scenario.days,
        "warmup": scenario.warmup_days,
        "dates": [d.day.isoformat() for d in days],
        "left_waiting": sum(d.left_waiting for d in days),
        "refused": sum(d.refused for d in days),
    }
    if errors:
        figures["errors"] = dict(Counter(errors))
    figures["wall_s"] = round(time.perf_counter() - began, 1)
    return figures


def run(
    refs: list[str],
    *,
    seed: int,
    database_url: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every scenario (checked before any is run), each on a fresh database."""
    check_database_url(database_url)
    scenarios = [load_scenario(ref) for ref in refs]
    names: Counter[str] = Counter()
    result: dict[str, Any] = {"scenarios": {}}
    for scenario in scenarios:
        names[scenario.name] += 1
        seen = names[scenario.name]
        key = scenario.name if seen == 1 else f"{scenario.name}#{seen}"
        if progress is not None:
            progress(f"{key}: {scenario.description or 'running'}")
        with scenario_database(database_url) as engine:
            result["scenarios"][key] = run_scenario(engine, scenario, seed=seed, progress=progress)
    per = result["scenarios"].values()
    result["goals_met"] = {
        goal: all(figures["goals_met"][goal] for figures in per)
        for goal in ("rrase_ratio", "coverage_10_90")
    }
    result["settings"] = {
        "seed": seed,
        "database": "postgresql" if database_url else "sqlite",
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    return result


def shipped_names() -> list[str]:
    return list(shipped())


def summary(result: dict[str, Any]) -> list[str]:
    """A few lines per scenario for people (the JSON has everything)."""

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    lines = []
    for name, f in result["scenarios"].items():
        goals_met = f["goals_met"]
        lines += [
            f"[bold]{name}[/bold]: {f['n_tickets']} served tickets scored, mean realized wait "
            f"{f['mean_realized_wait_s']} s (p90 {f['p90_realized_wait_s']} s), peak "
            f"utilisation {f.get('peak_utilisation')} ({f.get('peak_period')})",
            f"  RRASE shown {f['rrase']}, baseline {f['baseline_rrase']}, LES {f['les_rrase']}"
            f" → ratio {f['rrase_ratio']} (goal ≤ 0.85: {verdict(goals_met['rrase_ratio'])})",
            f"  coverage of the shown range {f['coverage_10_90']} (goal 0.75–0.85: "
            f"{verdict(goals_met['coverage_10_90'])})",
        ]
    overall = result["goals_met"]
    lines.append(
        "every scenario: " + ", ".join(f"{goal} {verdict(met)}" for goal, met in overall.items())
    )
    return lines


__all__ = [
    "DatabaseError",
    "ScenarioError",
    "run",
    "run_scenario",
    "scenario_database",
    "shipped_names",
    "summary",
]
