"""The HTTP clients of kiosks and windows: a lean keep-alive HTTP/1.1 client, or httpx."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Reply:
    status_code: int
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        return json.loads(self.body)


class LeanConnection:
    """One keep-alive HTTP/1.1 connection with just enough protocol for the bench's POSTs.

    The load generator shares the machine with the server; with httpx the client needed
    about three times the CPU per operation (see docs/benchmarks.md).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        )
        try:
            self.writer.write(head.encode() + body)
            status_line = await self.reader.readuntil(b"\r\n")
            status = int(status_line.split(b" ", 2)[1])
            length, chunked, close = 0, False, False
            while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            if chunked:
                parts = []
                while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    parts.append(await self.reader.readexactly(size + 2))
                await self.reader.readuntil(b"\r\n")
                data = b"".join(p[:-2] for p in parts)
            else:
                data = await self.reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return Reply(status, data)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def aclose(self) -> None:
        self.close()


class HttpxConnection:
    """The same interface over httpx (``--client httpx``), one client per worker."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url, limits=httpx.Limits(max_connections=1), timeout=60.0
        )

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        headers = {"Content-Type": "application/json", **headers}
        response = await self.client.post(path, headers=headers, content=body)
        return Reply(response.status_code, response.content)

    def close(self) -> None:
        """httpx drops a broken connection by itself."""

    async def aclose(self) -> None:
        await self.client.aclose()


Connection = LeanConnection | HttpxConnection
REQUEST_ERRORS = (OSError, EOFError, ValueError, asyncio.IncompleteReadError, httpx.HTTPError)
