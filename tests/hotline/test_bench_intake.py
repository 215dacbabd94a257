"""Smoke test of the intake part of `govloop bench hotline`: a tiny run against a real
server, checked for its keys and its correctness figures, never timed."""

from __future__ import annotations

import os

from govloop.bench.hotline.intake import _tree_cpu_s, bench_intake


def test_tiny_intake_run_stores_every_order_once_and_reports_cpu():
    result = bench_intake(orders=40, clients=4)
    assert result["intake_failures"] == 0
    assert result["stored"] == 40 and result["lost"] == 0 and result["duplicate_numbers"] == 0
    for key in ("intake_per_s", "baseline_healthz_per_s", "intake_vs_healthz"):
        assert result[key] > 0
    # CPU of the server process tree and of the load generator, per request of each phase
    for key in (
        "intake_server_cpu_ms",
        "healthz_server_cpu_ms",
        "intake_client_cpu_ms",
        "healthz_client_cpu_ms",
    ):
        assert result[key] is not None and result[key] >= 0, key
    assert result["server_cpu_vs_healthz"] is None or result["server_cpu_vs_healthz"] > 0
    assert set(result["load_average"]) == {"start", "end"}
    assert all(len(v) == 3 for v in result["load_average"].values())
    assert result["open311_schema_failures"] == 0


def test_process_tree_cpu_counts_this_process():
    spent = _tree_cpu_s(os.getpid())
    assert spent is not None and spent > 0
    assert _tree_cpu_s(2**22 + 12345) is None  # above Linux's largest pid: no such process
