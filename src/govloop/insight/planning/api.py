"""JSON API of the hall's planning (``/api/v1/halls/{code}/…``): the arrivals forecast with
its backtest, the staffing plan for a week, the staffing target (manager) and the public
"best time to come" per service item.

The query helpers here (horizon, week, target) are shared with the planning pages, so bad
input is refused with the same Chinese words on both surfaces: JSON here, the friendly page
there. The planning service's own refusals are worded for people too (``chinese_errors``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.clock import local_today
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, public, require
from govloop.core.errors import BadRequest, GovloopError
from govloop.core.models import User
from govloop.insight.api import parse_scope
from govloop.insight.planning import service as planning
from govloop.org import service as org_service

router = APIRouter(
    prefix="/api/v1/halls", tags=["insight-planning"], dependencies=[Depends(csrf_protect)]
)
viewer = require(Permission.HALL_VIEW)
manager = require(Permission.HALL_MANAGE)

DEFAULT_DAYS = 14
MAX_TARGET_MINUTES = 480.0

# English refusals of the planning service → the words shown to people.
_SERVICE_MESSAGES = (
    ("the forecast horizon must be", f"预测天数须为 1 到 {planning.MAX_HORIZON_DAYS} 天"),
    ("not enough history to forecast", "历史数据不足，暂时无法预测（至少需要两周的开放日数据）"),
    ("not enough history to plan staffing", "历史数据不足，暂时无法测算排班"),
    ("staffing can be planned at most", f"排班最多可提前 {planning.MAX_HORIZON_DAYS} 天测算"),
    ("staffing is planned for today or later", "只能为今天及以后的日期测算排班"),
    ("the target share must be", "目标比例须大于 0 且不超过 1（例如 0.8 表示 80%）"),
    ("the target time must be", "目标等候时间须大于 0 且不超过 480 分钟"),
    ("this hall serves no item", "本大厅不办理该事项"),
)


@contextmanager
def chinese_errors() -> Iterator[None]:
    """Re-raise the planning service's refusals with a Chinese message (same status, code)."""
    try:
        yield
    except GovloopError as exc:
        for prefix, message in _SERVICE_MESSAGES:
            if exc.message.startswith(prefix):
                raise type(exc)(message, code=exc.code, **exc.details) from exc
        raise


# --- query helpers (shared with the pages) -------------------------------------------------


def parse_days(value: str | None) -> int:
    text = (value or "").strip()
    if not text:
        return DEFAULT_DAYS
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= planning.MAX_HORIZON_DAYS:
        raise BadRequest(
            f"预测天数须为 1 到 {planning.MAX_HORIZON_DAYS} 之间的整数（收到：{text[:10]}）",
            code="bad_days",
        )
    return days


def parse_week(value: str | None, today: date | None = None) -> date | None:
    """The first day of the planned week; empty: the service's default (next Monday)."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadRequest("请按 YYYY-MM-DD 填写日期，例如 2026-11-30", code="bad_date") from None
    today = today or local_today()
    if day < today:
        raise BadRequest("只能为今天及以后的日期测算排班", code="week_in_past")
    if (day - today).days + 7 > planning.MAX_HORIZON_DAYS:
        last = today + timedelta(days=planning.MAX_HORIZON_DAYS - 7)
        raise BadRequest(
            f"排班最多可提前 {planning.MAX_HORIZON_DAYS} 天测算，起始日期最晚为 {last}",
            code="week_too_far",
        )
    return day


def parse_number(value: str | float | None, label: str) -> float:
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value or "").strip())
    except ValueError:
        raise BadRequest(f"{label}须为数字", code="bad_number") from None


def check_target(share: float, within_minutes: float) -> None:
    if not 0.0 < share <= 1.0:
        raise BadRequest(
            "目标比例须大于 0 且不超过 1（例如 0.8 表示 80%）", code="bad_share", share=share
        )
    if not 0.0 < within_minutes <= MAX_TARGET_MINUTES:
        raise BadRequest(
            "目标等候时间须大于 0 且不超过 480 分钟", code="bad_minutes", minutes=within_minutes
        )


def forecast_of(
    *, session: Session, hall_code: str, days: str | None, item: str | None
) -> dict[str, Any]:
    hall = org_service.get_hall(session=session, code=hall_code)
    horizon = parse_days(days)
    scope = parse_scope(session=session, hall=hall, item=item, window=None)
    with chinese_errors():
        return planning.forecast_report(
            session=session, hall_code=hall.code, days=horizon, scope=scope
        )


def staffing_of(*, session: Session, hall_code: str, week: str | None) -> dict[str, Any]:
    hall = org_service.get_hall(session=session, code=hall_code)
    week_start = parse_week(week)
    with chinese_errors():
        result = planning.staffing(session=session, hall_code=hall.code, week_start=week_start)
    return planning.staffing_report(result)


def update_target(
    *,
    session: Session,
    hall_code: str,
    share: float,
    within_minutes: float,
    item: str | None,
    actor: User,
) -> dict[str, Any]:
    check_target(share, within_minutes)
    hall = org_service.get_hall(session=session, code=hall_code)
    with chinese_errors():
        row = planning.set_staffing_target(
            session=session,
            hall_code=hall.code,
            share=share,
            within_minutes=within_minutes,
            item_code=(item or "").strip() or None,
            actor_id=actor.id,
        )
    return {
        "hall": hall.code,
        "item": (item or "").strip() or None,
        "share": row.share,
        "within_minutes": row.within_minutes,
    }


# --- routes --------------------------------------------------------------------------------


@router.get("/{hall_code}/forecast")
def forecast(
    hall_code: str,
    days: str = Query("", max_length=10, description=f"Horizon, 1 to {planning.MAX_HORIZON_DAYS}"),
    item: str = Query("", max_length=32, description="Narrow to one service item (code)"),
    _user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """Expected arrivals per day and per 30-minute slot with the prediction band, the
    calendar effects, notes, and a rolling-origin backtest against the seasonal naive."""
    return forecast_of(session=session, hall_code=hall_code, days=days, item=item)


@router.get("/{hall_code}/staffing")
def staffing(
    hall_code: str,
    week: str = Query("", max_length=10, description="First day of the week (YYYY-MM-DD)"),
    _user: User = Depends(viewer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """Per day and slot: forecast arrivals, required / usual windows, feasibility; the
    proposed shifts, the gaps with their suggestion and the item profiles."""
    return staffing_of(session=session, hall_code=hall_code, week=week)


class TargetIn(BaseModel):
    share: float = Field(description="Share of visitors served within the time, e.g. 0.8")
    within_minutes: float = Field(description="Waiting time of the target, in minutes")
    item: str | None = Field(None, max_length=32, description="Service item code; none: hall")


@router.put("/{hall_code}/staffing/target")
def staffing_target(
    hall_code: str,
    body: TargetIn,
    user: User = Depends(manager),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """Set the service target the staffing plan must reach, for the hall or one item."""
    return update_target(
        session=session,
        hall_code=hall_code,
        share=body.share,
        within_minutes=body.within_minutes,
        item=body.item,
        actor=user,
    )


@router.get("/{hall_code}/best-time", dependencies=[Depends(public)])
def best_time(
    hall_code: str,
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """Public: per item and weekday, the half hours with the shortest typical wait over the
    recent weeks, and the one to avoid."""
    return planning.best_times(session=session, hall_code=hall_code)
