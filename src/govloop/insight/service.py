"""Insight rules: demand, forecasts and staffing read from the analytics store.

Analysis reads the visit facts and indicator measures of the analytics store (through
``govloop.indicators.analytics``) and the hall's layout (through the hall service); it
never reads the transactional tables of another domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from govloop.core.clock import local_today
from govloop.core.errors import BadRequest, NotFound
from govloop.hall.overview import HallLayoutInfo, hall_layout
from govloop.indicators.analytics import visit_facts
from govloop.insight import demand
from govloop.org import service as org_service
from govloop.org.models import Hall

MAX_RANGE_DAYS = 366
HISTORY_DAYS = 182  # history behind forecasts, staffing and baselines


@dataclass(frozen=True)
class Scope:
    """Which visits an analysis looks at (all of the hall when empty)."""

    item_code: str | None = None
    window_number: int | None = None


def layout_of(*, session: Session, hall: Hall) -> HallLayoutInfo:
    return hall_layout(session=session, hall=hall)


def check_range(start: date, end: date) -> None:
    if end < start:
        raise BadRequest(f"the period ends ({end}) before it starts ({start})")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise BadRequest(f"a period can be at most {MAX_RANGE_DAYS} days long")


def visits_in(
    *, session: Session, hall: Hall, start: date, end: date, scope: Scope = Scope()
) -> pd.DataFrame:
    """Visit facts of a hall between two service days, narrowed to an item or window."""
    check_range(start, end)
    visits = visit_facts(hall_id=hall.id, start=start, end=end)
    if scope.item_code or scope.window_number is not None:
        layout = layout_of(session=session, hall=hall)
        if scope.item_code:
            item_id = next((i.id for i in layout.items.values() if i.code == scope.item_code), None)
            if item_id is None:
                raise NotFound(f"this hall serves no item {scope.item_code}")
            visits = visits[visits["item_id"] == item_id]
        if scope.window_number is not None:
            window = next((w for w in layout.windows if w.number == scope.window_number), None)
            if window is None:
                raise NotFound(f"this hall has no window {scope.window_number}")
            visits = visits[visits["window_id"] == window.id]
    # tickets carried over or cancelled at once were never arrivals of the day
    return visits[~visits["cancelled"].astype(bool)]


def default_range(today: date | None = None, days: int = 56) -> tuple[date, date]:
    end = (today or local_today()) - timedelta(days=1)
    return end - timedelta(days=days - 1), end


# --- demand -------------------------------------------------------------------------------


def demand_report(
    *, session: Session, hall_code: str, start: date, end: date, scope: Scope = Scope()
) -> dict[str, Any]:
    hall = org_service.get_hall(session=session, code=hall_code)
    visits = visits_in(session=session, hall=hall, start=start, end=end, scope=scope)
    grid = demand.heatmap(visits, slots=hall_slots(hall))
    daily = demand.daily_arrivals(visits)
    patterns = demand.day_patterns(daily)
    return {
        "hall": {"code": hall.code, "name": hall.name},
        "start": start.isoformat(),
        "end": end.isoformat(),
        "scope": {"item": scope.item_code, "window": scope.window_number},
        "heatmap": grid.as_dict(),
        "peaks": [
            {
                "weekday": p.weekday,
                "slot": p.label,
                "mean_arrivals": round(p.mean_arrivals, 1),
                "share_of_day": round(p.share_of_day, 4),
            }
            for p in demand.peaks(grid)
        ],
        "slot_shares": [round(v, 4) for v in demand.slot_shares(grid)],
        "patterns": [
            {
                "kind": p.kind,
                "days": p.days,
                "mean_arrivals": _round(p.mean_arrivals, 1),
                "ordinary_mean": _round(p.ordinary_mean, 1),
                "ratio": _round(p.ratio, 3),
                "ratio_low": _round(p.ratio_low, 3),
                "ratio_high": _round(p.ratio_high, 3),
            }
            for p in patterns
        ],
        "daily": {
            "days": [d.isoformat() for d in daily.index],
            "arrivals": [int(v) for v in daily.values],
        },
        "open_days": len(daily),
        "arrivals": len(visits),
    }


def compare_report(
    *,
    session: Session,
    hall_code: str,
    a: tuple[date, date],
    b: tuple[date, date],
    scope: Scope = Scope(),
) -> dict[str, Any]:
    hall = org_service.get_hall(session=session, code=hall_code)
    visits_a = visits_in(session=session, hall=hall, start=a[0], end=a[1], scope=scope)
    visits_b = visits_in(session=session, hall=hall, start=b[0], end=b[1], scope=scope)
    result = demand.compare_periods(visits_a, visits_b)
    return {
        "hall": {"code": hall.code, "name": hall.name},
        "a": {"start": a[0].isoformat(), "end": a[1].isoformat(), **result.a.as_dict()},
        "b": {"start": b[0].isoformat(), "end": b[1].isoformat(), **result.b.as_dict()},
        "slots": [demand.slot_label(s) for s in result.slots],
        "weekdays": result.weekdays,
        "difference": result.difference,
        "daily_mean_a": _round(result.daily_mean_a, 1),
        "daily_mean_b": _round(result.daily_mean_b, 1),
        "change": _round(result.change, 4),
    }


def hall_slots(hall: Hall) -> list[int]:
    """The 30-minute slots of the hall's opening hours."""
    first = (hall.opens_at.hour * 60 + hall.opens_at.minute) // demand.SLOT_MINUTES
    last = -(-(hall.closes_at.hour * 60 + hall.closes_at.minute) // demand.SLOT_MINUTES)
    return list(range(first, last))


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
