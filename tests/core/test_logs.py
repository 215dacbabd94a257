"""JSON logs: one object per line, the request's id on each line of the request, one access
line per request with the route template and the user, and no ID or phone number."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from govloop.app import create_app
from govloop.core import logs


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    logs.configure("json", "INFO")
    yield capsys
    structlog.reset_defaults()
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "govloop"]
    logging.getLogger("uvicorn.access").disabled = False


def lines(capture: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capture.readouterr().err.splitlines() if line.strip()]


def test_masking_keeps_the_shape_and_hides_the_digits() -> None:
    text = "查询 110105194912310021 的电话 13800138000，订单 20261207000418"
    masked = logs.mask_text(text)
    assert "110105********0021" in masked and "138****8000" in masked
    assert "194912310" not in masked and "0013800" not in masked
    assert "20261207000418" in masked  # a 14-digit order number is neither


def test_a_library_line_is_json_and_masked(json_logs: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("some.library").warning("caller %s asked", "13912345678")
    [line] = lines(json_logs)
    assert line["event"] == "caller 139****5678 asked"
    assert line["level"] == "warning" and line["logger"] == "some.library"
    assert "timestamp" in line


def test_each_request_has_one_access_line_with_its_id(
    db: Engine, json_logs: pytest.CaptureFixture[str]
) -> None:
    client = TestClient(create_app(run_jobs=False))
    response = client.get("/api/v1/halls/NOPE", headers={"X-Request-ID": "req-abc123"})
    assert response.status_code == 404
    access = [line for line in lines(json_logs) if line.get("logger") == "govloop.access_log"]
    assert len(access) == 1
    [line] = access
    assert line["request_id"] == "req-abc123"
    assert line["route"] == "/api/v1/halls/{hall_code}" and line["status"] == 404
    assert line["method"] == "GET" and line["ms"] >= 0 and line["user_id"] is None
