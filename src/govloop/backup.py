"""`govloop backup` / `govloop restore`: the database, the analytics store and the audit key
history in one archive, and back.

Usage::

    govloop backup                      # ./govloop-backup-YYYYmmdd-HHMMSS.tar
    govloop backup /srv/backups/        # a folder: the dated name inside it
    govloop backup /srv/backups/x.tar   # that file (refused if it exists)
    govloop restore x.tar               # into the configured, EMPTY database
    govloop restore x.tar --force       # over existing tables, keys and analytics files

The archive (a tar file, mode 0600) holds ``manifest.json`` (govloop version, time,
database dialect and schema, Alembic revision, row count per table, SHA-256 and size of each
member), ``database/govloop.pgdump`` (``pg_dump --format=custom`` of the configured schema,
taken in the same snapshot as the row counts) or ``database/govloop.sqlite3`` (the SQLite
online backup API: consistent while the app runs), ``analytics/…`` (GOVLOOP_DATA_DIR) and
``audit-keys/…`` (GOVLOOP_AUDIT_KEY_DIR).

WARNING: the archive contains the audit signing PRIVATE keys and every citizen record: it is
as secret as the server itself. Keep it encrypted and off the server, never in a shared
folder.

The database is read first, then the analytics store: Parquet files written after the
database snapshot are dropped by the next export (past the restored watermark).

``restore`` checks every member's SHA-256 before changing anything, refuses a backup of
another dialect (SQLite into PostgreSQL) or of another PostgreSQL schema, and refuses a
database with tables, a non-empty analytics folder or a different audit key file unless
``--force``. PostgreSQL: ``pg_restore --no-owner --no-privileges`` (grants are not
restored; with ``--force``, ``--clean --if-exists`` drops the dumped objects first).
SQLite: the backup API copies the file into place (WAL-safe). With ``--force`` an existing
analytics folder is kept aside as ``<folder>.before-restore-<time>``. It then compares the
Alembic revision and the row counts with the manifest: exit 1 on any difference. A backup
made by an older version needs ``govloop db upgrade`` after restoring.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL

from govloop import __version__
from govloop.audit.keys import key_dir as audit_key_dir
from govloop.core import partitions
from govloop.core.db import get_engine
from govloop.core.errors import Conflict, GovloopError, RuleViolation
from govloop.core.settings import analytics_settings

console = Console()
FORMAT = 1
MANIFEST = "manifest.json"
DB_MEMBER = {"sqlite": "database/govloop.sqlite3", "postgresql": "database/govloop.pgdump"}
TREES = {"analytics": "analytics", "keys": "audit-keys"}
SCHEMA_TOC = re.compile(r"^\d+; \d+ \d+ (SCHEMA - |COMMENT - SCHEMA )")


@dataclass
class Result:
    path: Path
    manifest: dict[str, Any]
    seconds: float
    mismatches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- the database ---------------------------------------------------------------------------


def _tables(conn: Connection, schema: str | None) -> list[str]:
    if schema is None:
        sql = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        return sorted(conn.execute(text(sql)).scalars())
    sql = "SELECT tablename FROM pg_tables WHERE schemaname = :s"
    return sorted(conn.execute(text(sql), {"s": schema}).scalars())


def _state(conn: Connection, schema: str | None) -> tuple[dict[str, int], str | None]:
    """Row count per table and the Alembic revision, as this connection sees them."""
    tables = _tables(conn, schema)
    counts = {
        t: int(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()) for t in tables
    }
    revision = None
    if "alembic_version" in tables:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return counts, revision


def _schema(conn: Connection) -> str:
    """The schema new tables go to: current_schema(), or the first one named in
    search_path when it does not exist yet (a fresh database)."""
    found = conn.execute(text("SELECT current_schema()")).scalar()
    if found:
        return str(found)
    path = str(conn.execute(text("SHOW search_path")).scalar())
    names = [p.strip().strip('"') for p in path.split(",") if p.strip() != '"$user"']
    return names[0] if names else "public"


def _pg(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for pg_dump/pg_restore; the password goes in PGPASSWORD."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    conninfo = url.set(drivername="postgresql", password=None)
    return conninfo.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuleViolation(f"{args[0]} 失败：{done.stderr.strip()[-800:]}", code="backup_tool")
    return done.stdout


def _sqlite_copy(src: Path, dst: Path) -> None:
    """The online backup API: a consistent copy while others read and write (WAL-safe)."""
    source, target = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def _dump_sqlite(engine: Engine, dst: Path) -> dict[str, Any]:
    src = Path(str(engine.url.database))
    if not src.is_file():
        raise RuleViolation(f"数据库文件 {src} 不存在", code="backup_no_database")
    _sqlite_copy(src, dst)
    probe = create_engine(f"sqlite:///{dst}")
    with probe.connect() as conn:
        counts, revision = _state(conn, None)
    probe.dispose()
    return {"tables": counts, "alembic_revision": revision}


def _dump_pg(engine: Engine, dst: Path) -> dict[str, Any]:
    """Counts and pg_dump share one exported snapshot: the manifest describes the dump."""
    conninfo, env = _pg(engine.url)
    with engine.connect() as conn:
        conn.execute(text("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        schema = _schema(conn)
        counts, revision = _state(conn, schema)
        args = ["pg_dump", "--format=custom", f"--schema={schema}", f"--snapshot={snapshot}"]
        _run([*args, f"--file={dst}", f"--dbname={conninfo}"], env)
        conn.rollback()
    return {"tables": counts, "alembic_revision": revision, "schema": schema}


# --- writing the archive --------------------------------------------------------------------


def _tree(root: Path, prefix: str, skip_hidden: bool) -> Iterator[tuple[Path, str]]:
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not (skip_hidden and rel.name.startswith(".")):
            yield path, f"{prefix}/{rel.as_posix()}"


def create_backup(
    out: Path, *, engine: Engine, data_dir: Path | None = None, key_dir: Path | None = None
) -> Result:
    """Write one archive to ``out`` (a folder: a dated name inside it); mode 0600."""
    started = time.monotonic()
    out = out / f"govloop-backup-{datetime.now():%Y%m%d-%H%M%S}.tar" if out.is_dir() else out
    if out.exists():
        raise Conflict(f"{out} 已存在，不会覆盖", code="backup_exists")
    dialect = engine.dialect.name
    with tempfile.TemporaryDirectory(prefix="govloop-backup-") as work:
        db_file = Path(work) / "db"
        state = (_dump_sqlite if dialect == "sqlite" else _dump_pg)(engine, db_file)
        members = [(db_file, DB_MEMBER[dialect])]
        members += _tree(data_dir or analytics_settings().data_dir, TREES["analytics"], False)
        members += _tree(key_dir or audit_key_dir(), TREES["keys"], True)
        files = {name: {"sha256": _sha256(p), "size": p.stat().st_size} for p, name in members}
        manifest = {
            "format": FORMAT,
            "govloop_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dialect": dialect,
            **state,
            "files": files,
        }
        _write_archive(out, manifest, members)
    return Result(out, manifest, time.monotonic() - started)


def _write_archive(out: Path, manifest: dict[str, Any], members: list[tuple[Path, str]]) -> None:
    """Written under a temporary name and renamed: never a half archive under ``out``."""
    partial = out.with_name(f".{out.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w") as tar:
            body = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(body), 0o600, int(time.time())
            tar.addfile(info, io.BytesIO(body))
            for path, name in members:
                tar.add(path, arcname=name, recursive=False)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


# --- restoring ------------------------------------------------------------------------------


@contextmanager
def _unpacked(archive: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Extract to a temporary folder and check every member against the manifest."""
    with tempfile.TemporaryDirectory(prefix="govloop-restore-") as work:
        root = Path(work)
        try:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(root, filter="data")
            manifest = json.loads((root / MANIFEST).read_text())
        except (OSError, tarfile.TarError, ValueError) as exc:
            raise RuleViolation(f"无法读取备份 {archive}：{exc}", code="backup_unreadable") from exc
        found = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        expected = set(manifest.get("files", {}))
        bad = sorted(found ^ (expected | {MANIFEST}))
        bad += [
            n
            for n in sorted(expected & found)
            if _sha256(root / n) != manifest["files"][n]["sha256"]
        ]
        if bad or manifest.get("format") != FORMAT:
            raise RuleViolation(
                f"备份已损坏或不完整，未做任何改动：{', '.join(bad) or '格式不符'}",
                code="backup_corrupt",
            )
        yield root, manifest


def _preflight(
    root: Path, manifest: dict[str, Any], engine: Engine, dirs: tuple[Path, Path]
) -> str:
    """Refuse another dialect or schema; say what restoring would overwrite (or "")."""
    dialect = engine.dialect.name
    with engine.connect() as conn:
        schema = _schema(conn) if dialect == "postgresql" else None
        tables = _tables(conn, schema)
    if manifest["dialect"] != dialect:
        raise RuleViolation(
            f"备份来自 {manifest['dialect']}，目标为 {dialect}：不支持跨数据库恢复",
            code="backup_dialect",
        )
    if manifest.get("schema") != schema:
        raise RuleViolation(
            f"备份来自模式 {manifest['schema']}，目标模式为 {schema}："
            "请让 search_path 指向同名模式",
            code="backup_schema",
        )
    data_dir, key_dir = dirs
    reasons = [f"目标数据库已有 {len(tables)} 张表"] if tables else []
    if (root / TREES["analytics"]).is_dir() and data_dir.is_dir() and any(data_dir.iterdir()):
        reasons.append(f"分析数据目录 {data_dir} 不为空")
    keys = root / TREES["keys"]
    clashes = [
        p.name
        for p, _ in _tree(keys, "", True)
        if (key_dir / p.name).exists() and (key_dir / p.name).read_bytes() != p.read_bytes()
    ]
    if clashes:
        reasons.append(f"审计密钥目录 {key_dir} 中有不同的文件：{', '.join(clashes)}")
    return "；".join(reasons)


def _restore_pg(dump: Path, engine: Engine, schema: str, force: bool) -> None:
    conninfo, env = _pg(engine.url)
    with engine.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        ).scalar()
    if force and exists:
        # pg_restore --clean cannot drop a partition's inherited constraints: the
        # partitioned tables go first, their partitions with them (the rest --clean does)
        with engine.begin() as conn:
            for table in partitions.PARTITIONED_TABLES:
                conn.execute(text(f'DROP TABLE IF EXISTS "{schema}".{table} CASCADE'))
    toc = _run(["pg_restore", "--list", str(dump)], env).splitlines()
    listing = dump.with_suffix(".list")
    listing.write_text("\n".join(line for line in toc if not (exists and SCHEMA_TOC.match(line))))
    args = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error"]
    args += ["--single-transaction", *(["--clean", "--if-exists"] if force else [])]
    _run([*args, f"--use-list={listing}", f"--dbname={conninfo}", str(dump)], env)


def _place_tree(src: Path, dst: Path) -> Path | None:
    """Move an extracted tree into place; an existing non-empty one is kept aside."""
    kept = None
    if dst.is_dir() and any(dst.iterdir()):
        kept = dst.with_name(f"{dst.name}.before-restore-{datetime.now():%Y%m%d-%H%M%S}")
        dst.rename(kept)
    dst.mkdir(parents=True, exist_ok=True)
    for path, _ in _tree(src, "", False):
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return kept


def _place_keys(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path, _ in _tree(src, "", True):
        target = dst / path.name
        tmp = dst / f".{path.name}.restore"
        tmp.write_bytes(path.read_bytes())
        tmp.chmod(0o600 if path.suffix == ".pem" else 0o644)
        os.replace(tmp, target)


def restore_backup(
    archive: Path,
    *,
    engine: Engine,
    data_dir: Path | None = None,
    key_dir: Path | None = None,
    force: bool = False,
) -> Result:
    """Restore ``archive`` into ``engine``'s database and the configured folders."""
    started = time.monotonic()
    dirs = (data_dir or analytics_settings().data_dir, key_dir or audit_key_dir())
    with _unpacked(archive) as (root, manifest):
        reasons = _preflight(root, manifest, engine, dirs)
        if reasons and not force:
            raise Conflict(
                f"拒绝恢复，未做任何改动：{reasons}（确需覆盖请加 --force）",
                code="restore_not_empty",
            )
        dump = root / DB_MEMBER[manifest["dialect"]]
        engine.dispose()  # no pooled connection keeps the old database open
        if manifest["dialect"] == "sqlite":
            _sqlite_copy(dump, Path(str(engine.url.database)))
        else:
            _restore_pg(dump, engine, manifest["schema"], force)
        engine.dispose()
        result = Result(archive, manifest, 0.0)
        if (root / TREES["analytics"]).is_dir():
            kept = _place_tree(root / TREES["analytics"], dirs[0])
            if kept:
                result.notes.append(f"原分析数据目录已移至 {kept}")
        if (root / TREES["keys"]).is_dir():
            _place_keys(root / TREES["keys"], dirs[1])
    result.mismatches = _compare(manifest, engine)
    result.seconds = time.monotonic() - started
    return result


def _compare(manifest: dict[str, Any], engine: Engine) -> list[str]:
    with engine.connect() as conn:
        counts, revision = _state(conn, manifest.get("schema"))
    found = []
    if revision != manifest["alembic_revision"]:
        found.append(f"迁移版本 {revision}，备份为 {manifest['alembic_revision']}")
    for table, rows in manifest["tables"].items():
        if counts.get(table) != rows:
            found.append(f"表 {table}：{counts.get(table)} 行，备份为 {rows} 行")
    return found


# --- the commands ---------------------------------------------------------------------------


def _refused(exc: GovloopError) -> NoReturn:
    console.print(f"[red]{exc.message}[/red]")
    raise typer.Exit(2) from exc


def backup(
    out: Path = typer.Argument(Path("."), help="Archive file, or a folder for a dated name"),
) -> None:
    """Back up the database, the analytics store and the audit keys into one archive."""
    try:
        with console.status("正在备份…"):
            result = create_backup(out, engine=get_engine())
    except GovloopError as exc:
        _refused(exc)
    m = result.manifest
    console.print(
        f"[green]已备份到 {result.path}[/green]（{m['dialect']}，迁移版本 {m['alembic_revision']}，"
        f"{len(m['tables'])} 张表 {sum(m['tables'].values())} 行，{len(m['files'])} 个文件，"
        f"{result.seconds:.1f} 秒）"
    )
    if any(name.endswith(".pem") for name in m["files"]):
        console.print(
            "[yellow]注意：备份含审计签名私钥与全部业务数据，属机密文件（权限 0600），"
            "请加密保存在服务器之外。[/yellow]"
        )
    else:
        console.print("[yellow]注意：未找到审计签名私钥，备份中不含私钥；请另行保管。[/yellow]")


def restore(
    archive: Path = typer.Argument(..., help="An archive written by govloop backup"),
    force: bool = typer.Option(False, "--force", help="Overwrite a non-empty target"),
) -> None:
    """Restore a backup into the configured (empty) database and folders; exit 1 when the
    restored revision or row counts differ from the backup's."""
    try:
        with console.status("正在恢复…"):
            result = restore_backup(archive, engine=get_engine(), force=force)
    except GovloopError as exc:
        _refused(exc)
    m = result.manifest
    for note in result.notes:
        console.print(f"[yellow]{note}[/yellow]")
    if result.mismatches:
        console.print("[red]恢复后与备份不符：[/red]")
        for line in result.mismatches:
            console.print(f"  {line}", markup=False)
        raise typer.Exit(1)
    console.print(
        f"[green]已恢复 {archive}[/green]（备份于 {m['created_at']}，"
        f"迁移版本 {m['alembic_revision']}，{len(m['tables'])} 张表 "
        f"{sum(m['tables'].values())} 行与备份一致，"
        f"{result.seconds:.1f} 秒）"
    )
