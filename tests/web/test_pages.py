"""Shared pages: home, sign-in, sign-out, language switch, error pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from govloop.app import create_app
from govloop.core.db import unit_of_work
from tests.factories import make_hall
from tests.web.helpers import csrf, sign_in


@pytest.fixture
def client(db):
    with unit_of_work() as s:
        make_hall(s, staffed=False)
    return TestClient(create_app())


def test_home_lists_halls_with_their_pages(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "政务服务数字化运营平台" in r.text
    assert "测试大厅" in r.text
    for page in ("kiosk", "display", "appointments", "my-ticket"):
        assert f"/halls/H1/{page}" in r.text
    # Staff pages are offered only to staff.
    assert "/halls/H1/manage" not in r.text and "/halls/H1/windows/1" not in r.text


def test_home_shows_staff_links_by_permission(client):
    sign_in(client, "manager")
    r = client.get("/")
    assert "/halls/H1/manage" in r.text and "/halls/H1/windows/1" in r.text
    assert "manager" in r.text and 'action="/logout"' in r.text


def test_login_page_has_csrf_field_and_next(client):
    r = client.get("/login?next=/halls/H1/manage")
    assert r.status_code == 200
    assert "工作人员登录" in r.text
    assert 'name="csrf_token" value="' in r.text
    assert 'value="/halls/H1/manage"' in r.text


def test_wrong_password_shows_message_then_rate_limit(client):
    token = csrf(client)
    data = {"username": "manager", "password": "wrong-password", "csrf_token": token}
    r = client.post("/login", data=data)
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text
    for _ in range(10):
        r = client.post("/login", data=data)
    assert r.status_code == 429
    assert "登录失败次数过多" in r.text


def test_logout_needs_csrf_and_signs_out(client):
    token = sign_in(client, "manager")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert "/halls/H1/manage" in client.get("/").text  # still signed in
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert "/halls/H1/manage" not in client.get("/").text


def test_language_switch(client):
    r = client.get("/lang/en?next=/halls/H1/kiosk", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/halls/H1/kiosk"
    page = client.get("/halls/H1/kiosk").text
    assert "Take a ticket" in page and 'lang="en"' in page
    assert "取号" not in page.replace("中文", "")
    client.get("/lang/zh_CN")
    page = client.get("/halls/H1/kiosk").text
    assert "请点击要办理的事项取号" in page and 'lang="zh-CN"' in page


def test_language_switch_refuses_open_redirect(client):
    r = client.get("/lang/en?next=//evil.example/x", follow_redirects=False)
    assert r.headers["location"] == "/"


def test_unknown_page_is_friendly(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert "页面或资源不存在" in r.text and 'href="/"' in r.text
    assert "Traceback" not in r.text


def test_htmx_errors_are_fragments(client):
    r = client.get("/halls/NOPE/display", headers={"HX-Request": "true"})
    assert r.status_code == 404
    assert "<html" not in r.text
    assert 'data-error-message="未找到服务大厅：NOPE"' in r.text


def test_static_assets_are_served_locally(client):
    page = client.get("/halls/H1/display").text
    assert "http://" not in page.split("<body", 1)[0] and "https://" not in page
    for path in ("/static/app.css", "/static/js/app.js", "/static/vendor/htmx.min.js"):
        assert client.get(path).status_code == 200, path
