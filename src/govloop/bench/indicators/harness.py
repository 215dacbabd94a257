"""`govloop bench indicators`: the default framework over a generated year of events.

The data (about ten million tickets for 30 halls and 365 days) is generated once, in a
child process so that its memory does not count against the measurement, and cached under
the data directory. The run then computes every indicator of the default framework for
every object (halls, departments, windows, staff, items) and month with the DuckDB
engine, scores them, and does the same figures again with the pandas baseline to check
that both agree.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb

from govloop.analytics.store import Store
from govloop.bench.indicators.generate import START, generate
from govloop.core.settings import analytics_settings
from govloop.indicators.baseline import baseline_values, compare
from govloop.indicators.engine import Engine
from govloop.indicators.framework import default_framework
from govloop.indicators.periods import periods_between
from govloop.indicators.scoring import score

GENERATOR_VERSION = 3


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate_child(root: str, halls: int, days: int, seed: int) -> None:
    started = time.perf_counter()
    result = generate(Path(root), halls, days, seed)
    meta = {
        "tickets": result.tickets,
        "hall_events": result.hall_events,
        "rating_events": result.rating_events,
        "generate_seconds": round(time.perf_counter() - started, 2),
        "generator_version": GENERATOR_VERSION,
    }
    (Path(root) / "bench.json").write_text(json.dumps(meta))


def _say(progress: Any, text: str) -> None:
    if progress is not None:
        progress.print(text)


def run_bench(
    *,
    halls: int,
    days: int,
    seed: int = 7,
    baseline: bool = True,
    regenerate: bool = False,
    root: Path | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    if halls < 1 or days < 1:
        raise ValueError("halls and days must be positive")
    base = Path(root) if root else analytics_settings().data_dir / "bench"
    store_root = base / f"halls{halls}-days{days}-seed{seed}-v{GENERATOR_VERSION}"
    meta_path = store_root / "bench.json"
    generated = False
    if regenerate or not meta_path.exists():
        _say(progress, f"generating {halls} halls × {days} days into {store_root} …")
        meta_path.unlink(missing_ok=True)
        child = multiprocessing.get_context("spawn").Process(
            target=_generate_child, args=(str(store_root), halls, days, seed)
        )
        child.start()
        child.join()
        if child.exitcode != 0 or not meta_path.exists():
            raise RuntimeError(f"data generation failed (exit code {child.exitcode})")
        generated = True
    meta = json.loads(meta_path.read_text())
    store = Store(store_root)
    framework = default_framework()
    months = periods_between("month", START, START + timedelta(days=days - 1))
    periods = {hall_id: months for hall_id in store.halls()}

    month_keys = [f"{p.start.year:04d}-{p.start.month:02d}" for p in months]
    with Engine(store) as engine:
        _say(progress, "deriving the facts layer from the raw events with DuckDB …")
        load_before = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        for hall_id in store.halls("hall_events"):
            engine.build_facts("hall_events", hall_id, month_keys)
        for hall_id in store.halls("rating_events"):
            engine.build_facts("rating_events", hall_id, month_keys)
        facts_seconds = time.perf_counter() - started
        facts_cpu = time.process_time() - cpu
        timings = dict(engine.timings)
        facts_peak = _peak_rss_mb()
        _say(progress, "computing the default framework with DuckDB …")
        started, cpu = time.perf_counter(), time.process_time()
        values = engine.compute(framework, periods)
        scored = score(values, framework)
        seconds = time.perf_counter() - started
        compute_cpu = time.process_time() - cpu
        timings.update(engine.timings)
    peak = _peak_rss_mb()
    codes = [leaf.code for leaf in framework.leaves()]
    result: dict[str, Any] = {
        "benchmark": "indicators",
        "halls": halls,
        "days": days,
        "months": len(months),
        "tickets": meta["tickets"],
        "hall_events": meta["hall_events"],
        "rating_events": meta["rating_events"],
        "objects_x_months": len(values.frame),
        "indicators": len(codes),
        "values": int(sum(values.frame[c].notna().sum() for c in codes)),
        "scored_overall": int((~_isnan(scored.score["overall"])).sum()),
        "seconds": round(seconds, 3),
        "facts_seconds": round(facts_seconds, 3),
        "end_to_end_seconds": round(facts_seconds + seconds, 3),
        "cpu_seconds": round(compute_cpu, 3),
        "facts_cpu_seconds": round(facts_cpu, 3),
        "seconds_by_step": {k: round(v, 3) for k, v in timings.items()},
        "peak_rss_mb": round(peak, 1),
        "facts_peak_rss_mb": round(facts_peak, 1),
        "threads": analytics_settings().duckdb_threads,
        "cores": os.cpu_count(),
        # other work on the machine slows the 2-thread engine more than 1-thread pandas
        "load_average_before": round(load_before, 2),
        "duckdb_memory_limit": analytics_settings().duckdb_memory_limit,
        "duckdb": duckdb.__version__,
        "generated_now": generated,
        "generate_seconds": meta["generate_seconds"],
        "data_dir": str(store_root),
    }
    if baseline:
        _say(progress, "computing the same figures with pandas …")
        cpu = time.process_time()
        expected, base_timings = baseline_values(store, framework, periods)
        baseline_cpu = time.process_time() - cpu
        baseline_seconds = base_timings["figures"]
        baseline_facts = base_timings["facts"]
        equal, max_diff, compared = compare(values.frame, expected, codes)
        result.update(
            {
                "baseline_seconds": round(baseline_seconds, 3),
                "baseline_facts_seconds": round(baseline_facts, 3),
                "baseline_end_to_end_seconds": round(baseline_facts + baseline_seconds, 3),
                "baseline_cpu_seconds_total": round(baseline_cpu, 3),
                "baseline_peak_rss_mb": round(_peak_rss_mb(), 1),
                "speedup": round(baseline_seconds / seconds, 2) if seconds > 0 else None,
                "end_to_end_speedup": round(
                    (baseline_facts + baseline_seconds) / (facts_seconds + seconds), 2
                ),
                "equal": equal,
                "max_abs_diff": max_diff,
                "compared_values": compared,
            }
        )
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    return result


def _isnan(values: Any) -> Any:
    import numpy as np

    return np.isnan(values)
