"""The same indicator values computed the straightforward way, with pandas group-bys.

An independent implementation of the fact relations and the measures (nothing here reads
the SQL of ``facts.py`` or ``measures.py``); only the formula trees are shared. The
benchmark runs it next to the DuckDB engine and checks that both give the same figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from govloop.analytics.store import RATING_KIND_CODES, K, Store, months_between
from govloop.indicators import formula as fml
from govloop.indicators.engine import KEY_COLUMNS, VOLUME
from govloop.indicators.framework import Framework
from govloop.indicators.measures import MEASURES
from govloop.indicators.periods import Period

R = RATING_KIND_CODES
KEYS = {
    "hall": None,
    "department": "department_id",
    "window": "window_id",
    "staff": "staff_id",
    "item": "item_id",
}
OBJECTS = {
    "visits": ("hall", "department", "window", "staff", "item"),
    "ratings": ("hall", "department", "window", "staff", "item"),
    "sessions": ("hall", "window", "staff"),
    "appointments": ("hall", "department", "item"),
}


def _read(store: Store, source: str, hall_id: int, lo: object, hi: object) -> pd.DataFrame:
    files = store.files(source, hall_id, months_between(lo, hi))  # type: ignore[arg-type]
    if not files:
        return pd.DataFrame()
    frame = pd.concat([pq.ParquetFile(f).read().to_pandas() for f in files], ignore_index=True)
    frame = frame[(frame["day"] >= lo) & (frame["day"] <= hi)]
    return frame.sort_values("id", kind="stable")


def visits(ev: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    t = ev[
        (ev["kind"] >= K["ISSUED"]) & (ev["kind"] <= K["CARRIED_OVER"]) & ev["ticket_id"].notna()
    ]
    by = t.groupby("ticket_id")
    out = by.agg(hall_id=("hall_id", "first"), day=("day", "first"), item_id=("item_id", "last"))
    issued = t[t["kind"] == K["ISSUED"]].groupby("ticket_id")
    out["slot"] = issued["slot"].first()
    out["priority"] = (issued["priority"].first() == 1).reindex(out.index, fill_value=False)
    out["arrived_at"] = issued["arrived_at"].first()
    out["appointment"] = t["appointment_id"].notna().groupby(t["ticket_id"]).any()

    def at(kind: int, how: str, mask: pd.Series | None = None) -> pd.Series:
        rows = t[(t["kind"] == kind) & (mask if mask is not None else True)]
        return rows.groupby("ticket_id")["at"].agg(how)

    first_called = at(K["CALLED"], "min")
    last_called = at(K["CALLED"], "max")
    last_started = at(K["STARTED"], "max")
    finished = at(K["FINISHED"], "max")
    no_show_at = at(K["NO_SHOW"], "max", ~t["requeued"].eq(True))
    outcome = t[t["kind"] == K["FINISHED"]].groupby("ticket_id")["outcome"].last()
    handled = t[
        t["kind"].isin([K[k] for k in ("CALLED", "RECALLED", "STARTED", "FINISHED", "NO_SHOW")])
    ]
    out["window_id"] = handled.groupby("ticket_id")["window_id"].last()
    out["staff_id"] = handled.groupby("ticket_id")["staff_id"].last()
    counts = t.assign(
        transfers=t["kind"] == K["TRANSFERRED"],
        recalls=t["kind"] == K["RECALLED"],
        closed=t["kind"].isin([K["CLOSED"], K["CARRIED_OVER"]]),
        cancelled=t["kind"] == K["CANCELLED"],
    ).groupby("ticket_id")
    out["transfers"] = counts["transfers"].sum()
    out["recalls"] = counts["recalls"].sum()
    out["closed"] = counts["closed"].any()
    out["cancelled"] = counts["cancelled"].any()
    fin = finished.reindex(out.index)
    out["wait_s"] = (first_called.reindex(out.index) - out["arrived_at"]).dt.total_seconds()
    out["served"] = fin.notna()
    out["done"] = out["served"] & (outcome.reindex(out.index) == 1)
    out["handle_s"] = (fin - last_started.reindex(out.index)).dt.total_seconds()
    ns = no_show_at.reindex(out.index)
    out["no_show"] = ns.notna() & fin.isna()
    out["busy_s"] = (fin.fillna(ns) - last_called.reindex(out.index)).dt.total_seconds()
    dims = items.set_index("id")
    out["department_id"] = out["item_id"].map(dims["department_id"])
    out["promised_s"] = out["item_id"].map(dims["promised_s"])
    return out.reset_index()


def sessions(ev: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    kinds = [
        K[k] for k in ("WINDOW_SIGNED_IN", "WINDOW_SIGNED_OUT", "WINDOW_PAUSED", "WINDOW_RESUMED")
    ]
    w = ev[ev["kind"].isin(kinds) & ev["window_id"].notna()].copy()
    w["next_at"] = w.groupby(["window_id", "day"])["local_at"].shift(-1)
    w = w[w["kind"].isin([K["WINDOW_SIGNED_IN"], K["WINDOW_RESUMED"]])]
    p = periods.copy()
    p["open_s"] = (
        (p["end_s"] - p["start_s"]).groupby([p["hall_id"], p["valid_from"]]).transform("sum")
    )
    # every interval against every period of its hall, kept where the period held that day
    x = w.reset_index(drop=True).merge(p, on="hall_id")
    # plain dates: the open end (9999-12-31) is beyond pandas' timestamps
    x = x[(x["day"] >= x["valid_from"]) & (x["day"] < x["valid_to"])]
    day0 = pd.to_datetime(x["day"])
    opens = day0 + pd.to_timedelta(x["start_s"], unit="s")
    closes = day0 + pd.to_timedelta(x["end_s"], unit="s")
    start = np.maximum(x["local_at"], opens)
    end = np.minimum(x["next_at"].fillna(closes), closes)
    x = x.assign(signed_s=(end - start).dt.total_seconds().clip(lower=0))
    x["open_s"] = x["open_s"].astype(float)
    return (
        x.groupby(["hall_id", "day", "window_id", "staff_id"])
        .agg(signed_s=("signed_s", "sum"), open_s=("open_s", "first"))
        .reset_index()
    )


def appointments(ev: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    names = {
        K["APPOINTMENT_CHECKED_IN"]: "on_time",
        K["APPOINTMENT_LATE"]: "late",
        K["APPOINTMENT_MISSED"]: "missed",
        K["APPOINTMENT_CANCELLED"]: "cancelled",
    }
    a = ev[ev["kind"].isin(list(names)) & ev["appointment_id"].notna()]
    out = a.groupby("appointment_id").agg(
        hall_id=("hall_id", "first"),
        day=("day", "first"),
        item_id=("item_id", "first"),
        last_kind=("kind", "last"),
    )
    out["outcome"] = out["last_kind"].map(names)
    out["department_id"] = out["item_id"].map(items.set_index("id")["department_id"])
    return out.reset_index()


def ratings(rev: pd.DataFrame) -> pd.DataFrame:
    sub = rev[rev["kind"] == R["rating.submitted"]][
        [
            "rating_id",
            "hall_id",
            "day",
            "slot",
            "item_id",
            "window_id",
            "staff_id",
            "department_id",
            "level",
            "real_name",
        ]
    ]
    rest = rev[rev["kind"] > R["rating.submitted"]]
    g = rest.groupby("rating_id")
    cs = pd.DataFrame(
        {
            "has_case": (rest["kind"] == R["case.opened"]).groupby(rest["rating_id"]).any(),
            "callback_due": g["callback_due"].first(),
            "rectification_due": g["rectification_due"].first(),
            "called_back_at": rest[rest["kind"] == R["case.called_back"]]
            .groupby("rating_id")["local_at"]
            .min(),
            "rectified_at": rest[rest["kind"] == R["case.rectified"]]
            .groupby("rating_id")["local_at"]
            .min(),
            "excluded": (rest["kind"] == R["case.appeal_upheld"]).groupby(rest["rating_id"]).any(),
        }
    )
    out = sub.merge(cs, left_on="rating_id", right_index=True, how="left")
    out = out[~out["excluded"].eq(True)].copy()
    out["has_case"] = out["has_case"].eq(True)
    out["called_back"] = out["called_back_at"].notna()
    cb_day = out["called_back_at"].dt.normalize()
    cb_due = pd.to_datetime(out["callback_due"])
    out["callback_on_time"] = out["called_back"] & (cb_day <= cb_due)
    out["rectified"] = out["rectified_at"].notna()
    rect_day = out["rectified_at"].dt.normalize()
    rect_due = pd.to_datetime(out["rectification_due"])
    out["rectified_on_time"] = out["rectified"] & (rect_day <= rect_due)
    return out


# Measure name → (relation, "count" | "sum" | "quantile", per-row values from the facts).
Row = Callable[[pd.DataFrame, tuple[float, ...]], pd.Series]
MEASURE_ROWS: dict[str, tuple[str, str, Row]] = {
    "tickets": ("visits", "count", lambda f, p: pd.Series(True, index=f.index)),
    "called": ("visits", "count", lambda f, p: f["wait_s"].notna()),
    "served": ("visits", "count", lambda f, p: f["served"]),
    "done": ("visits", "count", lambda f, p: f["done"]),
    "wait_s_sum": ("visits", "sum", lambda f, p: f["wait_s"]),
    "wait_quantile": ("visits", "quantile", lambda f, p: f["wait_s"] / 60.0),
    "wait_within": ("visits", "count", lambda f, p: f["wait_s"] <= p[0] * 60),
    "priority_called": ("visits", "count", lambda f, p: f["priority"] & f["wait_s"].notna()),
    "priority_wait_s_sum": ("visits", "sum", lambda f, p: f["wait_s"].where(f["priority"])),
    "appointment_called": ("visits", "count", lambda f, p: f["appointment"] & f["wait_s"].notna()),
    "appointment_wait_s_sum": ("visits", "sum", lambda f, p: f["wait_s"].where(f["appointment"])),
    "handle_s_sum": ("visits", "sum", lambda f, p: f["handle_s"]),
    "promised_s_sum": ("visits", "sum", lambda f, p: f["promised_s"].where(f["served"])),
    "on_time": ("visits", "count", lambda f, p: f["served"] & (f["handle_s"] <= f["promised_s"])),
    "no_shows": ("visits", "count", lambda f, p: f["no_show"]),
    "transfers": ("visits", "sum", lambda f, p: f["transfers"].astype(float)),
    "transferred": ("visits", "count", lambda f, p: f["transfers"] > 0),
    "recalls": ("visits", "sum", lambda f, p: f["recalls"].astype(float)),
    "recalled": ("visits", "count", lambda f, p: f["recalls"] > 0),
    "unserved": ("visits", "count", lambda f, p: f["closed"] | f["cancelled"]),
    "busy_s_sum": ("visits", "sum", lambda f, p: f["busy_s"]),
    "signed_in_s": ("sessions", "sum", lambda f, p: f["signed_s"]),
    "on_duty_s": ("sessions", "sum", lambda f, p: f["open_s"]),
    "appointments_due": (
        "appointments",
        "count",
        lambda f, p: f["outcome"].isin(["on_time", "late", "missed"]),
    ),
    "appointments_on_time": ("appointments", "count", lambda f, p: f["outcome"] == "on_time"),
    "appointments_late": ("appointments", "count", lambda f, p: f["outcome"] == "late"),
    "appointments_missed": ("appointments", "count", lambda f, p: f["outcome"] == "missed"),
    "ratings": ("ratings", "count", lambda f, p: pd.Series(True, index=f.index)),
    "satisfied": ("ratings", "count", lambda f, p: f["level"] >= 3),
    "very_satisfied": ("ratings", "count", lambda f, p: f["level"] == 5),
    "bad": ("ratings", "count", lambda f, p: f["level"] <= 2),
    "level_sum": ("ratings", "sum", lambda f, p: f["level"].astype(float)),
    "real_name_bad": ("ratings", "count", lambda f, p: (f["level"] <= 2) & f["real_name"]),
    "real_name_bad_called_back": (
        "ratings",
        "count",
        lambda f, p: (f["level"] <= 2) & f["real_name"] & f["called_back"],
    ),
    "cases": ("ratings", "count", lambda f, p: f["has_case"]),
    "cases_called_back": ("ratings", "count", lambda f, p: f["has_case"] & f["called_back"]),
    "callbacks_on_time": ("ratings", "count", lambda f, p: f["has_case"] & f["callback_on_time"]),
    "rectified": ("ratings", "count", lambda f, p: f["has_case"] & f["rectified"]),
    "rectified_on_time": ("ratings", "count", lambda f, p: f["has_case"] & f["rectified_on_time"]),
}


def _period_starts(days: pd.Series, grain: str) -> pd.Series:
    d = pd.to_datetime(days)
    if grain == "day":
        start = d
    elif grain == "week":
        start = d - pd.to_timedelta(d.dt.weekday, unit="D")
    else:
        start = d.dt.to_period("M").dt.start_time
    return start.dt.date


def _aggregate(
    facts: pd.DataFrame,
    relation: str,
    refs: Sequence[fml.MeasureRef],
    grain: str,
    ends: Mapping[Any, Any],
) -> pd.DataFrame:
    facts = facts.copy()
    facts["period_start"] = _period_starts(facts["day"], grain)
    facts = facts[facts["period_start"].isin(list(ends))]
    cols: dict[str, pd.Series] = {}
    kinds: dict[str, str] = {}
    for ref in refs:
        _rel, how, row = MEASURE_ROWS[ref.name]
        cols[ref.key] = row(facts, ref.params)
        kinds[ref.key] = how
    values = pd.DataFrame(cols, index=facts.index)
    out = []
    for kind in OBJECTS[relation]:
        key = KEYS[kind]
        group_cols = ["hall_id", "period_start"] + ([key] if key else [])
        grouped = values.groupby([facts[c] for c in group_cols])
        parts = {}
        for ref in refs:
            g = grouped[ref.key]
            how = kinds[ref.key]
            if how == "count":
                parts[ref.key] = g.sum().astype(float)
            elif how == "sum":
                parts[ref.key] = g.sum(min_count=1)
            else:
                parts[ref.key] = g.quantile(ref.params[0], interpolation="linear")
        agg = pd.DataFrame(parts).reset_index()
        agg["object_kind"] = kind
        agg["object_id"] = agg[key] if key else agg["hall_id"]
        if key:
            agg = agg.drop(columns=[key])
        out.append(agg)
    return pd.concat(out, ignore_index=True)


def baseline_values(
    store: Store, framework: Framework, periods: Mapping[int, Sequence[Period]]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """A frame shaped like the engine's ``Values.frame`` (day, week and month grains),
    and the seconds spent deriving the facts from the raw events and the figures."""
    timings = {"facts": 0.0, "figures": 0.0}
    refs = framework.measure_refs()
    if VOLUME.key not in {r.key for r in refs}:
        refs.append(VOLUME)
    by_relation: dict[str, list[fml.MeasureRef]] = {}
    for ref in refs:
        if MEASURES[ref.name].relation in OBJECTS:
            by_relation.setdefault(MEASURES[ref.name].relation, []).append(ref)
    opening = pq.read_table(store.dim_path("hall_periods")).to_pandas()
    items = pq.read_table(store.dim_path("items")).to_pandas()
    frames = []
    for hall_id, hall_periods in periods.items():
        grain = hall_periods[0].kind
        ends = {p.start: p.end for p in hall_periods}
        lo, hi = min(p.start for p in hall_periods), max(p.end for p in hall_periods)
        started = time.perf_counter()
        ev = _read(store, "hall_events", hall_id, lo, hi)
        rev = _read(store, "rating_events", hall_id, lo, hi)
        facts = {}
        if len(ev):
            facts["visits"] = visits(ev, items)
            facts["sessions"] = sessions(ev, opening)
            facts["appointments"] = appointments(ev, items)
        if len(rev):
            facts["ratings"] = ratings(rev)
        del ev, rev
        timings["facts"] += time.perf_counter() - started
        started = time.perf_counter()
        merged: pd.DataFrame | None = None
        keys = ["hall_id", "object_kind", "object_id", "period_start"]
        for relation, rel_refs in by_relation.items():
            if relation not in facts or facts[relation].empty:
                continue
            agg = _aggregate(facts[relation], relation, rel_refs, grain, ends)
            merged = agg if merged is None else merged.merge(agg, on=keys, how="outer")
        if merged is not None:
            merged["period_end"] = merged["period_start"].map(ends)
            frames.append(merged)
        timings["figures"] += time.perf_counter() - started
    started = time.perf_counter()
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    n = len(result)
    columns = {
        r.key: (result[r.key].to_numpy(dtype=float) if r.key in result else np.full(n, np.nan))
        for r in refs
    }
    out = result[KEY_COLUMNS].copy() if n else pd.DataFrame(columns=KEY_COLUMNS)
    out["_volume"] = np.nan_to_num(columns[VOLUME.key]) if n else []
    kinds = out["object_kind"].to_numpy()
    for leaf in framework.leaves():
        assert leaf.tree is not None
        value = fml.evaluate(leaf.tree, columns, n)
        out[leaf.code] = np.where(np.isin(kinds, list(leaf.applies_to)), value, np.nan)
    out["hall_id"] = out["hall_id"].astype(np.int64)
    out["object_id"] = out["object_id"].astype(np.int64)
    out = out.sort_values(KEY_COLUMNS, kind="stable").reset_index(drop=True)
    timings["figures"] += time.perf_counter() - started
    return out, timings


def compare(
    engine: pd.DataFrame, baseline: pd.DataFrame, codes: Sequence[str]
) -> tuple[bool, float, int]:
    """(equal, max abs difference, compared values): same rows, same figures."""
    keys = ["hall_id", "object_kind", "object_id", "period_start"]
    a = engine.sort_values(keys, kind="stable").reset_index(drop=True)
    b = baseline.sort_values(keys, kind="stable").reset_index(drop=True)
    if (
        len(a) != len(b)
        or not (a[keys].astype(str).to_numpy() == b[keys].astype(str).to_numpy()).all()
    ):
        return False, float("inf"), 0
    equal, worst, compared = True, 0.0, 0
    for code in codes:
        x, y = a[code].to_numpy(dtype=float), b[code].to_numpy(dtype=float)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            equal = False
        both = ~np.isnan(x) & ~np.isnan(y)
        compared += int(both.sum())
        if both.any():
            diff = np.abs(x[both] - y[both])
            worst = max(worst, float(diff.max()))
            if not np.allclose(x[both], y[both], rtol=1e-9, atol=1e-9):
                equal = False
    return equal, worst, compared
