"""A local courier that behaves like SF's open platform, for the demo and the tests.

It answers the same calls as SF's gateway (form fields, ``msgDigest``, ``apiResultData``;
``SfCourier`` talks to it through an in-process ``httpx`` transport), so the adapter's code
runs unchanged, and it pushes route events back to govloop the way SF does: signed form
pushes whose ``msgData`` is ``{"Body": {"WaybillRoute": [...]}}``, parsed by the same
``sf.parse_routes`` behind the same endpoint code (``tracking.receive_push``).

What it does, driven by ``govloop.core.clock.now``:

* waybill numbers ``SF`` + 12 digits + a check digit (Luhn over the 12 digits; SF's own
  check-digit rule is not public, so this one is the simulator's);
* the same ``orderId`` again is refused as a repeat (error 8016) and
  ``EXP_RECE_SEARCH_ORDER_RESP`` gives its waybill, as SF does;
* an address without a province, city, district or county in it is refused (no delivery
  area); a cancel (``dealType`` 2) is taken only before pickup;
* the route of each parcel is planned when it is ordered, seeded by its waybill number:
  collected (the same working day before 16:00, else the next working morning), through
  1–3 sorting centres, out for delivery the next working morning, delivered that day; about
  one parcel in ten has a failed attempt (nobody home) and is delivered the next working day,
  about one in twenty-five fails three times and goes back to the sender;
* ``due_pushes(now)`` gives the pushes of the events that have happened and were not yet
  taken; ``acknowledge`` marks them taken, ``refused`` counts a refusal (after five the
  simulator gives up on them, as a real push service stops retrying).

State: in memory (``state_path=None``, the tests) or a small JSON file (default
``<data_dir>/courier-simulator.json``: the web process creates waybills and the worker
pushes, so they share it), read and written under an exclusive ``fcntl`` lock. Finished
orders are forgotten 60 days after their order.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from govloop.core.calendar import is_workday, next_workday
from govloop.core.clock import local_tz, now
from govloop.matters.delivery import sf

PUSH_SERVICE = "RoutePushService"
MAX_REFUSALS = 5
FORGET_AFTER = timedelta(days=60)
# per-mille of parcels, by the waybill's seed
RETURNED_PER_MILLE = 40
FAILED_ONCE_PER_MILLE = 100
ATTEMPTS_BEFORE_RETURN = 3
FATES = ("normal", "failed_once", "returned")

CENTRES = (
    "华北航空枢纽",
    "北京顺义集散中心",
    "天津武清中转场",
    "石家庄正定中转场",
    "华东航空枢纽",
    "上海浦江中转场",
    "杭州萧山中转场",
    "广州白云中转场",
    "武汉东西湖中转场",
    "成都双流中转场",
)
SIGNERS = ("本人", "本人", "本人", "家人", "同事", "门卫")
_AREA = re.compile(r"[省市区县旗盟州]")
_MULTIPLIER = 73_939_133  # odd, not a multiple of 5: a permutation of 0 … 10^11 - 1
_OFFSET = 20_481_907_351


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # the rightmost digit of the body is doubled
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def make_waybill(seq: int) -> str:
    body = "1" + f"{(seq * _MULTIPLIER + _OFFSET) % 10**11:011d}"
    return f"SF{body}{luhn_digit(body)}"


def valid_waybill(number: str) -> bool:
    return bool(re.fullmatch(r"SF\d{13}", number)) and luhn_digit(number[2:-1]) == number[-1]


@dataclass(frozen=True)
class RouteEvent:
    id: str
    op_code: str
    at: datetime  # timezone-aware, local time
    location: str
    remark: str

    def as_sf(self, waybill: str, order_ref: str) -> dict[str, str]:
        return {
            "id": self.id,
            "mailno": waybill,
            "orderid": order_ref,
            "acceptTime": self.at.strftime(sf.ACCEPT_TIME),
            "acceptAddress": self.location,
            "remark": self.remark,
            "opCode": self.op_code,
        }


@dataclass(frozen=True)
class Push:
    """One signed push as it goes over the wire."""

    waybill_no: str
    event_ids: tuple[str, ...]
    headers: dict[str, str]
    body: bytes


def scenario(waybill: str) -> str:
    """``returned``, ``failed_once`` or ``normal``: the parcel's fate, from its number."""
    roll = _rng(waybill, "fate").randrange(1000)
    if roll < RETURNED_PER_MILLE:
        return "returned"
    if roll < RETURNED_PER_MILLE + FAILED_ONCE_PER_MILLE:
        return "failed_once"
    return "normal"


def _rng(waybill: str, salt: str) -> random.Random:
    return random.Random(int(hashlib.sha256(f"{waybill}:{salt}".encode()).hexdigest()[:16], 16))


def _at(day: date, hour: float) -> datetime:
    minutes = round(hour * 60)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=local_tz())


def plan_route(
    waybill: str, ordered_at: datetime, *, sender: str, recipient_area: str
) -> list[RouteEvent]:
    """Every route event of one parcel, from its order time (deterministic)."""
    rng = _rng(waybill, "route")
    fate = scenario(waybill)
    local = ordered_at.astimezone(local_tz())
    events: list[tuple[str, datetime, str, str]] = []
    # collected: the same working day when ordered before 16:00, else the next one
    if is_workday(local.date()) and local.time() < time(16, 0):
        start = max(local, _at(local.date(), 9.0))
        pickup = min(start + timedelta(hours=rng.uniform(1.0, 3.0)), _at(local.date(), 18.5))
    else:
        pickup = _at(next_workday(local.date()), rng.uniform(9.5, 11.5))
    events.append(("50", pickup, sender, "顺丰速运 已收取快件"))
    t = pickup
    centres = rng.sample(CENTRES, rng.randint(1, 3))
    for i, centre in enumerate(centres):
        nxt = centres[i + 1] if i + 1 < len(centres) else f"{recipient_area}营业点"
        t += timedelta(hours=rng.uniform(2.0, 6.0))
        events.append(("31", t, centre, f"快件到达【{centre}】"))
        t += timedelta(hours=rng.uniform(0.5, 2.0))
        events.append(("30", t, centre, f"快件在【{centre}】完成分拣，准备发往【{nxt}】"))
        t += timedelta(minutes=rng.uniform(10, 50))
        events.append(("36", t, centre, f"快件离开【{centre}】，已在发往【{nxt}】的路上"))
    station = f"{recipient_area}营业点"
    day = next_workday(t.date())
    attempts = {"normal": 0, "failed_once": 1, "returned": ATTEMPTS_BEFORE_RETURN}[fate]
    for attempt in range(attempts + (0 if fate == "returned" else 1)):
        out = _at(day, rng.uniform(8.3, 9.6))
        events.append(("44", out, station, "快件交给快递员，正在派送途中（联系电话：95338）"))
        if attempt < attempts:
            failed = out + timedelta(hours=rng.uniform(1.5, 5.0))
            last = attempt + 1 == ATTEMPTS_BEFORE_RETURN
            then = "多次派送不成功，快件将退回寄件人" if last else "待再次派送"
            events.append(("70", failed, station, f"快件派送不成功（收件人不在家），{then}"))
            day = next_workday(day)
        else:
            signer = rng.choice(SIGNERS)
            done = out + timedelta(hours=rng.uniform(0.5, 6.0))
            events.append(("80", done, station, f"快件已签收，签收人：{signer}，感谢使用顺丰"))
    if fate == "returned":
        back = _at(day, rng.uniform(9.0, 11.0))
        events.append(("99", back, station, "快件正在退回寄件人途中"))
        home = _at(next_workday(day), rng.uniform(14.0, 16.5))
        events.append(("631", home, sender, "快件已退回寄件人，已签收"))
    digits = waybill[2:]
    return [
        RouteEvent(f"{digits}{i:02d}", op, at.replace(microsecond=0), where, remark)
        for i, (op, at, where, remark) in enumerate(events, start=1)
    ]


def _area(address: str) -> str:
    """The district (区/县) of an address, else its city, for the delivery station's name."""
    for pattern in (r"[^省市]{1,8}?[区县]", r"[^省]{1,8}?市"):
        found = re.search(pattern, address)
        if found:
            return found.group(0)
    return "目的地"


class SimulatedSf:
    """The simulated SF service (gateway and push sender)."""

    def __init__(self, *, partner_id: str, check_word: str, state_path: Path | None = None) -> None:
        self.partner_id = partner_id
        self.check_word = check_word
        self.state_path = state_path
        self._memory: dict[str, Any] = {"seq": 0, "orders": {}}
        self._lock = threading.Lock()
        self.down_until: datetime | None = None  # the tests take the service down

    # --- state ---------------------------------------------------------------------------

    @contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            if self.state_path is None:
                yield self._memory
                return
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            lock_path = self.state_path.with_suffix(self.state_path.suffix + ".lock")
            with open(lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    try:
                        before = self.state_path.read_text(encoding="utf-8")
                    except FileNotFoundError:
                        before = '{"seq": 0, "orders": {}}'
                    state = json.loads(before)
                    yield state
                    after = json.dumps(state, ensure_ascii=False)
                    if after != before:  # a round with nothing to push writes nothing
                        tmp = self.state_path.with_suffix(".tmp")
                        tmp.write_text(after, encoding="utf-8")
                        os.replace(tmp, self.state_path)
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _route(order: dict[str, Any]) -> list[RouteEvent]:
        return plan_route(
            order["waybill"],
            datetime.fromisoformat(order["ordered_at"]),
            sender=order["sender_area"],
            recipient_area=order["recipient_area"],
        )

    def route(self, waybill: str) -> list[RouteEvent]:
        """The whole planned route of a parcel (for the tests and the demo)."""
        with self._state() as state:
            for order in state["orders"].values():
                if order["waybill"] == waybill:
                    return [] if order.get("cancelled") else self._route(order)
        return []

    def steer(self, fate: str) -> str:
        """Make the next waybill one of this fate (``normal``, ``failed_once``,
        ``returned``): the tests and a demo that shows each case. Returns its number."""
        if fate not in FATES:
            raise ValueError(f"unknown fate {fate!r}")
        with self._state() as state:
            seq = state["seq"]
            while scenario(make_waybill(seq + 1)) != fate:
                seq += 1
            state["seq"] = seq
            return make_waybill(seq + 1)

    # --- the gateway ---------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down_until is not None and now() < self.down_until:
            return httpx.Response(503, text="Service Unavailable")
        try:
            fields = sf.form_fields(request.read())
        except sf.Malformed:
            return self._platform("A1001", "请求不是 UTF-8 编码的表单")
        missing = [
            f
            for f in ("partnerID", "requestID", "serviceCode", "timestamp", "msgDigest", "msgData")
            if not fields.get(f)
        ]
        if missing:
            return self._platform("A1001", f"必传参数不可为空：{','.join(missing)}")
        if fields["partnerID"] != self.partner_id:
            return self._platform("A1004", "无对应服务权限")
        if not sf.digest_ok(fields, self.check_word):
            return self._platform("A1006", "数字签名无效")
        try:
            message = json.loads(fields["msgData"])
        except ValueError:
            return self._platform("A1001", "msgData 不是 JSON")
        service = fields["serviceCode"]
        if service == sf.CREATE_ORDER:
            return self._answer(self._create(message))
        if service == sf.SEARCH_ORDER:
            return self._answer(self._search(message))
        if service == sf.UPDATE_ORDER:
            return self._answer(self._update(message))
        return self._platform("A1004", f"无对应服务权限：{service}")

    @staticmethod
    def _platform(code: str, message: str) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "apiResultCode": code,
                "apiErrorMsg": message,
                "apiResponseID": uuid.uuid4().hex,
                "apiResultData": None,
            },
        )

    @staticmethod
    def _answer(data: dict[str, Any]) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "apiResultCode": sf.PLATFORM_OK,
                "apiErrorMsg": "",
                "apiResponseID": uuid.uuid4().hex,
                "apiResultData": sf.dumps(data),
            },
        )

    @staticmethod
    def _fail(code: str, message: str) -> dict[str, Any]:
        return {"success": False, "errorCode": code, "errorMsg": message, "msgData": None}

    @staticmethod
    def _ok(order_ref: str, waybill: str) -> dict[str, Any]:
        return {
            "success": True,
            "errorCode": sf.SERVICE_OK,
            "errorMsg": None,
            "msgData": {
                "orderId": order_ref,
                "waybillNoInfoList": [{"waybillType": 1, "waybillNo": waybill}],
            },
        }

    def _create(self, message: dict[str, Any]) -> dict[str, Any]:
        order_ref = str(message.get("orderId") or "")
        contacts = {c.get("contactType"): c for c in message.get("contactInfoList") or []}
        sender, recipient = contacts.get(1), contacts.get(2)
        if not order_ref or not sender or not recipient:
            return self._fail("1010", "订单号、寄件方或到件方信息缺失")
        address = str(recipient.get("address") or "")
        if not _AREA.search(address) or len(address) < 6:
            return self._fail("20052", "到件方地址不详，不在派送范围内")
        if not (recipient.get("mobile") or recipient.get("tel")) or not recipient.get("contact"):
            return self._fail("1014", "到件方联系人或电话缺失")
        with self._state() as state:
            if order_ref in state["orders"]:
                return self._fail(sf.REPEATED_ORDER, "重复下单")
            state["seq"] += 1
            waybill = make_waybill(state["seq"])
            state["orders"][order_ref] = {
                "waybill": waybill,
                "ordered_at": now().isoformat(),
                "sender_area": _area(str(sender.get("address") or "")),
                "recipient_area": _area(address),
                "cancelled": False,
                "taken": [],
                "refusals": 0,
            }
        return self._ok(order_ref, waybill)

    def _search(self, message: dict[str, Any]) -> dict[str, Any]:
        order_ref = str(message.get("orderId") or "")
        with self._state() as state:
            order = state["orders"].get(order_ref)
        if order is None:
            return self._fail("8018", "未获取到订单信息")
        return self._ok(order_ref, order["waybill"])

    def _update(self, message: dict[str, Any]) -> dict[str, Any]:
        order_ref = str(message.get("orderId") or "")
        if int(message.get("dealType") or 1) != sf.DEAL_CANCEL:
            return self._fail("1010", "仅支持取消订单（dealType 2）")
        with self._state() as state:
            order = state["orders"].get(order_ref)
            if order is None:
                return self._fail("8018", "未获取到订单信息")
            if not order["cancelled"]:
                pickup = self._route(order)[0].at
                if now() >= pickup:
                    return self._fail("8037", "已收件，不能取消订单")
                order["cancelled"] = True
        return {
            "success": True,
            "errorCode": sf.SERVICE_OK,
            "errorMsg": None,
            "msgData": {"orderId": order_ref, "resStatus": 2},
        }

    # --- pushes --------------------------------------------------------------------------

    def due_pushes(self, moment: datetime) -> list[Push]:
        """One signed push per parcel with the events that happened by ``moment`` and were
        not taken yet (oldest first)."""
        pushes = []
        with self._state() as state:
            for order_ref, order in list(state["orders"].items()):
                if order["cancelled"] or order.get("done") or order["refusals"] >= MAX_REFUSALS:
                    if datetime.fromisoformat(order["ordered_at"]) < moment - FORGET_AFTER:
                        del state["orders"][order_ref]
                    continue
                route = self._route(order)
                taken = set(order["taken"])
                due = [e for e in route if e.at <= moment and e.id not in taken]
                if not due:
                    # every event taken: the parcel needs no more planning
                    order["done"] = len(taken) >= len(route)
                    continue
                payload = {
                    "Body": {"WaybillRoute": [e.as_sf(order["waybill"], order_ref) for e in due]}
                }
                form = sf.signed_form(
                    partner_id=self.partner_id,
                    check_word=self.check_word,
                    service_code=PUSH_SERVICE,
                    message=payload,
                    timestamp=str(int(moment.timestamp() * 1000)),
                )
                pushes.append(
                    Push(
                        waybill_no=order["waybill"],
                        event_ids=tuple(e.id for e in due),
                        headers={"content-type": sf.FORM_CONTENT_TYPE},
                        body=urlencode(form).encode("ascii"),
                    )
                )
        return pushes

    def settle(self, *, taken: Sequence[Push] = (), refused: Sequence[Push] = ()) -> None:
        """Record a round's answers in one write: ``taken`` pushes (govloop answered
        ``return_code`` 0000) are not sent again, ``refused`` ones count a refusal."""
        if not taken and not refused:
            return
        with self._state() as state:
            by_waybill = {order["waybill"]: order for order in state["orders"].values()}
            for push in taken:
                order = by_waybill.get(push.waybill_no)
                if order is not None:
                    order["taken"] = sorted(set(order["taken"]) | set(push.event_ids))
                    order["refusals"] = 0
            for push in refused:
                order = by_waybill.get(push.waybill_no)
                if order is not None:
                    order["refusals"] += 1

    def acknowledge(self, push: Push) -> None:
        self.settle(taken=[push])

    def refused(self, push: Push) -> None:
        self.settle(refused=[push])
