from __future__ import annotations

import math
from datetime import time

from govloop.bench.insight.forecast import BANK_OPENING, forecast_figures, load_bank_calls


def test_bank_calls_loader_gives_28_half_hour_slots_per_day():
    calls = load_bank_calls()
    per_day = calls.groupby(calls.index.normalize()).size()
    assert (per_day == 28).all()
    assert len(per_day) == 164  # six weekdays of March–October 2003 have no data
    assert calls.index.time.min() == time(7, 0)
    assert calls.index.time.max() == time(20, 30)
    assert set(calls.index.weekday) == {0, 1, 2, 3, 4}
    assert len(BANK_OPENING.all_slots) == 28
    # 30-minute slots hold the sum of six 5-minute counts: a busy morning slot is ~1,700.
    assert 1000 < calls.groupby(calls.index.time).mean()[time(10, 0)] < 2500


def test_bank_evaluation_beats_seasonal_naive():
    figures = forecast_figures(origins=5)
    assert figures["origins"] == 5
    assert figures["slots_evaluated"] == 5 * 28
    for key in ("forecast_mase", "forecast_snaive_mase", "forecast_mape", "forecast_snaive_mape"):
        assert math.isfinite(figures[key])
    assert figures["forecast_mase_ratio"] < 1
    assert "same weekday" in figures["seasonal_naive"]
