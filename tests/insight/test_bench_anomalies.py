"""The anomaly benchmark at a small size: keys, the detector's recall and false alarms, and
the oracle it is compared with (exact p-values, judged at the detector's false-alarm rate)."""

from __future__ import annotations

import numpy as np
import pytest

from govloop.bench.insight import anomalies as bench
from govloop.bench.insight.anomalies import PER_SERIES, anomaly_figures


@pytest.fixture(scope="module")
def figures():
    return anomaly_figures(seed=3, series=6, days=200)


def test_anomaly_figures_small(figures):
    for key in (
        "anomaly_recall",
        "anomaly_false_per_1000",
        "anomaly_oracle_recall",
        "anomaly_oracle_false_per_1000",
        "anomaly_recall_ratio",
        "oracle_recall",
        "oracle_false_per_1000",
        "recall_ratio",
        "oracle_alpha",
        "points_assessed",
        "injected",
        "detected",
        "seconds",
        "recall_by_band",
        "by_kind",
        "change_point_recall",
    ):
        assert key in figures
    assert figures["injected"] == 6 * PER_SERIES
    assert 0 <= figures["detected"] <= figures["injected"]
    assert figures["anomaly_recall"] == round(figures["detected"] / figures["injected"], 3)
    assert figures["anomaly_recall"] >= 0.4  # the big ones at least
    assert 300 < figures["points_assessed"] < 6 * 140  # open days minus the first weeks
    assert figures["anomaly_false_per_1000"] < 5
    assert set(figures["by_kind"]) == {"count", "rate", "mean"}
    assert sum(b["injected"] for b in figures["recall_by_band"].values()) == figures["injected"]
    assert all(0 <= b["recall"] <= 1 for b in figures["recall_by_band"].values())
    assert 0 <= figures["change_point_recall"] <= 1 and figures["seconds"] > 0


def test_the_big_anomalies_are_found(figures):
    big = [
        band
        for name, band in figures["recall_by_band"].items()
        if "+100-150%" in name or "-55-70%" in name or "1.2-2.0" in name
    ]
    found = sum(b["recall"] * b["injected"] for b in big)
    assert found / sum(b["injected"] for b in big) >= 0.74  # 9 of 12 here


def test_the_oracle_is_judged_at_the_detectors_false_alarm_rate():
    figures = anomaly_figures(seed=4, series=6, days=200)  # one false alarm
    assert figures["false_alarms"] >= 1
    realised = figures["false_alarms"] / figures["points_assessed_clean"]
    assert figures["oracle_alpha"] == pytest.approx(realised, abs=1e-6)
    assert figures["oracle_recall"] == round(figures["oracle_detected"] / figures["injected"], 3)
    assert figures["recall_ratio"] == pytest.approx(
        figures["anomaly_recall"] / figures["oracle_recall"], abs=2e-3
    )
    assert figures["oracle_false_per_1000"] == round(
        1000 * figures["oracle_false_alarms"] / figures["points_assessed_clean"], 3
    )


@pytest.mark.parametrize("maker", ["_count_series", "_rate_series", "_mean_series"])
def test_the_oracles_p_values_are_exact(maker):
    """On clean points the oracle's p-values are uniform: 5 % fall below 0.05."""
    rng = np.random.default_rng(21)
    index = bench._open_days(365)
    below_5, below_1, total = 0, 0, 0
    for _ in range(8):
        series = getattr(bench, maker)(rng, index)
        clean = np.ones(len(index), dtype=bool)
        clean[list(series.injected)] = False
        p = series.oracle_p[clean & np.isfinite(series.oracle_p)]
        below_5 += int((p < 0.05).sum())
        below_1 += int((p < 0.01).sum())
        total += len(p)
    # discrete tails (counts, rates) make a two-sided test slightly conservative
    assert 0.035 < below_5 / total < 0.062
    assert 0.004 < below_1 / total < 0.015
    # injected anomalies are far out under the truth
    assert np.nanmedian(series.oracle_p[list(series.injected)]) < 0.01
