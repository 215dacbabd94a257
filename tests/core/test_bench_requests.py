"""`govloop bench requests` measures real requests through the whole application."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from govloop.bench import requests as bench
from govloop.cli import app


def test_the_bench_serves_every_route_and_prints_figures(monkeypatch, tmp_path):
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["bench", "requests", "--requests", "10", "--rounds", "1"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])  # log lines may come first
    assert figures["bare_fastapi_cpu_ms"] > 0
    routes = figures["routes"]
    assert set(routes) >= {"GET /healthz", "POST tickets (kiosk issue)"}
    for name, row in routes.items():
        assert row["cpu_ms"] > 0, name
    # every route still routed the same with the gate switched off and on again
    assert all("cpu_ms_without_gate" in r for n, r in routes.items() if n.startswith("GET"))


def test_a_bad_backend_is_refused():
    result = CliRunner().invoke(app, ["bench", "requests", "--backend", "oracle"])
    assert result.exit_code == 2


def test_switching_the_gate_off_for_the_baseline_puts_it_back():
    from govloop.app import create_app

    application = create_app(run_jobs=False)

    def gated() -> int:
        return sum(hasattr(n.matches, "__wrapped__") for n in application.router.routes)

    before = gated()
    with bench.gate_off(application):
        assert gated() == 0
    assert gated() == before > 0
