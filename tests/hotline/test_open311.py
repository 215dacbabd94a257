"""The Open311 GeoReport v2 server on both backends: every endpoint in JSON and XML, each
response validated against govloop's own schemas (and the official ones when available);
refused input leaves nothing behind; the request's status follows the work order through
the hotline's workflow. The own schemas are shown to reject what the spec forbids."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import cache
from importlib.resources import files
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from govloop.app import create_app
from govloop.core.clock import now, to_local
from govloop.core.db import unit_of_work
from govloop.hotline.models import HotlineCategory, Open311Client, WorkOrder, WorkOrderEvent
from govloop.hotline.open311 import api as open311_api
from govloop.hotline.open311 import cli as open311_cli
from govloop.hotline.open311 import service as open311
from govloop.hotline.open311.conformance import (
    OWN_SCHEMAS,
    SCHEMA_DIR_ENV,
    Schemas,
    check_conformance,
    xml_to_json,
)
from govloop.hotline.orders import intake, workflow
from tests.hotline.conftest import OFFICIAL_SCHEMAS, needs_official_schemas
from tests.hotline.factories import build_world, new_order

V2 = "/open311/v2"
# govloop's schemas, plus the official ones when available (the conftest finds them)
SCHEMAS = Schemas()
assert (SCHEMAS.official is not None) == OFFICIAL_SCHEMAS


@cache
def open311_app() -> FastAPI:
    """One application for the module (building its middleware stack is slow); the
    database is the process's engine, which the ``db`` fixture sets per test."""
    app = create_app(run_jobs=False)
    if not any(getattr(r, "path", "").startswith(V2) for r in app.routes):
        app.include_router(open311_api.router)
    return app


@pytest.fixture
def world(db):
    with unit_of_work() as s:
        return build_world(s)


@pytest.fixture
def api_key(world) -> str:
    with unit_of_work() as s:
        return open311.create_client(session=s, name="随手拍 App")[1]


@pytest.fixture
def client(db) -> Iterator[TestClient]:
    with TestClient(open311_app()) as c:
        yield c


def read(response: httpx.Response, kind: str, status: int = 200) -> Any:
    """The payload in the JSON shape, after checking status, media type and schema."""
    assert response.status_code == status, response.text
    xml = response.headers["content-type"].startswith("text/xml")
    assert response.headers["content-type"].endswith("charset=utf-8")
    payload = xml_to_json(response.content) if xml else response.json()
    assert SCHEMAS.check(kind, payload) == []
    return payload


def post(client: TestClient, api_key: str | None, fmt: str = "json", **fields: Any):
    form = {
        "service_code": "CG-NOISE",
        "lat": "26.0745",
        "long": "119.2965",
        "description": "楼下烧烤店每天凌晨两点还在营业，噪音很大",
        **fields,
    }
    if api_key is not None:
        form["api_key"] = api_key
    return client.post(
        f"{V2}/requests.{fmt}", data={k: v for k, v in form.items() if v is not None}
    )


def created_id(client: TestClient, api_key: str, **fields: Any) -> str:
    return read(post(client, api_key, **fields), "post")[0]["service_request_id"]


def state() -> tuple[int, int]:
    with unit_of_work(readonly=True) as s:
        orders = s.scalar(select(func.count(WorkOrder.id)))
        events = s.scalar(select(func.count(WorkOrderEvent.id)))
        return orders or 0, events or 0


def order_by_number(s, number: str) -> WorkOrder:
    return s.scalar(select(WorkOrder).where(WorkOrder.number == number))


def one(client: TestClient, number: str, fmt: str = "json") -> dict[str, Any]:
    return read(client.get(f"{V2}/requests/{number}.{fmt}"), "request")[0]


# --- services --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_services_are_the_public_active_categories(client, world, fmt):
    with unit_of_work() as s:
        s.scalar(select(HotlineCategory).where(HotlineCategory.code == "GA-HUKOU")).public = False
        expected = set(s.scalars(select(HotlineCategory.code).where(HotlineCategory.public)))
    services = read(client.get(f"{V2}/services.{fmt}"), "services")
    assert {s["service_code"] for s in services} == expected
    noise = next(s for s in services if s["service_code"] == "CG-NOISE")
    assert noise["metadata"] is True and noise["type"] == "realtime"
    assert noise["service_name"] == "噪音扰民" and noise["group"] == "城市管理"
    assert "噪音" in noise["keywords"] and "城市管理局" in noise["description"]
    road = next(s for s in services if s["service_code"] == "CG-ROAD")
    assert road["metadata"] is False
    # jurisdiction_id is accepted and ignored (one jurisdiction)
    again = read(
        client.get(f"{V2}/services.{fmt}", params={"jurisdiction_id": "x.gov"}), "services"
    )
    assert again == services


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_service_definition_maps_the_category_attributes(client, world, fmt):
    definition = read(client.get(f"{V2}/services/CG-NOISE.{fmt}"), "service_definition")
    assert definition["service_code"] == "CG-NOISE"
    [attribute] = definition["attributes"]
    assert attribute == {
        "variable": True,
        "code": "noise_time",
        "datatype": "singlevaluelist",
        "required": False,
        "order": 1,
        "description": "噪音发生时段",
        "values": [
            {"key": "day", "name": "白天"},
            {"key": "night", "name": "夜间（22时至次日6时）"},
        ],
    }
    empty = read(client.get(f"{V2}/services/CG-ROAD.{fmt}"), "service_definition")
    assert empty == {"service_code": "CG-ROAD", "attributes": []}
    errors = read(client.get(f"{V2}/services/NO-SUCH.{fmt}"), "errors", 404)
    assert errors[0]["code"] == 404 and "NO-SUCH" in errors[0]["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery(client, db, fmt):
    document = read(client.get(f"{V2}/discovery.{fmt}"), "discovery")
    [endpoint] = document["endpoints"]
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]


# --- POST requests ---------------------------------------------------------------------


def test_post_creates_a_work_order_on_the_open311_channel(client, world, api_key):
    response = post(
        client,
        api_key,
        **{"attribute[noise_time]": "night"},
        first_name="三",
        last_name="张",
        phone="13800138000",
        email="zhang@example.cn",
        device_id="dev-1",
        account_id="acct-9",
        address_string="鼓楼区 东街 8 号",
        address_id="A-17",
        media_url="https://img.example.cn/1.jpg",
        jurisdiction_id="fuzhou.gov.cn",
    )
    [created] = read(response, "post")
    assert created["account_id"] == "acct-9" and created["service_notice"]
    with unit_of_work(readonly=True) as s:
        order = order_by_number(s, created["service_request_id"])
        client_row = s.scalar(select(Open311Client))
        assert order.channel == "open311" and order.open311_client_id == client_row.id
        assert order.open311_token == created["token"]
        assert s.get(HotlineCategory, order.category_id).code == "CG-NOISE"
        assert order.department_id == world.departments["CG"]
        assert (order.caller_name, order.caller_phone) == ("张三", "13800138000")
        assert order.caller_email == "zhang@example.cn"
        assert (order.lat, order.long, order.address) == (26.0745, 119.2965, "鼓楼区 东街 8 号")
        assert order.media_url == "https://img.example.cn/1.jpg"
        assert order.attributes == {
            "noise_time": "night",
            "_open311": {"device_id": "dev-1", "account_id": "acct-9", "address_id": "A-17"},
        }
        kinds = s.scalars(select(WorkOrderEvent.kind).where(WorkOrderEvent.order_id == order.id))
        assert list(kinds) == ["order.accepted"]
    item = one(client, created["service_request_id"])
    assert item["address_id"] == "A-17"
    # the caller is never published
    text = client.get(f"{V2}/requests.json").text + client.get(f"{V2}/requests.xml").text
    assert "13800138000" not in text and "张三" not in text and "zhang@" not in text


def test_post_in_xml_and_text_is_escaped(client, world, api_key):
    description = '水压<1公斤 & 时有时无，"热水器"打不着火'
    response = post(client, api_key, "xml", service_code="SW-WATER", description=description)
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    [created] = read(response, "post")
    item = one(client, created["service_request_id"], "xml")
    assert item["description"] == description


def test_attribute_datatypes_and_required_values(client, world, api_key):
    with unit_of_work() as s:
        road = s.scalar(select(HotlineCategory).where(HotlineCategory.code == "CG-ROAD"))
        road.attributes = [
            {"code": "kinds", "datatype": "multivaluelist", "required": True, "order": 1,
             "values": [{"key": "hole", "name": "坑洼"}, {"key": "lid", "name": "井盖"}]},
            {"code": "seen_at", "datatype": "datetime", "required": False, "order": 2},
            {"code": "plate", "datatype": "string", "required": False, "order": 3},
        ]  # fmt: skip
    before = state()
    refused = read(post(client, api_key, service_code="CG-ROAD"), "errors", 400)
    assert "请填写附加项" in refused[0]["description"]
    wrong = {"attribute[kinds][]": "tree"}
    assert (
        "取值无效"
        in read(post(client, api_key, service_code="CG-ROAD", **wrong), "errors", 400)[0][
            "description"
        ]
    )
    assert state() == before
    number = created_id(
        client,
        api_key,
        service_code="CG-ROAD",
        **{"attribute[seen_at]": "2026-11-20T08:30:00", "attribute[plate]": "闽A12345"},
        # two values of a multivaluelist
        **{"attribute[kinds][]": ["hole", "lid"]},
    )
    with unit_of_work(readonly=True) as s:
        assert order_by_number(s, number).attributes == {
            "kinds": ["hole", "lid"],
            "seen_at": "2026-11-20T08:30:00+08:00",  # no offset given: local time
            "plate": "闽A12345",
        }


BAD_INPUT = [
    ({"service_code": None}, 400, "service_code"),
    ({"service_code": "NO-SUCH"}, 404, "未知的服务代码"),
    ({"lat": None, "long": None}, 400, "请提供地址或经纬度"),
    ({"lat": None, "long": None, "address_id": "A-1"}, 400, "address_id"),
    ({"long": None}, 400, "经纬度须同时提供"),
    ({"lat": "north"}, 400, "须为数字"),
    ({"lat": "nan"}, 400, "须为数字"),
    ({"lat": "95"}, 400, "超出范围"),
    ({"description": None}, 400, "请填写诉求内容"),
    ({"description": "吵" * 2001}, 400, "过长"),
    ({"description": "太吵\x07了"}, 400, "控制字符"),
    ({"phone": "12345"}, 400, "电话号码"),
    ({"email": "not-an-email"}, 400, "邮箱"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
    ({"attribute[volume]": "loud"}, 400, "没有附加项"),
    ({"attribute[noise_time]": "noon"}, 400, "取值无效"),
    ({"attribute[noise_time][]": ["day", "night"]}, 400, "只能填一个值"),
    ({"service_code": "SW-WATER", "attribute[households]": "many"}, 400, "须为数字"),
]


@pytest.mark.parametrize(("fields", "status", "message"), BAD_INPUT)
def test_bad_input_is_refused_and_stores_nothing(client, world, api_key, fields, status, message):
    before = state()
    [error] = read(post(client, api_key, **fields), "errors", status)
    assert error["code"] == status and message in error["description"]
    assert state() == before


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_api_key_is_required_and_checked(client, world, api_key, fmt):
    before = state()
    for key in (None, "", "not-a-key"):
        [error] = read(post(client, key, fmt), "errors", 403)
        assert error["code"] == 403 and "api_key" in error["description"]
    with unit_of_work() as s:
        s.scalar(select(Open311Client)).active = False
    read(post(client, api_key, fmt), "errors", 403)
    # a bad key wins over bad input
    read(post(client, "not-a-key", fmt, service_code="NO-SUCH", description=None), "errors", 403)
    assert state() == before


def test_api_key_may_also_come_in_the_query(client, world, api_key):
    response = client.post(
        f"{V2}/requests.json",
        params={"api_key": api_key},
        data={"service_code": "CG-ROAD", "address_string": "湖东路", "description": "井盖缺失"},
    )
    assert read(response, "post")[0]["service_request_id"]


def test_private_category_is_not_a_service(client, world, api_key):
    with unit_of_work() as s:
        s.scalar(select(HotlineCategory).where(HotlineCategory.code == "CG-NOISE")).public = False
    before = state()
    read(post(client, api_key), "errors", 404)
    read(client.get(f"{V2}/services/CG-NOISE.json"), "errors", 404)
    assert state() == before


# --- status follows the order ----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_status_follows_the_order_through_the_workflow(client, world, api_key, fmt):
    number = created_id(client, api_key)
    cg, handler, agent = world.departments["CG"], world.handlers["CG"], world.agent

    def step(action) -> dict[str, Any]:
        with unit_of_work() as s:
            action(s, order_by_number(s, number).id)
        return one(client, number, fmt)

    item = one(client, number, fmt)
    assert (item["status"], item["status_notes"]) == ("open", "已受理，等待派单")
    assert item["agency_responsible"] == "城市管理局" and "expected_datetime" not in item
    assert item["requested_datetime"].endswith("+08:00")
    item = step(
        lambda s, i: workflow.dispatch(session=s, order_id=i, actor=agent, department_id=cg)
    )
    assert (item["status"], item["status_notes"]) == ("open", "已派至城市管理局，等待签收")
    with unit_of_work(readonly=True) as s:
        due = order_by_number(s, number).due_at
    assert item["expected_datetime"] == open311.iso(due)
    assert "办理时限至" in item["service_notice"]
    step(lambda s, i: workflow.sign(session=s, order_id=i, actor=handler))
    item = step(
        lambda s, i: workflow.add_progress(session=s, order_id=i, actor=handler, note="到现场")
    )
    assert item["status_notes"] == "城市管理局正在办理"
    item = step(lambda s, i: workflow.answer(session=s, order_id=i, actor=handler, text="已整改"))
    assert (item["status"], item["status_notes"]) == ("open", "城市管理局已答复，热线中心审核中")
    item = step(lambda s, i: workflow.close(session=s, order_id=i, actor=agent))
    assert (item["status"], item["status_notes"]) == ("closed", "已办结")
    assert "service_notice" not in item and "已整改" not in str(item)  # answers stay private
    with unit_of_work(readonly=True) as s:
        closed_at = order_by_number(s, number).closed_at
    assert item["updated_datetime"] == open311.iso(closed_at)
    item = step(
        lambda s, i: workflow.record_callback(session=s, order_id=i, actor=agent, reached=True)
    )
    assert (item["status"], item["status_notes"]) == ("closed", "已办结，已回访")
    assert item["updated_datetime"] == open311.iso(closed_at)  # the closing date


def test_returned_and_merged_orders(client, world, api_key):
    first, second = created_id(client, api_key), created_id(client, api_key)
    cg, agent = world.departments["CG"], world.agent
    with unit_of_work() as s:
        a, b = order_by_number(s, first), order_by_number(s, second)
        workflow.dispatch(session=s, order_id=a.id, actor=agent, department_id=cg)
        workflow.request_return(
            session=s, order_id=a.id, actor=world.handlers["CG"], reason="非本单位"
        )
        workflow.review_return(session=s, order_id=a.id, actor=agent, approve=True)
        intake.merge_order(session=s, order_id=b.id, into_id=a.id, actor=agent)
    assert one(client, first)["status_notes"] == "已退回热线中心，等待重新派单"
    merged = one(client, second)
    assert merged["status"] == "closed" and first in merged["status_notes"]


# --- GET requests ----------------------------------------------------------------------


@pytest.fixture
def listed(client, world, api_key) -> dict[str, str]:
    """Open311 orders: noise (open), water (closed), road (100 days old); one phone order."""
    numbers = {
        "noise": created_id(client, api_key),
        "water": created_id(client, api_key, service_code="SW-WATER"),
        "old": created_id(client, api_key, service_code="CG-ROAD"),
    }
    with unit_of_work() as s:
        water = order_by_number(s, numbers["water"])
        workflow.close(session=s, order_id=water.id, actor=world.agent, answer_text="已恢复供水")
        order_by_number(s, numbers["old"]).created_at = now() - timedelta(days=100)
        numbers["phone"] = new_order(s, world).number
    return numbers


def ids(client: TestClient, fmt: str = "json", **params: str) -> list[str]:
    payload = read(client.get(f"{V2}/requests.{fmt}", params=params), "requests")
    return [r["service_request_id"] for r in payload]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_filters(client, listed, fmt):
    noise, water, old = listed["noise"], listed["water"], listed["old"]
    assert ids(client, fmt) == [water, noise]  # last 90 days, newest first, Open311 only
    assert ids(client, fmt, service_code="SW-WATER") == [water]
    assert ids(client, fmt, service_code="SW-WATER,CG-NOISE") == [water, noise]
    assert ids(client, fmt, service_code="NO-SUCH") == []
    assert ids(client, fmt, status="open") == [noise]
    assert ids(client, fmt, status="closed") == [water]
    assert ids(client, fmt, status="open,closed", jurisdiction_id="") == [water, noise]
    # service_request_id overrides every other filter, and reaches old requests
    assert ids(client, fmt, service_request_id=f"{old},{noise}", status="closed") == [noise, old]
    assert ids(client, fmt, service_request_id=listed["phone"]) == []
    start = open311.iso(now() - timedelta(days=110))
    assert ids(client, fmt, start_date=start) == [old]  # start + 90 days
    assert ids(client, fmt, end_date=open311.iso(now() - timedelta(days=50))) == [old]
    # a "+" sent unencoded arrives as a space
    yesterday = to_local(now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S 08:00")
    assert ids(client, fmt, start_date=yesterday) == [water, noise]


def test_at_most_max_results_newest_first(client, listed, monkeypatch):
    monkeypatch.setattr(open311, "MAX_RESULTS", 1)
    assert ids(client) == [listed["water"]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_date": "yesterday"}, "格式不正确"),
        ({"start_date": "2026-11-01"}, "须带时区"),
        ({"end_date": "2026-11-01T00:00:00"}, "须带时区"),
        ({"start_date": "2026-02-30T00:00:00Z"}, "格式不正确"),
        ({"start_date": "2026-11-10T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, "不能早于"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 天"),
        ({"status": "pending"}, "open 或 closed"),
    ],
)
def test_bad_filters_are_400(client, listed, params, message):
    for fmt in ("json", "xml"):
        [error] = read(client.get(f"{V2}/requests.{fmt}", params=params), "errors", 400)
        assert message in error["description"]


def test_hidden_and_unknown_requests_are_404(client, listed):
    with unit_of_work() as s:
        order_by_number(s, listed["noise"]).confidential = True
    for number in (listed["noise"], listed["phone"], "nope"):
        for fmt in ("json", "xml"):
            read(client.get(f"{V2}/requests/{number}.{fmt}"), "errors", 404)
    assert listed["noise"] not in ids(client)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_tokens_resolve_to_the_request(client, world, api_key, fmt):
    [created] = read(post(client, api_key, fmt), "post")
    token = created["token"]
    payload = read(client.get(f"{V2}/tokens/{token}.{fmt}"), "token")
    assert payload == [{"service_request_id": created["service_request_id"], "token": token}]
    read(client.get(f"{V2}/tokens/{token[:-1]}x.{fmt}"), "errors", 404)


def test_xml_says_the_same_as_json(client, listed, api_key):
    [created] = read(post(client, api_key), "post")
    paths = [
        "services",
        "services/CG-NOISE",
        "requests",
        f"requests/{listed['water']}",
        f"tokens/{created['token']}",
    ]
    for path in paths:
        as_json = client.get(f"{V2}/{path}.json").json()
        assert xml_to_json(client.get(f"{V2}/{path}.xml").content) == as_json, path


def test_unknown_paths_methods_and_formats_answer_in_the_spec_format(client, db):
    assert read(client.get(f"{V2}/nothing.xml"), "errors", 404)[0]["code"] == 404
    assert read(client.get(f"{V2}/services"), "errors", 404)[0]["code"] == 404
    assert "请求方式" in read(client.delete(f"{V2}/services.json"), "errors", 400)[0]["description"]
    assert "格式" in read(client.get(f"{V2}/services.html"), "errors", 400)[0]["description"]


# --- conformance, keys -----------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param(False, id="own-schemas"),
        pytest.param(True, id="official-schemas", marks=needs_official_schemas),
    ]
)
def schemas(request) -> Schemas:
    """govloop's schemas alone (always), and with the official cross-check (when found)."""
    found = Schemas(official=request.param)
    assert (found.official is not None) is request.param
    return found


def test_conformance_of_every_endpoint(client, listed, api_key, schemas):
    report = check_conformance(client, api_key=api_key, schemas=schemas)
    assert report["failures"] == [] and report["open311_schema_failures"] == 0
    assert report["schemas"] == schemas.sources
    services = len(client.get(f"{V2}/services.json").json())
    # per format: discovery, services, each definition, POST, list, one, token, 5 errors
    assert report["responses_checked"] == 2 * (services + 11)
    assert report["skipped"] == []
    without_key = check_conformance(client, schemas=schemas)
    assert without_key["open311_schema_failures"] == 0 and len(without_key["skipped"]) == 2


def test_conformance_uses_the_own_schemas_by_default(client, listed, api_key, monkeypatch):
    monkeypatch.delenv(SCHEMA_DIR_ENV, raising=False)
    report = check_conformance(client, api_key=api_key)
    assert report["schemas"] == [Schemas(official=False).sources[0]]
    assert report["responses_checked"] > 0 and report["failures"] == []
    with pytest.raises(FileNotFoundError):
        Schemas(official=True)


def test_conformance_reports_what_breaks_the_schemas(client, listed, monkeypatch, schemas):
    naive = lambda moment: moment.replace(tzinfo=None).isoformat() if moment else None  # noqa: E731
    monkeypatch.setattr(open311, "iso", naive)
    real_list = open311.list_services
    monkeypatch.setattr(
        open311,
        "list_services",
        lambda *, session: [{**s, "metadata": "yes"} for s in real_list(session=session)],
    )
    report = check_conformance(client, schemas=schemas)
    problems = " ".join(f["problem"] for f in report["failures"])
    assert report["open311_schema_failures"] >= 6  # services ×2, lists ×2, one request ×2
    assert "is not a 'date-time'" in problems and "'yes' is not of type 'boolean'" in problems
    if schemas.official is not None:
        assert "official " in problems


def test_schemas_catch_vacuous_payloads(schemas):
    assert schemas.check("services", "not a list")  # the official schema alone accepts it
    assert schemas.check("request", [])
    assert schemas.check("errors", [{"code": "403", "description": "x"}])
    assert schemas.check("requests", [{"service_request_id": "1", "status": "open"}])


# --- govloop's own schemas against the spec ---------------------------------------------

OWN = Schemas(official=False)

# one valid payload per kind, after the spec's examples (identifiers as strings)
REQUEST = {
    "service_request_id": "638344",
    "status": "closed",
    "status_notes": "Duplicate request.",
    "service_name": "Sidewalk and Curb Issues",
    "service_code": "006",
    "description": None,
    "agency_responsible": None,
    "service_notice": None,
    "requested_datetime": "2010-04-14T06:37:38-08:00",
    "updated_datetime": "2010-04-14T06:37:38-08:00",
    "expected_datetime": "2010-04-15T06:37:38-08:00",
    "address": "8TH AVE and JUDAH ST",
    "address_id": "545483",
    "zipcode": "94122",
    "lat": 37.762221815,
    "long": -122.4651145,
    "media_url": "http://city.gov.s3.amazonaws.com/requests/media/638344.jpg",
}
VALID: dict[str, Any] = {
    "services": [
        {
            "service_code": "001",
            "service_name": "Cans left out 24x7",
            "description": "Garbage or recycling cans left out after collection.",
            "metadata": True,
            "type": "realtime",
            "keywords": "lorem, ipsum, dolor",
            "group": "sanitation",
        }
    ],
    "service_definition": {
        "service_code": "DMV66",
        "attributes": [
            {
                "variable": True,
                "code": "WHISHETN",
                "datatype": "singlevaluelist",
                "required": True,
                "datatype_description": None,
                "order": 1,
                "description": "What is the ticket/tag/DL number?",
                "values": [{"key": "123", "name": "Ford"}, {"key": "124", "name": "Chrysler"}],
            }
        ],
    },
    "requests": [REQUEST, {**REQUEST, "service_request_id": "638349", "status": "open"}],
    "request": [REQUEST],
    "post": [{"service_request_id": "293944", "service_notice": "Inspection", "account_id": None}],
    "token": [{"service_request_id": "638344", "token": "12345"}],
    "errors": [{"code": 403, "description": "Invalid api_key received"}],
    "discovery": {
        "changeset": "2011-04-05T17:48:34Z",
        "contact": "311@city.gov",
        "key_service": "https://city.gov/keys",
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": "https://open311.city.gov/v2",
                "changeset": "2011-04-20T17:48:34Z",
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    },
}


def _without(path: str) -> Callable[[Any], None]:
    *parents, last = path.split(".")

    def mutate(payload: Any) -> None:
        for step in parents:
            payload = payload[int(step) if step.isdigit() else step]
        del payload[int(last) if last.isdigit() else last]

    return mutate


def _set(path: str, value: Any) -> Callable[[Any], None]:
    *parents, last = path.split(".")

    def mutate(payload: Any) -> None:
        for step in parents:
            payload = payload[int(step) if step.isdigit() else step]
        if isinstance(payload, list) and int(last) == len(payload):
            payload.append(value)
        else:
            payload[int(last) if last.isdigit() else last] = value

    return mutate


# (kind, change to the valid payload, expected problem)
BAD_PAYLOADS = [
    # missing required fields
    ("services", _without("0.metadata"), "'metadata' is a required property at $[0]"),
    ("services", _without("0.service_code"), "'service_code' is a required property at $[0]"),
    ("service_definition", _without("attributes"), "'attributes' is a required property at $"),
    (
        "service_definition",
        _without("attributes.0.datatype"),
        "'datatype' is a required property at $.attributes[0]",
    ),
    ("requests", _without("1.status"), "'status' is a required property at $[1]"),
    (
        "request",
        _without("0.requested_datetime"),
        "'requested_datetime' is a required property at $[0]",
    ),
    (
        "request",
        _without("0.updated_datetime"),  # closed: updated_datetime is the closing date
        "'updated_datetime' is a required property",
    ),
    ("token", _without("0.token"), "'token' is a required property at $[0]"),
    ("errors", _without("0.description"), "'description' is a required property at $[0]"),
    ("discovery", _without("endpoints"), "'endpoints' is a required property at $"),
    # enums and types
    ("requests", _set("0.status", "pending"), "'pending' is not one of ['open', 'closed']"),
    ("request", _set("0.status", "Open"), "'Open' is not one of ['open', 'closed'] at $[0]"),
    ("services", _set("0.type", "sometimes"), "'sometimes' is not one of ['realtime'"),
    ("services", _set("0.metadata", "true"), "'true' is not of type 'boolean' at $[0].metadata"),
    (
        "service_definition",
        _set("attributes.0.datatype", "dropdown"),
        "'dropdown' is not one of ['string', 'number', 'datetime'",
    ),
    (
        "service_definition",
        _without("attributes.0.values"),  # a singlevaluelist lists its values
        "'values' is a required property",
    ),
    (
        "service_definition",
        _set("attributes.0.order", 0),
        "0 is less than the minimum of 1 at $.attributes[0].order",
    ),
    ("errors", _set("0.code", "403"), "'403' is not of type 'integer' at $[0].code"),
    ("post", _set("0.service_request_id", 293944), "293944 is not of type 'string'"),
    (
        "discovery",
        _set("endpoints.0.formats", ["application/json"]),  # XML is a required format
        "none of the alternatives holds",
    ),
    ("discovery", _set("endpoints.0.type", "staging"), "'staging' is not one of"),
    # date-times: w3 format with a timezone, real calendar values
    (
        "requests",
        _set("0.requested_datetime", "2010-04-14T06:37:38"),
        "'2010-04-14T06:37:38' is not a 'date-time' at $[0].requested_datetime",
    ),
    (
        "request",
        _set("0.updated_datetime", "2010-02-30T06:37:38Z"),
        "'2010-02-30T06:37:38Z' is not a 'date-time' at $[0].updated_datetime",
    ),
    (
        "request",
        _set("0.expected_datetime", "2010-04-15"),
        "'2010-04-15' is not a 'date-time' at $[0].expected_datetime",
    ),
    ("discovery", _set("changeset", "yesterday"), "'yesterday' is not a 'date-time' at $"),
    # the rest of the request
    ("request", _set("0.lat", 95), "95 is greater than the maximum of 90 at $[0].lat"),
    ("request", _set("0.description", "x" * 4001), "is too long at $[0].description"),
    ("request", _set("0.media_url", "photo.jpg"), "'photo.jpg' is not a 'uri'"),
    ("request", _set("1", REQUEST), "is too long at $"),  # exactly one request
    ("token", _set("1", VALID["token"][0]), "is too long at $"),
    ("post", _without("0"), "[] should be non-empty at $"),
    ("errors", _without("0"), "[] should be non-empty at $"),
]


@pytest.mark.parametrize("kind", list(VALID))
def test_own_schemas_accept_the_spec_examples(kind):
    assert OWN.check(kind, VALID[kind]) == []


@pytest.mark.parametrize(("kind", "mutate", "expected"), BAD_PAYLOADS)
def test_own_schemas_reject_what_the_spec_forbids(kind, mutate, expected):
    payload = copy.deepcopy(VALID[kind])
    mutate(payload)
    assert payload != VALID[kind]
    problems = OWN.check(kind, payload)
    assert any(expected in problem for problem in problems), problems


def test_own_schemas_are_package_data():
    assert OWN.official is None and OWN.folder is None
    assert OWN.sources == ["govloop Open311 schemas (from the GeoReport v2 text)"]
    folder = files("govloop.hotline.open311").joinpath("schema")
    names = {entry.name for entry in folder.iterdir() if entry.name.endswith(".json")}
    assert set(OWN_SCHEMAS.values()) <= names


def test_cli_creates_lists_and_revokes_keys(db):
    runner = CliRunner()
    created = runner.invoke(open311_cli.app, ["create-key", "--name", "网格员 App"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    with unit_of_work(readonly=True) as s:
        client_row = open311.client_for_key(session=s, key=key)
        assert client_row.name == "网格员 App" and client_row.key_hash != key
    listing = runner.invoke(open311_cli.app, ["list-keys"])
    assert listing.exit_code == 0 and "网格员 App" in listing.output and key not in listing.output
    again = runner.invoke(open311_cli.app, ["create-key", "--name", "网格员 App"])
    assert again.exit_code == 1 and "已有" in again.output
    revoked = runner.invoke(open311_cli.app, ["revoke-key", str(client_row.id)])
    assert revoked.exit_code == 0
    with pytest.raises(Exception, match="无效或已停用"), unit_of_work(readonly=True) as s:
        open311.client_for_key(session=s, key=key)
