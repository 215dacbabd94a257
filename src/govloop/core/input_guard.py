"""Refuses input that no route may pass on to the database or the JSON parser.

Two parts, both registered once in ``app.py``:

* :class:`InputGuard`, an ASGI middleware, looks at every HTTP request before routing:
  a NUL character in the path, the query string or a header (PostgreSQL text cannot hold
  it), and, for JSON and URL-encoded bodies, NUL in any string or key, JSON nested deeper
  than :data:`MAX_JSON_DEPTH` and JSON integers outside signed 64 bits. It does not answer
  itself: it records the problem in the request scope and hands the route an empty body, so
  nothing is parsed or stored.
* :func:`check_request`, an application-wide dependency, raises the recorded problem as a
  ``RequestValidationError`` — rendered once in ``app.py`` (JSON for the API, a page
  otherwise; the Open311 routes answer in their own error format) — and bounds every
  integer parameter a route declares (path, query, header, cookie, form fields) to signed
  64 bits, and refuses NUL in the text fields of multipart forms a route declares.

Routes that read a raw body themselves parse it with :func:`loads_json`.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Deeper JSON is refused; the application's own documents nest a handful of levels.
MAX_JSON_DEPTH = 32
SCOPE_KEY = "govloop.input_problem"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    loc: Loc
    kind: str
    message: str

    def error(self) -> dict[str, Any]:
        return {"type": self.kind, "loc": self.loc, "msg": self.message, "input": None}


def _nul(loc: Loc) -> Problem:
    return Problem(loc, "nul_character", "不能包含空字符（\\x00）")


def _out_of_range(loc: Loc) -> Problem:
    return Problem(loc, "int64_range", f"整数须在 {INT64_MIN} 到 {INT64_MAX} 之间")


def _too_deep(loc: Loc) -> Problem:
    return Problem(loc, "json_too_deep", f"JSON 嵌套不能超过 {MAX_JSON_DEPTH} 层")


class InputRefused(ValueError):
    """Raised by :func:`loads_json`; ``problem`` tells where and why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


# --- JSON ---------------------------------------------------------------------------------


class _BigInt(Exception):
    pass


def _bounded_int(text: str) -> int:
    # Checked on the literal: int() of thousands of digits is itself refused by Python.
    if len(text.lstrip("-")) > 19:
        raise _BigInt
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _BigInt
    return value


def _walk(value: Any, loc: Loc) -> Problem | None:
    """The first NUL string, key or too deep container in a parsed document (no recursion)."""
    stack: list[tuple[Any, Loc, int]] = [(value, loc, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return _nul(where)
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                return _too_deep(loc)
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str) and "\x00" in key:
                    return _nul(where)
                stack.append((child, (*where, key), depth + 1))
    return None


def _parse(text: str | bytes, loc: Loc) -> tuple[Any, Problem | None]:
    """(document, problem); a document that is not JSON is ``(None, None)``: the caller's
    own parser reports it."""
    try:
        return json.loads(text, parse_int=_bounded_int), None
    except _BigInt:
        return None, _out_of_range(loc)
    except RecursionError:
        return None, _too_deep(loc)
    except ValueError:  # not JSON (JSONDecodeError, bad UTF-8)
        return None, None


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` for untrusted input: raises ``json.JSONDecodeError`` when it is not
    JSON and :class:`InputRefused` (a ``ValueError``) when it is too deep, holds NUL or an
    integer outside signed 64 bits."""
    document, problem = _parse(text, ("body",))
    if problem is None and document is None:
        document = json.loads(text)  # raises the decoder's own error (or it was "null")
    problem = problem or _walk(document, ("body",))
    if problem is not None:
        raise InputRefused(problem)
    return document


# --- the middleware -----------------------------------------------------------------------


def _media_type(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower().decode("latin-1")
    return ""


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _pairs_problem(query: str, where: str) -> Problem | None:
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return _nul((where, name.replace("\x00", "")))
    return None


def _head_problem(scope: Scope) -> Problem | None:
    if "\x00" in scope.get("path", ""):
        return _nul(("path",))
    query = scope.get("query_string", b"").decode("latin-1")
    problem = _pairs_problem(query, "query")
    if problem is not None:
        return problem
    for name, value in scope.get("headers", ()):
        if b"\x00" in value:
            return _nul(("header", name.decode("latin-1")))
    return None


def _body_problem(media_type: str, body: bytes) -> Problem | None:
    if _is_json(media_type):
        document, problem = _parse(body, ("body",))
        return problem or _walk(document, ("body",))
    # URL-encoded: percent-decoded as UTF-8 the way Starlette reads forms
    return _pairs_problem(body.decode("latin-1"), "body")


class InputGuard:
    """See the module's description."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _head_problem(scope)
        media_type = _media_type(scope)
        if _is_json(media_type) or media_type == "application/x-www-form-urlencoded":
            body, more = await _read_body(receive)
            if more is not None:  # the client went away: let the app see it
                receive = _replay(body, receive, more)
            else:
                problem = problem or _body_problem(media_type, body)
                # a refused body never reaches a parser or a route
                receive = _replay(b"" if problem else body, receive, None)
        if problem is not None:
            scope.setdefault("state", {})[SCOPE_KEY] = problem
        await self.app(scope, receive, send)


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole body, or what came before a disconnect and the disconnect message."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, receive: Receive, pending: Message | None) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent, pending
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": pending is not None}
        if pending is not None:
            message, pending = pending, None
            return message
        return await receive()

    return replay


# --- the dependency -----------------------------------------------------------------------

_INT = TypeAdapter(int)
ROUTE_ATTR = "_govloop_inputs"
_LOCATIONS = ("path", "query", "header", "cookie")


@dataclass(frozen=True)
class RouteInputs:
    """What a route declares: whether it reads a form, and where its integers are."""

    form: bool
    ints: list[tuple[str, str]]  # (location, name); location "form" for form fields


def _holds_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated, list):
        return any(_holds_int(a) for a in typing.get_args(annotation))
    return False


def _route_inputs(route: APIRoute) -> RouteInputs:
    found: RouteInputs | None = getattr(route, ROUTE_ATTR, None)
    if found is not None:
        return found
    dependants = []
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        dependants.append(dependant)
        pending.extend(dependant.dependencies)
    body = [field for d in dependants for field in d.body_params]
    form = any(isinstance(field.field_info, params.Form) for field in body)
    ints = [
        (location, field.alias)
        for d in dependants
        for location in _LOCATIONS
        for field in getattr(d, f"{location}_params")
        if _holds_int(field.field_info.annotation)
    ]
    if form:  # a JSON body's integers are bounded by the middleware
        ints += [("form", f.alias) for f in body if _holds_int(f.field_info.annotation)]
    found = RouteInputs(form=form, ints=ints)
    setattr(route, ROUTE_ATTR, found)  # worked out once per route
    return found


def _raw_values(request: Request, location: str, name: str, form: Any) -> list[Any]:
    if location == "path":
        value = request.path_params.get(name)
        return [] if value is None else [value]
    if location == "query":
        return request.query_params.getlist(name)
    if location == "header":
        return request.headers.getlist(name)
    if location == "cookie":
        value = request.cookies.get(name)
        return [] if value is None else [value]
    return form.getlist(name) if form is not None else []


def _outside_int64(raw: Any) -> bool:
    try:
        value = _INT.validate_python(raw)
    except ValidationError:
        return False  # not an integer: the route's own validation says so
    return not INT64_MIN <= value <= INT64_MAX


async def check_request(request: Request) -> None:
    """Application-wide dependency: see the module's description."""
    problem = request.scope.get("state", {}).get(SCOPE_KEY)
    route = request.scope.get("route")
    if problem is None and isinstance(route, APIRoute):
        inputs = _route_inputs(route)
        form = await request.form() if inputs.form else None  # parsed by FastAPI already
        if form is not None:
            for name, value in form.multi_items():
                if "\x00" in name or (not isinstance(value, UploadFile) and "\x00" in value):
                    problem = _nul(("body", name.replace("\x00", "")))
                    break
        for location, name in inputs.ints:
            if problem is not None:
                break
            if any(_outside_int64(v) for v in _raw_values(request, location, name, form)):
                problem = _out_of_range(("body" if location == "form" else location, name))
    if problem is not None:
        raise RequestValidationError([problem.error()])
