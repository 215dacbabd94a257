"""Security headers and a request id on every response (a pure ASGI middleware: cheap)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Pages load scripts, styles and images only from this origin (the front-end libraries are
# vendored: halls run on closed networks). Inline styles stay allowed: ECharts and a few
# templates set style attributes; inline scripts and event handlers are refused.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# FastAPI's interactive API documentation is the one page built from a CDN's script.
CSP_EXEMPT_PREFIXES = ("/api/docs",)
HSTS = "max-age=31536000; includeSubDomains"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_of(scope: Scope) -> str:
    """The id given to this request (also sent back as ``X-Request-ID``)."""
    return str(scope.get("state", {}).get("request_id", "-"))


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        over_https = self.https or scope.get("scheme") == "https"
        csp = not str(scope.get("path", "")).startswith(CSP_EXEMPT_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}

                def add(name: bytes, value: str) -> None:
                    if name not in present:
                        headers.append((name, value.encode("latin-1")))

                add(b"x-request-id", request_id)
                add(b"x-content-type-options", "nosniff")
                add(b"x-frame-options", "DENY")
                add(b"referrer-policy", "same-origin")
                add(b"permissions-policy", "camera=(self), geolocation=(self), microphone=()")
                if csp:
                    add(b"content-security-policy", CONTENT_SECURITY_POLICY)
                if over_https:
                    add(b"strict-transport-security", HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _header(scope: Scope, name: bytes) -> str | None:
    headers: Any = scope.get("headers") or []
    for key, value in headers:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None
