"""Server-side sign-in sessions, deactivation, password resets, token revocation, and the
administrator's user pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.app import create_app
from govloop.core import accounts
from govloop.core.auth import Role, issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.models import ApiToken, User, UserSession
from tests.factories import PASSWORD, make_user
from tests.web.helpers import csrf, sign_in

SESSION_COOKIE = "govloop_session"


@pytest.fixture
def app(db):
    with unit_of_work() as s:
        make_user(s, "boss", Role.ADMIN)
        make_user(s, "alice", Role.WINDOW_STAFF)
    return create_app(run_jobs=False)


def signed_in_as(client: TestClient) -> str | None:
    """Who the home page says is signed in (None: nobody)."""
    match = re.search(r'class="whoami" title="([^"]+)"', client.get("/").text)
    return match.group(1) if match else None


def copy_of(client: TestClient, app) -> TestClient:
    """Another browser holding a copy of the client's session cookie."""
    thief = TestClient(app)
    thief.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
    return thief


def as_bearer(client: TestClient, token: str) -> int:
    r = client.get("/", headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    return r.status_code


def user_id(username: str) -> int:
    with unit_of_work(readonly=True) as s:
        return s.scalar(select(User.id).where(User.username == username))


def test_signing_out_ends_the_session_also_for_a_copied_cookie(app):
    browser = TestClient(app)
    token = sign_in(browser, "alice")
    thief = copy_of(browser, app)
    assert signed_in_as(thief) == "alice"  # a copy works while the session lives …
    r = browser.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert signed_in_as(browser) is None
    assert signed_in_as(thief) is None  # … and not after signing out
    with unit_of_work(readonly=True) as s:
        row = s.scalars(select(UserSession)).one()
        assert row.revoked_reason == "signed_out"


def test_signing_out_one_browser_leaves_the_others_signed_in(app):
    laptop, phone = TestClient(app), TestClient(app)
    token = sign_in(laptop, "alice")
    sign_in(phone, "alice")
    laptop.post("/logout", data={"csrf_token": token})
    assert signed_in_as(laptop) is None
    assert signed_in_as(phone) == "alice"


def test_the_cookie_holds_a_random_session_id_stored_only_hashed(app):
    browser = TestClient(app)
    sign_in(browser, "alice")
    with unit_of_work(readonly=True) as s:
        row = s.scalars(select(UserSession)).one()
    assert len(row.token_hash) == 64
    assert row.token_hash not in browser.cookies[SESSION_COOKIE]
    assert row.ip == "testclient" and row.user_agent


def _age_sessions(**delta: float) -> None:
    """Move every session's times into the past, as if that much real time had gone by."""
    with unit_of_work() as s:
        for row in s.scalars(select(UserSession)):
            for column in ("created_at", "last_seen_at", "expires_at", "revoked_at"):
                if getattr(row, column) is not None:
                    setattr(row, column, getattr(row, column) - timedelta(**delta))


def test_a_session_expires_on_the_server_whatever_the_cookie_says(app):
    browser = TestClient(app)
    sign_in(browser, "alice")
    _age_sessions(hours=11, minutes=59)
    assert signed_in_as(browser) == "alice"
    _age_sessions(minutes=2)
    assert signed_in_as(browser) is None


def test_sessions_live_in_real_time_whatever_the_application_clock_says(app):
    """Simulations and tests move the application's clock; a session neither ends nor
    lasts longer because of that."""
    with frozen(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)) as clock:
        browser = TestClient(app)
        sign_in(browser, "alice")
        clock.advance(days=3)
        assert signed_in_as(browser) == "alice"
    with unit_of_work(readonly=True) as s:
        row = s.scalars(select(UserSession)).one()
    assert abs(row.created_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_deactivation_ends_sessions_and_tokens_and_activation_does_not_revive_them(app):
    browser = TestClient(app)
    sign_in(browser, "alice")
    with unit_of_work() as s:
        token = issue_api_token(
            session=s, user=accounts.find_user(session=s, username="alice"), name="kiosk"
        )
    assert as_bearer(browser, token) == 200
    admin = TestClient(app)
    admin_csrf = sign_in(admin, "boss")
    target = user_id("alice")
    r = admin.post(f"/admin/users/{target}/deactivate", data={"csrf_token": admin_csrf})
    assert r.status_code == 200 and "账号已停用" in r.text
    assert signed_in_as(browser) is None
    assert as_bearer(TestClient(app), token) == 401
    # She cannot sign in either, and the answer does not say why.
    r = TestClient(app).post("/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    admin.post(f"/admin/users/{target}/activate", data={"csrf_token": admin_csrf})
    assert signed_in_as(browser) is None
    assert as_bearer(TestClient(app), token) == 401
    again = TestClient(app)
    sign_in(again, "alice")
    assert signed_in_as(again) == "alice"


def test_a_revoked_token_stops_working_and_others_do_not(app):
    with unit_of_work() as s:
        alice = accounts.find_user(session=s, username="alice")
        kiosk = issue_api_token(session=s, user=alice, name="kiosk")
        script = issue_api_token(session=s, user=alice, name="script")
    client = TestClient(app)
    assert as_bearer(client, kiosk) == 200
    with unit_of_work(readonly=True) as s:
        row = s.scalar(select(ApiToken).where(ApiToken.name == "kiosk"))
        assert row.last_used_at is not None
    admin = TestClient(app)
    admin_csrf = sign_in(admin, "boss")
    page = admin.get(f"/admin/users/{user_id('alice')}").text
    assert "kiosk" in page and "script" in page
    r = admin.post(
        f"/admin/users/{user_id('alice')}/tokens/{row.id}/revoke",
        data={"csrf_token": admin_csrf},
    )
    assert r.status_code == 200 and "接口令牌已吊销" in r.text
    assert as_bearer(client, kiosk) == 401
    assert as_bearer(client, script) == 200
    with unit_of_work(readonly=True) as s:
        assert s.get(ApiToken, row.id).revoked_at is not None


def test_a_new_password_ends_every_session(app):
    laptop, phone = TestClient(app), TestClient(app)
    sign_in(laptop, "alice")
    sign_in(phone, "alice")
    admin = TestClient(app)
    admin_csrf = sign_in(admin, "boss")
    target = user_id("alice")
    differ = admin.post(
        f"/admin/users/{target}/password",
        data={"csrf_token": admin_csrf, "password": "brand-new-pass", "repeat": "other-pass"},
    )
    assert differ.status_code == 400 and "两次输入的密码不一致" in differ.text
    assert signed_in_as(laptop) == "alice"  # nothing changed
    r = admin.post(
        f"/admin/users/{target}/password",
        data={"csrf_token": admin_csrf, "password": "brand-new-pass", "repeat": "brand-new-pass"},
    )
    assert r.status_code == 200 and "新密码已设置" in r.text
    assert signed_in_as(laptop) is None and signed_in_as(phone) is None
    fresh = TestClient(app)
    sign_in(fresh, "alice", "brand-new-pass")
    assert signed_in_as(fresh) == "alice"


def test_an_administrator_ends_one_session_or_all(app):
    laptop, phone, tablet = TestClient(app), TestClient(app), TestClient(app)
    for browser in (laptop, phone, tablet):
        sign_in(browser, "alice")
    admin = TestClient(app)
    admin_csrf = sign_in(admin, "boss")
    target = user_id("alice")
    page = admin.get(f"/admin/users/{target}").text
    ids = [int(i) for i in re.findall(r'data-session="(\d+)"', page)]
    assert len(ids) == 3
    with unit_of_work(readonly=True) as s:
        laptop_id = min(ids)  # signed in first
        assert s.get(UserSession, laptop_id).user_id == target
    admin.post(
        f"/admin/users/{target}/sessions/{laptop_id}/revoke", data={"csrf_token": admin_csrf}
    )
    assert signed_in_as(laptop) is None
    assert signed_in_as(phone) == "alice" and signed_in_as(tablet) == "alice"
    admin.post(f"/admin/users/{target}/sessions/revoke", data={"csrf_token": admin_csrf})
    assert signed_in_as(phone) is None and signed_in_as(tablet) is None
    assert signed_in_as(admin) == "boss"
    # Another user's session cannot be ended through this user's page.
    with unit_of_work(readonly=True) as s:
        boss_session = s.scalar(
            select(UserSession.id).where(UserSession.user_id == user_id("boss"))
        )
    r = admin.post(
        f"/admin/users/{target}/sessions/{boss_session}/revoke", data={"csrf_token": admin_csrf}
    )
    assert r.status_code == 404
    assert signed_in_as(admin) == "boss"


def test_user_pages_are_for_administrators_only_and_need_csrf(app):
    anonymous = TestClient(app)
    r = anonymous.get("/admin/users", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    staff = TestClient(app)
    staff_csrf = sign_in(staff, "alice")
    assert staff.get("/admin/users").status_code == 403
    target = user_id("boss")
    r = staff.post(f"/admin/users/{target}/deactivate", data={"csrf_token": staff_csrf})
    assert r.status_code == 403
    admin = TestClient(app)
    sign_in(admin, "boss")
    page = admin.get("/admin/users")
    assert page.status_code == 200
    assert "用户管理" in page.text and 'data-user="alice"' in page.text
    assert "窗口工作人员" in page.text
    assert admin.post(f"/admin/users/{user_id('alice')}/deactivate").status_code == 403
    assert signed_in_as(staff) == "alice"  # the forged request did nothing
    # The navigation offers the page to administrators only.
    assert 'href="/admin/users"' in admin.get("/").text
    assert 'href="/admin/users"' not in staff.get("/").text


def test_an_administrator_cannot_deactivate_their_own_account(app):
    admin = TestClient(app)
    admin_csrf = sign_in(admin, "boss")
    r = admin.post(f"/admin/users/{user_id('boss')}/deactivate", data={"csrf_token": admin_csrf})
    assert r.status_code == 422 and "不能停用自己的账号" in r.text
    assert signed_in_as(admin) == "boss"


def test_old_cookies_without_a_server_session_are_not_accepted(app):
    """A cookie of the earlier kind (a user id, signed with the secret) no longer signs in."""
    import base64
    import json

    from itsdangerous import TimestampSigner

    from govloop.core.settings import get_settings

    payload = base64.b64encode(json.dumps({"user_id": user_id("boss")}).encode())
    forged = TimestampSigner(get_settings().secret_key).sign(payload).decode()
    browser = TestClient(app)
    browser.cookies.set(SESSION_COOKIE, forged)
    assert signed_in_as(browser) is None
    assert browser.get("/admin/users", follow_redirects=False).status_code == 303


def test_sessions_ended_long_ago_are_forgotten_at_the_next_sign_in(app):
    browser = TestClient(app)
    token = sign_in(browser, "alice")
    browser.post("/logout", data={"csrf_token": token})
    _age_sessions(days=31)
    sign_in(TestClient(app), "alice")
    with unit_of_work(readonly=True) as s:
        rows = s.scalars(select(UserSession)).all()
    assert len(rows) == 1 and rows[0].revoked_at is None


def test_login_page_sets_a_device_cookie_that_outlasts_a_strangers_lockout(app):
    own = TestClient(app)
    sign_in(own, "alice")
    token = csrf(own, "/")
    own.post("/logout", data={"csrf_token": token})
    assert own.cookies.get("govloop_device")
    # A stranger (another address each time) spends alice's failed-sign-in budget …
    for i in range(6):
        stranger = TestClient(app, client=(f"203.0.113.{i}", 5000))
        r = stranger.post("/login", data={"username": "alice", "password": "guess"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # … so a new browser is refused even with the right password, but hers is not.
    r = TestClient(app).post("/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 429 and "登录失败次数过多" in r.text
    # A forged device cookie is worth nothing, nor is one of another user's browser.
    forger = TestClient(app)
    forger.cookies.set("govloop_device", "eyJkIjoieCIsInUiOltdfQ.forged.sig", path="/login")
    r = forger.post("/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 429
    bosses = TestClient(app)
    boss_csrf = sign_in(bosses, "boss")
    r = bosses.post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": boss_csrf}
    )
    assert r.status_code == 429
    sign_in(own, "alice")
    assert signed_in_as(own) == "alice"
