from __future__ import annotations

from typer.testing import CliRunner

from govloop.cli import app
from govloop.core.db import unit_of_work
from govloop.core.models import User

runner = CliRunner()


def test_users_create_and_token(db):
    result = runner.invoke(
        app, ["users", "create", "root", "--password", "very-secret-1", "--role", "admin"]
    )
    assert result.exit_code == 0, result.output
    with unit_of_work() as s:
        assert s.query(User).filter_by(username="root").one().role == "admin"
    result = runner.invoke(app, ["users", "token", "root"])
    assert result.exit_code == 0 and result.output.strip().startswith("gl_")


def test_users_create_bad_input_is_clear(db):
    result = runner.invoke(app, ["users", "create", "root", "--password", "short"])
    assert result.exit_code == 1 and "密码至少 8 个字符" in result.output
    result = runner.invoke(
        app, ["users", "create", "root", "--password", "long-enough", "--role", "king"]
    )
    assert result.exit_code == 1 and "未知角色" in result.output
    with unit_of_work() as s:
        assert s.query(User).count() == 0


def test_db_upgrade_on_a_fresh_sqlite_file(tmp_path, monkeypatch):
    from govloop.core import db as core_db
    from govloop.core.settings import get_settings

    monkeypatch.setenv("GOVLOOP_DATABASE_URL", f"sqlite:///{tmp_path}/fresh.db")
    get_settings.cache_clear()
    core_db.set_engine(None)
    try:
        result = runner.invoke(app, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        from sqlalchemy import inspect

        assert "tickets" in inspect(core_db.get_engine()).get_table_names()
    finally:
        core_db.get_engine().dispose()
        core_db.set_engine(None)
        get_settings.cache_clear()


def _signed_in_browser(username: str):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from govloop.app import create_app
    from tests.web.helpers import sign_in

    browser = TestClient(create_app(run_jobs=False))
    sign_in(browser, username, "very-secret-1")
    return browser


def _is_signed_in(browser) -> bool:  # type: ignore[no-untyped-def]
    return 'action="/logout"' in browser.get("/").text


def _bearer_works(browser, token: str) -> bool:  # type: ignore[no-untyped-def]
    r = browser.get("/", headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    return r.status_code == 200


def test_users_deactivate_ends_sessions_and_tokens_and_activate_lets_them_back(db):
    runner.invoke(app, ["users", "create", "zhang", "--password", "very-secret-1"])
    token = runner.invoke(app, ["users", "token", "zhang", "--name", "kiosk-3"]).output.strip()
    browser = _signed_in_browser("zhang")
    assert _is_signed_in(browser) and _bearer_works(browser, token)
    result = runner.invoke(app, ["users", "deactivate", "zhang"])
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended" in result.output and "1 token(s) revoked" in result.output
    assert not _is_signed_in(browser) and not _bearer_works(browser, token)
    with unit_of_work() as s:
        assert s.query(User).filter_by(username="zhang").one().active is False
    result = runner.invoke(app, ["users", "activate", "zhang"])
    assert result.exit_code == 0, result.output
    assert not _bearer_works(browser, token)  # what deactivation ended stays ended
    assert _is_signed_in(_signed_in_browser("zhang"))


def test_users_passwd_ends_every_session(db):
    runner.invoke(app, ["users", "create", "zhang", "--password", "very-secret-1"])
    browser = _signed_in_browser("zhang")
    result = runner.invoke(app, ["users", "passwd", "zhang", "--password", "short"])
    assert result.exit_code == 1 and "密码至少 8 个字符" in result.output
    assert _is_signed_in(browser)
    result = runner.invoke(app, ["users", "passwd", "zhang", "--password", "another-secret-2"])
    assert result.exit_code == 0 and "1 session(s) ended" in result.output
    assert not _is_signed_in(browser)


def test_users_tokens_lists_and_revoke_revokes_one(db):
    runner.invoke(app, ["users", "create", "zhang", "--password", "very-secret-1"])
    kiosk = runner.invoke(app, ["users", "token", "zhang", "--name", "kiosk-3"]).output.strip()
    script = runner.invoke(app, ["users", "token", "zhang", "--name", "nightly"]).output.strip()
    browser = _signed_in_browser("zhang")
    listing = runner.invoke(app, ["users", "tokens", "zhang"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0, listing.output
    assert "kiosk-3" in listing.output and "nightly" in listing.output
    assert kiosk not in listing.output and script not in listing.output  # never shown again
    assert "testclient" in listing.output  # the browser's session
    from govloop.core.models import ApiToken

    with unit_of_work() as s:
        kiosk_id = s.query(ApiToken).filter_by(name="kiosk-3").one().id
    result = runner.invoke(app, ["users", "revoke", "zhang", "--token", str(kiosk_id)])
    assert result.exit_code == 0, result.output
    assert not _bearer_works(browser, kiosk) and _bearer_works(browser, script)
    assert _is_signed_in(browser)
    result = runner.invoke(app, ["users", "revoke", "zhang", "--all-sessions"])
    assert result.exit_code == 0 and not _is_signed_in(browser)
    assert runner.invoke(app, ["users", "revoke", "zhang"]).exit_code == 1  # nothing named
    result = runner.invoke(app, ["users", "revoke", "zhang", "--token", "99999"])
    assert result.exit_code == 1 and "该 API 令牌不存在" in result.output


def test_users_commands_name_an_unknown_user(db):
    for command in ("deactivate", "activate", "tokens"):
        result = runner.invoke(app, ["users", command, "ghost"])
        assert result.exit_code == 1 and "用户不存在：ghost" in result.output


def _capture_uvicorn(monkeypatch) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    import uvicorn

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    return calls


def _settings(monkeypatch, **env: str) -> None:  # type: ignore[no-untyped-def]
    from govloop.core.settings import get_settings

    for key in ("GOVLOOP_SECRET_KEY", "GOVLOOP_TRUSTED_PROXIES"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


def test_serve_refuses_a_public_address_with_the_development_secret(monkeypatch):
    from govloop.core.settings import get_settings

    calls = _capture_uvicorn(monkeypatch)
    _settings(monkeypatch)
    try:
        for host in ("0.0.0.0", "::", "192.168.1.20", "govloop.example"):
            result = runner.invoke(app, ["serve", "--host", host])
            assert result.exit_code == 1
            assert "拒绝" in result.output and "GOVLOOP_SECRET_KEY" in result.output
        assert calls == []
        for host in ("127.0.0.1", "localhost", "::1"):
            assert runner.invoke(app, ["serve", "--host", host]).exit_code == 0
        assert len(calls) == 3
        _settings(monkeypatch, GOVLOOP_SECRET_KEY="a-real-secret-of-our-own-0123456789")
        assert runner.invoke(app, ["serve", "--host", "0.0.0.0"]).exit_code == 0
    finally:
        get_settings.cache_clear()


def test_serve_believes_forwarded_headers_only_from_configured_proxies(monkeypatch):
    from govloop.core.settings import get_settings

    calls = _capture_uvicorn(monkeypatch)
    try:
        _settings(monkeypatch)
        runner.invoke(app, ["serve"])
        assert calls[-1]["proxy_headers"] is False
        _settings(monkeypatch, GOVLOOP_TRUSTED_PROXIES="10.0.0.2,10.1.0.0/16")
        runner.invoke(app, ["serve"])
        assert calls[-1]["proxy_headers"] is True
        assert calls[-1]["forwarded_allow_ips"] == "10.0.0.2,10.1.0.0/16"
    finally:
        get_settings.cache_clear()


def test_the_demo_secret_is_random_private_and_kept(tmp_path):
    import stat

    from govloop.demo.cli import demo_secret

    path = tmp_path / "var" / "secret_key"
    first = demo_secret(path)
    assert len(first) >= 40 and first != demo_secret(tmp_path / "other")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_secret(path) == first  # sign-ins survive a restart
    path.chmod(0o644)
    assert demo_secret(path) == first and stat.S_IMODE(path.stat().st_mode) == 0o600
