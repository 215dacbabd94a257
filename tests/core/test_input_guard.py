"""Input no route may pass on is refused with a 4xx on both backends, and nothing changes:
NUL characters, integers beyond signed 64 bits, JSON nested too deep; search text is
matched literally ("%" and "_" are characters, not wildcards)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.db import unit_of_work
from govloop.core.input_guard import (
    INT64_MAX,
    INT64_MIN,
    INT_MAX,
    INT_MIN,
    MAX_JSON_DEPTH,
    SCOPE_KEY,
    InputGuard,
    InputRefused,
    digits_int,
    loads_json,
)
from govloop.hotline.models import WorkOrder, WorkOrderEvent
from govloop.hotline.open311 import service as open311
from govloop.ingest.models import DeadLetter
from govloop.subjects import service as subjects
from govloop.subjects.models import SubjectMaster
from tests.factories import make_user
from tests.hotline.factories import HotlineWorld, build_world, new_order


@cache
def guarded_app() -> FastAPI:
    return create_app(run_jobs=False)


@pytest.fixture
def client(db) -> Iterator[TestClient]:
    with TestClient(guarded_app()) as c:
        yield c


@pytest.fixture
def world(db) -> HotlineWorld:
    with unit_of_work() as s:
        return build_world(s)


@pytest.fixture
def token(world) -> str:
    with unit_of_work() as s:
        admin = make_user(s, "root", Role.ADMIN)
        return issue_api_token(session=s, user=admin, name="guard")


@pytest.fixture
def api_key(token) -> str:
    with unit_of_work() as s:
        return open311.create_client(session=s, name="随手拍 App")[1]


def state() -> tuple[int, int, int]:
    with unit_of_work(readonly=True) as s:
        return (
            s.scalar(select(func.count(WorkOrder.id))) or 0,
            s.scalar(select(func.count(WorkOrderEvent.id))) or 0,
            s.scalar(select(func.count(DeadLetter.id))) or 0,
        )


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


BIG = INT_MAX + 1  # past an SQL INTEGER: PostgreSQL refuses it as an id
ORDER = {"content": "小区门口夜间施工噪音很大", "category_code": "CG-NOISE"}
JSON = {"content-type": "application/json"}

# (what, method, url, request arguments, words the answer's message holds)
REFUSED: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("NUL in a query", "GET", "/api/v1/hotline/orders?q=a%00b", {}, "q（不能包含空字符"),
    ("NUL in a path", "GET", "/api/v1/halls/DE%00MO", {}, "空字符"),
    (
        "NUL in a JSON string",
        "POST",
        "/api/v1/hotline/orders",
        {"json": {**ORDER, "title": "噪音\x00"}},
        "title（不能包含空字符",
    ),
    (
        "NUL in a JSON key",
        "POST",
        "/api/v1/hotline/orders",
        {"json": {**ORDER, "x\x00": 1}},
        "空字符",
    ),
    ("a path integer", "GET", f"/api/v1/hotline/orders/{BIG}", {}, "order_id（整数须在"),
    (
        "a negative path integer",
        "POST",
        f"/api/v1/hotline/orders/{INT_MIN - 1}/sign",
        {},
        "整数须在",
    ),
    ("a huge path integer", "GET", "/api/v1/ratings/cases/" + "9" * 5000, {}, "整数须在"),
    (
        "a query integer",
        "GET",
        f"/api/v1/indicators/drilldown?hall=H&indicator=x&period=2026-01&object=window&id={BIG}",
        {},
        "整数须在",
    ),
    (
        "NUL in a URL-encoded form",
        "POST",
        "/api/v1/hotline/orders",
        {"data": {"content": "x\x00"}},
        "空字符",
    ),
    (
        "a JSON integer",
        "POST",
        "/api/ingest/dead-letters/replay",
        {"json": {"ids": [BIG]}},
        "ids.0（整数须在",
    ),
    (
        "an integer nested in a JSON body's model",
        "POST",
        "/api/v1/halls/H1/actions",
        {"json": {"title": "加开窗口", "kind": "staffing", "scope": {"windows": [1, BIG]}}},
        "scope.windows.1（整数须在",
    ),
    (
        "a JSON integer of thousands of digits",
        "POST",
        "/api/v1/hotline/orders",
        {"content": '{"content": "x", "n": ' + "9" * 5000 + "}", "headers": JSON},
        "整数须在",
    ),
    (
        "JSON one level too deep",
        "POST",
        "/api/v1/hotline/orders",
        {"json": {**ORDER, "extra": json.loads(nested(MAX_JSON_DEPTH))}},
        "嵌套不能超过",
    ),
    (
        "JSON deeper than Python's recursion limit",
        "POST",
        "/api/v1/hotline/orders",
        {"content": nested(100_000), "headers": JSON},
        "嵌套不能超过",
    ),
]


@pytest.mark.parametrize(
    ("what", "method", "url", "kwargs", "words"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_refused_with_a_clear_422_and_nothing_changes(
    client, token, what, method, url, kwargs, words
):
    before = state()
    kwargs = dict(kwargs)  # the table is shared by both backends' runs
    headers = {"Authorization": f"Bearer {token}", "accept": "application/json"}
    headers |= kwargs.pop("headers", {})
    response = client.request(method, url, headers=headers, **kwargs)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    assert words in body["message"]
    assert state() == before


def test_the_same_route_takes_the_input_within_bounds(client, token):
    """The refusals above are about the values, not the routes."""
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/hotline/orders?q=ab", headers=headers).status_code == 200
    assert client.get(f"/api/v1/hotline/orders/{INT_MAX}", headers=headers).status_code == 404
    deep = {**ORDER, "extra": json.loads(nested(MAX_JSON_DEPTH - 1))}
    assert client.post("/api/v1/hotline/orders", headers=headers, json=deep).status_code == 201


def test_pages_answer_a_chinese_page(client, token):
    before = state()
    response = client.get("/hotline/track?number=2026%00&phone=13800138000")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "填写的内容不正确" in response.text
    response = client.post(
        "/ingest/dead-letters/replay",
        data={"ids": str(BIG)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert state() == before


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_anonymous_open311_is_refused_in_the_spec_format(client, api_key, fmt):
    before = state()
    form = {
        "api_key": api_key,
        "service_code": "CG-NOISE",
        "lat": "26.0745",
        "long": "119.2965",
        "description": "楼下烧烤店凌晨\x00还在营业",
    }
    answers = [
        client.post(f"/open311/v2/requests.{fmt}", data=form),
        client.get(f"/open311/v2/requests.{fmt}?service_code=CG%00"),
        client.get(f"/open311/v2/requests/2026%00.{fmt}"),
    ]
    for response in answers:
        assert response.status_code == 400, response.text
        if fmt == "json":
            assert response.json() == [{"code": 400, "description": "请求参数不正确"}]
        else:
            assert b"<errors><error><code>400</code>" in response.content
    assert state() == before


def test_anonymous_tracking_is_refused(client, world):
    """The public tracking page and its rating form, anonymous, on both backends."""
    before = state()
    response = client.get("/hotline/track", params={"number": "1\x00", "phone": "1"})
    assert response.status_code == 422
    assert "填写的内容不正确" in response.text
    response = client.post(
        "/hotline/track/rate", data={"number": "1", "phone": "1\x00", "level": "5"}
    )
    assert response.status_code == 422
    assert state() == before


def test_ingest_batch_parses_its_raw_body_with_the_same_limits(client, token):
    """The batch route reads its body itself, whatever its media type says."""
    with unit_of_work() as s:
        from govloop.ingest import pipeline

        source = pipeline.create_source(
            session=s, key="guard-src", name="测试", kind="http", schema_name="person_record"
        )
        key = pipeline.issue_api_key(session=s, source=source)
    before = state()
    for body in (nested(100_000), '{"records": [{"name": "\\u0000"}]}'):
        response = client.post(
            "/api/ingest/guard-src/batch",
            content=body,
            headers={"content-type": "text/plain", "x-source-key": key},
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "invalid_input"
    assert state() == before


def test_a_header_with_nul_is_recorded_as_a_problem():
    """HTTP clients refuse to send one; the guard refuses it all the same."""
    seen: dict[str, Any] = {}

    async def app(scope, receive, send):
        seen.update(scope)

    scope = {
        "type": "http",
        "path": "/api/v1/field/tasks",
        "query_string": b"",
        "headers": [(b"x-device-id", b"a\x00b")],
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        return None

    import asyncio

    asyncio.run(InputGuard(app)(scope, receive, send))
    assert seen[SCOPE_KEY].loc == ("header", "x-device-id")


def test_loads_json():
    assert loads_json('{"a": [1, "b", {"c": null}]}') == {"a": [1, "b", {"c": None}]}
    assert loads_json(f"[{INT64_MIN}, {INT64_MAX}]") == [INT64_MIN, INT64_MAX]
    for refused, kind in (
        (nested(MAX_JSON_DEPTH + 1), "json_too_deep"),
        (nested(200_000), "json_too_deep"),
        ('{"a": "\\u0000"}', "nul_character"),
        ('{"\\u0000": 1}', "nul_character"),
        (f"[{INT64_MAX + 1}]", "int_range"),
        (f"[{INT64_MIN - 1}]", "int_range"),
    ):
        with pytest.raises(InputRefused) as caught:
            loads_json(refused)
        assert caught.value.problem.kind == kind
    with pytest.raises(json.JSONDecodeError):
        loads_json("{not json")


# --- LIKE patterns ---------------------------------------------------------------------


def test_search_text_matches_percent_and_underscore_literally(client, world, token):
    with unit_of_work() as s:
        new_order(s, world, title="降价 50% 的承诺没兑现")
        new_order(s, world, title="路灯编号 A_12 不亮")
        new_order(s, world, title="普通噪音投诉")
    headers = {"Authorization": f"Bearer {token}"}

    def titles(q: str) -> list[str]:
        response = client.get("/api/v1/hotline/orders", params={"q": q}, headers=headers)
        assert response.status_code == 200, response.text
        return [o["title"] for o in response.json()["orders"]]

    assert titles("%") == ["降价 50% 的承诺没兑现"]
    assert titles("_") == ["路灯编号 A_12 不亮"]
    assert titles("\\") == []
    assert len(titles("")) == 3


def test_master_and_dead_letter_searches_match_literally(db):
    with unit_of_work() as s:
        s.add_all(
            [
                SubjectMaster(kind="person", display_name="张_三", identifier=None),
                SubjectMaster(kind="person", display_name="李四", identifier=None),
            ]
        )
    with unit_of_work(readonly=True) as s:
        assert [m.display_name for m in subjects.search_masters(session=s, query="_")[0]] == [
            "张_三"
        ]
        assert subjects.search_masters(session=s, query="%")[0] == []
    from govloop.ingest import service as ingest

    with unit_of_work() as s:
        for reason in ("字段缺失", "格式 100% 错误"):
            s.add(DeadLetter(source_key="x", raw="{}", reason_code="bad", reason=reason))
    with unit_of_work(readonly=True) as s:
        found = ingest.list_dead_letters(session=s, reason="%")
        assert [d.reason for d in found] == ["格式 100% 错误"]


def test_digits_int_for_routes_that_read_integers_from_text():
    assert digits_int(" 42 ") == 42
    assert digits_int(str(INT_MAX)) == INT_MAX
    for text in (str(INT_MAX + 1), "9" * 5000, "-1", "1.0", "", "２", "²"):
        assert digits_int(text) is None, text


def test_digits_that_int_refuses_are_not_numbers(client, world):
    """ "²" passes str.isdigit but not int(): an anonymous rating with it is a 400 page."""
    from govloop.catalog.sources import valid_id_number

    with unit_of_work() as s:
        number = new_order(s, world).number
    response = client.post(
        "/hotline/track/rate", data={"number": number, "phone": "13800138000", "level": "²"}
    )
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]
    assert valid_id_number("²" * 17 + "X") is False
