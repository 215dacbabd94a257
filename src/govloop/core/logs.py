"""Logs: one structured line per event (JSON for a log shipper, or readable lines on a
console), every line of a request carrying its request id, and personal data masked.

The standard library's loggers (govloop's own, uvicorn's, the libraries') go through the
same processors, so a line from anywhere is one JSON object.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govloop.core.metrics import observe_request

access = structlog.get_logger("govloop.access_log")

# 18-digit resident ID numbers and 11-digit mainland mobiles, wherever they appear
_ID_NUMBER = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_text(text: str) -> str:
    return _MOBILE.sub(r"\1****\2", _ID_NUMBER.sub(r"\1********\2", text))


def mask_personal_data(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """No ID number or phone number reaches a log, whoever wrote the line."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = mask_text(value)
    return event


def _processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_personal_data,
    ]


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a test or a daemon may replace it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(fmt: str = "console", level: str = "INFO") -> None:
    """``fmt``: "json" (one object per line) or "console". Idempotent: every web worker
    process configures itself."""
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared = _processors()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *shared[:-1],
            structlog.stdlib.ExtraAdder(),
            mask_personal_data,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _Stderr()
    handler.setFormatter(formatter)
    handler.set_name("govloop")
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "govloop"] + [handler]
    root.setLevel(level.upper())
    # one line per request comes from AccessLog, with the route and the user
    logging.getLogger("uvicorn.access").disabled = True


class AccessLog:
    """Pure ASGI: one line per request (method, route template, status, milliseconds, user)
    and its latency in the metrics, and the request id bound to every line logged while it
    is served."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=state.get("request_id", "-"))
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None)
            observe_request(scope["method"], route, status[0], time.perf_counter() - started)
            if structlog.is_configured():  # by `govloop serve` / `worker`, or JSON logs
                self._log(scope["method"], route, state, status[0], started)
            structlog.contextvars.clear_contextvars()

    @staticmethod
    def _log(
        method: str, route: str | None, state: dict[str, Any], status: int, started: float
    ) -> None:
        access.info(
            "request",
            method=method,
            route=route or "unmatched",
            status=status,
            ms=round((time.perf_counter() - started) * 1000, 1),
            user_id=getattr(state.get("user"), "id", None),
        )
