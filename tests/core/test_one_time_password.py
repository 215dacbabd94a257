"""One-time passwords (an administrator's reset, a user created by an import) must be
replaced before anything else; the password policy; the last sign-in."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.app import create_app
from govloop.core import accounts
from govloop.core.auth import Role, check_password_strength, issue_api_token
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest
from govloop.core.models import User
from tests.factories import make_user
from tests.web.helpers import csrf, sign_in


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "至少 8 个字符"),
        ("onlyletters", "至少两类"),
        ("12345678", "至少两类"),
        ("password1", "过于常见"),
        ("alice-2026", "用户名"),
    ],
)
def test_the_password_policy_refuses_with_the_reason(password, reason):
    with pytest.raises(BadRequest, match=reason):
        check_password_strength(password, username="alice")


def test_a_one_time_password_must_be_replaced_first(db):
    with unit_of_work() as s:
        alice = make_user(s, "alice", Role.WINDOW_STAFF)
        make_user(s, "boss", Role.ADMIN)
        accounts.set_password(session=s, user=alice, password="temp-Pass-123", one_time=True)
        assert "m=8192,t=1" in alice.password_hash
        token = issue_api_token(session=s, user=alice, name="script")
    client = TestClient(create_app(run_jobs=False))
    page_csrf = csrf(client)
    r = client.post(
        "/login",
        data={
            "username": "alice",
            "password": "temp-Pass-123",
            "csrf_token": page_csrf,
            "next": "/ratings/cases",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/account/password?next=/ratings/cases"
    # every other page sends the user back there; the API refuses with the reason
    elsewhere = client.get("/ratings/cases", follow_redirects=False)
    assert elsewhere.status_code == 303
    assert elsewhere.headers["location"].startswith("/account/password")
    api = TestClient(create_app(run_jobs=False)).get(
        "/api/v1/access/break-glass/mine", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 403 and api.json()["error"] == "password_change_required"
    form = client.get("/account/password?next=/ratings/cases")
    assert form.status_code == 200 and "您使用一次性密码登录" in form.text
    page_csrf = csrf(client, "/account/password")
    attempts = [
        (
            {"current": "wrong-Pass-1", "new": "my-own-Pass-9", "repeat": "my-own-Pass-9"},
            "当前密码",
        ),
        ({"current": "temp-Pass-123", "new": "my-own-Pass-9", "repeat": "other-Pass-9"}, "不一致"),
        ({"current": "temp-Pass-123", "new": "temp-Pass-123", "repeat": "temp-Pass-123"}, "相同"),
        ({"current": "temp-Pass-123", "new": "abcdefgh", "repeat": "abcdefgh"}, "至少两类"),
    ]
    for data, reason in attempts:
        refused = client.post(
            "/account/password", data=data | {"csrf_token": page_csrf, "next": "/ratings/cases"}
        )
        assert refused.status_code == 400 and reason in refused.text
    done = client.post(
        "/account/password",
        data={
            "current": "temp-Pass-123",
            "new": "my-own-Pass-9",
            "repeat": "my-own-Pass-9",
            "csrf_token": page_csrf,
            "next": "/ratings/cases",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/ratings/cases"
    assert client.get("/ratings/cases", follow_redirects=False).status_code == 200
    with unit_of_work() as s:
        user = s.scalars(select(User).where(User.username == "alice")).one()
        assert not user.must_change_password and user.last_login_at is not None
        # the one-time password had the light parameters; the own one has the full ones
        assert "m=8192,t=1" not in user.password_hash
    # the administrator sees the last sign-in
    admin = TestClient(create_app(run_jobs=False))
    sign_in(admin, "boss")
    listing = admin.get("/admin/users").text
    assert "从未登录" not in listing.split('data-user="alice"')[1].split("</tr>")[0]
