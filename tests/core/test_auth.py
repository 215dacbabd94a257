from __future__ import annotations

import pytest

from govloop.core.auth import (
    Permission,
    Role,
    authenticate,
    create_user,
    has_permission,
    issue_api_token,
    login_limiter,
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


def test_authenticate_and_rate_limit(db):
    with unit_of_work() as s:
        create_user(session=s, username="alice", password="s3cret-pass", role="admin")
    with unit_of_work() as s:
        assert (
            authenticate(
                session=s, username="alice", password="s3cret-pass", client="1.2.3.4"
            ).username
            == "alice"
        )
    for _ in range(5):
        with unit_of_work() as s, pytest.raises(NotAuthenticated):
            authenticate(session=s, username="alice", password="wrong", client="1.2.3.4")
    # Locked out now, even with the right password; another client is not.
    with unit_of_work() as s, pytest.raises(TooManyRequests):
        authenticate(session=s, username="alice", password="s3cret-pass", client="1.2.3.4")
    with unit_of_work() as s:
        assert authenticate(session=s, username="alice", password="s3cret-pass", client="5.6.7.8")
    login_limiter.reset()


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
