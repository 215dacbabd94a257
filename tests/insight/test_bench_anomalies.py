"""The anomaly benchmark at a small size: the keys and sane values."""

from __future__ import annotations

from govloop.bench.insight.anomalies import PER_SERIES, anomaly_figures


def test_anomaly_figures_small():
    figures = anomaly_figures(seed=3, series=6, days=200)
    for key in (
        "anomaly_recall",
        "anomaly_false_per_1000",
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
