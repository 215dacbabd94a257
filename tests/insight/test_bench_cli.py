"""`govloop bench insight --quick --json` prints every figure the issue asks for."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from govloop.cli import app


def test_bench_insight_prints_the_figures_and_the_goals():
    result = CliRunner().invoke(app, ["bench", "insight", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for key in (
        "staffing_seconds",
        "erlang_a_agree",
        "sim_target_met",
        "day_sim_target_met",
        "forecast_mase_ratio",
        "forecast_mape",
        "anomaly_recall_ratio",
        "anomaly_false_per_1000",
    ):
        assert isinstance(figures[key], float | int), key
        assert key in figures["goals_met"]
    assert 0 < figures["forecast_mase_ratio"] < 1.5
    assert 0 <= figures["anomaly_recall"] <= 1
    assert 0 <= figures["anomaly_oracle_recall"] <= 1
    assert figures["forecast"]["origins"] == 5
