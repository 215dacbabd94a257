"""/metrics: Prometheus figures for the requests, the duties and each domain; only for a
scraper with the token, or this machine when no token is set."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from govloop.app import create_app
from govloop.core.db import unit_of_work
from govloop.core.metrics import DUTY_FAILURES, REGISTRY, timed_duty
from govloop.core.settings import get_settings
from govloop.hall import service
from govloop.org import service as org_service
from tests.factories import make_hall

LOCAL = ("127.0.0.1", 40000)
OUTSIDE = ("203.0.113.9", 40000)


def value(text: str, name: str, **labels: str) -> float:
    """One sample of the exposition text."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = (
        rf"^{re.escape(name)}(?:\{{{re.escape(want)}\}})? (\S+)$" if want else rf"^{name} (\S+)$"
    )
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"{name}{{{want}}} not in the metrics"
    return float(found.group(1))


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GOVLOOP_METRICS_TOKEN", "scrape-secret-0123456789")
    get_settings.cache_clear()
    yield "scrape-secret-0123456789"
    get_settings.cache_clear()


def test_only_this_machine_scrapes_without_a_token(db: Engine) -> None:
    app = create_app(run_jobs=False)
    refused = TestClient(app, client=OUTSIDE).get("/metrics")
    assert refused.status_code == 403 and refused.json()["error"] == "metrics_forbidden"
    assert "GOVLOOP_METRICS_TOKEN" in refused.json()["message"]
    assert TestClient(app, client=LOCAL).get("/metrics").status_code == 200


def test_with_a_token_only_the_token_opens_it(db: Engine, token: str) -> None:
    app = create_app(run_jobs=False)
    local = TestClient(app, client=LOCAL)
    assert local.get("/metrics").status_code == 403  # this machine needs it too now
    wrong = local.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 403
    right = TestClient(app, client=OUTSIDE).get(
        "/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    assert right.status_code == 200 and "govloop_request_seconds" in right.text


def test_queues_requests_and_the_audit_chain_are_reported(db: Engine) -> None:
    with unit_of_work() as s:
        make_hall(s)
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        for _ in range(3):
            service.issue_ticket(
                session=s, hall=hall, item=service.get_item(session=s, code="SB01")
            )
    client = TestClient(create_app(run_jobs=False), client=LOCAL)
    assert client.get("/api/v1/halls/H1").status_code == 200
    text = client.get("/metrics").text
    assert value(text, "govloop_hall_tickets_waiting", hall="H1") == 3
    assert value(text, "govloop_hall_longest_wait_seconds", hall="H1") >= 0
    assert value(text, "govloop_hall_calls_last_minute", hall="H1") == 0
    # latency by the route's template, not the URL (ids would multiply the series)
    assert 'route="/api/v1/halls/{hall_code}"' in text
    assert 'route="/api/v1/halls/H1"' not in text
    assert value(text, "govloop_audit_chain_length") >= 0


def test_a_duty_reports_its_runs_and_failures() -> None:
    timed_duty("metrics test duty", lambda: None)
    before = DUTY_FAILURES.labels("metrics failing duty")._value.get()

    def broken() -> None:
        raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        timed_duty("metrics failing duty", broken)
    assert DUTY_FAILURES.labels("metrics failing duty")._value.get() == before + 1
    last = REGISTRY.get_sample_value(
        "govloop_duty_last_success_timestamp_seconds", {"duty": "metrics test duty"}
    )
    assert last is not None and last > 0
    assert (
        REGISTRY.get_sample_value(
            "govloop_duty_last_success_timestamp_seconds", {"duty": "metrics failing duty"}
        )
        is None
    )
