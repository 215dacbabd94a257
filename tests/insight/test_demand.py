"""Demand analysis on hand-made visits: heatmap means per open day, peaks, patterns."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from govloop.insight import demand


def visits(rows: list[tuple[date, int, int]]) -> pd.DataFrame:
    """(day, slot, count) → one row per visit."""
    out = [
        {"day": d, "slot": s, "item_id": 1, "window_id": 1} for d, s, n in rows for _ in range(n)
    ]
    return pd.DataFrame(out)


MON1, MON2, TUE1 = date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 3)


def test_heatmap_is_the_mean_per_open_day_of_each_weekday():
    v = visits([(MON1, 18, 10), (MON2, 18, 20), (MON1, 19, 4), (TUE1, 18, 6)])
    grid = demand.heatmap(v, slots=[18, 19, 20])
    assert grid.weekdays == [0, 1]
    assert grid.open_days == {0: 2, 1: 1}
    assert grid.values[0] == [15.0, 2.0, 0.0]  # (10 + 20) / 2 Mondays, 4 / 2
    assert grid.values[1] == [6.0, 0.0, 0.0]
    assert grid.as_dict()["slots"] == ["09:00", "09:30", "10:00"]


def test_peaks_rank_slots_and_give_their_share_of_the_day():
    v = visits([(MON1, 18, 30), (MON1, 19, 10), (TUE1, 18, 5), (TUE1, 20, 15)])
    peaks = demand.peaks(demand.heatmap(v))
    assert (peaks[0].weekday, peaks[0].label) == (0, "09:00")
    assert peaks[0].share_of_day == pytest.approx(0.75)
    assert (peaks[1].weekday, peaks[1].label) == (1, "10:00")
    assert peaks[1].share_of_day == pytest.approx(0.75)


def test_calendar_day_kinds_follow_the_chinese_calendar():
    assert demand.is_pre_holiday(date(2026, 9, 30))  # National Day starts on 10-01
    assert demand.is_post_holiday(date(2026, 10, 8))
    assert not demand.is_pre_holiday(date(2026, 9, 16))
    assert demand.is_month_end(date(2026, 11, 30))  # Monday, the last working day
    assert not demand.is_month_end(date(2026, 11, 16))


def test_patterns_need_days_and_compare_with_the_same_weekday():
    days = {}
    d = date(2026, 8, 3)
    while d <= date(2026, 11, 20):
        if d.weekday() < 5 and d not in (date(2026, 10, 1),):
            days[d] = 100.0 * (1.3 if demand.is_month_end(d) else 1.0)
        d += timedelta(days=1)
    patterns = {p.kind: p for p in demand.day_patterns(pd.Series(days))}
    month_end = patterns["month_end"]
    assert month_end.ratio == pytest.approx(1.3)
    assert month_end.ratio_low <= 1.3 <= month_end.ratio_high
    # only one post-holiday day in the range: too few to tell, no number
    few = [p for p in patterns.values() if p.days < demand.MIN_DAYS_FOR_PATTERN]
    assert all(p.ratio is None for p in few)


def test_compare_periods_gives_differences_and_the_change():
    a = visits([(MON1, 18, 10)])
    b = visits([(MON2, 18, 15), (MON2, 19, 5)])
    result = demand.compare_periods(a, b)
    assert result.slots == [18, 19]
    assert result.difference == [[5.0, 5.0]]
    assert result.change == pytest.approx(1.0)
