"""`govloop bench linkage --quick`: every figure present and in range (timings not judged)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from govloop.cli import app
from govloop.subjects.bench_linkage import pairwise_f1

pytestmark = pytest.mark.timeout(240)


def test_pairwise_f1() -> None:
    truth = {("a", "b"), ("c", "d")}
    assert pairwise_f1({("a", "b"), ("a", "c")}, truth) == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "false_pairs": 1,
    }
    assert pairwise_f1(set(), truth)["f1"] == 0.0


def test_bench_linkage_quick_json() -> None:
    result = CliRunner().invoke(app, ["bench", "linkage", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    for key in ("febrl4_f1", "febrl3_f1", "febrl3_noid_f1", "cn_f1"):
        assert 0.9 <= figures[key] <= 1.0, key
        # the probabilistic linkage beats exact name + birth date on every data set
        assert figures[key] > figures[key.replace("_f1", "_baseline_f1")], key
    assert figures["id_checks_per_s"] > figures["id_checks_per_s_baseline_loop"] > 0
    assert figures["id_checks"]["invalid"] == 2_000
    assert "million_seconds" not in figures  # --quick skips the million-record run
    assert set(figures["goals_met"]) >= {"febrl4_f1", "cn_f1", "id_checks_per_s"}
