"""The published OpenAPI document, completed in one place.

FastAPI documents each operation's success and a validation error in its own shape; the
application answers errors in one body (``{error, message, details?}``, rendered in
``app.py``) and bounds integers to signed 64 bits (:mod:`govloop.core.input_guard`). This
adds the common error answers to every operation that does not document its own, replaces
FastAPI's validation error shape, and writes the integer bounds into the schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from govloop.core.input_guard import INT64_MAX, INT64_MIN

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
    ref = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref") == FASTAPI_VALIDATION


def _bound_integers(node: Any) -> None:
    """Every integer schema without a bound gets the signed 64-bit one (no recursion into
    the document's depth is needed beyond its own nesting, which is shallow)."""
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if item.get("type") == "integer":
                has_low = "minimum" in item or "exclusiveMinimum" in item
                has_high = "maximum" in item or "exclusiveMaximum" in item
                if not has_low:
                    item["minimum"] = INT64_MIN
                if not has_high:
                    item["maximum"] = INT64_MAX
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


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
    _bound_integers(document)
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document (built once, like FastAPI's own)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
