from __future__ import annotations

import pytest

from govloop.core.auth import (
    Permission,
    Role,
    authenticate,
    create_user,
    has_permission,
    issue_api_token,
    user_for_token,
)
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest, Conflict, NotAuthenticated, TooManyRequests


def test_create_user_hashes_password_and_refuses_duplicates(db):
    with unit_of_work() as s:
        user = create_user(session=s, username="alice", password="s3cret-pass", role="window_staff")
        assert user.password_hash.startswith("$argon2")
        assert "s3cret-pass" not in user.password_hash
    with unit_of_work() as s, pytest.raises(Conflict):
        create_user(session=s, username="alice", password="another-pass", role="admin")
    with unit_of_work() as s, pytest.raises(BadRequest):
        create_user(session=s, username="bob", password="short", role="admin")
    with unit_of_work() as s, pytest.raises(BadRequest):
        create_user(session=s, username="bob", password="long-enough", role="emperor")


def _attempt(username: str, password: str, client: str, device: str | None = None):
    with unit_of_work() as s:
        return authenticate(
            session=s, username=username, password=password, client=client, device=device
        )


def test_guessing_one_account_from_many_addresses_is_stopped(db):
    with unit_of_work() as s:
        create_user(session=s, username="alice", password="s3cret-pass", role="admin")
        create_user(session=s, username="bob", password="s3cret-pass", role="admin")
    assert _attempt("alice", "s3cret-pass", "1.2.3.4").username == "alice"
    for i in range(5):  # a botnet: every guess from another address
        with pytest.raises(NotAuthenticated):
            _attempt("alice", "wrong", f"10.0.0.{i}")
    # The username is refused from a new address now, even with the right password …
    with pytest.raises(TooManyRequests) as refused:
        _attempt("Alice", "s3cret-pass", "5.6.7.8")
    wait = int(refused.value.headers["Retry-After"])
    assert 0 < wait <= 900
    # how long, in the words the person reads: 900 s → “请 15 分钟后再试”
    minutes = -(-wait // 60)
    assert refused.value.message == (
        f"登录失败次数过多，请 {minutes} 分钟后再试"
        if wait >= 60
        else f"登录失败次数过多，请 {wait} 秒后再试"
    )
    # … but not from the browser alice signed in with before (its device cookie), and
    # other users are untouched.
    assert _attempt("alice", "s3cret-pass", "5.6.7.8", device="alices-pc").username == "alice"
    assert _attempt("bob", "s3cret-pass", "10.0.0.1").username == "bob"


def test_one_address_cannot_spray_a_password_over_many_accounts(db):
    with unit_of_work() as s:
        create_user(session=s, username="alice", password="s3cret-pass", role="admin")
    for i in range(20):
        with pytest.raises(NotAuthenticated):
            _attempt(f"user{i}", "Password123", "6.6.6.6")
    with pytest.raises(TooManyRequests):
        _attempt("alice", "s3cret-pass", "6.6.6.6")
    assert _attempt("alice", "s3cret-pass", "7.7.7.7").username == "alice"


def test_a_device_cookie_has_a_small_budget_of_its_own(db):
    with unit_of_work() as s:
        create_user(session=s, username="alice", password="s3cret-pass", role="admin")
    for _ in range(5):
        with pytest.raises(NotAuthenticated):
            _attempt("alice", "wrong", "1.1.1.1", device="stolen")
    with pytest.raises(TooManyRequests):
        _attempt("alice", "s3cret-pass", "1.1.1.1", device="stolen")
    assert _attempt("alice", "s3cret-pass", "1.1.1.1").username == "alice"


def test_unknown_user_fails_like_a_wrong_password(db):
    with unit_of_work() as s, pytest.raises(NotAuthenticated) as exc:
        authenticate(session=s, username="ghost", password="whatever", client="x")
    assert exc.value.code == "invalid_credentials"


def test_api_tokens_are_stored_hashed(db):
    with unit_of_work() as s:
        user = create_user(session=s, username="kiosk", password="s3cret-pass", role="window_staff")
        token = issue_api_token(session=s, user=user, name="kiosk-1")
    with unit_of_work() as s:
        assert user_for_token(session=s, token=token).username == "kiosk"
        assert user_for_token(session=s, token=token + "x") is None
        from govloop.core.models import ApiToken

        stored = s.query(ApiToken).one()
        assert stored.token_hash != token and len(stored.token_hash) == 64


def test_role_permissions():
    from govloop.core.models import User

    staff = User(
        username="s", display_name="s", password_hash="x", role=Role.WINDOW_STAFF, active=True
    )
    assert has_permission(staff, Permission.WINDOW_OPERATE)
    assert not has_permission(staff, Permission.HALL_MANAGE)
    staff.active = False
    assert not has_permission(staff, Permission.WINDOW_OPERATE)
    admin = User(username="a", display_name="a", password_hash="x", role=Role.ADMIN, active=True)
    assert all(has_permission(admin, p) for p in Permission)
    assert len(Role) == 8
