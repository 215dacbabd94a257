"""Drive the application at the ASGI level with a body offered chunk by chunk, counting how
many chunks it took: the test client buffers a request body whole before the application
sees it, so it cannot show that a refusal read nothing or stopped early."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Sent:
    status: int
    body: Any
    chunks_read: int


def lazy_chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` bytes in chunks of ``size``, made only when asked for."""
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b" " * n


def post_streamed(
    app: Any, path: str, chunks: Iterator[bytes], headers: dict[str, str] | None = None
) -> Sent:
    read = 0
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return Sent(start["status"], json.loads(body) if body else None, read)
