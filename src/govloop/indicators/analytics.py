"""Read access to the analytics store for other domains (insight, actions).

Analysis reads facts and indicator measures from the store, never the transactional
tables: one visit per ticket as the indicator engine derived it, and per-day measures with
the counts behind each indicator, so a rate can be tested as a rate and a mean with the
number of tickets behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import pandas as pd
from sqlalchemy.orm import Session

from govloop.analytics.store import Store
from govloop.indicators import formula as fml
from govloop.indicators.engine import Engine, column
from govloop.indicators.framework import Framework, Node
from govloop.indicators.periods import Period
from govloop.indicators.service import default_store, framework_in_force

VISIT_COLUMNS = [
    "day",
    "slot",
    "item_id",
    "department_id",
    "window_id",
    "staff_id",
    "priority",
    "appointment",
    "wait_s",
    "served",
    "handle_s",
    "no_show",
    "closed",
    "cancelled",
]

SeriesKind = Literal["count", "rate", "mean"]


def visit_facts(
    *, hall_id: int, start: date, end: date, store: Store | None = None
) -> pd.DataFrame:
    """One row per ticket of a hall whose service day lies in [start, end]."""
    with Engine(store or default_store()) as engine:
        engine.build_stale_facts()
        frame = engine.read_facts("visits", hall_id, start, end, VISIT_COLUMNS)
    if frame is None:
        return pd.DataFrame(columns=VISIT_COLUMNS)
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame


@dataclass(frozen=True)
class IndicatorShape:
    """How an indicator's daily value is built from counts, for count-aware tests."""

    code: str
    kind: SeriesKind
    numerator: str | None  # measure column of a rate
    denominator: str | None  # measure column giving the count behind a rate or mean
    unit: str
    higher_is_better: bool


def _is_count(ref: fml.MeasureRef) -> bool:
    # measures over seconds (``*_s``, ``*_s_sum``) and quantiles are not counts
    return not (ref.name.endswith("_s") or "_s_" in ref.name or ref.name.endswith("_sum")) and (
        "quantile" not in ref.name
    )


def indicator_shape(node: Node) -> IndicatorShape:
    tree = node.tree
    unit = node.spec.unit if node.spec else ""
    numerator = denominator = None
    kind: SeriesKind = "mean"
    if isinstance(tree, fml.BinOp) and tree.op == "/":
        left: fml.Node = tree.left
        right: fml.Node = tree.right
        inner = left
        if isinstance(inner, fml.BinOp) and inner.op == "/" and isinstance(right, fml.Num):
            left, right = inner.left, inner.right  # a mean in minutes: x / n / 60
        if isinstance(left, fml.MeasureRef) and isinstance(right, fml.MeasureRef):
            if _is_count(left) and _is_count(right):
                kind, numerator = "rate", column(left).strip('"')
            if _is_count(right):
                denominator = column(right).strip('"')
    return IndicatorShape(
        node.code, kind, numerator, denominator, unit or "", node.higher_is_better
    )


@dataclass
class DailyMeasures:
    """Indicator values and the measures behind them, one row per object and day."""

    framework: Framework
    shapes: dict[str, IndicatorShape]
    frame: pd.DataFrame  # key columns, indicator codes, m_* measure columns, _volume


def daily_measures(
    *,
    session: Session,
    hall_id: int,
    days: list[date],
    kinds: list[str],
    by_slot: bool = False,
    store: Store | None = None,
) -> DailyMeasures:
    """Indicator values per day (and object of the given kinds) with their measures."""
    _, framework = framework_in_force(session=session, on=max(days) if days else None)
    shapes = {leaf.code: indicator_shape(leaf) for leaf in framework.leaves()}
    periods = [Period(d, d, "day") for d in sorted(set(days))]
    with Engine(store or default_store()) as engine:
        engine.build_stale_facts()
        values = engine.compute(framework, {hall_id: periods}, kinds=kinds, by_slot=by_slot)
        if values.frame.empty:
            return DailyMeasures(framework, shapes, values.frame)
        measures = engine.measures_frame()
    for name in ("period_start", "period_end"):
        measures[name] = pd.to_datetime(measures[name]).dt.date
    keys = values.keys
    measures["object_id"] = measures["object_id"].astype("int64")
    measures["hall_id"] = measures["hall_id"].astype("int64")
    frame = values.frame.merge(measures, on=keys, how="left")
    return DailyMeasures(framework, shapes, frame)


def weeks_before(day: date, weeks: int) -> list[date]:
    """The same weekday in each of the ``weeks`` weeks before ``day`` (oldest first)."""
    return [day - timedelta(days=7 * k) for k in range(weeks, 0, -1)]
