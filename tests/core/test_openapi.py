"""The published OpenAPI document tells the error answers and integer bounds the
application keeps, and a 405 says which methods are allowed."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from govloop.app import create_app
from govloop.core.input_guard import INT_MAX, INT_MIN
from govloop.core.openapi import ERROR_RESPONSES, METHODS

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


@cache
def app() -> FastAPI:
    return create_app(run_jobs=False)


@cache
def document() -> dict[str, Any]:
    return TestClient(app()).get("/api/openapi.json").json()


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_operation_documents_the_common_errors():
    checked = 0
    for path, method, operation in operations():
        if path.startswith("/open311/"):
            continue
        for status in ERROR_RESPONSES:
            response = operation["responses"].get(status)
            assert response, f"{method} {path} lacks {status}"
            schema = response["content"]["application/json"]["schema"]
            # the heartbeat's 422 also carries its counts
            assert schema == ERROR_REF or ERROR_REF in schema.get("anyOf", []), (path, status)
        checked += 1
    assert checked > 100
    body = document()["components"]["schemas"]["ErrorBody"]
    assert body["required"] == ["error", "message"]
    assert set(body["properties"]) == {"error", "message", "details"}
    assert "HTTPValidationError" not in str(document())


def test_open311_documents_its_own_formats():
    spec = [op for path, _, op in operations() if path.startswith("/open311/")]
    assert len(spec) == 7
    for operation in spec:
        assert set(operation["responses"]) == {"200", "400", "403", "404"}
        error = operation["responses"]["400"]["content"]
        assert set(error) == {"application/json", "text/xml"}
        assert error["application/json"]["schema"]["type"] == "array"
    post = document()["paths"]["/open311/v2/requests.{fmt}"]["post"]
    form = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert {"api_key", "service_code", "description", "lat", "long"} <= set(form["properties"])


def _integers(node: Any) -> list[dict[str, Any]]:
    found, pending = [], [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if item.get("type") == "integer":
                found.append(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def test_request_integers_are_bounded():
    schemas = document()["components"]["schemas"]
    integers = [
        i
        for _, _, operation in operations()
        for p in operation.get("parameters", [])
        for i in _integers(p["schema"])
    ]
    integers += _integers(schemas["ReplayBody"]) + _integers(schemas["ActionIn"])
    assert len(integers) > 60
    for schema in integers:
        assert schema.get("minimum", schema.get("exclusiveMinimum", INT_MIN - 1)) >= INT_MIN
        assert schema.get("maximum", schema.get("exclusiveMaximum", INT_MAX + 1)) <= INT_MAX
    # a route's own bounds are kept
    orders = document()["paths"]["/api/v1/hotline/orders"]["get"]["parameters"]
    limit = next(p for p in orders if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 500)


@pytest.mark.parametrize(
    ("path", "allowed", "json"),
    [
        ("/api/v1/hotline/kb/search", "GET", True),
        ("/api/v1/hotline/orders", "GET, POST", True),
        # not GET: that is /anomalies/{anomaly_id}, another resource
        ("/api/v1/halls/H1/anomalies/scan", "POST", True),
        ("/hotline/track", "GET", False),
    ],
)
def test_405_says_which_methods_are_allowed(path, allowed, json):
    response = TestClient(app()).delete(path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    if json:
        assert response.json() == {"error": "http_405", "message": "不支持的请求方式"}
    else:
        assert response.headers["content-type"].startswith("text/html")
