"""Rolling-origin backtest of the arrival forecast against the seasonal-naive forecast.

At each origin (an open day of the history) the model is refitted on every day before it
and forecasts ``horizon_days`` days; the forecast is scored on the slots of the hall's grid
on the days that have actuals (a day without any arrivals in the history is a closure or a
gap in the data and is not scored).

Seasonal naive, the standard benchmark for slot data with a weekly cycle: the same slot on
the latest earlier open day of the same weekday (one week earlier, or further back when
that day was closed), taken from before the origin. MASE divides each error by the
in-sample MAE of that same rule on the training data of its origin (Hyndman & Koehler).
"""

from __future__ import annotations

import time as timer
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from govloop.insight.forecast import (
    MIN_OPEN_DAYS,
    ModelOptions,
    NotEnoughHistory,
    OpeningHours,
    forecast_arrivals,
    slot_table,
)

SEASONAL_NAIVE = (
    "same slot on the latest earlier open day of the same weekday before the origin "
    "(one week earlier unless that day was closed)"
)


@dataclass
class BacktestResult:
    mae: float
    mase: float
    mape: float  # percent, over slots with non-zero actuals
    snaive_mae: float
    snaive_mase: float
    snaive_mape: float
    origins: int
    slots_evaluated: int
    seasonal_naive: str = SEASONAL_NAIVE
    seconds: float = 0.0
    points: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def mase_ratio(self) -> float:
        return self.mase / self.snaive_mase if self.snaive_mase else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "mae": self.mae,
            "mase": self.mase,
            "mape": self.mape,
            "snaive_mae": self.snaive_mae,
            "snaive_mase": self.snaive_mase,
            "snaive_mape": self.snaive_mape,
            "mase_ratio": self.mase_ratio,
            "origins": self.origins,
            "slots_evaluated": self.slots_evaluated,
            "seasonal_naive": self.seasonal_naive,
            "seconds": self.seconds,
        }


def _previous_same_weekday(
    open_days: pd.DatetimeIndex, day: pd.Timestamp, before: pd.Timestamp
) -> pd.Timestamp | None:
    """Latest open day before ``before`` with ``day``'s weekday; for a weekday never open
    before (a rare make-up day), the latest open day."""
    earlier = open_days[open_days < before]
    same = earlier[earlier.weekday == day.weekday()]
    if len(same):
        return same[-1]
    return earlier[-1] if len(earlier) else None


def seasonal_naive_scale(grid: pd.DataFrame) -> float:
    """In-sample MAE of the seasonal-naive rule over open days (rows) × slots (columns)."""
    open_days = grid.index[grid.sum(axis=1) > 0]
    errors = []
    for day in open_days:
        prev = _previous_same_weekday(open_days, day, day)
        if prev is not None and prev.weekday() == day.weekday():
            errors.append(np.abs(grid.loc[day].to_numpy() - grid.loc[prev].to_numpy()))
    return float(np.mean(np.concatenate(errors))) if errors else float("nan")


def _metrics(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> tuple[float, ...]:
    error = np.abs(actual - forecast)
    nonzero = actual > 0
    return (
        float(error.mean()),
        float((error / scale).mean()),
        float((error[nonzero] / actual[nonzero]).mean() * 100),
    )


def backtest(
    history: pd.Series,
    opening: OpeningHours,
    origins: int,
    horizon_days: int = 1,
    *,
    options: ModelOptions | None = None,
) -> BacktestResult:
    """Refit at each of the last ``origins`` open days and score ``horizon_days`` ahead."""
    started = timer.perf_counter()
    table = slot_table(history)
    grid_slots = list(opening.all_slots)
    grid = table.reindex(columns=grid_slots, fill_value=0.0)
    open_days = table.index[table.sum(axis=1) > 0]
    if len(open_days) < MIN_OPEN_DAYS + origins:
        raise NotEnoughHistory(
            f"{origins} origins need at least {MIN_OPEN_DAYS + origins} open days of history; "
            f"got {len(open_days)}."
        )
    # The model sees the history as local slot counts, as slot_table reads it.
    local = table.stack()
    local.index = pd.DatetimeIndex(
        [pd.Timestamp.combine(day.date(), slot) for day, slot in local.index]
    )

    rows = []
    for origin in open_days[-origins:]:
        train = local[local.index < origin]
        forecast = forecast_arrivals(
            train,
            opening,
            origin.date(),
            horizon_days,
            options=options,
            observed_until=(origin - timedelta(days=1)).date(),
        )
        scale = seasonal_naive_scale(grid[grid.index < origin])
        frame = forecast.frame.assign(day=forecast.frame["slot_start"].dt.normalize())
        for day, part in frame.groupby("day"):
            if day not in open_days:
                continue
            prev = _previous_same_weekday(open_days, day, origin)
            # Score the day's open slots and any slot that had arrivals anyway.
            open_slots = set(opening.day(day.date()).slots)
            slots = part["slot_start"].dt.time
            part = part[slots.isin(open_slots).to_numpy() | (grid.loc[day, slots].to_numpy() > 0)]
            slots = part["slot_start"].dt.time
            rows.append(
                pd.DataFrame(
                    {
                        "origin": origin,
                        "slot_start": part["slot_start"].to_numpy(),
                        "actual": grid.loc[day, slots].to_numpy(),
                        "forecast": part["expected"].to_numpy(),
                        "lower": part["lower"].to_numpy(),
                        "upper": part["upper"].to_numpy(),
                        "snaive": grid.loc[prev, slots].to_numpy(),
                        "scale": scale,
                    }
                )
            )
    points = pd.concat(rows, ignore_index=True)
    actual = points["actual"].to_numpy()
    scale = points["scale"].to_numpy()
    mae, mase, mape = _metrics(actual, points["forecast"].to_numpy(), scale)
    s_mae, s_mase, s_mape = _metrics(actual, points["snaive"].to_numpy(), scale)
    return BacktestResult(
        mae=mae,
        mase=mase,
        mape=mape,
        snaive_mae=s_mae,
        snaive_mase=s_mase,
        snaive_mape=s_mape,
        origins=origins,
        slots_evaluated=len(points),
        seconds=timer.perf_counter() - started,
        points=points,
    )
