"""Helpers for page tests: CSRF tokens and signing in through the login form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.factories import PASSWORD

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf(client: TestClient, path: str = "/login") -> str:
    """The session's CSRF token, as a page shows it."""
    match = CSRF_RE.search(client.get(path).text)
    assert match, "page has no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    token = csrf(client)
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return token


def htmx(token: str) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRF-Token": token}
