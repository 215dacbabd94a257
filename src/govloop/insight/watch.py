"""Watching indicator series: find anomalies, store them, explain them by drill-down.

Every leaf indicator of the framework in force is watched per hall and day, tested as
what it is: arrivals as counts, rates with their numerator and denominator, means with
the number of tickets behind them. Found anomalies are stored once (the manager's
assessment is never overwritten by a later scan).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import local_today
from govloop.core.errors import NotFound
from govloop.indicators.analytics import DailyMeasures, IndicatorShape, daily_measures, weeks_before
from govloop.insight import anomalies as detect
from govloop.insight.explain import explain
from govloop.insight.models import Anomaly, AnomalyStatus
from govloop.insight.service import HISTORY_DAYS, layout_of
from govloop.org import service as org_service
from govloop.org.models import Hall

ARRIVALS = "arrivals"  # the count series watched besides the framework's indicators
BASELINE_WEEKS = 4
DRILL_KINDS = ("item", "window", "staff")
WATCHED_KINDS = ("hall", "department")  # series per hall and per department


@dataclass
class ScanReport:
    hall_code: str
    days: int
    series: int
    found: int
    new: int
    skipped: dict[str, str] = field(default_factory=dict)  # indicator → why not watched


def _series(frame: pd.DataFrame, column: str) -> pd.Series:
    out = frame.set_index("period_start")[column].astype(float)
    out.index = pd.to_datetime(out.index)
    return out.sort_index()


def _detections(frame: pd.DataFrame, code: str, shape: IndicatorShape | None) -> list[Any]:
    if shape is None:  # arrivals
        return list(detect.detect_count_anomalies(_series(frame, "m_tickets")))
    if shape.kind == "rate" and shape.numerator and shape.denominator:
        return list(
            detect.detect_rate_anomalies(
                _series(frame, shape.numerator), _series(frame, shape.denominator)
            )
        )
    count_column = shape.denominator or "_volume"
    values = _series(frame, code)
    counts = _series(frame, count_column) if count_column in frame else values * 0 + 1
    return list(detect.detect_mean_anomalies(values, counts))


def _worse(direction: str, shape: IndicatorShape | None) -> bool:
    if shape is None:  # more arrivals means more load; fewer is not a problem
        return direction == "spike"
    return (direction == "dip") == shape.higher_is_better


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class Found:
    """Anomalies found in one hall's series, not yet stored."""

    hall_id: int
    report: ScanReport
    rows: list[dict[str, Any]] = field(default_factory=list)


def find(*, session: Session, hall_code: str, today: date | None = None) -> Found:
    """Test every indicator series of a hall over the history (reads only)."""
    hall = org_service.get_hall(session=session, code=hall_code)
    today = today or local_today()
    days = [today - timedelta(days=k) for k in range(HISTORY_DAYS, 0, -1)]
    measures = daily_measures(
        session=session, hall_id=hall.id, days=days, kinds=list(WATCHED_KINDS)
    )
    report = ScanReport(hall.code, len(days), 0, 0, 0)
    result = Found(hall.id, report)
    if measures.frame.empty:
        return result
    groups = measures.frame.groupby(["object_kind", "object_id"], sort=True)
    for (object_kind, object_id), group in groups:
        frame = group[group["m_tickets"].fillna(0) > 0]  # open days only
        if frame.empty:
            continue
        _watch_object(frame, measures.shapes, str(object_kind), int(object_id), result)
    return result


def _watch_object(
    frame: pd.DataFrame,
    shapes: dict[str, IndicatorShape],
    object_kind: str,
    object_id: int,
    result: Found,
) -> None:
    """Test the series of one object (the hall, or one department) and collect hits."""
    watched: list[tuple[str, IndicatorShape | None]] = [(ARRIVALS, None)]
    for code, leaf_shape in shapes.items():
        if code not in frame or frame[code].notna().sum() == 0:
            if object_kind == "hall":
                result.report.skipped[code] = "no data"
            continue
        watched.append((code, leaf_shape))
    for code, shape in watched:
        result.report.series += 1
        found = []
        for hit in _detections(frame, code, shape):
            found.append(
                (
                    "tail_test",
                    hit.date,
                    hit.direction,
                    dict(
                        observed=_finite(hit.observed),
                        expected=_finite(hit.expected),
                        p_value=_finite(hit.p_value),
                        score=_finite(hit.score) or 0.0,
                        detail={"baseline": str(hit.baseline)},
                        series_kind=hit.kind,
                    ),
                )
            )
        values = _series(frame, "m_tickets" if shape is None else code).dropna()
        for cp in detect.detect_change_points(values):
            direction = "spike" if cp.mean_after > cp.mean_before else "dip"
            found.append(
                (
                    "change_point",
                    cp.date,
                    direction,
                    dict(
                        observed=_finite(cp.mean_after),
                        expected=_finite(cp.mean_before),
                        p_value=None,
                        score=abs(_finite(cp.relative_change) or 0.0) * 10,
                        detail={"relative_change": _finite(cp.relative_change)},
                        series_kind="count" if shape is None else shape.kind,
                    ),
                )
            )
        for method, when, direction, values_of in found:
            result.report.found += 1
            result.rows.append(
                dict(
                    object_kind=object_kind,
                    object_id=object_id,
                    indicator_code=code,
                    day=pd.Timestamp(when).date(),
                    method=method,
                    direction=direction,
                    worse=_worse(direction, shape),
                    **values_of,
                )
            )


def store(*, session: Session, found: Found) -> ScanReport:
    """Store the anomalies not stored yet (an assessed one is never touched again)."""
    existing = {
        (a.object_kind, a.object_id, a.indicator_code, a.day, a.method)
        for a in session.scalars(select(Anomaly).where(Anomaly.hall_id == found.hall_id))
    }
    for row in found.rows:
        key = (
            row["object_kind"],
            row["object_id"],
            row["indicator_code"],
            row["day"],
            row["method"],
        )
        if key in existing:
            continue
        existing.add(key)
        session.add(Anomaly(hall_id=found.hall_id, **row))
        found.report.new += 1
    session.flush()
    return found.report


def scan(*, session: Session, hall_code: str, today: date | None = None) -> ScanReport:
    """Find and store the anomalies of a hall in one unit of work (CLI, API)."""
    return store(session=session, found=find(session=session, hall_code=hall_code, today=today))


def find_all(*, session: Session, today: date | None = None) -> list[Found]:
    """Every hall's anomalies (the timed job reads in a read-only unit of work, then
    stores in a short writing one, so SQLite writers are not held up by the analysis)."""
    return [
        find(session=session, hall_code=code, today=today)
        for code in session.scalars(select(Hall.code).order_by(Hall.code))
    ]


# --- reading and explaining ------------------------------------------------------------------


def list_anomalies(
    *,
    session: Session,
    hall_code: str,
    status: str | None = None,
    worse_only: bool = False,
    limit: int = 200,
) -> list[Anomaly]:
    hall = org_service.get_hall(session=session, code=hall_code)
    query = select(Anomaly).where(Anomaly.hall_id == hall.id)
    if status:
        if status not in {s.value for s in AnomalyStatus}:
            raise NotFound(f"unknown anomaly status {status}")
        query = query.where(Anomaly.status == status)
    if worse_only:
        query = query.where(Anomaly.worse)
    query = query.order_by(Anomaly.day.desc(), Anomaly.score.desc()).limit(limit)
    return list(session.scalars(query))


def get_anomaly(*, session: Session, hall: Hall, anomaly_id: int) -> Anomaly:
    anomaly = session.get(Anomaly, anomaly_id)
    if anomaly is None or anomaly.hall_id != hall.id:
        raise NotFound(f"no anomaly {anomaly_id} in hall {hall.code}")
    return anomaly


def _value_columns(code: str, shapes: dict[str, IndicatorShape]) -> tuple[str, str | None, str]:
    """What to decompose: the count for arrivals, numerator and denominator for a rate,
    the mean with the count behind it (tickets when the formula names none)."""
    if code == ARRIVALS:
        return "m_tickets", None, "count"
    shape = shapes.get(code)
    if shape and shape.kind == "rate" and shape.numerator and shape.denominator:
        return shape.numerator, shape.denominator, "rate"
    return code, (shape.denominator if shape and shape.denominator else "m_tickets"), "mean"


def _labelled(frame: pd.DataFrame, names: dict[int, str]) -> pd.DataFrame:
    frame = frame.copy()
    frame["member"] = frame["object_id"].map(lambda i: names.get(int(i), f"#{i}"))
    return frame


def explain_anomaly(
    *, session: Session, hall_code: str, anomaly_id: int, top: int = 5
) -> dict[str, Any]:
    """Which items, windows, staff and slots contributed most to an anomaly.

    The anomaly day is compared with the same weekday of the previous weeks; a count
    is decomposed by its members' excess arrivals, a rate by its numerator's excess at
    the baseline rate, a mean by the members' count-weighted deviation.
    """
    hall = org_service.get_hall(session=session, code=hall_code)
    anomaly = get_anomaly(session=session, hall=hall, anomaly_id=anomaly_id)
    baseline_days = weeks_before(anomaly.day, BASELINE_WEEKS)
    days = [*baseline_days, anomaly.day]
    layout = layout_of(session=session, hall=hall)
    names = {
        "item": {i.id: f"{i.code} {i.name}" for i in layout.items.values()},
        "window": {w.id: f"{w.number} 号 {w.name}" for w in layout.windows},
    }
    result: dict[str, Any] = {"anomaly": anomaly_out(anomaly), "baseline_days": []}
    by_object: DailyMeasures = daily_measures(
        session=session, hall_id=hall.id, days=days, kinds=list(DRILL_KINDS)
    )
    by_slot: DailyMeasures = daily_measures(
        session=session, hall_id=hall.id, days=days, kinds=["hall"], by_slot=True
    )
    value, denominator, kind_of_value = _value_columns(anomaly.indicator_code, by_object.shapes)
    result["baseline_days"] = sorted(
        {d.isoformat() for d in by_object.frame.get("period_start", []) if d != anomaly.day}
    )
    staff_ids = set()
    if not by_object.frame.empty:
        staff_ids = set(
            by_object.frame.loc[by_object.frame["object_kind"] == "staff", "object_id"].astype(int)
        )
    names["staff"] = _staff_names(session, staff_ids)
    dimensions: dict[str, list[dict[str, Any]]] = {}
    for kind in DRILL_KINDS:
        frame = by_object.frame
        if frame.empty or value not in frame:
            dimensions[kind] = []
            continue
        part = frame[frame["object_kind"] == kind]
        if kind == "item" and anomaly.object_kind == "department":
            # a department's anomaly is explained by that department's items
            own = {i.id for i in layout.items.values() if i.department_id == anomaly.object_id}
            part = part[part["object_id"].isin(own)]
        part = _labelled(part, names.get(kind, {}))
        dimensions[kind] = _contributions(part, anomaly.day, value, denominator, kind_of_value, top)
    slot_frame = by_slot.frame
    if not slot_frame.empty and value in slot_frame:
        slot_frame = slot_frame.copy()
        slot_frame["member"] = slot_frame["slot"].map(
            lambda s: f"{int(s) * 30 // 60:02d}:{int(s) * 30 % 60:02d}"
        )
        dimensions["slot"] = _contributions(
            slot_frame, anomaly.day, value, denominator, kind_of_value, top
        )
    else:
        dimensions["slot"] = []
    result["dimensions"] = dimensions
    return result


def _contributions(
    frame: pd.DataFrame,
    day: date,
    value: str,
    denominator: str | None,
    kind: str,
    top: int,
) -> list[dict[str, Any]]:
    columns = ["member", value] + ([denominator] if denominator and denominator in frame else [])
    observed = frame.loc[frame["period_start"] == day, columns].fillna(0.0)
    history = frame.loc[frame["period_start"] != day, ["period_start", *columns]].fillna(0.0)
    n_days = max(history["period_start"].nunique(), 1)
    expected = history.groupby("member")[columns[1:]].sum().div(n_days).reset_index()
    observed = observed.groupby("member")[columns[1:]].sum().reset_index()
    ranked = explain(observed, expected, value, denominator, kind=kind, dimensions=["member"])
    return [c.as_dict() for c in ranked[:top]]


def _staff_names(session: Session, ids: set[int]) -> dict[int, str]:
    from govloop.hall import service as hall_service

    return hall_service.display_names(session=session, kind="staff", ids=set(ids))


def anomaly_out(anomaly: Anomaly) -> dict[str, Any]:
    return {
        "id": anomaly.id,
        "indicator": anomaly.indicator_code,
        "object_kind": anomaly.object_kind,
        "object_id": anomaly.object_id,
        "day": anomaly.day.isoformat(),
        "method": anomaly.method,
        "series_kind": anomaly.series_kind,
        "direction": anomaly.direction,
        "worse": anomaly.worse,
        "observed": anomaly.observed,
        "expected": anomaly.expected,
        "p_value": anomaly.p_value,
        "score": round(anomaly.score, 2),
        "status": anomaly.status,
        "comment": anomaly.comment,
        "detail": anomaly.detail,
    }


def nan_to_none(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in values]
