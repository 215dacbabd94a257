"""Open311 GeoReport v2 server (``/open311/v2/…``), every resource in ``.json`` and ``.xml``.

Errors are rendered here in the spec's format (``[{"code", "description"}]`` or
``<errors><error>…``) with 403 for a missing or bad api_key, 404 for what does not exist,
429 (with Retry-After) for too many submissions and 400 for everything else; the
application's own error format never reaches an Open311 client. POSTs are authenticated
by their ``api_key`` (form field, or query parameter as in the swagger file), not by a
session cookie, so they carry no CSRF token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any
from xml.etree.ElementTree import Element, tostring

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from govloop.core import ratelimit
from govloop.core.clock import now
from govloop.core.db import get_readonly_session, sqlite_write_turn, unit_of_work
from govloop.core.deps import api_key, public
from govloop.core.errors import (
    BadRequest,
    GovloopError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyRequests,
)
from govloop.hotline.open311 import service as open311

PREFIX = "/open311/v2"
SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# XML element of each item of a list, by the list's element name (the Spark convention).
LIST_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
QUERY_FIELDS = ("service_request_id", "service_code", "start_date", "end_date", "status")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


# --- rendering --------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _element(name: str, value: Any) -> Element:
    element = Element(name)
    if isinstance(value, list):
        element.extend(_element(LIST_ITEMS[name], item) for item in value)
    elif isinstance(value, dict):
        element.extend(_element(k, v) for k, v in value.items() if v is not None)
    else:
        element.text = _text(value)
    return element


def to_xml(root: str, data: Any) -> bytes:
    """The response as XML; ElementTree escapes every text."""
    return XML_DECLARATION + tostring(_element(root, data), encoding="unicode").encode("utf-8")


def render(fmt: str, root: str, data: Any, status_code: int = 200) -> Response:
    if fmt == "xml":
        body = to_xml(root, data)
    else:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status_code, media_type=MEDIA_TYPES[fmt])


def error_response(fmt: str, status_code: int, description: str) -> Response:
    return render(fmt, "errors", [{"code": status_code, "description": description}], status_code)


def requested_format(request: Request) -> str:
    """The format the client asked for, to answer errors in it (JSON when unclear)."""
    fmt = request.path_params.get("fmt") or request.url.path.rsplit(".", 1)[-1]
    return fmt if fmt in MEDIA_TYPES else "json"


def status_for(exc: GovloopError) -> int:
    if isinstance(exc, TooManyRequests):
        return 429
    if isinstance(exc, PermissionDenied | NotAuthenticated):
        return 403
    if isinstance(exc, NotFound):
        return 404
    return 400


class Open311Route(APIRoute):
    """Checks the format suffix and renders every error in the spec's format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            fmt = requested_format(request)
            try:
                suffix = request.path_params.get("fmt")
                if suffix is not None and suffix not in MEDIA_TYPES:
                    raise BadRequest(f"不支持的格式：{suffix[:20]}（可用 json 或 xml）")
                return await handler(request)
            except GovloopError as exc:
                response = error_response(fmt, status_for(exc), exc.message)
                response.headers.update(exc.headers)
                return response
            except RequestValidationError:
                return error_response(fmt, 400, "请求参数不正确")
            except StarletteHTTPException as exc:
                code = exc.status_code if exc.status_code in (403, 404) else 400
                return error_response(fmt, code, str(exc.detail))

        return route_handler


# Documented here: the application-wide error answers (core/openapi.py) are not Open311's.
_ERROR_ITEMS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}
_XML = {"schema": {"type": "string"}}


def _answer(description: str, json_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": json_schema}, "text/xml": _XML},
    }


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _answer("GeoReport v2 资源（.json 或 .xml）", {}),
    400: _answer("请求不正确（GeoReport v2 错误格式）", _ERROR_ITEMS),
    403: _answer("api_key 缺失或无效", _ERROR_ITEMS),
    404: _answer("资源不存在", _ERROR_ITEMS),
}
_TEXT = {"type": "string"}
REQUEST_FORM = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "api_key": _TEXT,
                        **{name: _TEXT for name in sorted(open311.FORM_FIELDS)},
                    },
                }
            }
        }
    }
}
QUERY = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": _TEXT} for name in QUERY_FIELDS
    ]
}

router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=Open311Route, responses=RESPONSES)


def _param(request: Request, name: str) -> str | None:
    """A query parameter given once, several times or comma-delimited; empty is absent."""
    return ",".join(request.query_params.getlist(name)) or None


async def _form(request: Request) -> FormData:
    return await request.form()


# --- routes -----------------------------------------------------------------------------


def discovery(endpoint_url: str) -> dict[str, Any]:
    """Service Discovery. ``changeset`` is the current time: categories carry no change
    date, so clients are told to refresh their cached service list."""
    changeset = open311.iso(now())
    endpoint = {
        "specification": SPEC_URL,
        "url": endpoint_url,
        "changeset": changeset,
        "type": "production",
        "formats": ["text/xml", "application/json"],
    }
    return {
        "changeset": changeset,
        "contact": "12345 政务服务便民热线中心",
        "key_service": "提交服务请求需要 api_key，请向热线中心申请",
        "endpoints": [endpoint],
    }


@router.get("/discovery.{fmt}", dependencies=[Depends(public)])
def get_discovery(fmt: str, request: Request) -> Response:
    return render(fmt, "discovery", discovery(str(request.base_url).rstrip("/") + PREFIX))


@router.get("/services.{fmt}", dependencies=[Depends(public)])
def get_services(
    fmt: str, session: Session = Depends(get_readonly_session, scope="function")
) -> Response:
    return render(fmt, "services", open311.list_services(session=session))


@router.get("/services/{service_code}.{fmt}", dependencies=[Depends(public)])
def get_service_definition(
    service_code: str, fmt: str, session: Session = Depends(get_readonly_session, scope="function")
) -> Response:
    definition = open311.service_definition(session=session, service_code=service_code)
    return render(fmt, "service_definition", definition)


@router.post("/requests.{fmt}", dependencies=[Depends(api_key)], openapi_extra=REQUEST_FORM)
def post_request(
    fmt: str,
    request: Request,
    _limit: None = Depends(ratelimit.per_client(ratelimit.OPEN311_WRITE)),
    form: FormData = Depends(_form),
    _turn: None = Depends(sqlite_write_turn),
) -> Response:
    api_key, data = open311.parse_form(
        (name, value) for name, value in form.multi_items() if isinstance(value, str)
    )
    # The unit of work is opened here, not by a dependency, so that an error rolls it back
    # before it is rendered as an Open311 error.
    with unit_of_work() as session:
        created = open311.submit_request(
            session=session, api_key=api_key or request.query_params.get("api_key"), form=data
        )
    return render(fmt, "service_requests", [created])


@router.get("/requests.{fmt}", dependencies=[Depends(public)], openapi_extra=QUERY)
def get_requests(
    fmt: str, request: Request, session: Session = Depends(get_readonly_session, scope="function")
) -> Response:
    query = open311.parse_query(**{name: _param(request, name) for name in QUERY_FIELDS})
    return render(fmt, "service_requests", open311.find_requests(session=session, query=query))


@router.get("/requests/{service_request_id}.{fmt}", dependencies=[Depends(public)])
def get_request(
    service_request_id: str,
    fmt: str,
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    item = open311.get_request(session=session, service_request_id=service_request_id)
    return render(fmt, "service_requests", [item])


@router.get("/tokens/{token}.{fmt}", dependencies=[Depends(public)])
def get_token(
    token: str, fmt: str, session: Session = Depends(get_readonly_session, scope="function")
) -> Response:
    return render(fmt, "service_requests", [open311.resolve_token(session=session, token=token)])


@router.api_route(
    "/{path:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
    dependencies=[Depends(public)],
)
def unknown_resource(path: str, request: Request) -> Response:
    """Anything else under the prefix: 404, or 400 for a known resource and a wrong method."""
    for route in router.routes:
        known = isinstance(route, APIRoute) and route.endpoint is not unknown_resource
        if known and route.path_regex.match(request.url.path):  # type: ignore[attr-defined]
            raise BadRequest(f"不支持的请求方式：{request.method}")
    raise NotFound(f"资源不存在：{PREFIX}/{path[:60]}")
