"""Rate limits: public routes answer 429 with Retry-After per client address, forwarded
headers count only from trusted proxies, and the counters live in memory or Redis."""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.requests import Request

from govloop.app import create_app
from govloop.core import ratelimit
from govloop.core.auth import Role, issue_api_token
from govloop.core.db import unit_of_work
from govloop.core.errors import TooManyRequests
from govloop.core.settings import Settings, get_settings
from tests.factories import PASSWORD, make_hall, make_user
from tests.web.helpers import csrf

REDIS_URL = os.environ.get("GOVLOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TICKETS = "/api/v1/halls/H1/tickets"


@contextmanager
def configured(**env: str) -> Iterator[None]:
    """Settings from these GOVLOOP_ variables for the block (the cache is cleared)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


@pytest.fixture
def app(db):
    with unit_of_work() as s:
        make_hall(s, staffed=False)
        make_user(s, "staff1", Role.WINDOW_STAFF)
    return create_app(run_jobs=False)


def from_address(app, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000))


def with_csrf(app, address: str, page: str = "/login") -> tuple[TestClient, str]:
    client = from_address(app, address)
    return client, csrf(client, page)


def take(client: TestClient, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(TICKETS, json={"item_code": "SB01"}, headers=headers)


def test_public_tickets_are_limited_per_address_with_retry_after(app):
    kiosk = from_address(app, "198.51.100.10")
    for _ in range(20):
        assert take(kiosk).status_code == 201
    r = take(kiosk)
    assert r.status_code == 429
    assert re.fullmatch(r"取号过于频繁，请 \d+ (秒|分钟)后再试", r.json()["message"])
    assert r.json()["error"] == "rate_limited"
    assert 0 < int(r.headers["Retry-After"]) <= 60
    assert take(from_address(app, "198.51.100.11")).status_code == 201  # per address


def test_staff_issue_tickets_on_citizens_behalf_without_the_public_limit(app):
    with unit_of_work() as s:
        from govloop.core import accounts

        token = issue_api_token(
            session=s, user=accounts.find_user(session=s, username="staff1"), name="kiosk"
        )
    kiosk = from_address(app, "198.51.100.10")
    for _ in range(25):
        assert take(kiosk, Authorization=f"Bearer {token}").status_code == 201
    assert take(kiosk).status_code == 201  # they did not spend the address's budget


def test_the_kiosk_page_shares_the_ticket_limit(app):
    with configured(GOVLOOP_RATE_LIMITS=json.dumps({"tickets": "2/minute"})):
        kiosk, token = with_csrf(app, "198.51.100.20", "/halls/H1/kiosk")
        assert take(from_address(app, "198.51.100.20")).status_code == 201  # the API
        form = {"item_code": "SB01", "csrf_token": token}
        page = kiosk.post("/halls/H1/kiosk/tickets", data=form)
        assert page.status_code == 200
        page = kiosk.post("/halls/H1/kiosk/tickets", data=form)
        assert page.status_code == 429 and "取号过于频繁" in page.text
        assert "Retry-After" in page.headers


def test_spoofed_forwarded_headers_from_an_untrusted_peer_are_ignored(app):
    with configured(GOVLOOP_RATE_LIMITS=json.dumps({"tickets": "3/minute"})):
        client = from_address(app, "198.51.100.30")
        codes = [take(client, **{"X-Forwarded-For": f"10.9.8.{i}"}).status_code for i in range(4)]
        assert codes == [201, 201, 201, 429]
        # Not from loopback either: nothing is trusted unless configured.
        local = from_address(app, "127.0.0.1")
        codes = [take(local, **{"X-Forwarded-For": f"10.9.8.{i}"}).status_code for i in range(4)]
        assert codes == [201, 201, 201, 429]


def test_a_trusted_proxy_names_the_client(app):
    env = {
        "GOVLOOP_RATE_LIMITS": json.dumps({"tickets": "2/minute"}),
        "GOVLOOP_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1",
    }
    with configured(**env):
        proxy = from_address(app, "10.1.2.3")
        # The proxy appends the real peer; whatever the client wrote before it is ignored.
        one = [take(proxy, **{"X-Forwarded-For": f"6.6.6.{i}, 203.0.113.5"}) for i in range(3)]
        assert [r.status_code for r in one] == [201, 201, 429]
        other = take(proxy, **{"X-Forwarded-For": "203.0.113.6"})
        assert other.status_code == 201
        # Through two trusted proxies.
        chained = take(
            from_address(app, "192.0.2.1"), **{"X-Forwarded-For": "203.0.113.5, 10.4.4.4"}
        )
        assert chained.status_code == 429


def test_client_address_rules():
    def address(peer: str, forwarded: str | None = None) -> str:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return ratelimit.client_ip(
            Request({"type": "http", "client": (peer, 1), "headers": headers})
        )

    with configured(GOVLOOP_TRUSTED_PROXIES="10.0.0.1"):
        assert address("203.0.113.9", "1.2.3.4") == "203.0.113.9"
        assert address("10.0.0.1", "1.2.3.4") == "1.2.3.4"
        assert address("10.0.0.1", "garbage") == "10.0.0.1"
        assert address("10.0.0.1") == "10.0.0.1"
        # An IPv6 subscriber owns a /64: every address in it counts as one client.
        assert address("2001:db8:1:2::5") == address("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
        assert address("::ffff:203.0.113.9") == "203.0.113.9"


def test_settings_refuse_what_they_cannot_read():
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="10.0.0.1, proxy.example")
    with pytest.raises(ValidationError):
        Settings(rate_limits={"tickets": "lots"})
    assert [str(n) for n in Settings(trusted_proxies="10.0.0.1,fd00::/8").trusted_networks] == [
        "10.0.0.1/32",
        "fd00::/8",
    ]


def test_sign_in_spraying_is_refused_per_address_whatever_it_forwards(app):
    sprayer, token = with_csrf(app, "198.51.100.40")
    for i in range(20):
        r = sprayer.post(
            "/login",
            data={"username": f"user{i}", "password": "Summer2026!", "csrf_token": token},
            headers={"X-Forwarded-For": f"10.0.0.{i}"},
        )
        assert r.status_code == 401
    r = sprayer.post(
        "/login", data={"username": "staff1", "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 429 and "登录失败次数过多" in r.text and r.headers["Retry-After"]
    r = from_address(app, "198.51.100.41").post(
        "/login", data={"username": "staff1", "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303


def test_failed_my_data_checks_are_limited_per_address(app):
    citizen, token = with_csrf(app, "198.51.100.50", "/my-data")
    form = {
        "id_number": "110101199003074514",
        "name": "张三",
        "phone": "13800138000",
        "csrf_token": token,
    }
    for _ in range(5):
        assert citizen.post("/my-data", data=form).status_code == 404
    r = citizen.post("/my-data", data=form)
    assert r.status_code == 429 and "核实失败次数过多" in r.text and r.headers["Retry-After"]
    other, token = with_csrf(app, "198.51.100.51", "/my-data")
    assert other.post("/my-data", data={**form, "csrf_token": token}).status_code == 404


def test_order_lookups_stop_a_guesser_but_not_other_citizens(db):
    from tests.hotline.factories import build_world, new_order

    with unit_of_work() as s:
        order = new_order(s, build_world(s))
        number, phone, title = order.number, order.caller_phone, order.title
    app = create_app(run_jobs=False)
    guesser, token = with_csrf(app, "198.51.100.60", "/hotline/track")
    for i in range(10):
        r = guesser.get("/hotline/track", params={"number": f"{number}{i}", "phone": phone})
        assert r.status_code == 404
    r = guesser.get("/hotline/track", params={"number": number, "phone": phone})
    assert r.status_code == 429 and "查询失败次数过多" in r.text and r.headers["Retry-After"]
    assert title not in r.text  # nothing about the order
    form = {"number": number, "phone": phone, "level": "5", "csrf_token": token}
    rate = guesser.post("/hotline/track/rate", data=form)
    assert rate.status_code == 429
    found = from_address(app, "198.51.100.61").get(
        "/hotline/track", params={"number": number, "phone": phone}
    )
    assert found.status_code == 200 and title in found.text
    # Successful look-ups are not failures: a citizen may reload the page.
    for _ in range(12):
        assert (
            from_address(app, "198.51.100.61")
            .get("/hotline/track", params={"number": number, "phone": phone})
            .status_code
            == 200
        )


def test_citizen_reports_are_limited_and_the_refusal_keeps_what_was_typed(db):
    from tests.hotline.factories import build_world

    with unit_of_work() as s:
        build_world(s)
    app = create_app(run_jobs=False)
    citizen, token = with_csrf(app, "198.51.100.70", "/hotline/report")
    form = {
        "content": "路灯坏了很久没人修，晚上很不安全",
        "caller_phone": "13800138001",
        "csrf_token": token,
    }
    for _ in range(5):
        assert citizen.post("/hotline/report", data=form).status_code == 201
    r = citizen.post("/hotline/report", data={**form, "content": "第六次反映：路灯仍然不亮"})
    assert r.status_code == 429 and "提交过于频繁" in r.text and r.headers["Retry-After"]
    assert "第六次反映：路灯仍然不亮" in r.text
    other, token = with_csrf(app, "198.51.100.71", "/hotline/report")
    other = other.post("/hotline/report", data={**form, "csrf_token": token})
    assert other.status_code == 201


def test_open311_submissions_are_limited_in_the_spec_format(app):
    with configured(GOVLOOP_RATE_LIMITS=json.dumps({"open311_write": "2/minute"})):
        client = from_address(app, "198.51.100.80")
        form = {"service_code": "X", "description": "x"}
        codes = [client.post("/open311/v2/requests.json", data=form).status_code for _ in range(2)]
        assert codes == [403, 403]  # no api_key
        r = client.post("/open311/v2/requests.json", data=form)
        assert r.status_code == 429 and r.headers["Retry-After"]
        assert r.json()[0]["code"] == 429
        assert re.fullmatch(r"提交过于频繁，请 \d+ (秒|分钟)后再试", r.json()[0]["description"])
        xml = client.post("/open311/v2/requests.xml", data=form)
        assert xml.status_code == 429 and "<code>429</code>" in xml.text
        assert (
            from_address(app, "198.51.100.81")
            .post("/open311/v2/requests.json", data=form)
            .status_code
            == 403
        )


def test_limits_can_be_switched_off(app):
    with configured(
        GOVLOOP_RATE_LIMIT_ENABLED="false", GOVLOOP_RATE_LIMITS=json.dumps({"tickets": "1/minute"})
    ):
        kiosk = from_address(app, "198.51.100.90")
        assert [take(kiosk).status_code for _ in range(3)] == [201, 201, 201]


# --- storage ------------------------------------------------------------------------------


@pytest.fixture
def redis_storage() -> Iterator[str]:
    """Counters in the local Redis under a prefix of this test's own (skipped, with the
    reason, when no Redis answers)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    prefix = f"govloop-test-{uuid.uuid4().hex[:10]}"
    ratelimit.use_storage(REDIS_URL, key_prefix=prefix)
    try:
        yield prefix
    finally:
        ratelimit.reset()
        ratelimit.use_storage(None)


def test_counters_in_redis_are_shared_and_reset(redis_storage):
    import redis

    rule = ratelimit.Rule("test_rule", "3 per minute", "太多了")
    for _ in range(3):
        ratelimit.consume(rule, "198.51.100.1")
    # Another process (a fresh connection to the same store) sees the same count.
    ratelimit.use_storage(REDIS_URL, key_prefix=redis_storage + "-x")
    ratelimit.use_storage(REDIS_URL, key_prefix=redis_storage)
    with pytest.raises(TooManyRequests) as refused:
        ratelimit.consume(rule, "198.51.100.1")
    assert (
        refused.value.message.startswith("太多了（")
        and int(refused.value.headers["Retry-After"]) <= 60
    )
    ratelimit.consume(rule, "198.51.100.2")
    store = redis.Redis.from_url(REDIS_URL)
    assert store.keys(f"{redis_storage}:*")
    ratelimit.reset()
    assert not store.keys(f"{redis_storage}:*")
    ratelimit.consume(rule, "198.51.100.1")


def test_routes_count_in_redis_when_configured(app, redis_storage):
    kiosk = from_address(app, "198.51.100.100")
    with configured(GOVLOOP_RATE_LIMITS=json.dumps({"tickets": "2/minute"})):
        assert [take(kiosk).status_code for _ in range(3)] == [201, 201, 429]
    import redis

    assert redis.Redis.from_url(REDIS_URL).keys(f"{redis_storage}:*")


def test_an_unreachable_store_lets_requests_through_and_says_so(caplog):
    ratelimit.use_storage("redis://127.0.0.1:1/0", key_prefix="govloop-test-down")
    try:
        rule = ratelimit.Rule("test_rule", "1 per minute", "太多了")
        with caplog.at_level(logging.WARNING, logger="govloop.core.ratelimit"):
            for _ in range(3):
                ratelimit.consume(rule, "198.51.100.1")
        assert "test_rule not applied" in caplog.text
    finally:
        ratelimit.use_storage(None)
