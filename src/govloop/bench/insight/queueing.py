"""Figures for the queueing core: speed of week staffing, Erlang A accuracy, plans in simulation.

The benchmark hall: six departments of five items each (30 items), two specialised windows
per department serving 2-5 of its items (together all five), and three general windows
(综合窗口), 15 windows in all. A week has 7 days × 20 half-hour slots (08:30-18:30):
weekday volumes fall from Monday to Friday, weekends are quieter, each day has a morning
and an afternoon peak with a lunch dip. Handling 5-25 min, patience 30-60 min; the
Monday peaks are beyond what the hall's 15 windows can serve.

- ``staffing_seconds``: wall time of ``plan_week`` on that week (fastest of a few runs,
  so that other load on the machine does not count), and with ``model="erlang_c"``.
- ``erlang_a_agree``: largest |SL Erlang A − SL simulated| over a grid of single-queue
  loads; each point runs for at least 100 000 expected arrivals and longer until its
  batch-means standard error is below 0.004 (up to 16 times). Batch means understate the
  error at heavy load with long patience, so a few standard errors are not alarming.
- ``sim_target_met``: share of feasible slots where every item meets its target in a
  multi-skill simulation of the slot's open windows at the slot's rates held steady,
  long enough for the slot's rarest item to have ~1000 arrivals; ``..._within_noise``
  counts an item as met when it is less than two standard errors short. Slots no
  staffing can serve are counted apart (and whether the simulation agrees).
- ``day_sim_target_met``: share of slot-items (slot × item with arrivals) meeting their
  target when the whole day is simulated with the plan (``insight.day_simulation``: the
  slot rates in force, queues and abandonment carried across slots, the hall emptied
  after closing), for the time-varying plan (modified offered load + whole-day
  simulation correction, ``insight.time_varying``) beside per-slot Erlang A and per-slot
  Erlang C plans of the same days; each with the windows it needs. The check runs on
  other seeds than the correction, so the correction is not graded on its own noise.
- ``pyworkforce``: its Erlang C against ours on the grid, when it is installed.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from importlib import metadata
from typing import Any, TypeVar

from govloop.insight.day_simulation import simulate_day
from govloop.insight.erlang import Model, erlang_a, erlang_c_service_level
from govloop.insight.queueing_types import DEFAULT_TARGET, ItemLoad, WindowSkill
from govloop.insight.simulation import simulate_hall
from govloop.insight.staffing import SlotPlan, WeekPlan, check_with_simulation, plan_week
from govloop.insight.time_varying import plan_week_time_varying

WEEK_START = datetime(2025, 3, 3, 8, 30)  # a Monday
SLOTS_PER_DAY = 20
DEPARTMENTS = 6
ITEMS_PER_DEPARTMENT = 5
DAY_FACTOR = (1.25, 1.1, 1.0, 0.95, 0.85, 0.5, 0.35)  # Monday .. Sunday
GRID_WINDOWS = (1, 2, 5, 10, 20)
GRID_LOADS = (0.5, 0.7, 0.85, 0.95, 1.1)  # offered load per window
GRID_PATIENCE = (15.0, 45.0, 120.0)  # minutes; mean handling is 10 min
GRID_HANDLING = 10.0
GRID_ARRIVALS = 100_000  # expected arrivals simulated per grid point (at least)
GRID_PRECISION = 0.004  # a point is simulated longer until its standard error is below this
RAREST_ARRIVALS = 1_000  # expected arrivals of a slot's rarest item in its simulation
STAFFING_REPEATS = 3  # plan_week is timed this many times; the fastest run is reported
DAY_REPLICATIONS = 400  # simulated days behind each day's whole-day check
T = TypeVar("T")


def benchmark_hall(seed: int) -> tuple[list[WindowSkill], list[dict[str, float | str]]]:
    """The hall's windows and its items' daily volume, handling and patience."""
    rng = random.Random(seed)
    windows: list[WindowSkill] = []
    items: list[dict[str, float | str]] = []
    for d in range(DEPARTMENTS):
        codes = [f"D{d + 1}-{i + 1}" for i in range(ITEMS_PER_DEPARTMENT)]
        for code in codes:
            items.append(
                {
                    "code": code,
                    "daily": rng.lognormvariate(math.log(7.5), 0.5),  # citizens per weekday
                    "handling": rng.uniform(5.0, 25.0),
                    "patience": rng.uniform(30.0, 60.0),
                }
            )
        # two specialised windows with overlapping skills that cover the department
        split = rng.randint(2, ITEMS_PER_DEPARTMENT - 1)
        first = frozenset(codes[: split + rng.randint(0, 1)])
        second = frozenset(codes[split - rng.randint(0, 1) :])
        windows += [WindowSkill(f"W{d + 1}A", first), WindowSkill(f"W{d + 1}B", second)]
    windows += [WindowSkill(f"G{k + 1}") for k in range(3)]
    return windows, items


def _slot_shape(slot: int) -> float:
    """Relative arrival intensity of slot 0..19 (08:30-18:30): two peaks, a lunch dip."""
    hour = 8.5 + slot / 2 + 0.25
    morning = math.exp(-(((hour - 10.0) / 1.2) ** 2))
    afternoon = 0.8 * math.exp(-(((hour - 15.0) / 1.4) ** 2))
    return 0.15 + morning + afternoon


def benchmark_week(seed: int, days: int = 7) -> dict[datetime, list[ItemLoad]]:
    _, items = benchmark_hall(seed)
    rng = random.Random(seed + 1)
    shape = [_slot_shape(s) for s in range(SLOTS_PER_DAY)]
    day_minutes = 30.0 * sum(shape)  # so that a day's rates add up to the daily volume
    week: dict[datetime, list[ItemLoad]] = {}
    for day in range(days):
        for slot in range(SLOTS_PER_DAY):
            start = WEEK_START + timedelta(days=day, minutes=30 * slot)
            week[start] = [
                ItemLoad(
                    code=str(item["code"]),
                    arrival_rate=float(item["daily"])
                    * DAY_FACTOR[day]
                    * shape[slot]
                    / day_minutes
                    * rng.uniform(0.85, 1.15),
                    mean_handling=float(item["handling"]),
                    mean_patience=float(item["patience"]),
                )
                for item in items
            ]
    return week


def queueing_figures(seed: int = 7, quick: bool = False) -> dict[str, Any]:
    """Figures for ``govloop bench insight``; ``quick`` uses tiny sizes (for tests)."""
    days = 1 if quick else 7
    windows, _ = benchmark_hall(seed)
    week = benchmark_week(seed, days=days)
    workers = 1 if quick else min(2, os.cpu_count() or 1)
    figures: dict[str, Any] = {
        "seed": seed,
        "quick": quick,
        "sizes": {
            "days": days,
            "slots": len(week),
            "items": DEPARTMENTS * ITEMS_PER_DEPARTMENT,
            "windows": len(windows),
            "general_windows": sum(1 for w in windows if w.is_general),
        },
    }
    figures.update(_staffing_speed(week, windows, repeats=1 if quick else STAFFING_REPEATS))
    plans = plan_week(week, windows).slots
    figures["windows_planned"] = sum(plan.window_count for plan in plans.values())
    figures["infeasible_slots"] = sum(1 for plan in plans.values() if not plan.feasible)
    figures.update(_erlang_a_agreement(seed, quick, workers))
    figures.update(_plans_in_simulation(week, windows, plans, seed, quick, workers))
    figures.update(_whole_days(week, windows, seed, quick, workers))
    figures["pyworkforce"] = _pyworkforce_comparison()
    return figures


def _staffing_speed(
    week: dict[datetime, list[ItemLoad]], windows: list[WindowSkill], repeats: int
) -> dict[str, Any]:
    timings = {}
    models: tuple[Model, ...] = ("erlang_a", "erlang_c")
    for model in models:
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            plan_week(week, windows, model=model)
            runs.append(time.perf_counter() - started)
        timings[model] = round(min(runs), 3)
    return {
        "staffing_seconds": timings["erlang_a"],
        "staffing_seconds_erlang_c": timings["erlang_c"],
        "staffing_goal_seconds": 1.0,
        "staffing_runs": repeats,
    }


def _grid(quick: bool) -> list[tuple[int, float, float]]:
    if quick:
        return [(n, rho, 45.0) for n in (1, 5) for rho in (0.7, 1.1)]
    return [(n, rho, p) for n in GRID_WINDOWS for rho in GRID_LOADS for p in GRID_PATIENCE]


def _grid_point(args: tuple[int, float, float, int, int, float]) -> dict[str, float]:
    """One single-queue point, simulated until its batch-means error is below ``precision``
    (up to 16 times the planned arrivals: heavy load with long patience relaxes slowly)."""
    windows, load, patience, arrivals, seed, precision = args
    rate = load * windows / GRID_HANDLING
    warmup = 50.0 * GRID_HANDLING
    while True:
        minutes = warmup + arrivals / rate
        sim = simulate_hall(
            [ItemLoad("x", rate, GRID_HANDLING, patience)],
            [WindowSkill(f"G{k}") for k in range(windows)],
            minutes,
            seed,
            DEFAULT_TARGET,
            warmup,
        ).overall
        growth = (sim.service_level_se / precision) ** 2
        if growth <= 1.0 or arrivals >= 16 * GRID_ARRIVALS:
            break
        arrivals = min(16 * GRID_ARRIVALS, math.ceil(arrivals * growth * 1.2))
    exact = erlang_a(rate, GRID_HANDLING, patience, windows, DEFAULT_TARGET.within_minutes)
    return {
        "windows": windows,
        "load": load,
        "patience": patience,
        "erlang_a": exact.service_level,
        "simulated": sim.service_level,
        "simulated_se": sim.service_level_se,
        "abandon_erlang_a": exact.p_abandon,
        "abandon_simulated": sim.abandoned / sim.arrivals,
        "minutes": minutes,
        "arrivals": sim.arrivals,
    }


def _erlang_a_agreement(seed: int, quick: bool, workers: int) -> dict[str, Any]:
    arrivals = 4_000 if quick else GRID_ARRIVALS
    precision = 1.0 if quick else GRID_PRECISION
    tasks = [
        (n, rho, p, arrivals, seed + k, precision) for k, (n, rho, p) in enumerate(_grid(quick))
    ]
    points = _map(_grid_point, tasks, workers)
    worst = max(points, key=lambda p: abs(p["erlang_a"] - p["simulated"]))
    return {
        "erlang_a_agree": round(abs(worst["erlang_a"] - worst["simulated"]), 4),
        "erlang_a_agree_goal": 0.02,
        "erlang_a_abandon_agree": round(
            max(abs(p["abandon_erlang_a"] - p["abandon_simulated"]) for p in points), 4
        ),
        "erlang_a_worst_point": {k: round(v, 4) for k, v in worst.items()},
        "erlang_a_worst_difference_in_se": round(
            max(abs(p["erlang_a"] - p["simulated"]) / p["simulated_se"] for p in points), 2
        ),
        "erlang_a_grid": {
            "points": len(points),
            "windows": sorted({p["windows"] for p in points}),
            "load_per_window": sorted({p["load"] for p in points}),
            "patience_minutes": sorted({p["patience"] for p in points}),
            "mean_handling_minutes": GRID_HANDLING,
            "arrivals_per_point_min": min(p["arrivals"] for p in points),
            "arrivals_per_point_max": max(p["arrivals"] for p in points),
            "simulated_minutes_total": round(sum(p["minutes"] for p in points)),
            "largest_simulation_se": round(max(p["simulated_se"] for p in points), 4),
        },
    }


def _slot_check(args: tuple[SlotPlan, list[ItemLoad], list[WindowSkill], float, int]) -> Any:
    plan, loads, windows, minutes, seed = args
    return check_with_simulation(plan, loads, windows, DEFAULT_TARGET, minutes, seed)


def _plans_in_simulation(
    week: dict[datetime, list[ItemLoad]],
    windows: list[WindowSkill],
    plans: dict[datetime, SlotPlan],
    seed: int,
    quick: bool,
    workers: int,
) -> dict[str, Any]:
    """Each slot's plan simulated at the slot's rates held steady (multi-skill hall)."""
    starts = [start for start in week if any(i.arrival_rate > 0 for i in week[start])]
    if quick:
        starts = starts[:: max(1, len(starts) // 4)][:4]
    rarest = RAREST_ARRIVALS // 10 if quick else RAREST_ARRIVALS
    tasks = []
    for k, start in enumerate(starts):
        slowest = min(i.arrival_rate for i in week[start] if i.arrival_rate > 0)
        minutes = min(2_000_000.0, max(5_000.0, rarest / slowest))
        tasks.append((plans[start], week[start], windows, minutes, seed + 1000 + k))
    checks = _map(_slot_check, tasks, workers)
    feasible = [c for start, c in zip(starts, checks, strict=True) if plans[start].feasible]
    infeasible = [c for start, c in zip(starts, checks, strict=True) if not plans[start].feasible]

    def within_noise(check: Any) -> bool:
        return all(
            c.met
            or (
                not math.isnan(c.simulated_se)
                and c.simulated + 2 * c.simulated_se >= c.target.share
            )
            for c in check.items.values()
        )

    gaps = [c.simulated - c.predicted for check in feasible for c in check.items.values()]
    return {
        "sim_target_met": round(sum(c.all_met for c in feasible) / len(feasible), 3)
        if feasible
        else None,
        "sim_target_met_goal": 0.95,
        "sim_target_met_within_noise": round(sum(map(within_noise, feasible)) / len(feasible), 3)
        if feasible
        else None,
        "sim_slots": len(starts),
        "sim_feasible_slots": len(feasible),
        "sim_infeasible_slots_also_missed": sum(not c.all_met for c in infeasible),
        "sim_infeasible_slots": len(infeasible),
        "sim_minutes_per_slot_range": [
            round(min(t[3] for t in tasks)),
            round(max(t[3] for t in tasks)),
        ],
        "sim_rarest_item_arrivals": rarest,
        "sim_minus_predicted_mean": round(sum(gaps) / len(gaps), 4) if gaps else None,
        "sim_minus_predicted_worst": round(min(gaps), 4) if gaps else None,
    }


def _day_check(
    args: tuple[
        dict[datetime, list[ItemLoad]], dict[datetime, tuple[str, ...]], list[WindowSkill], int, int
    ],
) -> tuple[int, int, int, float, float]:
    """(slot-items, met, met within two standard errors, worst level, overtime) of a day."""
    slots, opened, windows, replications, seed = args
    result = simulate_day(slots, opened, windows, DEFAULT_TARGET, 30.0, replications, seed)
    levels = list(result.levels.values())
    return (
        len(levels),
        sum(v.met for v in levels),
        sum(v.met_within_noise for v in levels),
        min((v.service_level for v in levels), default=1.0),
        result.overtime_minutes,
    )


def _whole_days(
    week: dict[datetime, list[ItemLoad]],
    windows: list[WindowSkill],
    seed: int,
    quick: bool,
    workers: int,
) -> dict[str, Any]:
    """Time-varying plan vs per-slot Erlang A and C, each simulated over whole days."""
    started = time.perf_counter()
    time_varying = plan_week_time_varying(week, windows, replications=20 if quick else 60)
    tv_seconds = time.perf_counter() - started
    plans: dict[str, WeekPlan] = {
        "time_varying": time_varying,
        "time_varying_without_correction": plan_week_time_varying(week, windows, correct=False),
        "erlang_a": plan_week(week, windows, model="erlang_a"),
        "erlang_c": plan_week(week, windows, model="erlang_c"),
    }
    replications = 40 if quick else DAY_REPLICATIONS
    days = sorted({start.date() for start in week})
    tasks = [
        (
            {s: week[s] for s in week if s.date() == day},
            {s: plan.slots[s].open_windows for s in week if s.date() == day},
            windows,
            replications,
            seed + 5000 + k,  # the same simulated days for every method
        )
        for plan in plans.values()
        for k, day in enumerate(days)
    ]
    checks = _map(_day_check, tasks, workers)
    by_method: dict[str, Any] = {}
    for m, (name, plan) in enumerate(plans.items()):
        mine = checks[m * len(days) : (m + 1) * len(days)]
        total = sum(c[0] for c in mine)
        by_method[name] = {
            "windows": sum(plan.required.values()),
            "day_sim_target_met": round(sum(c[1] for c in mine) / total, 4),
            "day_sim_target_met_within_noise": round(sum(c[2] for c in mine) / total, 4),
            "worst_slot_item": round(min(c[3] for c in mine), 3),
            "infeasible_slots": len(plan.infeasible),
            "overtime_minutes_per_day": round(sum(c[4] for c in mine) / len(mine), 1),
        }
    return {
        "day_sim_target_met": by_method["time_varying"]["day_sim_target_met"],
        "day_sim_target_met_goal": 0.95,
        "day_sim_windows": {name: v["windows"] for name, v in by_method.items()},
        "day_sim_methods": by_method,
        "day_sim_slot_items": sum(c[0] for c in checks[: len(days)]),
        "day_sim_replications": replications,
        "time_varying_staffing_seconds": round(tv_seconds, 2),
    }


def _pyworkforce_comparison() -> dict[str, Any]:
    """pyworkforce's Erlang C against ours on stable grid points, values and speed."""
    try:
        from pyworkforce.queuing import ErlangC
    except ImportError as error:
        return {"available": False, "reason": f"not installed: {error}"}
    interval = 30.0
    points = [(n, rho) for n in GRID_WINDOWS for rho in GRID_LOADS if rho < 1.0]
    ours, theirs = [], []
    started = time.perf_counter()
    for n, rho in points:
        rate = rho * n / GRID_HANDLING
        ours.append(erlang_c_service_level(rate, GRID_HANDLING, n, DEFAULT_TARGET.within_minutes))
    our_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for n, rho in points:
        model = ErlangC(
            transactions=rho * n / GRID_HANDLING * interval,
            aht=GRID_HANDLING,
            asa=DEFAULT_TARGET.within_minutes,
            interval=interval,
        )
        theirs.append(model.service_level(positions=n))
    their_seconds = time.perf_counter() - started
    return {
        "available": True,
        "version": metadata.version("pyworkforce"),
        "points": len(points),
        "largest_erlang_c_difference": max(abs(a - b) for a, b in zip(ours, theirs, strict=True)),
        "seconds_ours": round(our_seconds, 6),
        "seconds_pyworkforce": round(their_seconds, 6),
        "erlang_a": (
            "not compared: pyworkforce's Erlang A needs Python >= 3.12, we run "
            f"{sys.version_info.major}.{sys.version_info.minor}"
        ),
    }


def _map(function: Callable[[Any], T], tasks: Iterable[Any], workers: int) -> list[T]:
    """Run independent, seeded simulations, in worker processes when there are several."""
    tasks = list(tasks)
    if workers <= 1 or len(tasks) <= 1:
        return [function(task) for task in tasks]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, tasks, chunksize=1))
