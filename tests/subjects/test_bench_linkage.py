"""`govloop bench linkage --quick`: every figure present and in range (timings not judged)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from govloop.bench.linkage import pairwise_f1
from govloop.cli import app
from govloop.subjects.identifiers import id_check_char

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
    # the household population: the model against both baselines, and no two valid IDs
    # in one master on any set
    assert figures["masters_with_two_valid_ids"] == 0
    assert figures["cn_masters_with_two_valid_ids"] == 0
    assert figures["cn_household_precision"] >= 0.98
    assert figures["cn_household_f1"] > figures["cn_household_rule_f1"]
    assert figures["cn_household_f1"] > figures["cn_household_exact_id_f1"]
    assert figures["cn_household"]["households"] < figures["cn_household"]["persons"]


def test_rule_baseline_never_puts_two_valid_ids_together() -> None:
    from govloop.bench.linkage import rule_clusters
    from govloop.subjects.linkage import prepare_persons

    first17 = ("11010519800101123", "11010519800101145")
    ids = [f + id_check_char(f) for f in first17]
    frame = pd.DataFrame(
        {
            "record_key": ["a", "b", "c"],
            "source": ["x", "y", "z"],
            "name": ["张伟", "张伟", "张伟"],
            "birth_date": ["1980-01-01"] * 3,
            "sex": ["M"] * 3,
            "phone": [None] * 3,
            "address": [None] * 3,
            "id_number": [ids[0], ids[1], None],
        }
    )
    labels = rule_clusters(prepare_persons(frame))
    assert labels[0] != labels[1]
    assert labels[2] in (labels[0], labels[1])
