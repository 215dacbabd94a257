"""`govloop bench indicators` at a tiny size: the keys, and DuckDB equal to pandas."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from govloop.cli import app


def test_bench_indicators_smoke(tmp_path):
    args = [
        "bench",
        "indicators",
        "--halls",
        "2",
        "--days",
        "10",
        "--json",
        "--data-dir",
        str(tmp_path),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    for key in (
        "tickets",
        "seconds",
        "peak_rss_mb",
        "baseline_seconds",
        "speedup",
        "equal",
        "max_abs_diff",
    ):
        assert key in out
    assert out["tickets"] > 1000 and out["halls"] == 2 and out["indicators"] >= 25
    assert out["equal"] is True and out["max_abs_diff"] < 1e-9
    assert out["compared_values"] > 1000 and out["generated_now"] is True
    # the second run reuses the cached data
    again = json.loads(CliRunner().invoke(app, args).output)
    assert again["generated_now"] is False and again["tickets"] == out["tickets"]
