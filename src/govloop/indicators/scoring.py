"""Targets, their decomposition (指标下发分解) and composite scores.

Target of an indicator for one object and period, first match wins:

1. an override for that object (``object_id`` set);
2. a kind-level target of the hall (every window, every staff member …);
3. the hall's target (a hall-level row for the hall, else one for all halls), decomposed
   by the hall row's rule:
   * ``inherit`` — every object gets the hall's target;
   * ``volume_share`` — for additive indicators (counts): what is left of the hall's
     target after the overrides is shared by volume (tickets) among the other objects;
   * ``volume_balance`` — for rates and averages: the other objects all get the value
     that makes the volume-weighted mean of all objects' targets equal the hall's target;
4. the framework's target.

Rows only count from their ``valid_from`` day; the latest valid row of each key wins.

Scores are 0–100. Higher is better: ``100 × min(value / target, 1)``; lower is better:
100 at or under target, else ``100 × target / value``. A group, a dimension and the
overall score are the weighted mean of the children that have a score and apply to the
object kind, with the weights renormalised over those children.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from govloop.indicators.engine import Values
from govloop.indicators.framework import Framework, Node

RULES = ("inherit", "volume_share", "volume_balance")
OVERALL = "overall"


@dataclass(frozen=True)
class TargetRow:
    indicator_code: str
    hall_id: int | None
    object_kind: str
    object_id: int | None
    value: float
    rule: str = "inherit"
    valid_from: date = date.min


def _latest(
    rows: Sequence[TargetRow], on: date
) -> dict[tuple[int | None, str, int | None], TargetRow]:
    chosen: dict[tuple[int | None, str, int | None], TargetRow] = {}
    for row in sorted(rows, key=lambda r: r.valid_from):
        if row.valid_from <= on:
            chosen[(row.hall_id, row.object_kind, row.object_id)] = row
    return chosen


def resolve_targets(
    values: Values, framework: Framework, rows: Sequence[TargetRow]
) -> dict[str, np.ndarray]:
    frame = values.frame
    n = len(frame)
    by_code: dict[str, list[TargetRow]] = {}
    for row in rows:
        by_code.setdefault(row.indicator_code, []).append(row)
    out: dict[str, np.ndarray] = {}
    for leaf in framework.leaves():
        default = float(leaf.target) if leaf.target is not None else np.nan
        target = np.full(n, default)
        code_rows = by_code.get(leaf.code)
        if code_rows and n:
            for period_start, index in frame.groupby("period_start").groups.items():
                _apply(
                    frame.loc[index],
                    target,
                    frame.index.get_indexer(index),
                    _latest(code_rows, period_start),
                    default,
                )
        out[leaf.code] = target
    return out


def _apply(
    part: pd.DataFrame,
    target: np.ndarray,
    positions: np.ndarray,
    chosen: dict[tuple[int | None, str, int | None], TargetRow],
    default: float,
) -> None:
    group_cols = ["hall_id", "object_kind"] + (["slot"] if "slot" in part.columns else [])
    for (hall_id, kind, *_rest), sub in part.groupby(group_cols, sort=False):
        pos = positions[part.index.get_indexer(sub.index)]
        hall_row = chosen.get((hall_id, "hall", None)) or chosen.get((None, "hall", None))
        hall_target = hall_row.value if hall_row else default
        if kind == "hall":
            target[pos] = hall_target
            continue
        kind_row = chosen.get((hall_id, kind, None))
        overrides = np.array(
            [
                chosen[(hall_id, kind, int(oid))].value
                if (hall_id, kind, int(oid)) in chosen
                else np.nan
                for oid in sub["object_id"]
            ]
        )
        overridden = ~np.isnan(overrides)
        if kind_row is not None:
            base = np.full(len(sub), kind_row.value)
        else:
            base = _decompose(hall_row, hall_target, sub["_volume"].to_numpy(), overrides)
        target[pos] = np.where(overridden, overrides, base)


def _decompose(
    hall_row: TargetRow | None, hall_target: float, volume: np.ndarray, overrides: np.ndarray
) -> np.ndarray:
    rule = hall_row.rule if hall_row else "inherit"
    overridden = ~np.isnan(overrides)
    free_volume = volume[~overridden].sum()
    if rule == "inherit" or free_volume <= 0:
        return np.full(len(volume), hall_target)
    if rule == "volume_share":
        left = hall_target - overrides[overridden].sum()
        return np.maximum(left, 0.0) * volume / free_volume
    # volume_balance
    total_volume = volume.sum()
    fixed = (volume[overridden] * overrides[overridden]).sum()
    balanced = (hall_target * total_volume - fixed) / free_volume
    return np.full(len(volume), max(balanced, 0.0))


def indicator_scores(value: np.ndarray, target: np.ndarray, higher: bool) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if higher:
            score = np.where(target > 0, 100.0 * np.clip(value / target, 0.0, 1.0), 100.0)
        else:
            ratio = np.where(value > 0, target / value, np.inf)
            score = 100.0 * np.clip(ratio, 0.0, 1.0)
            score = np.where(value <= target, 100.0, score)
    return np.where(np.isnan(value) | np.isnan(target), np.nan, score)


@dataclass
class Scored:
    """Values, targets and scores for every node; arrays aligned with ``values.frame``."""

    values: Values
    value: dict[str, np.ndarray]
    target: dict[str, np.ndarray]
    score: dict[str, np.ndarray]  # leaves, groups, dimensions and "overall"


def score(values: Values, framework: Framework, rows: Sequence[TargetRow] = ()) -> Scored:
    frame = values.frame
    kinds = frame["object_kind"].to_numpy() if len(frame) else np.array([], dtype=object)
    targets = resolve_targets(values, framework, rows)
    value: dict[str, np.ndarray] = {}
    scores: dict[str, np.ndarray] = {}
    for leaf in framework.leaves():
        v = frame[leaf.code].to_numpy(dtype=float)
        value[leaf.code] = v
        scores[leaf.code] = indicator_scores(v, targets[leaf.code], leaf.higher_is_better)

    def composite(node: Node) -> np.ndarray:
        if node.is_leaf:
            return scores[node.code]
        num = np.zeros(len(frame))
        den = np.zeros(len(frame))
        for child in node.children:
            s = composite(child)
            applies = np.isin(kinds, list(child.applies_to))
            ok = ~np.isnan(s) & applies
            num += np.where(ok, s * child.weight, 0.0)
            den += np.where(ok, child.weight, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            result = np.where(den > 0, num / den, np.nan)
        scores[node.code] = result
        return result

    num = np.zeros(len(frame))
    den = np.zeros(len(frame))
    for dim in framework.dimensions:
        s = composite(dim)
        ok = ~np.isnan(s)
        num += np.where(ok, s * dim.weight, 0.0)
        den += np.where(ok, dim.weight, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores[OVERALL] = np.where(den > 0, num / den, np.nan)
    return Scored(values, value, targets, scores)


def met(value: float | None, target: float | None, higher: bool) -> bool | None:
    if value is None or target is None or np.isnan(value) or np.isnan(target):
        return None
    return value >= target if higher else value <= target
