"""SF Express (顺丰速运) through its open platform (丰桥, ``/std/service``).

Every call is one form-encoded POST (``application/x-www-form-urlencoded;charset=UTF-8``)
with the fields ``partnerID`` (顾客编码), ``requestID`` (a fresh UUID), ``serviceCode``,
``timestamp`` (milliseconds), ``msgData`` (the JSON of the business message) and
``msgDigest``: ``base64(md5(URLEncoder.encode(msgData + timestamp + checkWord, "UTF-8")))``
with Java's URL encoding (space as ``+``; ``*`` kept; ``~`` encoded). The answer is JSON
with ``apiResultCode`` (``A1000``: the platform took the call) and ``apiResultData``, a JSON
string holding ``success``, ``errorCode`` (``S0000``) and the service's ``msgData``.

Services used: ``EXP_RECE_CREATE_ORDER`` (下订单: the waybill number comes back in
``waybillNoInfoList``), ``EXP_RECE_SEARCH_ORDER_RESP`` (订单结果查询: the waybill of an order
SF already has, when a create is refused as a repeat, error 8016) and
``EXP_RECE_UPDATE_ORDER`` with ``dealType`` 2 (取消订单).

Route pushes (路由推送) carry ``{"Body": {"WaybillRoute": [...]}}``, one entry per route
event (``id``, ``mailno``, ``orderid``, ``acceptTime`` in China time, ``acceptAddress``,
``remark``, ``opCode``), and SF expects ``{"return_code": "0000", "return_msg": "成功"}``
back. govloop takes a push only in the signed envelope: the same form fields as a call
(``msgData`` the push JSON, ``timestamp``, ``msgDigest`` under the same check word; a
``partnerID`` if sent must be ours), within ``push_max_age_s`` of its timestamp.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote_plus

import httpx

from govloop.core.clock import local_tz, now
from govloop.matters.delivery.base import (
    BadSignature,
    CourierRejected,
    CourierUnavailable,
    Malformed,
    Party,
    TrackingUpdate,
    WaybillRequest,
    WaybillResult,
)
from govloop.matters.models import ShipmentStatus

SANDBOX_URL = "https://sfapi-sbox.sf-express.com/std/service"
PRODUCTION_URL = "https://sfapi.sf-express.com/std/service"

CREATE_ORDER = "EXP_RECE_CREATE_ORDER"
SEARCH_ORDER = "EXP_RECE_SEARCH_ORDER_RESP"
UPDATE_ORDER = "EXP_RECE_UPDATE_ORDER"
DEAL_CANCEL = 2

PLATFORM_OK = "A1000"
# platform answers that say "not now" rather than "never": 流量受控, 目标服务异常, 系统异常
PLATFORM_RETRY = frozenset({"A1005", "A1009", "A1099"})
SERVICE_OK = "S0000"
REPEATED_ORDER = "8016"  # 重复下单: SF already has this orderId

PUSH_REPLY = {"return_code": "0000", "return_msg": "成功"}
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=UTF-8"
ACCEPT_TIME = "%Y-%m-%d %H:%M:%S"

# SF route opCodes (路由操作码) and what they mean for the parcel. Unknown codes count as
# in transit: they never close a shipment.
OP_CODES: dict[str, ShipmentStatus] = {
    "50": ShipmentStatus.IN_TRANSIT,  # 顺丰已收取快件 (收件)
    "54": ShipmentStatus.IN_TRANSIT,  # 上门收件
    "30": ShipmentStatus.IN_TRANSIT,  # 完成分拣，准备发往…
    "31": ShipmentStatus.IN_TRANSIT,  # 快件到达【…】
    "36": ShipmentStatus.IN_TRANSIT,  # 快件离开【…】
    "105": ShipmentStatus.IN_TRANSIT,  # 航空运输中
    "106": ShipmentStatus.IN_TRANSIT,  # 到达目的地城市
    "130": ShipmentStatus.IN_TRANSIT,  # 已到达目的地网点，即将派件
    "99": ShipmentStatus.IN_TRANSIT,  # 退回/转寄途中
    "44": ShipmentStatus.OUT_FOR_DELIVERY,  # 正在派送途中
    "204": ShipmentStatus.OUT_FOR_DELIVERY,  # 派件中
    "70": ShipmentStatus.FAILED_ATTEMPT,  # 派件不成功（客户不在等），将再次派送
    "33": ShipmentStatus.FAILED_ATTEMPT,  # 滞留件
    "80": ShipmentStatus.DELIVERED,  # 已签收
    "8000": ShipmentStatus.DELIVERED,  # 签收（结单）
    "631": ShipmentStatus.RETURNED,  # 快件已退回寄件人
    "648": ShipmentStatus.RETURNED,  # 退回件已签收
}

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def java_urlencode(text: str) -> str:
    """``java.net.URLEncoder.encode(text, "UTF-8")``: unreserved are letters, digits and
    ``.-*_``, a space becomes ``+``, everything else %XX of its UTF-8 bytes."""
    return quote_plus(text, safe="*").replace("~", "%7E")


def msg_digest(msg_data: str, timestamp: str, check_word: str) -> str:
    raw = java_urlencode(msg_data + timestamp + check_word).encode("utf-8")
    return base64.b64encode(hashlib.md5(raw).digest()).decode("ascii")


def dumps(message: Mapping[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def signed_form(
    *,
    partner_id: str,
    check_word: str,
    service_code: str,
    message: Mapping[str, Any],
    timestamp: str | None = None,
    request_id: str | None = None,
) -> dict[str, str]:
    """The six form fields of one call (or of a signed push)."""
    msg_data = dumps(message)
    ts = timestamp or str(int(now().timestamp() * 1000))
    return {
        "partnerID": partner_id,
        "requestID": request_id or uuid.uuid4().hex,
        "serviceCode": service_code,
        "timestamp": ts,
        "msgDigest": msg_digest(msg_data, ts, check_word),
        "msgData": msg_data,
    }


def form_fields(body: bytes) -> dict[str, str]:
    """A form body's fields (the last value of a repeated field)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("推送内容不是 UTF-8 编码", code="malformed_push") from None
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


def digest_ok(fields: Mapping[str, str], check_word: str) -> bool:
    presented = fields.get("msgDigest", "")
    expected = msg_digest(fields.get("msgData", ""), fields.get("timestamp", ""), check_word)
    return bool(presented) and hmac.compare_digest(presented.encode(), expected.encode())


def _contact(party: Party, contact_type: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "contactType": contact_type,  # 1 寄件方, 2 到件方
        "contact": party.name,
        "address": party.address,
    }
    if party.company:
        entry["company"] = party.company
    entry["mobile" if _MOBILE.match(party.phone) else "tel"] = party.phone
    return entry


def order_message(
    request: WaybillRequest, *, monthly_card: str | None, express_type: int
) -> dict[str, Any]:
    """``msgData`` of EXP_RECE_CREATE_ORDER for one parcel (the README lists the fields)."""
    message: dict[str, Any] = {
        "language": "zh-CN",
        "orderId": request.order_ref,
        "remark": f"办件编号 {request.customer_ref}",
        "cargoDetails": [{"name": request.cargo, "count": request.parcels, "unit": "件"}],
        "contactInfoList": [_contact(request.sender, 1), _contact(request.recipient, 2)],
        "expressTypeId": express_type,
        "payMethod": 1,  # 寄方付
        "parcelQty": request.parcels,
    }
    if monthly_card:
        message["monthlyCard"] = monthly_card
    return message


def _waybill_of(data: Mapping[str, Any]) -> str | None:
    for info in data.get("waybillNoInfoList") or []:
        if str(info.get("waybillType", 1)) == "1" and info.get("waybillNo"):
            return str(info["waybillNo"])
    return None


def parse_accept_time(value: str) -> datetime:
    try:
        return datetime.strptime(value.strip(), ACCEPT_TIME).replace(tzinfo=local_tz())
    except (ValueError, AttributeError):
        raise Malformed(f"路由时间格式不正确：{value!r}", code="malformed_push") from None


def parse_routes(msg_data: str) -> list[TrackingUpdate]:
    """The route events of one push's ``msgData``."""
    try:
        payload = json.loads(msg_data)
        routes = payload["Body"]["WaybillRoute"]
    except (ValueError, KeyError, TypeError):
        raise Malformed("推送内容不是顺丰路由推送格式", code="malformed_push") from None
    if isinstance(routes, dict):  # one event may come without the list around it
        routes = [routes]
    if not isinstance(routes, list):
        raise Malformed("推送内容不是顺丰路由推送格式", code="malformed_push")
    updates = []
    for route in routes:
        if not isinstance(route, dict) or not route.get("mailno") or not route.get("opCode"):
            raise Malformed("路由缺少运单号或操作码", code="malformed_push")
        op = str(route["opCode"])
        at = parse_accept_time(str(route.get("acceptTime", "")))
        external = route.get("id") or f"{route['mailno']}:{op}:{int(at.timestamp())}"
        updates.append(
            TrackingUpdate(
                waybill_no=str(route["mailno"]),
                external_id=str(external),
                status=OP_CODES.get(op, ShipmentStatus.IN_TRANSIT),
                description=str(route.get("remark") or "")[:300],
                location=(
                    str(route["acceptAddress"])[:100] if route.get("acceptAddress") else None
                ),
                at=at,
                order_ref=str(route["orderid"]) if route.get("orderid") else None,
                op_code=op,
            )
        )
    return updates


class SfCourier:
    """One pooled HTTP client to SF's gateway (or, for the simulator, to a transport that
    answers in-process)."""

    def __init__(
        self,
        *,
        partner_id: str,
        check_word: str,
        base_url: str = SANDBOX_URL,
        monthly_card: str | None = None,
        express_type: int = 1,
        code: str = "sf",
        name: str = "顺丰速运",
        timeout_s: float = 10.0,
        push_max_age_s: float = 86400.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not partner_id or not check_word:
            raise ValueError("SF needs a partner id (顾客编码) and a check word (校验码)")
        self.code = code
        self.name = name
        self.partner_id = partner_id
        self.check_word = check_word
        self.base_url = base_url
        self.monthly_card = monthly_card
        self.express_type = express_type
        self.push_max_age = timedelta(seconds=push_max_age_s)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
            transport=transport,
            headers={"Content-Type": FORM_CONTENT_TYPE},
        )

    def close(self) -> None:
        self._client.close()

    # --- calls ---------------------------------------------------------------------------

    def _call(self, service_code: str, message: Mapping[str, Any]) -> dict[str, Any]:
        """One call; the service's answer (``apiResultData``) when SF took it."""
        form = signed_form(
            partner_id=self.partner_id,
            check_word=self.check_word,
            service_code=service_code,
            message=message,
        )
        try:
            response = self._client.post(self.base_url, data=form)
        except httpx.HTTPError as exc:
            raise CourierUnavailable(
                f"顺丰接口暂时无法连接：{type(exc).__name__}", code="courier_unreachable"
            ) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise CourierUnavailable(
                f"顺丰接口暂不可用（HTTP {response.status_code}）", code="courier_unavailable"
            )
        try:
            answer = response.json()
        except ValueError:
            if response.status_code >= 400:  # refused at the door (an address not allowed, …)
                raise CourierRejected(
                    f"顺丰接口拒绝了请求（HTTP {response.status_code}）", code="courier_refused"
                ) from None
            raise CourierUnavailable("顺丰接口的应答无法识别", code="courier_bad_answer") from None
        result = str(answer.get("apiResultCode", ""))
        if result != PLATFORM_OK:
            message_text = answer.get("apiErrorMsg") or result
            if result in PLATFORM_RETRY:
                raise CourierUnavailable(f"顺丰接口暂不可用：{message_text}", code="courier_busy")
            raise CourierRejected(f"顺丰拒绝了请求：{message_text}", code="courier_refused")
        try:
            data = answer.get("apiResultData") or "{}"
            parsed: dict[str, Any] = json.loads(data) if isinstance(data, str) else dict(data)
        except ValueError:
            raise CourierUnavailable("顺丰接口的应答无法识别", code="courier_bad_answer") from None
        return parsed

    def create_waybill(self, request: WaybillRequest) -> WaybillResult:
        data = self._call(
            CREATE_ORDER,
            order_message(request, monthly_card=self.monthly_card, express_type=self.express_type),
        )
        if data.get("success") and str(data.get("errorCode")) == SERVICE_OK:
            waybill = _waybill_of(data.get("msgData") or {})
            if waybill:
                return WaybillResult(request.order_ref, waybill, created=True)
        if str(data.get("errorCode")) == REPEATED_ORDER:
            return WaybillResult(request.order_ref, self._existing(request.order_ref), False)
        if data.get("success"):
            raise CourierUnavailable("顺丰未返回运单号", code="courier_bad_answer")
        raise CourierRejected(
            f"顺丰拒绝下单：{data.get('errorMsg') or data.get('errorCode')}",
            code="courier_refused",
        )

    def _existing(self, order_ref: str) -> str:
        data = self._call(
            SEARCH_ORDER, {"orderId": order_ref, "searchType": "1", "language": "zh-CN"}
        )
        waybill = _waybill_of(data.get("msgData") or {}) if data.get("success") else None
        if not waybill:
            raise CourierUnavailable("顺丰已有该订单，但未查到运单号", code="courier_bad_answer")
        return waybill

    def cancel(self, waybill_no: str, *, order_ref: str) -> None:
        data = self._call(
            UPDATE_ORDER, {"orderId": order_ref, "dealType": DEAL_CANCEL, "language": "zh-CN"}
        )
        if not (data.get("success") and str(data.get("errorCode")) == SERVICE_OK):
            raise CourierRejected(
                f"顺丰未能取消运单 {waybill_no}：{data.get('errorMsg') or data.get('errorCode')}",
                code="courier_cancel_refused",
            )

    # --- pushes --------------------------------------------------------------------------

    def verify_and_parse_push(
        self, headers: Mapping[str, str], body: bytes
    ) -> list[TrackingUpdate]:
        fields = form_fields(body)
        if not fields.get("msgDigest") or not fields.get("timestamp"):
            raise BadSignature("推送未签名（缺少 msgDigest 或 timestamp）", code="bad_signature")
        if fields.get("partnerID") not in (None, "", self.partner_id):
            raise BadSignature("推送的顾客编码不符", code="bad_signature")
        if not digest_ok(fields, self.check_word):
            raise BadSignature("推送签名无效", code="bad_signature")
        try:
            sent = datetime.fromtimestamp(int(fields["timestamp"]) / 1000, tz=now().tzinfo)
        except (ValueError, OverflowError, OSError):
            raise BadSignature("推送时间戳无效", code="bad_signature") from None
        if abs(now() - sent) > self.push_max_age:
            raise BadSignature("推送时间戳已过期", code="bad_signature")
        return parse_routes(fields.get("msgData", ""))

    def push_reply(self) -> dict[str, str]:
        return dict(PUSH_REPLY)
