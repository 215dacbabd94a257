"""Explaining an anomaly: which items, windows, staff or time slots made the difference.

``observed`` holds the anomalous period broken down by one or more dimension columns
(``item``, ``window``, ``staff``, ``slot`` …; finer rows are summed per dimension),
``expected`` the baseline with the same columns (e.g. the mean of the same weekday in
the previous weeks). Every dimension is explained on its own.

- count: a member's contribution is observed − expected; its share is that over the
  dimension's total deviation.
- rate (``value`` = numerator column, ``denominator`` given): the change of the overall
  rate R = Σk / Σn is split exactly over the members, with w a member's share of the
  denominator and r its rate::

      mix effect   (w_obs − w_exp) · (r_exp − R_exp)   its volume share moved
      rate effect  w_obs · (r_obs − r_exp)              its own rate moved

  mix + rate summed over the members equals R_obs − R_exp. ``excess`` is the rate effect
  in numerator units: k_obs − n_obs · r_exp, e.g. "12 more late tickets than window 3 has
  at its usual rate for today's volume". A member absent from the baseline gets the
  overall baseline rate (no mix effect).
- mean (``value`` = the mean, ``denominator`` = the count behind it): a mean is a rate of
  total over count, decomposed the same way (``excess`` in total units, e.g. minutes).

Shares are of the total deviation, so members pushing against it have negative shares
and shares may exceed 1. Members are ranked by contribution in the direction of the
total deviation (by size when there is none), ties by member name: deterministic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("count", "rate", "mean")


@dataclass(frozen=True)
class Contribution:
    dimension: str
    member: str
    rank: int  # 1 = contributed most in the direction of the deviation
    observed: float  # count, rate or mean of the member
    expected: float
    contribution: float  # to the total deviation (count, rate or mean units)
    share: float  # of the total deviation (0 when there is none)
    observed_base: float | None = None  # the denominator (rate) or count (mean)
    expected_base: float | None = None
    mix_effect: float | None = None
    rate_effect: float | None = None
    excess: float | None = None  # numerator above the member's baseline rate / mean

    def as_dict(self) -> dict[str, Any]:
        return {
            key: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for key, v in asdict(self).items()
        }


def _members(frame: pd.DataFrame, dimension: str, columns: list[str]) -> pd.DataFrame:
    if frame.empty or dimension not in frame:
        return pd.DataFrame(columns=columns, dtype=float)
    frame = frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce") for c in columns})
    keys = frame[dimension].astype(object).where(frame[dimension].notna(), "(none)").map(str)
    return frame[columns].fillna(0.0).groupby(keys).sum()


def _ranked(
    dimension: str, rows: list[dict[str, Any]], total: float, top: int | None
) -> list[Contribution]:
    sign = float(np.sign(total))
    if sign:
        rows.sort(key=lambda r: (-sign * r["contribution"], r["member"]))
    else:
        rows.sort(key=lambda r: (-abs(r["contribution"]), r["member"]))
    out = []
    for rank, row in enumerate(rows[:top] if top else rows, start=1):
        share = row["contribution"] / total if sign else 0.0
        out.append(Contribution(dimension=dimension, rank=rank, share=share, **row))
    return out


def _count_rows(table: pd.DataFrame) -> tuple[list[dict[str, Any]], float]:
    rows = [
        {
            "member": member,
            "observed": float(o),
            "expected": float(e),
            "contribution": float(o - e),
        }
        for member, o, e in zip(table.index, table["obs"], table["exp"], strict=True)
    ]
    return rows, float(table["obs"].sum() - table["exp"].sum())


def _rate_rows(table: pd.DataFrame) -> tuple[list[dict[str, Any]], float] | None:
    n_obs, n_exp = table["n_obs"].sum(), table["n_exp"].sum()
    if n_obs <= 0 or n_exp <= 0:
        return None  # no rate on one side: nothing to decompose
    overall = table["exp"].sum() / n_exp
    rows = []
    for member, row in table.iterrows():
        w_obs, w_exp = row["n_obs"] / n_obs, row["n_exp"] / n_exp
        r_exp = row["exp"] / row["n_exp"] if row["n_exp"] > 0 else overall
        r_obs = row["obs"] / row["n_obs"] if row["n_obs"] > 0 else math.nan
        mix = (w_obs - w_exp) * (r_exp - overall)
        rate = w_obs * (r_obs - r_exp) if row["n_obs"] > 0 else 0.0
        rows.append(
            {
                "member": str(member),
                "observed": float(r_obs),
                "expected": float(r_exp) if row["n_exp"] > 0 else math.nan,
                "contribution": float(mix + rate),
                "observed_base": float(row["n_obs"]),
                "expected_base": float(row["n_exp"]),
                "mix_effect": float(mix),
                "rate_effect": float(rate),
                "excess": float(rate * n_obs),
            }
        )
    return rows, float(table["obs"].sum() / n_obs - overall)


def explain(
    observed: pd.DataFrame,
    expected: pd.DataFrame,
    value: str,
    denominator: str | None = None,
    *,
    kind: str | None = None,
    dimensions: list[str] | None = None,
    top: int | None = None,
) -> list[Contribution]:
    """Members of each dimension ranked by their contribution to observed − expected.

    ``kind`` is "count" (default without a denominator), "rate" (default with one) or
    "mean". ``dimensions`` defaults to every column other than value and denominator;
    ``top`` keeps that many members per dimension. Dimensions come in the given order.
    """
    kind = kind or ("count" if denominator is None else "rate")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if kind != "count" and denominator is None:
        raise ValueError(f"a {kind} needs its denominator (count) column")
    columns = [value] if denominator is None else [value, denominator]
    if dimensions is None:
        seen = [*observed.columns, *(c for c in expected.columns if c not in observed)]
        dimensions = [c for c in seen if c not in columns]
    out: list[Contribution] = []
    for dimension in dimensions:
        obs, exp = _members(observed, dimension, columns), _members(expected, dimension, columns)
        if kind == "mean":  # the total behind a mean is mean × count
            obs[value], exp[value] = obs[value] * obs[denominator], exp[value] * exp[denominator]
        table = pd.concat(
            {"obs": obs[value], "exp": exp[value]}
            | ({"n_obs": obs[denominator], "n_exp": exp[denominator]} if denominator else {}),
            axis=1,
        ).fillna(0.0)
        table = table.sort_index()
        if table.empty:
            continue
        decomposed = _count_rows(table) if kind == "count" else _rate_rows(table)
        if decomposed is not None:
            out.extend(_ranked(dimension, *decomposed, top))
    return out
