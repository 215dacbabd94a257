"""`govloop doctor`: check the configuration and the environment, and say what to fix.

Each check returns a :class:`CheckResult` (ok / warn / fail, what was found, what to do).
The command prints them as a table, or as JSON for monitoring (``--json``), and exits 1
when any check fails; warnings do not fail. Nothing here changes the database, the key
folder or the data directory (the write probe's temporary file is removed at once).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Literal, ParamSpec
from zoneinfo import ZoneInfo

import chinese_calendar
import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine, make_url, text

from govloop.audit import keys as audit_keys
from govloop.core import partitions
from govloop.core.clock import now
from govloop.core.db import make_engine
from govloop.core.errors import GovloopError
from govloop.core.migrate import alembic_config
from govloop.core.settings import DEV_SECRET, AnalyticsSettings, Settings

Status = Literal["ok", "warn", "fail"]
Outcome = tuple[Status, str, str]  # status, what was found, what to do
P = ParamSpec("P")

UPGRADE = "govloop db upgrade"
NEW_SECRET = (
    "export GOVLOOP_SECRET_KEY=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\""
)
WORKER_LOCK = "govloop:worker-leader"  # govloop.worker.LEADER_LOCK (a sibling layer)
TIMEOUT_S = 3
MIN_FREE_BYTES = 1 << 30


@dataclass(frozen=True)
class CheckResult:
    key: str  # stable English id, for monitoring
    name: str  # what is checked (Chinese)
    status: Status
    found: str
    fix: str = ""


def check(key: str, name: str) -> Callable[[Callable[P, Outcome]], Callable[P, CheckResult]]:
    """Turn a function returning (status, found, fix) into a named check. A check that
    breaks is reported as failed, never stops the others."""

    def wrap(fn: Callable[P, Outcome]) -> Callable[P, CheckResult]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> CheckResult:
            try:
                status, found, fix = fn(*args, **kwargs)
            except Exception as exc:
                status, found, fix = "fail", f"检查出错：{exc.__class__.__name__}: {exc}", ""
            return CheckResult(key, name, status, found[:500], fix)

        return run

    return wrap


def production(settings: Settings) -> bool:
    """As the settings' own validator: anything but development is run for real."""
    return settings.environment != "development"


def _missing_sqlite_file(engine: Engine) -> Path | None:
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if path and path != ":memory:" and not Path(path).exists():
        return Path(path)
    return None


@check("database", "数据库连接")
def check_database(engine: Engine) -> Outcome:
    url = engine.url.render_as_string(hide_password=True)
    if (missing := _missing_sqlite_file(engine)) is not None:  # connecting would create it
        fix = f"检查 GOVLOOP_DATABASE_URL，或运行 {UPGRADE} 建库"
        return "fail", f"SQLite 数据库文件不存在：{missing}", fix
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            conn.rollback()
    except Exception as exc:  # any driver error: say what it was
        found = f"无法连接 {url}：{exc.__class__.__name__}: {exc}"
        return "fail", found, "确认数据库服务已启动、地址与口令正确（GOVLOOP_DATABASE_URL）"
    version = ".".join(str(v) for v in engine.dialect.server_version_info or ())
    return "ok", f"{engine.dialect.name} {version}，{url}", ""


@check("schema", "数据库结构版本")
def check_schema(engine: Engine) -> Outcome:
    script = ScriptDirectory.from_config(alembic_config())
    heads = tuple(sorted(script.get_heads()))
    if _missing_sqlite_file(engine) is not None:
        return "fail", "数据库文件不存在", f"运行 {UPGRADE}"
    with engine.connect() as conn:
        current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
        conn.rollback()
    if current == heads:
        return "ok", f"已是最新版本 {', '.join(heads)}", ""
    known = {s.revision for s in script.walk_revisions()}
    if unknown := [rev for rev in current if rev not in known]:
        found = f"数据库版本 {', '.join(unknown)} 不在本程序的迁移中（数据库已由更新的程序升级）"
        return "fail", found, "部署与数据库相同或更新版本的 govloop"
    pending = len(list(script.iterate_revisions(heads, current or "base")))
    if not current:
        return "fail", f"数据库尚未建表（共 {pending} 个迁移待执行）", f"运行 {UPGRADE}"
    return "fail", f"落后 {pending} 个迁移（当前 {', '.join(current)}）", f"运行 {UPGRADE}"


@check("secret", "会话密钥")
def check_secret(settings: Settings) -> Outcome:
    secret = settings.secret_key
    if secret == DEV_SECRET and production(settings):
        found = f"{settings.environment} 环境仍在使用公开的开发密钥，任何人都能伪造登录会话"
        return "fail", found, f"设置随机长字符串：{NEW_SECRET}"
    if secret == DEV_SECRET:
        fix = "上线前设置 GOVLOOP_SECRET_KEY 与 GOVLOOP_ENVIRONMENT=production"
        return "ok", "开发环境使用公开的开发密钥（只适合本机）", fix
    if len(secret) < 32:
        found = f"密钥只有 {len(secret)} 个字符（建议至少 32 个）"
        return "warn", found, f"换用更长的随机密钥（已登录的会话将失效）：{NEW_SECRET}"
    return "ok", f"已设置（{len(secret)} 个字符）", ""


@check("audit_key", "审计签名密钥")
def check_audit_key(settings: Settings, folder: Path | None = None) -> Outcome:
    folder = folder or audit_keys.key_dir()
    bad: Status = "fail" if production(settings) else "warn"
    try:
        if audit_keys.current_id(folder) is None:
            note = "" if production(settings) else "（开发环境首次使用时自动生成）"
            fix = "运行 govloop audit keygen，或将 GOVLOOP_AUDIT_KEY_DIR 指向保存密钥的目录"
            return bad, f"{folder} 中没有当前密钥{note}", fix
        key = audit_keys.current(folder)  # a key exists: this only loads it
    except (GovloopError, OSError, ValueError) as exc:
        why = exc.message if isinstance(exc, GovloopError) else f"{exc.__class__.__name__}: {exc}"
        fix = "确认运行 govloop 的用户能读取该目录与密钥文件；密钥丢失时运行 govloop audit rotate"
        return bad, f"无法读取（{folder}）：{why}", fix
    pem = folder / f"{key.record.key_id}.pem"
    if pem.stat().st_mode & 0o077:
        return "warn", f"私钥 {pem} 对其他用户可读", f"chmod 600 {pem}"
    return "ok", f"密钥 {key.record.key_id}（{folder}）", ""


@check("rate_limit", "限流计数存储")
def check_rate_limit_storage(settings: Settings) -> Outcome:
    uri = settings.rate_limit_storage
    if not settings.rate_limit_enabled:
        status: Status = "warn" if production(settings) else "ok"
        return status, "限流已关闭", "设置 GOVLOOP_RATE_LIMIT_ENABLED=true"
    if uri.startswith("memory://"):
        fix = "多个 web 进程时设置 GOVLOOP_RATE_LIMIT_STORAGE=redis://主机:6379/0 共享计数"
        return "warn", "memory://：每个进程各自计数", fix
    shown = make_url(uri).render_as_string(hide_password=True) if "://" in uri else uri
    if not uri.startswith(("redis://", "rediss://")):
        return "warn", f"{shown}：doctor 只检查 Redis，未检查此存储", ""
    import redis  # here: every `govloop` command imports this module

    try:
        client = redis.Redis.from_url(
            uri, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S
        )
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        fix = "启动 Redis，或改正 GOVLOOP_RATE_LIMIT_STORAGE（连不上时限流不生效）"
        return "fail", f"无法连接 {shown}：{exc}", fix
    return "ok", f"{shown} 可连接", ""


@check("mqtt", "MQTT 代理")
def check_mqtt(host: str, port: int) -> Outcome:
    try:
        socket.create_connection((host, port), timeout=TIMEOUT_S).close()
    except OSError as exc:
        fix = "启动 MQTT 代理（如 mosquitto），或改正 govloop devices listen 的 --host/--port"
        return "fail", f"无法连接 {host}:{port}：{exc}", fix
    return "ok", f"{host}:{port} 可连接", ""


@check("data_dir", "分析数据目录")
def check_data_dir(folder: Path) -> Outcome:
    fix = f"让运行 govloop 的用户能写 {folder}，或设置 GOVLOOP_DATA_DIR 指向可写目录"
    existing = folder  # the folder, or its nearest existing parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return "fail", f"{existing} 不是目录", fix
    try:
        if existing == folder:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".govloop-doctor-"):
                pass
        elif not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError(f"不能在 {existing} 下创建目录")
    except OSError as exc:
        return "fail", f"{folder} 不可写：{exc}", fix
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        return "warn", f"{folder} 所在磁盘只剩 {free >> 20} MB", "清理磁盘或扩容"
    note = "可写" if existing == folder else f"尚不存在，可在 {existing} 下创建"
    return "ok", f"{folder} {note}（剩余 {free >> 30} GB）", ""


def official_year(year: int) -> bool:
    """Does chinese-calendar know this year's holidays? (It raises for the others.)"""
    try:
        chinese_calendar.get_holiday_detail(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _iso(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@check("calendar", "节假日日历")
def check_calendar(settings: Settings, today: date | None = None) -> Outcome:
    """This year and next: known to chinese-calendar, or declared in GOVLOOP_EXTRA_HOLIDAYS
    (a declaration covers the years its dates fall in). This year missing fails: deadlines
    are being counted on weekends alone; next year missing warns (published each autumn)."""
    year = (today or now().astimezone(ZoneInfo(settings.timezone)).date()).year
    if invalid := [d for d in settings.extra_holidays + settings.extra_workdays if not _iso(d)]:
        found = f"GOVLOOP_EXTRA_HOLIDAYS/EXTRA_WORKDAYS 中有无效日期：{'、'.join(invalid)}"
        return "fail", found, '写成 ISO 日期的 JSON 列表，如 ["2027-01-01"]'
    declared = {date.fromisoformat(d).year for d in settings.extra_holidays}
    lines, missing = [], []
    for y in (year, year + 1):
        source = "chinese-calendar" if official_year(y) else "已声明" if y in declared else None
        lines.append(f"{y} 年：{source or '无数据'}")
        missing += [] if source else [y]
    if not missing:
        return "ok", "；".join(lines), ""
    years = "、".join(map(str, missing))
    fix = (
        "升级 chinese-calendar（pip install -U chinese-calendar），或在 GOVLOOP_EXTRA_HOLIDAYS / "
        f"GOVLOOP_EXTRA_WORKDAYS 中声明 {years} 年的节假日与调休上班日；缺数据时只按周末计算工作日"
    )
    return ("fail" if year in missing else "warn"), "；".join(lines), fix


def worker_leads(engine: Engine) -> bool:
    """Does a `govloop worker` hold the leader lock (a session-level advisory lock)?"""
    with engine.connect() as conn:
        held = conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                " AND objsubid = 1 AND database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())"
                " AND ((classid::bigint << 32) | objid::bigint) = hashtext(:name)::bigint)"
            ),
            {"name": WORKER_LOCK},
        ).scalar()
        conn.rollback()
    return bool(held)


@check("jobs", "定时任务")
def check_jobs(settings: Settings, engine: Engine) -> Outcome:
    if settings.run_jobs and engine.dialect.name == "sqlite":
        return "ok", "SQLite：在唯一的 web 进程内运行", ""
    if settings.run_jobs:
        found = "在 web 进程内运行（GOVLOOP_RUN_JOBS=true），只适合单个 web 进程"
        fix = "多个 web 进程时设置 GOVLOOP_RUN_JOBS=false，并另行运行 govloop worker"
        return "warn", found, fix
    if engine.dialect.name != "postgresql":
        return "ok", "GOVLOOP_RUN_JOBS=false：须另行运行 govloop worker", ""
    if worker_leads(engine):
        return "ok", "GOVLOOP_RUN_JOBS=false，govloop worker 正在运行", ""
    found = "GOVLOOP_RUN_JOBS=false，但没有 govloop worker 在运行：定时任务无人执行"
    return "warn", found, "启动 govloop worker（如作为 systemd 服务）"


@check("partitions", "事件表月分区")
def check_partitions(engine: Engine, today: date | None = None) -> Outcome:
    if engine.dialect.name != "postgresql":
        return "ok", "SQLite：事件表不分区，保留期到期的行直接删除", ""
    next_month = partitions.Month.of(today or date.today()).next()
    fix = "运行 govloop worker（每天创建后续月份的分区），或 govloop db upgrade"
    with engine.connect() as conn:
        missing = [
            t
            for t in partitions.PARTITIONED_TABLES
            if not partitions.is_partitioned(conn, t)
            or next_month not in partitions.months(conn, t)
        ]
        stray = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}_default")).scalar() or 0
            for t in partitions.PARTITIONED_TABLES
            if t not in missing
        }
        conn.rollback()
    if missing:
        return "fail", f"{'、'.join(missing)} 缺少下个月（{next_month.suffix()}）的分区", fix
    if crowded := {t: n for t, n in stray.items() if n}:
        found = "、".join(f"{t} 有 {n} 行落在默认分区" for t, n in crowded.items())
        return "warn", found, "为这些行所在的月份建分区：govloop worker 的分区任务会自动迁入"
    return "ok", f"三张事件表均已按月分区，已建到 {next_month.suffix()} 及以后", ""


def run_checks(
    settings: Settings,
    engine: Engine,
    *,
    data_dir: Path | None = None,
    mqtt: tuple[str, int] | None = None,
) -> list[CheckResult]:
    results = [check_database(engine)]
    reachable = results[0].status == "ok"
    unchecked = CheckResult(
        "schema", "数据库结构版本", "fail", "数据库不可达，未检查", "先解决数据库连接"
    )
    results += [
        check_schema(engine) if reachable else unchecked,
        check_secret(settings),
        check_audit_key(settings),
        check_rate_limit_storage(settings),
        *([check_mqtt(*mqtt)] if mqtt else []),
        check_data_dir(data_dir or AnalyticsSettings().data_dir),
        check_calendar(settings),
    ]
    if reachable:
        results.append(check_partitions(engine))
    if reachable or settings.run_jobs:
        results.append(check_jobs(settings, engine))
    return results


def load_settings() -> Settings:
    """The settings, also when they refuse the development secret outside development:
    the secret check reports that with its fix instead of a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        if "GOVLOOP_SECRET_KEY" not in str(exc):
            raise
    return Settings(secret_key="-" * 64).model_copy(update={"secret_key": DEV_SECRET})


def doctor_engine(url: str) -> Engine:
    """Its own engine, with a short connect timeout: an unreachable server fails fast."""
    if url.startswith("sqlite"):
        return make_engine(url)
    connect_args = {"connect_timeout": TIMEOUT_S} if url.startswith("postgresql") else {}
    return make_engine(url, connect_args=connect_args, pool_size=1, max_overflow=0)


LABELS = {"ok": "[green]正常[/green]", "warn": "[yellow]注意[/yellow]", "fail": "[red]失败[/red]"}


def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list (for monitoring)."),
    mqtt: str | None = typer.Option(None, "--mqtt", help="Also check an MQTT broker, HOST:PORT."),
) -> None:
    """Check the configuration and the environment and say what to fix (exit 1 on a failure)."""
    console = Console()
    try:
        settings = load_settings()
    except ValidationError as exc:
        console.print(f"配置无效（GOVLOOP_* 环境变量或 .env）：\n{exc}", markup=False, style="red")
        raise typer.Exit(1) from exc
    broker = None
    if mqtt:
        host, _, port = mqtt.rpartition(":")
        if not port.isdigit():
            raise typer.BadParameter("写成 主机:端口，如 127.0.0.1:1883", param_hint="--mqtt")
        broker = (host or "127.0.0.1", int(port))
    engine = doctor_engine(settings.database_url)
    try:
        results = run_checks(settings, engine, mqtt=broker)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=1))
    else:
        table = Table(title="govloop 运行环境检查")
        for column in ("检查", "状态", "发现", "处理办法"):
            table.add_column(column, overflow="fold")
        for r in results:
            table.add_row(r.name, LABELS[r.status], Text(r.found), Text(r.fix))
        console.print(table)
        counts = {s: sum(r.status == s for r in results) for s in LABELS}
        console.print(f"正常 {counts['ok']} 项，注意 {counts['warn']} 项，失败 {counts['fail']} 项")
    if any(r.status == "fail" for r in results):
        raise typer.Exit(1)
