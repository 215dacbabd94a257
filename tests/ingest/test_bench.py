"""`govloop bench ingest --quick`: the report's keys and its correctness figures (never
timings). MQTT figures are merged from govloop.bench.ingest.mqtt when importable, else the
report says so; here a stand-in module keeps the shared broker out of this test."""

from __future__ import annotations

import json
import sys
import types

import pytest
from typer.testing import CliRunner

from govloop.bench.ingest import pipeline as bench
from govloop.cli import app

runner = CliRunner()


@pytest.fixture
def fake_mqtt(monkeypatch):
    module = types.ModuleType("govloop.bench.ingest.mqtt")
    calls: list[bool] = []

    def bench_mqtt(quick: bool) -> dict[str, object]:
        calls.append(quick)
        return {"mqtt_msgs_per_s": 1234.5, "mqtt_lost": 0}

    module.bench_mqtt = bench_mqtt  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "govloop.bench.ingest.mqtt", module)
    return calls


def test_quick_bench_reports_every_figure(fake_mqtt):
    r = runner.invoke(app, ["bench", "ingest", "--quick", "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output.strip().splitlines()[-1])
    for key in (
        "csv_rows_per_s",
        "baseline_csv_executemany_rows_per_s",
        "csv_vs_baseline",
        "http_events_per_s",
        "replay_duplicates",
        "mqtt_msgs_per_s",
        "mqtt_lost",
        "goals_met",
    ):
        assert key in result, key
    assert result["csv_stored"] == result["rows"] == 2000
    assert result["replay_duplicates"] == 0 and result["replay_stored_again"] == 0
    assert result["replay_reported_duplicates"] == 2000
    assert result["http_stored"] == result["http_events"] and result["http_lost"] == 0
    assert result["http_failed_requests"] == 0
    assert fake_mqtt == [True]
    assert result["mqtt_msgs_per_s"] == 1234.5  # merged as given, not invented
    assert set(result["goals_met"]) >= {"csv_rows_per_s", "http_events_per_s", "mqtt_lost"}


def test_mqtt_not_available_is_said(monkeypatch):
    def missing(name: str) -> types.ModuleType:
        raise ImportError(name)

    monkeypatch.setattr(bench.importlib, "import_module", missing)
    assert bench._mqtt(True) == {"mqtt": "not available"}


def test_quick_bench_on_postgresql(fake_mqtt):
    r = runner.invoke(app, ["bench", "ingest", "--quick", "--json", "--backend", "postgresql"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output.strip().splitlines()[-1])
    assert result["backend"] == "postgresql"
    assert result["csv_stored"] == result["rows"] == 2000
    assert result["replay_duplicates"] == 0 and result["replay_reported_duplicates"] == 2000
    assert result["baseline_csv_executemany_rows_per_s"] > 0
    assert result["http_stored"] == result["http_events"] and result["http_lost"] == 0
