"""Request bodies capped while they stream in.

A route marked with :func:`body_limit` on a router built with ``route_class=LimitedRoute``
gets its ASGI ``receive`` wrapped before anything reads the body: FastAPI's own parsing of
JSON, form and file parameters, the CSRF check's form read, or a handler's
``await request.body()``. A declared ``Content-Length`` above the limit is refused at the
first read, before a byte of the body is taken; a body sent without one is counted chunk by
chunk and refused as soon as it passes the limit, so it is never buffered whole. Either way
the answer is :class:`~govloop.core.errors.PayloadTooLarge` (413).

Nothing is read until someone asks for the body: a route that checks credentials in a
dependency first, and reads the body in a dependency after it, refuses a stranger without
reading anything.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govloop.core.errors import PayloadTooLarge

F = TypeVar("F", bound=Callable[..., Any])
Limit = Callable[[], int]
_ATTRIBUTE = "govloop_body_limit"


def body_limit(limit: Limit) -> Callable[[F], F]:
    """Mark an endpoint's body limit in bytes (a callable, read per request, so settings
    and tests can change it). Put it under the router's decorator."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _ATTRIBUTE, limit)
        return endpoint

    return mark


def describe(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    if size >= 1024:
        return f"{size / 1024:g} KB"
    return f"{size} 字节"


class CappedReceive:
    """An ASGI ``receive`` that refuses a body larger than ``limit`` bytes."""

    def __init__(self, receive: Receive, limit: int, declared: int | None) -> None:
        self.receive = receive
        self.limit = limit
        self.declared = declared
        self.size = 0
        self.exceeded = False

    def error(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"请求内容超过 {describe(self.limit)} 的上限，未接收，未存储任何内容",
            code="payload_too_large",
        )

    def _refuse(self) -> PayloadTooLarge:
        self.exceeded = True
        return self.error()

    async def __call__(self) -> Message:
        if self.declared is not None and self.declared > self.limit:
            raise self._refuse()
        message = await self.receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                raise self._refuse()
        return message


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class LimitedRoute(APIRoute):
    """Route class that applies an endpoint's :func:`body_limit`; endpoints without one are
    left as they are."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        limit: Limit | None = getattr(self.endpoint, _ATTRIBUTE, None)
        if limit is None:
            return handler

        async def capped(request: Request) -> Response:
            receive = CappedReceive(request.receive, limit(), _declared_length(request))
            try:
                return await handler(Request(request.scope, receive))
            except PayloadTooLarge:
                raise
            except Exception as exc:
                # FastAPI turns any failure while parsing its body parameters into a 400
                if receive.exceeded:
                    raise receive.error() from exc
                raise

        return capped


class RequestSizeLimitMiddleware:
    """Caps every request body while it streams in, before any route reads it.

    Routes marked with :func:`body_limit` get their own limit (checked here and again by
    their route); every other route gets ``default`` — so a form or JSON body sent to any
    page, anonymous or not, is never buffered past it (the CSRF check reads forms before a
    route's guard runs). The refusal is the route's usual error (JSON or a Chinese page).
    """

    def __init__(
        self, app: ASGIApp, *, default: Limit, routes: Callable[[], Sequence[BaseRoute]]
    ) -> None:
        self.app = app
        self.default = default
        self.routes = routes  # read at the first request, once every router is included
        self._marked: list[tuple[re.Pattern[str], Limit]] | None = None

    def marked(self) -> list[tuple[re.Pattern[str], Limit]]:
        if self._marked is None:
            self._marked = [
                (route.path_regex, getattr(route.endpoint, _ATTRIBUTE))
                for route in self.routes()
                if isinstance(route, APIRoute) and hasattr(route.endpoint, _ATTRIBUTE)
            ]
        return self._marked

    def route_limit(self, path: str) -> int | None:
        for pattern, limit in self.marked():
            if pattern.match(path):
                return limit()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers") or []:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
        own = self.route_limit(scope.get("path", ""))
        limit = own if own is not None else self.default()
        if declared is not None and declared > limit:
            # refused before a byte of the body is read
            await _refuse(scope, send, CappedReceive(receive, limit, declared).error())
            return
        if own is not None:  # the route counts its body itself and answers 413
            await self.app(scope, receive, send)
            return
        await self.app(scope, _CutOff(receive, limit), send)


class _CutOff:
    """A body sent without a length is cut off past ``limit``: the reader sees the client
    go away (FastAPI answers 400) instead of an error raised through other middleware."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.size = 0

    async def __call__(self) -> Message:
        if self.size > self.limit:
            return {"type": "http.disconnect"}
        message = await self.receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                return {"type": "http.disconnect"}
        return message


async def _refuse(scope: Scope, send: Send, error: PayloadTooLarge) -> None:
    path = str(scope.get("path", ""))
    if path.startswith(("/api/", "/open311/")):
        body = json.dumps(error.to_dict(), ensure_ascii=False).encode()
        content_type = b"application/json"
    else:
        body = (
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>请求内容过大</title>'
            f"<p>{html.escape(error.message)}</p></html>"
        ).encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [(b"content-type", content_type), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})
