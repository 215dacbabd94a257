"""Drill-down of a deviation into items, windows, staff and time slots."""

from __future__ import annotations

import pandas as pd
import pytest

from govloop.insight.explain import explain


def crosstab(rows: list[tuple[str, str, int, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item", "window", "slot", "tickets", "late"])


BASELINE = crosstab(
    [
        ("社保", "1", 9, 40, 4),
        ("社保", "2", 10, 40, 4),
        ("医保", "1", 9, 30, 3),
        ("医保", "2", 14, 30, 3),
        ("不动产", "3", 10, 60, 6),
        ("不动产", "3", 14, 60, 6),
    ]
)


def test_count_spike_ranks_the_injected_item_first():
    day = BASELINE.copy()
    day.loc[day["item"] == "不动产", "tickets"] += [50, 40]  # 90 extra
    day.loc[day["item"] == "社保", "tickets"] += [5, 5]  # 10 extra
    found = explain(day, BASELINE, "tickets", dimensions=["item", "window", "slot"])
    items = [c for c in found if c.dimension == "item"]
    assert [c.member for c in items] == ["不动产", "社保", "医保"]
    assert items[0].rank == 1 and items[0].contribution == 90
    assert items[0].share == pytest.approx(0.9) and items[1].share == pytest.approx(0.1)
    assert (items[0].observed, items[0].expected) == (210, 120)
    assert sum(c.share for c in items) == pytest.approx(1.0)
    windows = [c for c in found if c.dimension == "window"]
    assert windows[0].member == "3"
    slots = [c for c in found if c.dimension == "slot"]
    assert slots[0].member == "10" and slots[0].contribution == 55
    assert [c.dimension for c in found] == ["item"] * 3 + ["window"] * 3 + ["slot"] * 3


def test_dip_ranks_the_biggest_drop_first_and_offsetting_members_last():
    day = BASELINE.copy()
    day.loc[day["window"] == "1", "tickets"] = 0  # window 1 closed: -70
    day.loc[day["window"] == "2", "tickets"] += 10  # window 2 (two rows) takes 20 of it
    windows = explain(day, BASELINE, "tickets", dimensions=["window"])
    assert [c.member for c in windows] == ["1", "3", "2"]
    assert windows[0].share == pytest.approx(70 / 50)
    assert windows[-1].share == pytest.approx(-20 / 50)


def test_rate_decomposition_is_exact_and_finds_the_bad_window():
    day = BASELINE.copy()
    day.loc[day["window"] == "3", "late"] = [30, 30]  # window 3: 10 % → 50 % late
    found = explain(day, BASELINE, "late", "tickets", dimensions=["window", "item"])
    windows = [c for c in found if c.dimension == "window"]
    assert windows[0].member == "3"
    overall_change = day["late"].sum() / day["tickets"].sum() - 0.1
    assert sum(c.contribution for c in windows) == pytest.approx(overall_change)
    assert windows[0].rate_effect == pytest.approx(overall_change)
    assert windows[0].mix_effect == pytest.approx(0.0)
    assert windows[0].excess == pytest.approx(48)  # 60 late vs 12 at the usual 10 %
    assert (windows[0].observed, windows[0].expected) == (pytest.approx(0.5), pytest.approx(0.1))
    assert windows[0].share == pytest.approx(1.0)


def test_rate_mix_effect_when_a_slow_item_grows():
    baseline = pd.DataFrame(
        {"item": ["fast", "slow"], "served": [80, 20], "late": [4, 10]}  # 5 % and 50 %
    )
    day = pd.DataFrame({"item": ["fast", "slow"], "served": [50, 50], "late": [2.5, 25]})
    found = explain(day, baseline, "late", "served")
    by_member = {c.member: c for c in found}
    assert sum(c.contribution for c in found) == pytest.approx(0.275 - 0.14)
    assert by_member["slow"].rate_effect == pytest.approx(0.0)
    assert by_member["slow"].mix_effect == pytest.approx(0.3 * (0.5 - 0.14))
    assert found[0].member == "slow"


def test_mean_wait_by_window():
    baseline = pd.DataFrame({"window": ["1", "2"], "wait": [10.0, 10.0], "served": [50, 50]})
    day = pd.DataFrame({"window": ["1", "2"], "wait": [10.0, 30.0], "served": [50, 50]})
    found = explain(day, baseline, "wait", "served", kind="mean")
    assert found[0].member == "2" and found[0].observed == pytest.approx(30)
    assert found[0].contribution == pytest.approx(10.0)  # the mean rose from 10 to 20
    assert found[0].excess == pytest.approx(1000)  # minutes above window 2's usual 10
    assert found[0].as_dict()["member"] == "2"


def test_new_and_missing_members_and_ties():
    baseline = pd.DataFrame({"member": ["a", "b", "c"], "tickets": [10, 10, 10]})
    day = pd.DataFrame({"member": ["b", "a", "d"], "tickets": [15, 15, 10]})  # c gone
    found = explain(day, baseline, "tickets")
    assert [c.member for c in found] == ["d", "a", "b", "c"]  # a and b tie: by name
    assert found[-1].observed == 0 and found[-1].expected == 10
    assert explain(day, baseline, "tickets", top=2)[-1].rank == 2


def test_nothing_to_explain():
    empty = pd.DataFrame(columns=["item", "tickets"])
    assert explain(empty, empty, "tickets") == []
    same = pd.DataFrame({"item": ["a", "b"], "tickets": [3, 5]})
    found = explain(same, same, "tickets")
    assert all(c.share == 0 and c.contribution == 0 for c in found)
    no_base = pd.DataFrame({"item": ["a"], "late": [0], "served": [0]})
    assert explain(no_base, no_base, "late", "served") == []
    with pytest.raises(ValueError):
        explain(same, same, "tickets", kind="mean")
