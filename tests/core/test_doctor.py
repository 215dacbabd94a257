"""`govloop doctor`: each check on its own, then the command as monitoring would call it."""

from __future__ import annotations

import json
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from govloop import doctor
from govloop.audit import keys as audit_keys
from govloop.cli import app
from govloop.core.clock import frozen
from govloop.core.db import make_engine
from govloop.core.migrate import upgrade
from govloop.core.settings import DEV_SECRET, Settings
from govloop.worker import LEADER_LOCK, Leadership
from tests.conftest import POSTGRES_URL

runner = CliRunner()


def settings(**values: object) -> Settings:
    """Settings as given, the development secret included outside development (the
    validator refuses it; the doctor must still report it)."""
    secret = values.pop("secret_key", DEV_SECRET)
    made = Settings(secret_key="-" * 64, **values)  # type: ignore[arg-type]
    return made.model_copy(update={"secret_key": secret})


# --- the database --------------------------------------------------------------------------


@contextmanager
def fresh_database(like: Engine, tmp_path: Path) -> Iterator[Engine]:
    """An empty database on the same backend: an empty SQLite file, a PostgreSQL schema."""
    if like.dialect.name == "sqlite":
        sqlite3.connect(tmp_path / "empty.db").close()
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    schema = f"doctor_{uuid.uuid4().hex[:10]}"
    with like.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with like.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def test_a_migrated_database_is_reachable_and_at_head(db: Engine) -> None:
    reach, schema = doctor.check_database(db), doctor.check_schema(db)
    assert reach.status == "ok" and db.dialect.name in reach.found
    assert schema.status == "ok" and "最新" in schema.found


def test_an_empty_database_is_behind_and_the_fix_is_the_upgrade_command(
    db: Engine, tmp_path: Path
) -> None:
    with fresh_database(db, tmp_path) as empty:
        assert doctor.check_database(empty).status == "ok"
        result = doctor.check_schema(empty)
    assert result.status == "fail"
    assert "尚未建表" in result.found and "govloop db upgrade" in result.fix


def test_a_database_one_migration_behind_says_how_far(db: Engine, tmp_path: Path) -> None:
    with fresh_database(db, tmp_path) as fresh:
        head = doctor.ScriptDirectory.from_config(doctor.alembic_config()).get_current_head()
        assert head is not None
        previous = doctor.ScriptDirectory.from_config(doctor.alembic_config()).get_revision(head)
        upgrade(fresh, str(previous.down_revision))
        behind = doctor.check_schema(fresh)
        upgrade(fresh)
        caught_up = doctor.check_schema(fresh)
    assert behind.status == "fail" and "落后 1 个迁移" in behind.found
    assert "govloop db upgrade" in behind.fix
    assert caught_up.status == "ok"


def test_a_database_migrated_by_newer_code_is_not_told_to_upgrade(
    db: Engine, tmp_path: Path
) -> None:
    with fresh_database(db, tmp_path) as newer:
        with newer.begin() as conn:
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
            conn.execute(text("INSERT INTO alembic_version VALUES ('9999_future')"))
        result = doctor.check_schema(newer)
    assert result.status == "fail" and "9999_future" in result.found
    assert "upgrade" not in result.fix


def test_a_missing_sqlite_file_fails_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "govloop.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        checks = doctor.run_checks(settings(), engine, data_dir=tmp_path)
    finally:
        engine.dispose()
    by_key = {c.key: c for c in checks}
    assert by_key["database"].status == "fail" and str(path) in by_key["database"].found
    assert by_key["schema"].status == "fail"
    assert not path.exists()


def test_an_unreachable_server_fails_fast_with_the_password_masked() -> None:
    engine = doctor.doctor_engine("postgresql+psycopg://postgres:hunter2@127.0.0.1:1/test")
    try:
        result = doctor.check_database(engine)
    finally:
        engine.dispose()
    assert result.status == "fail" and "GOVLOOP_DATABASE_URL" in result.fix
    assert "hunter2" not in result.found and "***" in result.found


# --- the secret and the audit key ----------------------------------------------------------


def test_the_development_secret_fails_in_production_only() -> None:
    prod = doctor.check_secret(settings(environment="production"))
    assert prod.status == "fail" and "GOVLOOP_SECRET_KEY" in prod.fix
    dev = doctor.check_secret(settings())
    assert dev.status == "ok" and "开发" in dev.found


def test_a_short_secret_warns_and_a_long_one_is_ok() -> None:
    short = doctor.check_secret(settings(environment="production", secret_key="s" * 20))
    assert short.status == "warn" and "20" in short.found
    assert doctor.check_secret(settings(environment="production", secret_key="s" * 40)).status == (
        "ok"
    )


def test_the_command_reads_settings_that_refuse_the_development_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOVLOOP_ENVIRONMENT", "production")
    monkeypatch.delenv("GOVLOOP_SECRET_KEY", raising=False)
    with pytest.raises(ValueError):
        Settings()
    loaded = doctor.load_settings()
    assert loaded.environment == "production" and loaded.secret_key == DEV_SECRET
    assert doctor.check_secret(loaded).status == "fail"


def test_the_audit_key_is_required_in_production(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    missing = doctor.check_audit_key(settings(environment="production"), folder)
    assert missing.status == "fail" and "govloop audit keygen" in missing.fix
    assert doctor.check_audit_key(settings(), folder).status == "warn"
    assert not folder.exists()  # the doctor does not generate one, even in development
    record = audit_keys.keygen(folder)
    present = doctor.check_audit_key(settings(environment="production"), folder)
    assert present.status == "ok" and record.key_id in present.found


def test_an_unreadable_or_exposed_audit_key_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    record = audit_keys.keygen(folder)
    pem = folder / f"{record.key_id}.pem"
    pem.chmod(0o644)
    exposed = doctor.check_audit_key(settings(environment="production"), folder)
    assert exposed.status == "warn" and "chmod 600" in exposed.fix
    pem.write_text("not a key")
    broken = doctor.check_audit_key(settings(environment="production"), folder)
    assert broken.status == "fail" and "无法读取" in broken.found


# --- rate-limit storage and the broker -----------------------------------------------------


def test_unreachable_redis_fails_and_memory_warns() -> None:
    down = doctor.check_rate_limit_storage(settings(rate_limit_storage="redis://127.0.0.1:1/0"))
    assert down.status == "fail" and "GOVLOOP_RATE_LIMIT_STORAGE" in down.fix
    memory = doctor.check_rate_limit_storage(settings(rate_limit_storage="memory://"))
    assert memory.status == "warn" and "redis://" in memory.fix
    off = settings(environment="production", secret_key="s" * 40, rate_limit_enabled=False)
    assert doctor.check_rate_limit_storage(off).status == "warn"


def test_reachable_redis_is_ok_and_its_password_is_masked() -> None:
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at 127.0.0.1:6379: {exc}")
    result = doctor.check_rate_limit_storage(
        settings(rate_limit_storage="redis://127.0.0.1:6379/0")
    )
    assert result.status == "ok"
    with_password = doctor.check_rate_limit_storage(
        settings(rate_limit_storage="redis://:sesame@127.0.0.1:1/0")
    )
    assert "sesame" not in with_password.found


def test_the_mqtt_broker_is_reached_by_tcp() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert doctor.check_mqtt("127.0.0.1", port).status == "ok"
    closed = doctor.check_mqtt("127.0.0.1", port)
    assert closed.status == "fail" and "--host/--port" in closed.fix


# --- the data directory --------------------------------------------------------------------


def test_the_data_dir_is_written_to_and_left_clean(tmp_path: Path) -> None:
    result = doctor.check_data_dir(tmp_path)
    assert result.status == "ok" and "可写" in result.found
    assert list(tmp_path.iterdir()) == []
    later = doctor.check_data_dir(tmp_path / "a" / "b")
    assert later.status == "ok" and not (tmp_path / "a").exists()


def test_a_file_where_the_data_dir_should_be_fails(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    for folder in (tmp_path / "data", tmp_path / "data" / "sub"):
        result = doctor.check_data_dir(folder)
        assert result.status == "fail" and "GOVLOOP_DATA_DIR" in result.fix


# --- the holiday calendar ------------------------------------------------------------------


def test_known_years_are_covered() -> None:
    result = doctor.check_calendar(settings(), today=date(2025, 6, 1))
    assert result.status == "ok" and "2026 年：chinese-calendar" in result.found


def test_a_year_the_package_does_not_know_fails_with_both_fixes() -> None:
    result = doctor.check_calendar(settings(), today=date(2100, 3, 1))
    assert result.status == "fail" and "2100 年：无数据" in result.found
    assert "chinese-calendar" in result.fix and "GOVLOOP_EXTRA_HOLIDAYS" in result.fix


def test_today_comes_from_the_clock() -> None:
    with frozen(datetime(2100, 3, 1, tzinfo=UTC)):
        assert doctor.check_calendar(settings()).status == "fail"


def test_declared_holidays_cover_the_years_they_mention() -> None:
    both = settings(extra_holidays=["2100-01-01", "2101-01-01"])
    assert doctor.check_calendar(both, today=date(2100, 3, 1)).status == "ok"
    this_year = settings(extra_holidays=["2100-10-01"])
    next_missing = doctor.check_calendar(this_year, today=date(2100, 3, 1))
    assert next_missing.status == "warn" and "2101" in next_missing.fix
    workdays_only = settings(extra_workdays=["2100-01-04", "2101-01-04"])
    assert doctor.check_calendar(workdays_only, today=date(2100, 3, 1)).status == "fail"


def test_an_invalid_declared_date_fails() -> None:
    result = doctor.check_calendar(settings(extra_holidays=["2100-13-01"]))
    assert result.status == "fail" and "2100-13-01" in result.found


# --- timed duties --------------------------------------------------------------------------


def test_timed_duties(db: Engine) -> None:
    in_web = doctor.check_jobs(settings(run_jobs=True), db)
    apart = doctor.check_jobs(settings(run_jobs=False), db)
    if db.dialect.name == "sqlite":
        assert in_web.status == "ok" and apart.status == "ok"
        return
    assert in_web.status == "warn" and "govloop worker" in in_web.fix
    assert apart.status == "warn" and "没有 govloop worker" in apart.found
    assert doctor.WORKER_LOCK == LEADER_LOCK
    leader = Leadership(db)
    try:
        assert leader.acquire()
        assert doctor.check_jobs(settings(run_jobs=False), db).status == "ok"
    finally:
        leader.release()


def test_a_broken_check_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(year: int) -> bool:
        raise RuntimeError("calendar data unreadable")

    monkeypatch.setattr(doctor, "official_year", boom)
    result = doctor.check_calendar(settings(), today=date(2025, 1, 1))
    assert result.status == "fail" and "calendar data unreadable" in result.found


# --- the command ---------------------------------------------------------------------------


def database_url(engine: Engine) -> str:
    """The test database as a URL the command can be given."""
    if engine.dialect.name == "sqlite":
        return f"sqlite:///{engine.url.database}"
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
    url = engine.url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def environment(db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    keys = tmp_path / "keys"
    audit_keys.keygen(keys)
    for name, value in {
        "GOVLOOP_DATABASE_URL": database_url(db),
        "GOVLOOP_AUDIT_KEY_DIR": str(keys),
        "GOVLOOP_DATA_DIR": str(tmp_path / "data"),
        "GOVLOOP_RATE_LIMIT_STORAGE": "memory://",
        "GOVLOOP_ENVIRONMENT": "development",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GOVLOOP_SECRET_KEY", raising=False)
    return tmp_path


def test_the_command_prints_every_check_as_json(environment: Path) -> None:
    with frozen(datetime(2025, 6, 1, tzinfo=UTC)):  # a year chinese-calendar knows, and next
        result = runner.invoke(app, ["doctor", "--json"])
    checks = json.loads(result.stdout)
    assert [c["key"] for c in checks] == [
        "database", "schema", "secret", "audit_key", "rate_limit", "data_dir", "calendar",
        "partitions", "jobs",
    ]  # fmt: skip
    assert all(set(c) == {"key", "name", "status", "found", "fix"} for c in checks)
    assert not [c for c in checks if c["status"] == "fail"], checks
    assert result.exit_code == 0
    assert {c["key"]: c["status"] for c in checks}["rate_limit"] == "warn"  # warnings pass


def test_the_command_exits_1_on_a_failure(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVLOOP_ENVIRONMENT", "production")
    result = runner.invoke(app, ["doctor", "--json"])
    statuses = {c["key"]: c["status"] for c in json.loads(result.stdout)}
    assert statuses["secret"] == "fail" and statuses["database"] == "ok"
    assert result.exit_code == 1


def test_the_table_names_the_fix(environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVLOOP_RATE_LIMIT_STORAGE", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("COLUMNS", "300")
    result = runner.invoke(app, ["doctor", "--mqtt", "127.0.0.1:1"])
    assert result.exit_code == 1
    assert "MQTT 代理" in result.stdout and "GOVLOOP_RATE_LIMIT_STORAGE" in result.stdout
    assert "失败 2 项" in result.stdout


# --- the event tables' partitions ----------------------------------------------------------


def test_partitions_are_checked_on_postgresql_and_explained_on_sqlite(db: Engine) -> None:
    result = doctor.check_partitions(db)
    assert result.status == "ok"
    if db.dialect.name == "sqlite":
        assert "不分区" in result.found
        return
    assert "已建到" in result.found
    # a clock a year ahead finds next month's partitions missing, and says how to fix it
    ahead = doctor.check_partitions(db, today=date(date.today().year + 1, 6, 1))
    assert ahead.status == "fail" and "govloop worker" in ahead.fix
    with db.begin() as conn:  # a row of a month without its own partition
        conn.execute(
            text(
                "INSERT INTO access_audit_log (seq, format, at, actor, action, outcome, fields, "
                "prev_hash, hash) VALUES (1, 2, '2021-02-03T00:00:00+00', 'x', 'read', 'ok', '', "
                "'0', '0')"
            )
        )
    stray = doctor.check_partitions(db)
    assert stray.status == "warn" and "access_audit_log 有 1 行落在默认分区" in stray.found
