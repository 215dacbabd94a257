"""Body limits: refused from the declared length before reading, or while streaming as soon
as the limit is passed, with the same 413 whoever reads the body."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import APIRouter, FastAPI, File, Request, UploadFile
from fastapi.testclient import TestClient

from govloop.app import create_app, handle_govloop_error
from govloop.core.bodies import CappedReceive, LimitedRoute, body_limit
from govloop.core.errors import GovloopError, PayloadTooLarge


def _app() -> TestClient:
    router = APIRouter(route_class=LimitedRoute)

    @router.post("/api/raw")
    @body_limit(lambda: 100)
    async def raw(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @router.post("/api/file")
    @body_limit(lambda: 1000)
    def upload(file: UploadFile = File(...)) -> dict[str, int]:
        return {"size": len(file.file.read())}

    @router.post("/api/free")
    async def free(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    app = FastAPI()
    app.add_exception_handler(GovloopError, handle_govloop_error)
    app.include_router(router)
    return TestClient(app)


def test_limited_routes_refuse_with_413_and_others_are_untouched():
    client = _app()
    assert client.post("/api/raw", content=b"x" * 100).json() == {"size": 100}
    refused = client.post("/api/raw", content=b"x" * 101)
    assert refused.status_code == 413
    assert refused.json()["error"] == "payload_too_large"
    assert "100 字节" in refused.json()["message"]
    # a body without a declared length (chunked) is counted too
    chunked = client.post("/api/raw", content=iter([b"x" * 60, b"x" * 60]))
    assert chunked.status_code == 413
    # FastAPI's own multipart parsing meets the same limit (not its generic 400)
    small = client.post("/api/file", files={"file": ("a.csv", b"a,b\n", "text/csv")})
    assert small.json() == {"size": 4}
    big = client.post("/api/file", files={"file": ("a.csv", b"x" * 2000, "text/csv")})
    assert big.status_code == 413 and big.json()["error"] == "payload_too_large"
    assert client.post("/api/free", content=b"x" * 5000).json() == {"size": 5000}


def _chunks(n: int, size: int) -> tuple[list[int], object]:
    pulled: list[int] = []

    async def receive() -> dict[str, object]:
        pulled.append(1)
        return {"type": "http.request", "body": b"x" * size, "more_body": len(pulled) < n}

    return pulled, receive


def test_a_stream_is_refused_as_soon_as_it_passes_the_limit_not_after_buffering():
    pulled, receive = _chunks(n=20_000, size=1024)  # 20 MB offered
    capped = CappedReceive(receive, limit=10 * 1024, declared=None)  # type: ignore[arg-type]

    async def drain() -> None:
        while True:
            message = await capped()
            if not message.get("more_body"):
                return

    with pytest.raises(PayloadTooLarge):
        asyncio.run(drain())
    assert len(pulled) == 11  # 11 KB read of the 20 MB, then refused


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    pulled, receive = _chunks(n=1, size=10)
    capped = CappedReceive(receive, limit=1024, declared=20 * 1024 * 1024)  # type: ignore[arg-type]
    with pytest.raises(PayloadTooLarge):
        asyncio.run(capped())
    assert pulled == []


def test_the_application_caps_every_body_and_keeps_a_routes_own_bigger_limit(db, monkeypatch):
    from govloop.core.settings import get_settings

    monkeypatch.setenv("GOVLOOP_MAX_REQUEST_BYTES", "1000")
    get_settings.cache_clear()
    try:
        client = TestClient(create_app(run_jobs=False))
        big = b"x" * 5000
        # declared length: refused before reading, JSON on the API, Chinese on pages
        api = client.post(
            "/api/v1/halls/H1/tickets", content=big, headers={"content-type": "application/json"}
        )
        assert api.status_code == 413 and api.json()["error"] == "payload_too_large"
        page = client.post(
            "/login", content=big, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert page.status_code == 413 and "请求内容超过" in page.text

        # streamed without a length: refused once past the cap, not buffered whole
        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(50):
                yield b"x" * 500

        streamed = client.post(
            "/login",
            content=chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert streamed.status_code in (400, 413)
        # a steward upload keeps its own, larger limit (5000 bytes pass the 1000 default)
        upload = client.post(
            "/api/ingest/sources/NOPE/files",
            files={"file": ("a.csv", big, "text/csv")},
        )
        assert upload.status_code in (401, 403)  # a guard answers, not the size cap
    finally:
        get_settings.cache_clear()
