"""受理: registering an order from any channel, spotting duplicates, merging them, and
answering enquiries on the spot (即问即答)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.errors import BadRequest, Conflict, NotFound, RuleViolation
from govloop.core.models import User
from govloop.hotline.models import (
    OPEN_STATUSES,
    Channel,
    HotlineCategory,
    OrderStatus,
    OrderType,
    Urgency,
    WorkOrder,
)
from govloop.hotline.orders import directory, journal, notifications, routing
from govloop.hotline.orders.sla import local_day

TITLE_MAX = 100
CONTENT_MAX = 2000
ANSWER_MAX = 4000
ADDRESS_MAX = 300
# Orders about the same place and matter, or from the same caller, within this window are
# offered to the agent as possible duplicates.
DUPLICATE_WINDOW = timedelta(days=7)

MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def clean_text(value: str | None, *, label: str, max_len: int, required: bool) -> str | None:
    """Trimmed text, or a clear error: missing or too long. Angle brackets are ordinary text
    in what citizens write (“面积<90平米”): pages escape it on output instead of refusing it."""
    text = (value or "").strip()
    if not text:
        if required:
            raise BadRequest(f"请填写{label}", code="missing_field", field=label)
        return None
    if len(text) > max_len:
        raise BadRequest(
            f"{label}过长：最多 {max_len} 字，现为 {len(text)} 字", code="too_long", field=label
        )
    return text


def clean_phone(value: str | None) -> str | None:
    phone = re.sub(r"[\s]", "", value or "")
    if not phone:
        return None
    if phone.startswith("+86"):
        phone = phone[3:]
    if not (MOBILE.match(phone) or _LANDLINE.match(phone)):
        raise BadRequest(f"电话号码格式不正确：{value}", code="bad_phone")
    return phone


def clean_email(value: str | None) -> str | None:
    email = (value or "").strip()
    if not email:
        return None
    if len(email) > 200 or not _EMAIL.match(email):
        raise BadRequest(f"邮箱格式不正确：{value}", code="bad_email")
    return email


@dataclass
class OrderInput:
    channel: str
    content: str
    title: str | None = None
    order_type: str | None = None  # defaults to the category's usual type
    urgency: str = Urgency.NORMAL
    category_code: str | None = None
    caller_name: str | None = None
    caller_phone: str | None = None
    caller_email: str | None = None
    confidential: bool = False
    district: str | None = None
    address: str | None = None
    lat: float | None = None
    long: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    media_url: str | None = None
    external_ref: str | None = None
    require_location: bool = False
    created_at: datetime | None = None  # imports keep the sender's time


def get_category(session: Session, code: str) -> HotlineCategory:
    category = session.scalar(
        select(HotlineCategory).where(HotlineCategory.code == code, HotlineCategory.active)
    )
    if category is None:
        raise NotFound(f"未知的诉求分类：{code}", code="unknown_category")
    return category


def _active_category(tables: directory.Directory, code: str) -> directory.Category:
    category = tables.active_by_code.get(code)
    if category is None:
        raise NotFound(f"未知的诉求分类：{code}", code="unknown_category")
    return category


def _validated(session: Session, data: OrderInput, tables: directory.Directory) -> dict[str, Any]:
    try:
        channel = Channel(data.channel)
        urgency = Urgency(data.urgency)
        order_type = OrderType(data.order_type) if data.order_type else None
    except ValueError as exc:
        raise BadRequest(f"取值无效：{exc}", code="bad_value") from exc
    content = clean_text(data.content, label="诉求内容", max_len=CONTENT_MAX, required=True)
    assert content is not None
    title = clean_text(data.title, label="标题", max_len=TITLE_MAX, required=False)
    address = clean_text(data.address, label="地址", max_len=ADDRESS_MAX, required=False)
    district = clean_text(data.district, label="区县", max_len=50, required=False)
    has_point = data.lat is not None and data.long is not None
    if (data.lat is None) != (data.long is None):
        raise BadRequest("经纬度须同时提供", code="bad_location")
    if has_point and not (-90 <= data.lat <= 90 and -180 <= data.long <= 180):  # type: ignore[operator]
        raise BadRequest("经纬度超出范围", code="bad_location")
    if data.require_location and not (address or has_point):
        raise BadRequest("请提供地址或经纬度", code="missing_location")
    category = _active_category(tables, data.category_code) if data.category_code else None
    return {
        "channel": channel,
        "urgency": urgency,
        "order_type": order_type,
        "content": content,
        "title": title or content[:30],
        "category": category,
        "caller_name": clean_text(data.caller_name, label="姓名", max_len=100, required=False),
        "caller_phone": clean_phone(data.caller_phone),
        "caller_email": clean_email(data.caller_email),
        "district": district,
        "address": address,
    }


def create_order(
    *,
    session: Session,
    data: OrderInput,
    actor: User | None,
    tables: directory.Directory | None = None,
) -> WorkOrder:
    """受理: validate, suggest a route, store with a number and an ``order.accepted`` event.
    ``tables``: the directory the caller already read in this transaction."""
    tables = tables or directory.current(session)
    v = _validated(session, data, tables)
    if data.external_ref:
        known = session.scalar(
            select(WorkOrder).where(
                WorkOrder.channel == v["channel"], WorkOrder.external_ref == data.external_ref
            )
        )
        if known is not None:
            raise Conflict(
                f"该来件已受理为工单 {known.number}", code="already_imported", number=known.number
            )
    suggestion = routing.suggest(session=session, text=f"{v['title']} {v['content']}", known=tables)
    category = v["category"]
    # Without the agent's choice, the type is the usual one of the (suggested) category.
    typical = category or (suggestion and tables.categories.get(suggestion.category_id))
    order_type = v["order_type"] or (typical.default_type if typical else OrderType.HELP)
    moment = data.created_at or now()
    order = WorkOrder(
        number=f"tmp-{secrets.token_hex(8)}",
        channel=v["channel"],
        external_ref=data.external_ref,
        order_type=order_type,
        urgency=v["urgency"],
        title=v["title"],
        content=v["content"],
        category_id=category.id if category else (suggestion and suggestion.category_id),
        department_id=category.department_id if category else None,
        caller_name=v["caller_name"],
        caller_phone=v["caller_phone"],
        caller_email=v["caller_email"],
        confidential=data.confidential,
        district=v["district"],
        address=v["address"],
        lat=data.lat,
        long=data.long,
        attributes=dict(data.attributes),
        media_url=data.media_url,
        created_at=moment,
        updated_at=moment,
        accepted_by=actor.id if actor else None,
        status=OrderStatus.ACCEPTED,
    )
    if suggestion is not None:
        order.suggested_category_id = suggestion.category_id
        order.suggested_department_id = suggestion.department_id
        order.suggestion_confidence = suggestion.confidence
        order.suggestion_source = suggestion.source
    if category is None and suggestion is not None:
        order.department_id = suggestion.department_id
    if data.external_ref is None:
        # nothing unique but the id: no savepoint to roll back to
        session.add(order)
        session.flush()
    else:
        try:
            with session.begin_nested():
                session.add(order)
                session.flush()
        except IntegrityError as exc:  # a concurrent import of the same external reference
            raise Conflict("该来件已受理", code="already_imported") from exc
    order.number = f"{local_day(moment):%Y%m%d}{order.id:06d}"
    journal.record(
        session,
        order,
        "order.accepted",
        actor=actor,
        at=moment,
        channel=order.channel,
        suggestion=suggestion.category_code if suggestion else None,
        confidence=suggestion.confidence if suggestion else None,
    )
    notifications.order_accepted(session=session, order=order)
    return order


def find_duplicates(*, session: Session, order: WorkOrder, limit: int = 5) -> list[WorkOrder]:
    """Open orders from the same caller, or about the same place and category, recently."""
    since = order.created_at - DUPLICATE_WINDOW
    same_caller = WorkOrder.caller_phone == order.caller_phone if order.caller_phone else None
    same_place = (
        (WorkOrder.address == order.address) & (WorkOrder.category_id == order.category_id)
        if order.address and order.category_id
        else None
    )
    conditions = [c for c in (same_caller, same_place) if c is not None]
    if not conditions:
        return []
    return list(
        session.scalars(
            select(WorkOrder)
            .where(
                WorkOrder.id != order.id,
                WorkOrder.created_at >= since,
                WorkOrder.status.in_(list(OPEN_STATUSES)),
                WorkOrder.merged_into_id.is_(None),
                or_(*conditions),
            )
            .order_by(WorkOrder.created_at.desc())
            .limit(limit)
        )
    )


def merge_order(*, session: Session, order_id: int, into_id: int, actor: User) -> WorkOrder:
    """Fold a duplicate into the order that carries the matter; both keep their history."""
    journal.require_center(actor)
    if order_id == into_id:
        raise BadRequest("不能把工单合并到它自己", code="merge_self")
    order = journal.get_order(session, order_id, for_update=True)
    target = journal.get_order(session, into_id, for_update=True)
    if order.status not in OPEN_STATUSES or target.status not in OPEN_STATUSES:
        raise RuleViolation("只有未办结的工单可以合并", code="merge_closed")
    if target.merged_into_id is not None:
        raise RuleViolation(f"工单 {target.number} 已被合并", code="merge_target_merged")
    order.status = OrderStatus.MERGED
    order.merged_into_id = target.id
    journal.record(session, order, "order.merged", actor=actor, into=target.number)
    journal.record(session, target, "order.absorbed", actor=actor, duplicate=order.number)
    return order


def answer_directly(
    *,
    session: Session,
    order_id: int,
    actor: User,
    answer: str,
    kb_article_id: int | None = None,
) -> WorkOrder:
    """即问即答: the agent answers an enquiry at intake and closes it without dispatch."""
    journal.require_center(actor)
    text = clean_text(answer, label="答复内容", max_len=ANSWER_MAX, required=True)
    order = journal.get_order(session, order_id, for_update=True)
    if order.status != OrderStatus.ACCEPTED:
        raise RuleViolation("只有尚未派单的工单可以直接答复", code="not_at_intake")
    moment = now()
    order.answer = text
    order.answered_at = moment
    order.direct_answer = True
    order.kb_article_id = kb_article_id
    order.status = OrderStatus.CLOSED
    order.closed_at = moment
    order.closed_by = actor.id
    journal.record(
        session, order, "order.answered_directly", actor=actor, kb_article_id=kb_article_id
    )
    journal.record(session, order, "order.closed", actor=actor, direct=True)
    notifications.order_replied(session=session, order=order)
    return order
