"""The 12345 hotline's configuration from the console: matter categories with the unit
each is dispatched to (派单目录) and their keyword rules, and the time limits per order type
and urgency (optionally per category). Changes are logged like the rest of the
configuration; a category is archived, never deleted (its orders keep it)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.errors import BadRequest, NotFound, RuleViolation
from govloop.core.models import User
from govloop.hotline.models import HotlineCategory, OrderType, TimeLimit, Urgency
from govloop.hotline.orders import sla
from govloop.org.models import Department
from govloop.setup import changes
from govloop.setup.validate import CODE

TYPE_NAMES = {
    OrderType.ENQUIRY: "咨询",
    OrderType.HELP: "求助",
    OrderType.COMPLAINT: "投诉",
    OrderType.REPORT: "举报",
    OrderType.SUGGESTION: "建议",
    OrderType.PRAISE: "表扬",
}
URGENCY_NAMES = {Urgency.NORMAL: "一般", Urgency.URGENT: "紧急"}


def _category_snapshot(category: HotlineCategory, departments: dict[int, str]) -> dict[str, Any]:
    return {
        "name": category.name,
        "group": category.group_name,
        "department": departments.get(category.department_id or 0),
        "default_type": category.default_type,
        "keywords": list(category.keywords or []),
        "public": bool(category.public),
        "active": bool(category.active),
    }


def save_category(
    *,
    session: Session,
    code: str,
    name: str,
    group: str,
    department: str,
    order_type: str,
    keywords: str,
    public: bool,
    actor: User | None,
    source: str,
) -> HotlineCategory:
    """Create or change one category (matched by code); every field is checked first."""
    code, name, group = code.strip(), name.strip(), group.strip()
    if not CODE.match(code):
        raise BadRequest("分类编码只能由字母、数字、-_. 组成，最长 32 位", code="bad_code")
    if not name or len(name) > 100:
        raise BadRequest("分类名称不能为空且不超过 100 个字", code="bad_name")
    if order_type not in {t.value for t in OrderType}:
        raise BadRequest(f"未知的诉求类型：{order_type}", code="unknown_type")
    unit = session.scalar(
        select(Department).where(
            Department.code == department.strip(), Department.archived.is_(False)
        )
    )
    if unit is None:
        raise BadRequest(f"未知的承办单位：{department}", code="unknown_department")
    words = [w for w in re.split(r"[,，、;；\s]+", keywords) if w][:50]
    departments = dict(session.execute(select(Department.id, Department.code)).all())
    category = session.scalar(select(HotlineCategory).where(HotlineCategory.code == code))
    before = _category_snapshot(category, departments) if category else None
    if category is None:
        category = HotlineCategory(code=code, attributes=[])
        session.add(category)
    category.name, category.group_name, category.department_id = name, group[:100], unit.id
    category.default_type, category.keywords = order_type, words
    category.public, category.active = public, True
    session.flush()
    after = _category_snapshot(category, departments)
    changes.record(
        session, actor=actor, source=source, kind="category", key=code, before=before, after=after
    )
    return category


def archive_category(*, session: Session, code: str, actor: User | None, source: str) -> None:
    category = session.scalar(select(HotlineCategory).where(HotlineCategory.code == code))
    if category is None:
        raise NotFound(f"未找到热线分类“{code}”", code="unknown_category")
    if not category.active:
        raise RuleViolation(f"热线分类“{category.name}”已归档", code="already_archived")
    category.active = False
    changes.record(
        session,
        actor=actor,
        source=source,
        kind="category",
        key=code,
        before={"active": True},
        after={"active": False, "archived": True},
    )


def save_time_limit(
    *,
    session: Session,
    order_type: str,
    urgency: str,
    category: str,
    sign_days: int,
    handle_days: int,
    warn_hours: int,
    actor: User | None,
    source: str,
) -> TimeLimit:
    """Set the time limit of an order type and urgency (for one category, or for all)."""
    if order_type not in {t.value for t in OrderType}:
        raise BadRequest(f"未知的诉求类型：{order_type}", code="unknown_type")
    if urgency not in {u.value for u in Urgency}:
        raise BadRequest(f"未知的紧急程度：{urgency}", code="unknown_urgency")
    if not (0 <= sign_days <= 30 and 1 <= handle_days <= 365 and 1 <= warn_hours <= 240):
        raise BadRequest(
            "签收时限 0–30、办理时限 1–365 个工作日，预警 1–240 小时", code="bad_time_limit"
        )
    if sign_days > handle_days:
        raise BadRequest("签收时限不能长于办理时限", code="sign_after_handle")
    category_id = None
    if category.strip():
        found = session.scalar(
            select(HotlineCategory).where(HotlineCategory.code == category.strip())
        )
        if found is None:
            raise BadRequest(f"未知的热线分类：{category}", code="unknown_category")
        category_id = found.id
    limit = session.scalar(
        select(TimeLimit).where(
            TimeLimit.order_type == order_type,
            TimeLimit.urgency == urgency,
            TimeLimit.category_id.is_(None)
            if category_id is None
            else TimeLimit.category_id == category_id,
        )
    )
    before = _limit_snapshot(limit) if limit else None
    if limit is None:
        limit = TimeLimit(order_type=order_type, urgency=urgency, category_id=category_id)
        session.add(limit)
    limit.sign_working_days, limit.handle_working_days, limit.warn_hours = (
        sign_days,
        handle_days,
        warn_hours,
    )
    session.flush()
    names = TYPE_NAMES[OrderType(order_type)], URGENCY_NAMES[Urgency(urgency)]
    key = f"{names[0]}/{names[1]}/{category.strip() or '全部分类'}"
    changes.record(
        session,
        actor=actor,
        source=source,
        kind="time_limit",
        key=key,
        before=before,
        after=_limit_snapshot(limit),
    )
    return limit


def _limit_snapshot(limit: TimeLimit) -> dict[str, Any]:
    return {
        "sign_days": limit.sign_working_days,
        "handle_days": limit.handle_working_days,
        "warn_hours": limit.warn_hours,
    }


def categories(session: Session) -> list[tuple[HotlineCategory, str]]:
    departments = dict(session.execute(select(Department.id, Department.code)).all())
    rows = session.scalars(
        select(HotlineCategory).order_by(HotlineCategory.active.desc(), HotlineCategory.code)
    )
    return [(c, departments.get(c.department_id or 0, "")) for c in rows]


def time_limits(session: Session) -> list[dict[str, Any]]:
    """Every order type and urgency with the limit in force (configured or the default),
    then the per-category overrides."""
    codes = dict(session.execute(select(HotlineCategory.id, HotlineCategory.code)).all())
    configured = list(session.scalars(select(TimeLimit)))
    out = []
    for order_type in OrderType:
        for urgency in Urgency:
            limit = sla.limit_for(
                session=session, order_type=order_type, urgency=urgency, category_id=None
            )
            own = any(
                r.order_type == order_type and r.urgency == urgency and r.category_id is None
                for r in configured
            )
            out.append(_limit_row(order_type, urgency, "", limit, own))
    for r in configured:
        if r.category_id is not None:
            limit = sla.Limit(r.sign_working_days, r.handle_working_days, r.warn_hours)
            out.append(
                _limit_row(r.order_type, r.urgency, codes.get(r.category_id, ""), limit, True)
            )
    return out


def _limit_row(
    order_type: str, urgency: str, category: str, limit: sla.Limit, configured: bool
) -> dict[str, Any]:
    return {
        "order_type": order_type,
        "type_name": TYPE_NAMES[OrderType(order_type)],
        "urgency": urgency,
        "urgency_name": URGENCY_NAMES[Urgency(urgency)],
        "category": category,
        "sign_days": limit.sign_working_days,
        "handle_days": limit.handle_working_days,
        "warn_hours": limit.warn_hours,
        "configured": configured,
    }
