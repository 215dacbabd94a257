"""Open311 GeoReport v2: the hotline's public categories as services, Open311 requests as
work orders, API keys for the clients that submit them.

The functions here return the JSON shape of each response (the XML one is rendered from it
by ``open311_api``). Notes on how this server reads the specification:

- One jurisdiction: ``jurisdiction_id`` is accepted and ignored, as the spec allows for
  endpoints that serve a single jurisdiction.
- ``service_request_id`` is the work order's number. Every service is ``realtime``; the POST
  response also carries the order's token so that ``tokens/{token}`` resolves it (the spec
  says a token "should not" accompany an id; clients that follow it simply use the id).
- Only orders that came in through Open311 are listed, never caller details, never the
  answer text (it is written to the caller and may name them).
- Fields without a value are left out rather than sent as null: the swagger definitions do
  not allow null, and the spec marks them "may not be returned".
- ``address_id`` alone cannot be located (no master address repository): it is kept with
  the order when sent with ``address_string`` or ``lat``/``long``, refused when sent alone.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import local_tz, now, to_local
from govloop.core.errors import BadRequest, Conflict, NotFound, PermissionDenied
from govloop.hotline.models import (
    DONE_STATUSES,
    OPEN_STATUSES,
    Channel,
    HotlineCategory,
    Open311Client,
    OrderStatus,
    WorkOrder,
)
from govloop.hotline.orders import intake, queries
from govloop.hotline.orders.intake import OrderInput, clean_text

MAX_RESULTS = 1000  # GET requests: "first 1000 requests returned"
DEFAULT_SPAN = timedelta(days=90)  # GET requests: "a span of 90 days"
LIST_TYPES = ("singlevaluelist", "multivaluelist")
STRING_MAX = 200
TEXT_MAX = 2000
ID_MAX = 100
URL_MAX = 500
META_KEY = "_open311"  # order.attributes key for device_id, account_id and address_id
CLOSED_STATUSES = (*DONE_STATUSES, OrderStatus.MERGED)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ATTRIBUTE_FIELD = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
# A "+" in a query string arrives as a space: "2026-11-23T00:00:00 08:00".
_SPACE_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")
_EXAMPLE_TIME = "2026-11-23T00:00:00+08:00"


def _compact(item: dict[str, Any]) -> dict[str, Any]:
    """Fields without a value are left out (see the module's notes)."""
    return {k: v for k, v in item.items() if v is not None}


def _number(value: str, *, label: str, code: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise BadRequest(f"{label}须为数字：{value[:40]}", code=code)
    return number


def iso(moment: datetime | None) -> str | None:
    """W3C date-time in local time, with its offset."""
    return to_local(moment).isoformat(timespec="seconds") if moment else None


def parse_datetime(value: str, *, label: str, naive_is_local: bool = False) -> datetime:
    """An ISO 8601 date-time with a timezone (the spec requires one), or a clear 400."""
    text = _SPACE_OFFSET.sub(r"\1+\2", value.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"{label}格式不正确：{value[:40]}（应为 ISO 8601，如 {_EXAMPLE_TIME}）",
            code="bad_datetime",
        ) from None
    if moment.tzinfo is None:
        if not naive_is_local:
            raise BadRequest(f"{label}须带时区，如 {_EXAMPLE_TIME}", code="bad_datetime")
        moment = moment.replace(tzinfo=local_tz())
    return moment


# --- services ---------------------------------------------------------------------------


def get_category(session: Session, code: str) -> HotlineCategory:
    category = session.scalar(
        select(HotlineCategory).where(
            HotlineCategory.code == code, HotlineCategory.public, HotlineCategory.active
        )
    )
    if category is None:
        raise NotFound(f"未知的服务代码：{code[:40]}", code="unknown_service")
    return category


def attribute_definitions(category: HotlineCategory) -> list[dict[str, Any]]:
    """The category's attributes in the spec's shape and field order, sorted by ``order``."""
    out = []
    for position, raw in enumerate(category.attributes or [], start=1):
        datatype = str(raw.get("datatype", "string"))
        item: dict[str, Any] = {
            "variable": bool(raw.get("variable", True)),
            "code": str(raw["code"]),
            "datatype": datatype,
            "required": bool(raw.get("required", False)),
            "datatype_description": raw.get("datatype_description") or None,
            "order": int(raw.get("order", position)),
            "description": raw.get("description") or None,
        }
        if datatype in LIST_TYPES:
            item["values"] = [
                {"key": str(v["key"]), "name": str(v["name"])} for v in raw.get("values", [])
            ]
        out.append(_compact(item))
    return sorted(out, key=lambda a: a["order"])


def list_services(*, session: Session) -> list[dict[str, Any]]:
    departments, _ = queries.names(session)
    services = []
    categories = session.scalars(
        select(HotlineCategory)
        .where(HotlineCategory.public, HotlineCategory.active)
        .order_by(HotlineCategory.group_name, HotlineCategory.code)
    )
    for c in categories:
        department = departments.get(c.department_id or 0)
        summary = f"{c.name}，由{department}承办" if department else c.name
        item = {
            "service_code": c.code,
            "service_name": c.name,
            "description": c.description or summary,
            "metadata": bool(c.attributes),
            "type": "realtime",
            "keywords": ", ".join(c.keywords or []) or None,
            "group": c.group_name or None,
        }
        services.append(_compact(item))
    return services


def service_definition(*, session: Session, service_code: str) -> dict[str, Any]:
    category = get_category(session, service_code)
    return {"service_code": category.code, "attributes": attribute_definitions(category)}


def _attribute_value(definition: dict[str, Any], values: list[str]) -> Any:
    label = f"附加项「{definition.get('description') or definition['code']}」"
    datatype = definition["datatype"]
    if datatype != "multivaluelist" and len(values) > 1:
        raise BadRequest(f"{label}只能填一个值", code="bad_attribute")
    keys = {v["key"] for v in definition.get("values", [])}
    if datatype in LIST_TYPES:
        wrong = [v for v in values if v not in keys]
        if wrong:
            allowed = "、".join(sorted(keys))
            raise BadRequest(
                f"{label}的取值无效：{wrong[0][:40]}（可选：{allowed}）", code="bad_attribute"
            )
        return list(dict.fromkeys(values)) if datatype == "multivaluelist" else values[0]
    value = values[0]
    if datatype == "number":
        number = _number(value, label=label, code="bad_attribute")
        return int(number) if number.is_integer() and "." not in value else number
    if datatype == "datetime":
        return iso(parse_datetime(value, label=label, naive_is_local=True))
    if datatype == "string" and ("\n" in value or "\r" in value):
        raise BadRequest(f"{label}不能换行", code="bad_attribute")
    max_len = TEXT_MAX if datatype == "text" else STRING_MAX
    return clean_text(value, label=label, max_len=max_len, required=True)


def validate_attributes(
    definitions: list[dict[str, Any]], submitted: dict[str, list[str]]
) -> dict[str, Any]:
    """``attribute[code]`` values checked against the service definition: known code,
    required, datatype and allowed values. Returns code → clean value."""
    by_code = {d["code"]: d for d in definitions}
    for code in submitted:
        definition = by_code.get(code)
        if definition is None or not definition["variable"]:
            raise BadRequest(f"该服务没有附加项 {code[:40]}", code="unknown_attribute")
    clean: dict[str, Any] = {}
    for definition in definitions:
        values = [v for v in submitted.get(definition["code"], []) if v.strip()]
        if not values:
            if definition["required"] and definition["variable"]:
                label = definition.get("description") or definition["code"]
                raise BadRequest(f"请填写附加项「{label}」", code="missing_attribute")
            continue
        clean[definition["code"]] = _attribute_value(definition, values)
    return clean


# --- clients and keys -------------------------------------------------------------------


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_client(*, session: Session, name: str) -> tuple[Open311Client, str]:
    """A client allowed to POST requests, and its key: shown once, only its hash kept."""
    label = clean_text(name, label="客户端名称", max_len=100, required=True)
    if session.scalar(select(Open311Client.id).where(Open311Client.name == label)):
        raise Conflict(f"已有名为 {label} 的客户端", code="client_exists")
    key = secrets.token_urlsafe(32)
    client = Open311Client(name=label, key_hash=_hash(key), active=True, created_at=now())
    session.add(client)
    session.flush()
    return client, key


def client_for_key(*, session: Session, key: str | None) -> Open311Client:
    if not key:
        raise PermissionDenied("缺少 api_key，无法提交服务请求", code="missing_api_key")
    client = session.scalar(select(Open311Client).where(Open311Client.key_hash == _hash(key)))
    if client is None or not client.active:
        raise PermissionDenied("api_key 无效或已停用，无法提交服务请求", code="invalid_api_key")
    return client


def list_clients(*, session: Session) -> list[Open311Client]:
    return list(session.scalars(select(Open311Client).order_by(Open311Client.id)))


def revoke_client(*, session: Session, client_id: int) -> Open311Client:
    client = session.get(Open311Client, client_id)
    if client is None:
        raise NotFound(f"客户端 {client_id} 不存在", code="unknown_client")
    client.active = False
    return client


# --- POST requests ----------------------------------------------------------------------


@dataclass
class RequestForm:
    """The fields of a POST service request (empty values count as absent)."""

    service_code: str | None = None
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    description: str | None = None
    media_url: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)


FORM_FIELDS = frozenset(f.name for f in fields(RequestForm)) - {"attributes"}


def parse_form(items: Iterable[tuple[str, str]]) -> tuple[str | None, RequestForm]:
    """(api_key, form) from the posted pairs; ``attribute[code]`` and
    ``attribute[code][]`` collect into ``form.attributes``; other fields are ignored."""
    api_key = None
    form = RequestForm()
    for name, value in items:
        if _CONTROL.search(value):
            raise BadRequest(f"{name[:40]} 含有控制字符", code="control_characters")
        if name == "api_key":
            api_key = value.strip() or None
        elif name in FORM_FIELDS:
            setattr(form, name, value.strip() or None)
        elif match := _ATTRIBUTE_FIELD.match(name):
            form.attributes.setdefault(match.group(1), []).append(value.strip())
    return api_key, form


def _media_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if len(value) > URL_MAX or parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest("media_url 须为 http(s) 网址，且不超过 500 字符", code="bad_media_url")
    if any(c.isspace() for c in value):
        raise BadRequest("media_url 不能包含空白字符", code="bad_media_url")
    return value


def _caller_name(first: str | None, last: str | None) -> str | None:
    parts = [p for p in (last, first) if p]
    if not parts:
        return None
    if all(p.isascii() for p in parts):  # Latin names: "John Smith"
        return " ".join(reversed(parts))
    return "".join(parts)  # Chinese names: family name first, no space


def submit_request(*, session: Session, api_key: str | None, form: RequestForm) -> dict[str, Any]:
    """POST a service request: a work order on the Open311 channel, or an error that leaves
    nothing behind (the caller's unit of work rolls back)."""
    client = client_for_key(session=session, key=api_key)
    if not form.service_code:
        raise BadRequest("请提供服务代码 service_code", code="missing_service_code")
    category = get_category(session, form.service_code)
    lat = _number(form.lat, label="纬度 lat", code="bad_location") if form.lat else None
    long = _number(form.long, label="经度 long", code="bad_location") if form.long else None
    if form.address_id and not form.address_string and lat is None and long is None:
        raise BadRequest(
            "暂不支持仅凭 address_id 定位，请提供 address_string 或经纬度", code="bad_location"
        )
    attributes: dict[str, Any] = validate_attributes(
        attribute_definitions(category), form.attributes
    )
    meta = {
        name: clean_text(getattr(form, name), label=name, max_len=ID_MAX, required=False)
        for name in ("device_id", "account_id", "address_id")
        if getattr(form, name)
    }
    if meta:
        attributes[META_KEY] = meta
    first = clean_text(form.first_name, label="名 first_name", max_len=50, required=False)
    last = clean_text(form.last_name, label="姓 last_name", max_len=50, required=False)
    order = intake.create_order(
        session=session,
        data=OrderInput(
            channel=Channel.OPEN311,
            content=form.description or "",
            category_code=category.code,
            caller_name=_caller_name(first, last),
            caller_phone=form.phone,
            caller_email=form.email,
            address=form.address_string,
            lat=lat,
            long=long,
            attributes=attributes,
            media_url=_media_url(form.media_url),
            require_location=True,
        ),
        actor=None,
    )
    order.open311_client_id = client.id
    order.open311_token = secrets.token_hex(16)
    session.flush()
    response = {
        "service_request_id": order.number,
        "token": order.open311_token,
        "service_notice": f"您的诉求已受理，工单编号 {order.number}，热线中心将派至承办单位办理",
        "account_id": meta.get("account_id"),
    }
    return _compact(response)


# --- GET requests -----------------------------------------------------------------------


def _status_notes(order: WorkOrder, department: str, merged_into: str | None) -> str:
    status = order.status
    if status == OrderStatus.ACCEPTED:
        if order.dispatched_at is not None:
            return "已退回热线中心，等待重新派单"
        return "已受理，等待派单"
    notes: dict[str, str] = {
        OrderStatus.DISPATCHED: f"已派至{department}，等待签收",
        OrderStatus.SIGNED: f"{department}已签收",
        OrderStatus.IN_PROGRESS: f"{department}正在办理",
        OrderStatus.ANSWERED: f"{department}已答复，热线中心审核中",
        OrderStatus.CLOSED: "已办结",
        OrderStatus.CALLED_BACK: "已办结，已回访",
        OrderStatus.RATED: "已办结，已评价",
        OrderStatus.MERGED: f"已并入工单 {merged_into} 一并办理",
    }
    return notes.get(status, "已受理")


def _service_notice(order: WorkOrder) -> str | None:
    if order.status not in OPEN_STATUSES:
        return None
    if order.due_at is None:
        return "派单后按办理时限（工作日）办结"
    deadline = f"{to_local(order.due_at):%Y-%m-%d %H:%M}"
    estimated = "（节假日安排尚未公布，为估算）" if order.due_estimated else ""
    return f"办理时限至 {deadline}{estimated}"


def _request_item(
    order: WorkOrder,
    departments: dict[int, str],
    categories: dict[int, tuple[str, str]],
    merged_into: str | None,
) -> dict[str, Any]:
    code, name = categories.get(order.category_id or 0, ("", None))
    department = departments.get(order.department_id or 0)
    closed = order.status not in OPEN_STATUSES
    updated = order.closed_at if order.status in DONE_STATUSES and order.closed_at else None
    meta = (order.attributes or {}).get(META_KEY) or {}
    item = {
        "service_request_id": order.number,
        "status": "closed" if closed else "open",
        "status_notes": _status_notes(order, department or "承办单位", merged_into),
        "service_name": name,
        "service_code": code,
        "description": order.content,
        "agency_responsible": department,
        "service_notice": _service_notice(order),
        "requested_datetime": iso(order.created_at),
        "updated_datetime": iso(updated or order.updated_at),
        "expected_datetime": iso(order.due_at),
        "address": order.address,
        "address_id": meta.get("address_id"),
        "lat": order.lat,
        "long": order.long,
        "media_url": order.media_url,
    }
    return _compact(item)


def _items(session: Session, orders: list[WorkOrder]) -> list[dict[str, Any]]:
    departments, categories = queries.names(session)
    targets = {o.merged_into_id for o in orders if o.merged_into_id}
    numbers = (
        dict(
            session.execute(
                select(WorkOrder.id, WorkOrder.number).where(WorkOrder.id.in_(targets))
            ).all()
        )
        if targets
        else {}
    )
    return [
        _request_item(o, departments, categories, numbers.get(o.merged_into_id or 0))
        for o in orders
    ]


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip() for p in (value or "").split(",") if p.strip()))


@dataclass(frozen=True)
class RequestQuery:
    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()


def parse_query(
    *,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> RequestQuery:
    """GET requests filters; comma-delimited lists; empty values count as absent."""
    statuses = _split(status)
    wrong = [s for s in statuses if s not in ("open", "closed")]
    if wrong:
        raise BadRequest(f"status 只能是 open 或 closed：{wrong[0][:40]}", code="bad_status")
    start = parse_datetime(start_date, label="start_date") if start_date else None
    end = parse_datetime(end_date, label="end_date") if end_date else None
    if start and end:
        if end < start:
            raise BadRequest("end_date 不能早于 start_date", code="bad_range")
        if end - start > DEFAULT_SPAN:
            raise BadRequest("查询时间跨度不能超过 90 天", code="bad_range")
    ids = _split(service_request_id)
    if len(ids) > MAX_RESULTS:
        raise BadRequest(f"一次最多查询 {MAX_RESULTS} 个服务请求", code="too_many_ids")
    return RequestQuery(ids, _split(service_code), start, end, statuses)


def _visible() -> Any:
    return select(WorkOrder).where(
        WorkOrder.channel == Channel.OPEN311, WorkOrder.confidential.is_(False)
    )


def find_requests(*, session: Session, query: RequestQuery) -> list[dict[str, Any]]:
    """Newest first, at most MAX_RESULTS; ``service_request_id`` overrides the other
    filters; without dates, the last 90 days."""
    stmt = _visible()
    if query.ids:
        stmt = stmt.where(WorkOrder.number.in_(query.ids))
    else:
        start, end = query.start, query.end
        if start is None:
            start = (end or now()) - DEFAULT_SPAN
        if end is None and query.start is not None:
            end = start + DEFAULT_SPAN
        stmt = stmt.where(WorkOrder.created_at >= start)
        if end is not None:
            stmt = stmt.where(WorkOrder.created_at <= end)
        if query.service_codes:
            codes = select(HotlineCategory.id).where(HotlineCategory.code.in_(query.service_codes))
            stmt = stmt.where(WorkOrder.category_id.in_(codes))
        if query.statuses == ("open",):
            stmt = stmt.where(WorkOrder.status.in_(list(OPEN_STATUSES)))
        elif query.statuses == ("closed",):
            stmt = stmt.where(WorkOrder.status.in_(list(CLOSED_STATUSES)))
    stmt = stmt.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).limit(MAX_RESULTS)
    return _items(session, list(session.scalars(stmt)))


def get_request(*, session: Session, service_request_id: str) -> dict[str, Any]:
    order = session.scalar(_visible().where(WorkOrder.number == service_request_id))
    if order is None:
        raise NotFound(f"服务请求 {service_request_id[:40]} 不存在", code="unknown_request")
    return _items(session, [order])[0]


def resolve_token(*, session: Session, token: str) -> dict[str, Any]:
    order = session.scalar(_visible().where(WorkOrder.open311_token == token))
    if order is None:
        raise NotFound(f"令牌 {token[:40]} 不存在", code="unknown_token")
    return {"service_request_id": order.number, "token": token}
