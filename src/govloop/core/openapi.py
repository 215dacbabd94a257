"""The published OpenAPI document, completed in one place.

FastAPI documents each operation's success and a validation error in its own shape; the
application answers errors in one body (``{error, message, details?}``, rendered in
``app.py``) and holds integers a route leaves unbounded to an SQL INTEGER column's range
(:mod:`govloop.core.input_guard`). This adds the common error answers to every operation
that does not document its own, replaces FastAPI's validation error shape, and writes the
integer bounds into the request schemas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException

from govloop.core.input_guard import INT_MAX, INT_MIN

ERROR_SCHEMA = "ErrorBody"
ERROR_RESPONSES: dict[str, str] = {
    "400": "请求不正确",
    "401": "未登录，或 API 令牌无效",
    "403": "没有权限，或 CSRF 校验失败",
    "404": "资源不存在",
    "409": "与现有数据冲突",
    "413": "请求体过大",
    "422": "参数不正确，或业务规则不允许",
    "429": "请求过于频繁",
}
FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"
COMPONENT = "#/components/schemas/"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Paths that answer errors in a format of their own, documented by their router.
OWN_ERROR_FORMAT = ("/open311/",)


def error_body_schema() -> dict[str, Any]:
    return {
        "title": ERROR_SCHEMA,
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "稳定的错误代码"},
            "message": {"type": "string", "description": "说明（中文）"},
            "details": {"type": "object", "additionalProperties": True},
        },
    }


def _error_response(description: str) -> dict[str, Any]:
    ref = {"$ref": f"{COMPONENT}{ERROR_SCHEMA}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref") == FASTAPI_VALIDATION


def _bound_request_integers(document: dict[str, Any]) -> None:
    """Every integer a request may carry (parameters, request bodies and the components
    they use) without a bound of its own gets the one the input guard holds it to."""
    components = document.get("components", {}).get("schemas", {})
    pending: list[Any] = []
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            if method in METHODS:
                pending += [p.get("schema") for p in operation.get("parameters", [])]
                pending += operation.get("requestBody", {}).get("content", {}).values()
    followed: set[str] = set()
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        if not isinstance(item, dict):
            continue
        ref = item.get("$ref", "")
        if ref.startswith(COMPONENT) and ref not in followed:
            followed.add(ref)
            pending.append(components.get(ref.removeprefix(COMPONENT)))
        if item.get("type") == "integer":
            if "minimum" not in item and "exclusiveMinimum" not in item:
                item["minimum"] = INT_MIN
            if "maximum" not in item and "exclusiveMaximum" not in item:
                item["maximum"] = INT_MAX
        pending.extend(item.values())


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the common error answers and integer bounds (changed in place)."""
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if path.startswith(OWN_ERROR_FORMAT):
                # their route class answers validation errors in their own format
                for status, response in list(responses.items()):
                    if _is_fastapi_validation(response):
                        del responses[status]
                continue
            for status, description in ERROR_RESPONSES.items():
                if status not in responses or _is_fastapi_validation(responses[status]):
                    responses[status] = _error_response(description)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_SCHEMA] = error_body_schema()
    # FastAPI's validation shapes are no longer referenced by any answer
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    _bound_request_integers(document)
    return document


def _literal_segments(template: str) -> int:
    return sum(1 for part in template.split("/") if part and "{" not in part)


def allow_headers(request: Request, exc: StarletteHTTPException) -> Mapping[str, str] | None:
    """The error's headers; a 405's ``Allow`` lists the methods of the resource: every route
    of the most literal path template that matches (the router names only those of the
    first matching route, and ``/anomalies/{anomaly_id}`` is not ``/anomalies/scan``)."""
    if exc.status_code != 405:
        return exc.headers
    by_template: dict[str, set[str]] = {}
    for route in iter_route_contexts(request.app.routes):
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(request.url.path):
            methods = getattr(route, "methods", None) or ()
            by_template.setdefault(route.path or "", set()).update(methods)
    if not by_template:
        return exc.headers
    template = max(by_template, key=_literal_segments)
    return {**(exc.headers or {}), "Allow": ", ".join(sorted(by_template[template]))}


def install(app: FastAPI) -> None:
    """Serve the completed document (built once, like FastAPI's own)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
