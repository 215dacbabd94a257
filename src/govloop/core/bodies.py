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

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message, Receive

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
