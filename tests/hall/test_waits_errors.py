"""The error range of shown waits, per band, made once per history."""

from __future__ import annotations

import numpy as np
import pytest

from govloop.hall import waits


def test_error_ranges_take_the_band_of_the_shown_wait_or_all_errors() -> None:
    rng = np.random.default_rng(4)
    etas = np.r_[np.full(50, 30.0), np.full(45, 200.0), np.full(10, 600.0)]
    errors = np.r_[rng.normal(0.5, 0.1, 50), rng.normal(-0.2, 0.1, 45), rng.normal(3, 1, 10)]
    ranges = waits._error_ranges(etas, errors)
    assert len(ranges) == len(waits.ERROR_BINS) + 1
    under_a_minute, few_minutes, quarter_hour, longer = ranges
    assert under_a_minute == pytest.approx(tuple(np.quantile(errors[:50], [0.1, 0.9])))
    assert few_minutes == pytest.approx(tuple(np.quantile(errors[50:95], [0.1, 0.9])))
    # 10 errors are too few for their own band: all of them.
    assert quarter_hour == pytest.approx(tuple(np.quantile(errors, [0.1, 0.9])))
    assert longer == quarter_hour
    assert waits._error_ranges(etas[:30], errors[:30]) == (None,) * 4
