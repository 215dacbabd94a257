from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
import pytest

from govloop.insight.forecast import (
    NotEnoughHistory,
    OpeningHours,
    forecast_arrivals,
    slot_starts,
)
from govloop.insight.forecast_eval import backtest

HALL = OpeningHours.from_periods([("09:00", "12:00"), ("13:30", "17:30")])
WEEKDAY_FACTOR = (1.3, 1.0, 0.95, 0.95, 0.8)


def _profile(slots: tuple[time, ...]) -> np.ndarray:
    # Morning peak around 10:00, a smaller one after lunch.
    hours = np.array([t.hour + t.minute / 60 for t in slots])
    shape = 1.0 + 1.5 * np.exp(-((hours - 10) ** 2)) + 0.6 * np.exp(-((hours - 14.5) ** 2))
    return shape / shape.sum()


def synthetic_hall(
    first: date, last: date, per_day: float = 120.0, seed: int = 1, opening: OpeningHours = HALL
) -> pd.Series:
    """Poisson arrivals with weekday, post-holiday and month-end effects and a slow wave."""
    rng = np.random.default_rng(seed)
    stamps, counts = [], []
    day, previous_open = first, True
    while day <= last:
        plan = opening.day(day)
        if plan.open:
            weekday = opening.makeup_weekday if plan.makeup else day.weekday()
            volume = per_day * WEEKDAY_FACTOR[weekday] * (1 + 0.1 * np.sin(day.toordinal() / 60))
            if not previous_open:
                volume *= 1.5
            if (day + timedelta(days=1)).month != day.month:
                volume *= 1.2
            means = volume * _profile(plan.slots)
            for slot, mean in zip(plan.slots, means, strict=True):
                stamps.append(datetime.combine(day, slot))
                counts.append(rng.poisson(mean))
        # A break is a closed day that would normally be open (not a weekend).
        previous_open = plan.open or not HALL.weekly[day.weekday()]
        day += timedelta(days=1)
    return pd.Series(counts, index=pd.DatetimeIndex(stamps), dtype=float)


@pytest.fixture(scope="module")
def history() -> pd.Series:
    return synthetic_hall(date(2024, 9, 2), date(2025, 9, 25))


def test_slot_starts_and_grid():
    assert slot_starts("09:00", "10:00") == (time(9, 0), time(9, 30))
    assert len(HALL.all_slots) == 14  # 6 before lunch, 8 after
    assert HALL.weekly[5] == ()


def test_shapes_holidays_and_makeup_day(history):
    result = forecast_arrivals(history, HALL, date(2025, 9, 26), days=16)
    frame = result.frame
    assert list(frame.columns) == ["slot_start", "expected", "lower", "upper"]
    assert len(frame) == 16 * 14
    by_day = frame.groupby(frame["slot_start"].dt.date)["expected"].sum()
    assert by_day[date(2025, 10, 1)] == 0  # National Day
    assert by_day[date(2025, 9, 27)] == 0  # Saturday
    assert by_day[date(2025, 9, 28)] > 0  # make-up working day (Sunday)
    assert by_day[date(2025, 10, 11)] > 0  # make-up working day (Saturday)
    assert (frame["lower"] <= frame["expected"]).all()
    assert (frame["expected"] <= frame["upper"]).all()
    days = result.days.set_index("day")
    assert not days.at[date(2025, 10, 1), "open"]
    assert "National Day" in days.at[date(2025, 10, 1), "reason"]
    assert "Closed 2025-10-01 to 2025-10-08: public holiday (National Day" in " ".join(result.notes)
    assert any("2025-09-28" in n and "make-up" in n for n in result.notes)
    assert result.effects["post_break"] > 0.1


def test_post_holiday_day_is_busier(history):
    result = forecast_arrivals(history, HALL, date(2025, 10, 9), days=14)
    by_day = result.frame.groupby(result.frame["slot_start"].dt.date)["expected"].sum()
    assert by_day[date(2025, 10, 9)] > 1.2 * by_day[date(2025, 10, 16)]


def test_unknown_calendar_year_is_said(history):
    late = synthetic_hall(date(2026, 9, 1), date(2026, 12, 24), seed=2)
    result = forecast_arrivals(late, HALL, date(2026, 12, 25), days=14)
    notes = " ".join(result.notes)
    assert "does not know 2027" in notes
    assert "after 2026" in notes
    by_day = result.frame.groupby(result.frame["slot_start"].dt.date)["expected"].sum()
    assert by_day[date(2027, 1, 4)] > 0  # a Monday, treated as a normal working day
    assert by_day[date(2027, 1, 2)] == 0  # Saturday


def test_not_enough_history(history):
    short = history[history.index < pd.Timestamp("2024-09-12")]
    with pytest.raises(NotEnoughHistory, match="at least"):
        forecast_arrivals(short, HALL, date(2024, 9, 12))
    assert issubclass(NotEnoughHistory, ValueError)


def test_history_gap_before_start_is_said(history):
    result = forecast_arrivals(history[history.index < "2025-09-20"], HALL, date(2025, 9, 26), 3)
    assert any("history ends on 2025-09-19" in n for n in result.notes)


def test_opening_hours_validation():
    with pytest.raises(ValueError, match="30-minute mark"):
        OpeningHours(((time(9, 15),),) + ((),) * 6)
    with pytest.raises(ValueError, match="at least one open slot"):
        OpeningHours(((),) * 7)


def test_zero_filled_history_gives_the_same_forecast(history):
    window = history[history.index >= pd.Timestamp("2025-06-01")]
    grid = pd.date_range("2025-06-01", "2025-09-25 23:30", freq="30min")
    dense = window.reindex(grid, fill_value=0.0)
    sparse_fc = forecast_arrivals(window, HALL, date(2025, 9, 26), days=5)
    dense_fc = forecast_arrivals(dense, HALL, date(2025, 9, 26), days=5)
    np.testing.assert_allclose(sparse_fc.frame["expected"], dense_fc.frame["expected"], rtol=1e-6)


def test_new_slot_without_history_is_said(history):
    later = OpeningHours.from_periods([("09:00", "17:30")])  # opens over lunch from now on
    result = forecast_arrivals(history, later, date(2025, 9, 29), days=2)
    lunch = result.frame[result.frame["slot_start"].dt.time == time(12, 0)]
    assert (lunch["expected"] > 0).all()
    assert any("12:00 has no history" in n for n in result.notes)


def test_beats_seasonal_naive(history):
    result = backtest(history, HALL, origins=12)
    assert result.slots_evaluated == 12 * 14
    assert result.mase_ratio < 0.9
    assert np.isfinite([result.mae, result.mape, result.snaive_mape]).all()


def test_interval_coverage_on_poisson_data():
    first = date(2025, 3, 3)
    history = synthetic_hall(first, date(2025, 9, 12), per_day=400.0, seed=7)
    result = backtest(history, HALL, origins=10)
    points = result.points
    inside = (points["actual"] >= points["lower"]) & (points["actual"] <= points["upper"])
    assert 0.83 <= inside.mean() <= 0.99  # nominal 90 %
