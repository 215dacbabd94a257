"""A kiosk or a window that retries a write after a lost answer, with the same
Idempotency-Key, gets the first answer again: no second ticket, no second call."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core import idempotency
from govloop.core.auth import issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.models import IdempotencyRecord
from govloop.hall.models import HallEvent, Ticket
from tests.factories import make_hall

MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
BASE = "/api/v1/halls/H1"


@pytest.fixture
def api(db):
    with frozen(MONDAY_10):
        with unit_of_work() as s:
            world = make_hall(s)
            token = issue_api_token(session=s, user=world.staff[1], name="window 1")
        client = TestClient(create_app(run_jobs=False))
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def counts() -> tuple[int, int, int]:
    with unit_of_work() as s:
        return (
            s.scalar(select(func.count()).select_from(Ticket)) or 0,
            s.scalar(select(func.count()).select_from(HallEvent)) or 0,
            s.scalar(select(func.count()).select_from(IdempotencyRecord)) or 0,
        )


def test_a_retried_ticket_is_the_same_ticket(api) -> None:
    key = {"Idempotency-Key": "kiosk-3-000001"}
    first = api.post(f"{BASE}/tickets", json={"item_code": "SB01"}, headers=key)
    again = api.post(f"{BASE}/tickets", json={"item_code": "SB01"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert counts()[0] == 1
    other = api.post(
        f"{BASE}/tickets", json={"item_code": "SB01"}, headers={"Idempotency-Key": "kiosk-3-02"}
    )
    assert other.json()["code"] == "A002"  # a new key is a new ticket


def test_a_key_reused_for_another_request_is_refused_and_changes_nothing(api) -> None:
    key = {"Idempotency-Key": "kiosk-3-000001"}
    api.post(f"{BASE}/tickets", json={"item_code": "SB01"}, headers=key)
    before = counts()
    r = api.post(f"{BASE}/tickets", json={"item_code": "GS01"}, headers=key)
    assert r.status_code == 409 and r.json()["error"] == "idempotency_key_reused"
    assert counts() == before


@pytest.mark.parametrize("key", ["short", "has space in it", "x" * 101, "key/with/slash1"])
def test_a_malformed_key_is_a_clear_400(api, key: str) -> None:
    r = api.post(f"{BASE}/tickets", json={"item_code": "SB01"}, headers={"Idempotency-Key": key})
    assert r.status_code == 400 and r.json()["error"] == "bad_idempotency_key"
    assert counts()[0] == 0


def test_a_retried_call_calls_nobody_else(api) -> None:
    for _ in range(2):
        api.post(f"{BASE}/tickets", json={"item_code": "SB01"})
    api.post(f"{BASE}/windows/1/sign-in")
    key = {"Idempotency-Key": "window-1-call-0001"}
    first = api.post(f"{BASE}/windows/1/call-next", headers=key)
    again = api.post(f"{BASE}/windows/1/call-next", headers=key)
    assert first.json()["code"] == again.json()["code"] == "A001"
    with unit_of_work() as s:
        called = s.scalar(
            select(func.count()).select_from(HallEvent).where(HallEvent.kind == "ticket.called")
        )
    assert called == 1


def test_a_refused_write_keeps_no_key_so_its_retry_runs(api) -> None:
    api.post(f"{BASE}/windows/1/sign-in")
    key = {"Idempotency-Key": "window-1-call-0002"}
    refused = api.post(f"{BASE}/windows/1/call-next", headers=key)  # nobody waiting
    assert refused.status_code in (404, 409, 422), refused.text
    api.post(f"{BASE}/tickets", json={"item_code": "SB01"})
    retried = api.post(f"{BASE}/windows/1/call-next", headers=key)
    assert retried.status_code == 200 and retried.json()["code"] == "A001"


def test_concurrent_duplicates_make_one_ticket(api) -> None:
    barrier = threading.Barrier(4)
    answers: list[dict] = []

    def take() -> None:
        barrier.wait()
        r = api.post(
            f"{BASE}/tickets",
            json={"item_code": "SB01"},
            headers={"Idempotency-Key": "kiosk-race-01"},
        )
        answers.append({"status": r.status_code, "code": r.json().get("code")})

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a["status"] for a in answers] == [201] * 4, answers
    assert {a["code"] for a in answers} == {"A001"} and counts()[0] == 1


def test_old_keys_are_forgotten(api) -> None:
    api.post(
        f"{BASE}/tickets", json={"item_code": "SB01"}, headers={"Idempotency-Key": "k-old-0001"}
    )
    with frozen(MONDAY_10 + timedelta(hours=25)), unit_of_work() as s:
        assert idempotency.purge_expired(s) == 1
    assert counts()[2] == 0
