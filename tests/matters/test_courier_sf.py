"""The SF Express adapter against a fake SF gateway written here from SF's documentation
(form fields, msgDigest = base64(md5(URLEncoder.encode(msgData + timestamp + checkWord)))):
the fields and digest it sends, the waybill it reads back, the repeat-order path, the
errors worth retrying and those that are not, and route pushes (signature, opCodes)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlencode

import httpx
import pytest

from govloop.core.clock import frozen, local_tz
from govloop.matters.delivery import sf
from govloop.matters.delivery.base import (
    BadSignature,
    CourierRejected,
    CourierUnavailable,
    Malformed,
    Party,
    WaybillRequest,
)
from govloop.matters.models import ShipmentStatus

PARTNER = "GOVLOOP_TEST"
CHECK_WORD = "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci"
NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
URL = "https://sfapi-sbox.sf-express.com/std/service"


def java_encode(text: str) -> str:
    """URLEncoder.encode(text, "UTF-8") spelled out: keep A-Z a-z 0-9 . - * _, space -> +."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch.isascii() and (ch.isalnum() or ch in ".-*_"):
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def documented_digest(msg_data: str, timestamp: str, check_word: str) -> str:
    md5 = hashlib.md5(java_encode(msg_data + timestamp + check_word).encode("ascii"))
    return base64.b64encode(md5.digest()).decode()


class FakeSf:
    """SF's gateway as its documentation describes it; records every call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        self.content_types: list[str] = []
        self.answers: list[httpx.Response | Exception] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.read().decode("utf-8")).items()}
        self.calls.append(form)
        self.content_types.append(request.headers.get("content-type", ""))
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        if form.get("msgDigest") != documented_digest(
            form["msgData"], form["timestamp"], CHECK_WORD
        ):
            return platform("A1006", "数字签名无效")
        order = json.loads(form["msgData"])["orderId"]
        return service_ok(
            {
                "orderId": order,
                "waybillNoInfoList": [{"waybillType": 1, "waybillNo": "SF1234567890123"}],
            }
        )


def platform(code: str, message: str = "") -> httpx.Response:
    return httpx.Response(200, json={"apiResultCode": code, "apiErrorMsg": message})


def service_ok(msg_data: dict) -> httpx.Response:
    data = {"success": True, "errorCode": "S0000", "errorMsg": None, "msgData": msg_data}
    return httpx.Response(
        200, json={"apiResultCode": "A1000", "apiResultData": json.dumps(data, ensure_ascii=False)}
    )


def service_error(code: str, message: str) -> httpx.Response:
    data = {"success": False, "errorCode": code, "errorMsg": message, "msgData": None}
    return httpx.Response(
        200, json={"apiResultCode": "A1000", "apiResultData": json.dumps(data, ensure_ascii=False)}
    )


@pytest.fixture
def fake():
    return FakeSf()


@pytest.fixture
def courier(fake):
    c = sf.SfCourier(
        partner_id=PARTNER,
        check_word=CHECK_WORD,
        base_url=URL,
        monthly_card="7551234567",
        transport=httpx.MockTransport(fake),
    )
    yield c
    c.close()


REQUEST = WaybillRequest(
    order_ref="20261123-0001-1",
    customer_ref="20261123-0001",
    sender=Party("测试大厅", "12345", "北京市东城区政务服务中心1号", company="测试大厅"),
    recipient=Party("张三", "13800138000", "北京市海淀区中关村大街1号院2号楼301"),
)


def test_digest_is_the_documented_formula():
    # a space, *, ~, + and Chinese: where URL encoders differ
    msg = json.dumps({"remark": "a b*~+证照", "orderId": "X-1"}, ensure_ascii=False)
    assert sf.java_urlencode("a b*~+证") == "a+b*%7E%2B%E8%AF%81"
    assert sf.msg_digest(msg, "1700000000000", CHECK_WORD) == documented_digest(
        msg, "1700000000000", CHECK_WORD
    )
    # the digest changes with each of its three parts
    base = sf.msg_digest(msg, "1", "k")
    assert base != sf.msg_digest(msg + " ", "1", "k") != sf.msg_digest(msg, "2", "k")
    assert base != sf.msg_digest(msg, "1", "k2")


def test_create_sends_the_documented_fields_and_digest(fake, courier):
    with frozen(NOON):
        result = courier.create_waybill(REQUEST)
    assert result.waybill_no == "SF1234567890123" and result.created
    (call,) = fake.calls
    assert set(call) == {
        "partnerID",
        "requestID",
        "serviceCode",
        "timestamp",
        "msgDigest",
        "msgData",
    }
    assert call["partnerID"] == PARTNER and call["serviceCode"] == "EXP_RECE_CREATE_ORDER"
    assert call["timestamp"] == str(int(NOON.timestamp() * 1000))
    assert len(call["requestID"]) >= 32
    assert call["msgDigest"] == documented_digest(call["msgData"], call["timestamp"], CHECK_WORD)
    assert fake.content_types[0].startswith("application/x-www-form-urlencoded")
    msg = json.loads(call["msgData"])
    assert msg["orderId"] == "20261123-0001-1" and msg["language"] == "zh-CN"
    assert "20261123-0001" in msg["remark"]
    assert msg["cargoDetails"] == [{"name": "证照/决定书", "count": 1, "unit": "件"}]
    sender, recipient = msg["contactInfoList"]
    assert sender == {
        "contactType": 1,
        "contact": "测试大厅",
        "company": "测试大厅",
        "address": "北京市东城区政务服务中心1号",
        "tel": "12345",
    }
    assert recipient == {
        "contactType": 2,
        "contact": "张三",
        "address": "北京市海淀区中关村大街1号院2号楼301",
        "mobile": "13800138000",
    }
    assert msg["expressTypeId"] == 1 and msg["payMethod"] == 1 and msg["parcelQty"] == 1
    assert msg["monthlyCard"] == "7551234567"


def test_a_repeated_order_returns_the_waybill_sf_already_has(fake, courier):
    fake.answers = [
        service_error("8016", "重复下单"),
        service_ok(
            {
                "orderId": REQUEST.order_ref,
                "waybillNoInfoList": [{"waybillType": 1, "waybillNo": "SF5550000000011"}],
            }
        ),
    ]
    result = courier.create_waybill(REQUEST)
    assert result.waybill_no == "SF5550000000011" and not result.created
    assert [c["serviceCode"] for c in fake.calls] == [
        "EXP_RECE_CREATE_ORDER",
        "EXP_RECE_SEARCH_ORDER_RESP",
    ]
    assert json.loads(fake.calls[1]["msgData"])["orderId"] == REQUEST.order_ref


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(503, text="busy"),
        platform("A1009", "目标服务异常或不可达"),
        httpx.Response(200, text="<html>gateway</html>"),
    ],
    ids=["down", "timeout", "http-503", "A1009", "not-json"],
)
def test_what_is_worth_retrying_is_unavailable(fake, courier, answer):
    fake.answers = [answer]
    with pytest.raises(CourierUnavailable):
        courier.create_waybill(REQUEST)


@pytest.mark.parametrize(
    "answer",
    [
        platform("A1006", "数字签名无效"),
        service_error("20052", "不在派送范围内"),
        httpx.Response(403, text="Forbidden"),
    ],
    ids=["bad-digest", "address", "http-403"],
)
def test_what_will_not_change_is_rejected(fake, courier, answer):
    fake.answers = [answer]
    with pytest.raises(CourierRejected) as exc:
        courier.create_waybill(REQUEST)
    assert "顺丰" in exc.value.message


def test_a_wrong_check_word_is_refused_by_the_gateway(fake):
    wrong = sf.SfCourier(
        partner_id=PARTNER, check_word="not-the-word", transport=httpx.MockTransport(fake)
    )
    with pytest.raises(CourierRejected):
        wrong.create_waybill(REQUEST)


def test_cancel_sends_deal_type_2(fake, courier):
    fake.answers = [service_ok({"orderId": REQUEST.order_ref, "resStatus": 2})]
    courier.cancel("SF1234567890123", order_ref=REQUEST.order_ref)
    (call,) = fake.calls
    assert call["serviceCode"] == "EXP_RECE_UPDATE_ORDER"
    assert json.loads(call["msgData"]) == {
        "orderId": REQUEST.order_ref,
        "dealType": 2,
        "language": "zh-CN",
    }
    fake.answers = [service_error("8037", "已收件，不能取消订单")]
    with pytest.raises(CourierRejected):
        courier.cancel("SF1234567890123", order_ref=REQUEST.order_ref)


# --- route pushes ------------------------------------------------------------------------


def _route(op: str, at: str, rid: str, remark: str = "") -> dict[str, str]:
    return {
        "id": rid,
        "mailno": "SF1234567890123",
        "orderid": REQUEST.order_ref,
        "acceptTime": at,
        "acceptAddress": "北京市",
        "remark": remark or f"op {op}",
        "opCode": op,
    }


def _push(
    routes: list[dict],
    *,
    check_word: str = CHECK_WORD,
    when: datetime = NOON,
    partner: str = PARTNER,
    msg_data: str | None = None,
) -> bytes:
    data = msg_data or json.dumps({"Body": {"WaybillRoute": routes}}, ensure_ascii=False)
    ts = str(int(when.timestamp() * 1000))
    form = {
        "partnerID": partner,
        "requestID": "r1",
        "serviceCode": "RoutePushService",
        "timestamp": ts,
        "msgDigest": documented_digest(data, ts, check_word),
        "msgData": data,
    }
    return urlencode(form, quote_via=quote).encode()


def test_a_signed_push_is_parsed_and_its_op_codes_mapped(courier):
    routes = [
        _route("50", "2026-11-23 11:00:00", "1"),
        _route("31", "2026-11-23 15:00:00", "2"),
        _route("44", "2026-11-24 08:40:00", "3"),
        _route("70", "2026-11-24 11:00:00", "4", "快件派送不成功（收件人不在家）"),
        _route("80", "2026-11-25 10:00:00", "5"),
        _route("631", "2026-11-26 15:00:00", "6"),
        _route("9999", "2026-11-26 16:00:00", "7"),
    ]
    with frozen(NOON):
        updates = courier.verify_and_parse_push({}, _push(routes))
    assert [u.status for u in updates] == [
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.FAILED_ATTEMPT,
        ShipmentStatus.DELIVERED,
        ShipmentStatus.RETURNED,
        ShipmentStatus.IN_TRANSIT,  # an unknown code never closes a parcel
    ]
    first = updates[0]
    assert first.external_id == "1" and first.waybill_no == "SF1234567890123"
    assert first.order_ref == REQUEST.order_ref and first.location == "北京市"
    # acceptTime is China time
    assert first.at == datetime(2026, 11, 23, 11, 0, tzinfo=local_tz())
    assert first.at.astimezone(UTC).hour == 3
    assert updates[3].description == "快件派送不成功（收件人不在家）"
    assert courier.push_reply() == {"return_code": "0000", "return_msg": "成功"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            lambda: _push([_route("80", "2026-11-23 11:00:00", "1")], check_word="guess"),
            id="wrong-check-word",
        ),
        pytest.param(
            lambda: _push([_route("80", "2026-11-23 11:00:00", "1")], partner="SOMEONE"),
            id="other-partner",
        ),
        pytest.param(
            lambda: _push(
                [_route("80", "2026-11-23 11:00:00", "1")], when=NOON - timedelta(days=2)
            ),
            id="stale",
        ),
        pytest.param(
            lambda: json.dumps(
                {"Body": {"WaybillRoute": [_route("80", "2026-11-23 11:00:00", "1")]}}
            ).encode(),
            id="unsigned-json",
        ),
        pytest.param(lambda: b"", id="empty"),
    ],
)
def test_a_push_that_fails_its_check_is_a_bad_signature(courier, body):
    with frozen(NOON), pytest.raises(BadSignature):
        courier.verify_and_parse_push({}, body())


def test_a_tampered_push_fails_its_check(courier):
    body = _push([_route("70", "2026-11-23 11:00:00", "1")])
    tampered = body.replace(b"%2270%22", b"%2280%22")  # opCode 70 -> 80
    assert tampered != body
    with frozen(NOON), pytest.raises(BadSignature):
        courier.verify_and_parse_push({}, tampered)


@pytest.mark.parametrize(
    "msg_data",
    [
        '{"Body": {}}',
        "not json",
        '{"Body": {"WaybillRoute": [{"mailno": "SF1"}]}}',
        '{"Body": {"WaybillRoute": [{"mailno": "SF1", "opCode": "80", "acceptTime": "today"}]}}',
    ],
)
def test_a_signed_push_in_another_format_is_malformed(courier, msg_data):
    with frozen(NOON), pytest.raises(Malformed):
        courier.verify_and_parse_push({}, _push([], msg_data=msg_data))
