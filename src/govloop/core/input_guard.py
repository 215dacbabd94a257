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
  otherwise; the Open311 routes answer in their own error format) — before any other
  dependency runs. It also holds every integer a route declares (path, query, header,
  cookie, form field, and ``int`` fields of its JSON body model, nested or in lists)
  without a bound of its own to an SQL INTEGER column's range, and refuses NUL in the
  text fields of the multipart forms a route declares.

Routes that read a raw body themselves parse it with :func:`loads_json`. The published
OpenAPI document states the same bounds (:mod:`govloop.core.openapi`).
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

# Integers a route declares without bounds of its own are held to an SQL INTEGER column's
# range: ids are INTEGER on PostgreSQL, where a larger value fails the statement.
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
# Any other JSON integer is held to signed 64 bits.
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


def _out_of_range(loc: Loc, low: int = INT_MIN, high: int = INT_MAX) -> Problem:
    return Problem(loc, "int_range", f"整数须在 {low} 到 {high} 之间")


def _too_deep(loc: Loc) -> Problem:
    return Problem(loc, "json_too_deep", f"JSON 嵌套不能超过 {MAX_JSON_DEPTH} 层")


def digits_int(text: str) -> int | None:
    """For routes that read integers from text themselves: the text as an integer when it
    is ASCII digits within an SQL INTEGER's range, else None (``str.isdigit`` alone also
    takes "²", which ``int`` refuses)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if value <= INT_MAX else None


class InputRefused(ValueError):
    """Raised by :func:`loads_json`; ``problem`` tells where and why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


# --- JSON ---------------------------------------------------------------------------------


class _OutOfRange:
    """Stands in for a JSON integer outside signed 64 bits, so that the walk can tell where."""


def _bounded_int(text: str) -> int | _OutOfRange:
    # Checked on the literal: int() of thousands of digits is itself refused by Python.
    if len(text.lstrip("-")) > 19:
        return _OutOfRange()
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else _OutOfRange()


def _walk(value: Any, loc: Loc) -> Problem | None:
    """The first NUL in a string or key, integer out of range or too deep container in a
    parsed document (walked without recursion)."""
    stack: list[tuple[Any, Loc, int]] = [(value, loc, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return _nul(where)
        elif isinstance(item, _OutOfRange):
            return _out_of_range(where, INT64_MIN, INT64_MAX)
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
            scope[SCOPE_KEY] = problem  # this request's own scope, seen by check_request
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
class IntInput:
    """An integer a route declares: where, and whether it bounds it itself."""

    location: str  # path, query, header, cookie or form
    name: str
    low: bool
    high: bool


@dataclass(frozen=True)
class RouteInputs:
    form: bool  # the route reads a form (FastAPI has parsed it before any dependency)
    ints: list[IntInput]
    body: Any  # the JSON body's annotation, or None


def _declared(metadata: Iterable[Any]) -> tuple[bool, bool]:
    """Whether the constraints bound an integer from below and from above."""
    low = high = False
    for item in metadata:
        low = low or any(getattr(item, k, None) is not None for k in ("ge", "gt"))
        high = high or any(getattr(item, k, None) is not None for k in ("le", "lt"))
    return low, high


def _split(annotation: Any, metadata: Iterable[Any] = ()) -> tuple[Any, list[Any]]:
    """The annotation without ``Annotated``, and the constraints it carried."""
    found = list(metadata)
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *more = typing.get_args(annotation)
        found += more
    return annotation, found


def _int_bounds(annotation: Any, metadata: Iterable[Any]) -> tuple[bool, bool] | None:
    """(declared low, declared high) when the parameter holds integers, else None."""
    annotation, constraints = _split(annotation, metadata)
    if annotation is int:
        return _declared(constraints)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, set, tuple):
        for arm in typing.get_args(annotation):
            found = _int_bounds(arm, constraints)
            if found is not None:
                return found
    return None


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
    fields = [
        (location, f)
        for d in dependants
        for location in _LOCATIONS
        for f in getattr(d, f"{location}_params")
    ]
    body = [f for d in dependants for f in d.body_params]
    form = any(isinstance(f.field_info, params.Form) for f in body)
    if form:
        fields += [("form", f) for f in body]
    ints = []
    for location, f in fields:
        bounds = _int_bounds(f.field_info.annotation, f.field_info.metadata)
        if bounds is not None:
            ints.append(IntInput(location, f.alias, *bounds))
    body_field = getattr(route, "body_field", None)
    json_body = None if form or body_field is None else body_field.field_info.annotation
    found = RouteInputs(form=form, ints=ints, body=json_body)
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


def _outside(raw: Any, low: bool, high: bool) -> bool:
    """Whether the raw value is an integer beyond the column range on a side the route
    leaves unbounded."""
    if isinstance(raw, bool):
        return False
    try:
        value = _INT.validate_python(raw)
    except ValidationError as exc:
        # too many digits for pydantic to parse is out of range too; anything else is not
        # an integer, which the route's own validation reports
        return any(e["type"] == "int_parsing_size" for e in exc.errors())
    return (value < INT_MIN and not low) or (value > INT_MAX and not high)


def _body_ints(annotation: Any, value: Any, loc: Loc, metadata: Iterable[Any] = ()) -> Loc | None:
    """Where the JSON body holds an integer out of range for an ``int`` its model declares
    without a bound (guided by the value, so at most as deep as the body)."""
    annotation, constraints = _split(annotation, metadata)
    origin = typing.get_origin(annotation)
    if annotation is int:
        return loc if _outside(value, *_declared(constraints)) else None
    if origin in (typing.Union, types.UnionType):
        for arm in typing.get_args(annotation):
            found = _body_ints(arm, value, loc, constraints)
            if found is not None:
                return found
    elif origin in (list, set, tuple) and isinstance(value, list):
        args = typing.get_args(annotation)
        for i, item in enumerate(value):
            found = _body_ints(args[0] if args else Any, item, (*loc, i))
            if found is not None:
                return found
    elif origin is dict and isinstance(value, dict):
        args = typing.get_args(annotation)
        for key, item in value.items():
            found = _body_ints(args[1] if args else Any, item, (*loc, key))
            if found is not None:
                return found
    elif _is_model(annotation) and isinstance(value, dict):
        for name, info in annotation.model_fields.items():
            key = info.alias or name
            if key in value:
                found = _body_ints(info.annotation, value[key], (*loc, key), info.metadata)
                if found is not None:
                    return found
    return None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


async def _problem(request: Request, route: APIRoute) -> Problem | None:
    inputs = _route_inputs(route)
    form = await request.form() if inputs.form else None  # parsed by FastAPI already
    if form is not None:
        for name, value in form.multi_items():
            if "\x00" in name or (not isinstance(value, UploadFile) and "\x00" in value):
                return _nul(("body", name.replace("\x00", "")))
    for item in inputs.ints:
        if any(
            _outside(v, item.low, item.high)
            for v in _raw_values(request, item.location, item.name, form)
        ):
            return _out_of_range(("body" if item.location == "form" else item.location, item.name))
    if inputs.body is not None and _is_json(_media_type(request.scope)):
        try:
            document = await request.json()  # parsed by FastAPI already
        except ValueError:
            return None  # no body, or not JSON: the route's validation says so
        where = _body_ints(inputs.body, document, ("body",))
        if where is not None:
            return _out_of_range(where)
    return None


async def check_request(request: Request) -> None:
    """Application-wide dependency: see the module's description."""
    problem = request.scope.get(SCOPE_KEY)
    route = request.scope.get("route")
    if problem is None and isinstance(route, APIRoute):
        problem = await _problem(request, route)
    if problem is not None:
        raise RequestValidationError([problem.error()])
