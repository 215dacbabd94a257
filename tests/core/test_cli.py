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
