"""`govloop backup` / `govloop restore`: a backup restored onto an empty database carries
the same revision, rows and figures, its audit log verifies with the restored keys, and
the app starts on it; a non-empty target or a damaged archive is refused untouched."""

from __future__ import annotations

import stat
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, select, text
from typer.testing import CliRunner

from govloop.app import create_app
from govloop.audit import log as audit
from govloop.backup import DB_MEMBER, create_backup, restore_backup
from govloop.cli import app as cli
from govloop.core.db import make_engine, set_engine, unit_of_work
from govloop.core.errors import Conflict, RuleViolation
from govloop.core.health import expected_heads
from govloop.hall import service
from govloop.hall.models import Ticket
from tests.databases import drop_database_in_background
from tests.factories import make_hall

runner = CliRunner()


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The source's analytics and key folders (the configured ones, for the CLI)."""
    data, keys = tmp_path / "data", tmp_path / "keys"
    data.mkdir()
    (data / "store.json").write_text('{"token": "abc"}')
    (data / "raw").mkdir()
    (data / "raw" / "part-1.parquet").write_bytes(b"PAR1" + bytes(range(256)))
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(data))
    monkeypatch.setenv("GOVLOOP_AUDIT_KEY_DIR", str(keys))
    return data, keys


def _build(n: int = 12) -> None:
    with unit_of_work() as s:
        world = make_hall(s)
        tickets = [
            service.issue_ticket(
                session=s, hall=world.hall, item=world.items["SB01" if i % 2 else "GS01"]
            )
            for i in range(n)
        ]
        for ticket in tickets[:3]:
            service.cancel_ticket(session=s, ticket=ticket)
        entries = [audit.Entry(actor_id=None, actor="tester", action="read") for _ in range(5)]
        audit.append(session=s, entries=entries)
        assert audit.checkpoint_now(session=s) is not None


def _figures(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all()
    return {str(status): count for status, count in rows}


@pytest.fixture
def target(db: Engine, tmp_path: Path) -> Iterator[Engine]:
    """An empty database: a new SQLite file, or a new PostgreSQL database whose search_path
    names the source's schema (a backup restores into the schema it came from)."""
    if db.dialect.name == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'restored' / 'govloop.db'}")
        yield engine
        engine.dispose()
        return
    name = f"govloop_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(db.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    with db.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
    url = db.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        admin.dispose()
        drop_database_in_background(db.url, name)


def _tables(engine: Engine) -> int:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return int(conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one())
        return int(
            conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
            ).scalar_one()
        )


def test_restore_onto_empty_database(db, target, dirs, tmp_path, monkeypatch):
    _build()
    before = _figures(db)
    made = create_backup(tmp_path, engine=db)
    assert made.path.name.startswith("govloop-backup-")
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    assert made.manifest["tables"]["tickets"] == 12

    data2, keys2 = tmp_path / "data2", tmp_path / "keys2"
    done = restore_backup(made.path, engine=target, data_dir=data2, key_dir=keys2)
    assert done.mismatches == []
    print(f"\n{db.dialect.name}: backup {made.seconds:.2f}s, restore {done.seconds:.2f}s")

    with target.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert revision == made.manifest["alembic_revision"]
    assert {revision} == expected_heads()
    assert _figures(target) == before == {"waiting": 9, "cancelled": 3}
    data, keys = dirs
    assert (data2 / "raw" / "part-1.parquet").read_bytes() == (
        data / "raw" / "part-1.parquet"
    ).read_bytes()
    pems = list(keys2.glob("*.pem"))
    assert len(pems) == 1 and stat.S_IMODE(pems[0].stat().st_mode) == 0o600
    assert (keys2 / "current").read_text() == (keys / "current").read_text()

    # The log verifies against the restored key folder alone.
    monkeypatch.setenv("GOVLOOP_AUDIT_KEY_DIR", str(keys2))
    set_engine(target)
    try:
        with unit_of_work(readonly=True) as s:
            report = audit.verify(session=s, use_configured_anchor=False)
        assert report.ok, report.problems
        assert (report.entries, report.checkpoints) == (5, 1)
        # The key history matters: without it the restored checkpoint is untrusted.
        monkeypatch.setenv("GOVLOOP_AUDIT_KEY_DIR", str(tmp_path / "elsewhere"))
        with unit_of_work(readonly=True) as s:
            assert not audit.verify(session=s, use_configured_anchor=False).ok
        monkeypatch.setenv("GOVLOOP_AUDIT_KEY_DIR", str(keys2))
        with TestClient(create_app(run_jobs=False)) as client:
            assert client.get("/readyz").status_code == 200
    finally:
        set_engine(db)


def test_cli_refuses_a_non_empty_database_unless_forced(db, dirs, tmp_path):
    _build(4)
    original = _figures(db)
    made = runner.invoke(cli, ["backup", str(tmp_path / "b.tar")])
    assert made.exit_code == 0, made.output
    assert "机密" in made.output
    with unit_of_work() as s:
        world_ticket = s.scalars(select(Ticket).where(Ticket.status == "waiting")).first()
        assert world_ticket is not None
        service.cancel_ticket(session=s, ticket=world_ticket)
    after = _figures(db)
    _, keys = dirs
    (keys / "current").write_text("0000000000000000\n")  # a different key in use

    refused = runner.invoke(cli, ["restore", str(tmp_path / "b.tar")])
    assert refused.exit_code == 2
    assert "拒绝恢复" in refused.output and "--force" in refused.output
    assert _figures(db) == after == {"cancelled": 4}
    assert (keys / "current").read_text() == "0000000000000000\n"
    assert not list(tmp_path.glob("data.before-restore-*"))

    forced = runner.invoke(cli, ["restore", str(tmp_path / "b.tar"), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "与备份一致" in forced.output
    assert _figures(db) == original == {"waiting": 1, "cancelled": 3}
    assert (keys / "current").read_text() != "0000000000000000\n"
    assert len(list(tmp_path.glob("data.before-restore-*"))) == 1


def test_corrupted_archive_is_refused_before_anything_is_written(db, target, dirs, tmp_path):
    _build(2)
    made = create_backup(tmp_path / "b.tar", engine=db)
    with tarfile.open(made.path) as tar:
        member = tar.getmember(DB_MEMBER[db.dialect.name])
    with made.path.open("r+b") as f:
        f.seek(member.offset_data + member.size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(RuleViolation) as refused:
        restore_backup(made.path, engine=target, data_dir=tmp_path / "d2", key_dir=tmp_path / "k2")
    assert refused.value.code == "backup_corrupt"
    assert DB_MEMBER[db.dialect.name] in refused.value.message
    assert _tables(target) == 0
    assert not (tmp_path / "d2").exists() and not (tmp_path / "k2").exists()


def test_backup_never_overwrites_and_restore_refuses_other_dialect(db, dirs, tmp_path):
    made = create_backup(tmp_path / "b.tar", engine=db)
    with pytest.raises(Conflict):
        create_backup(made.path, engine=db)
    if db.dialect.name == "sqlite":
        return  # the cross-dialect refusal is checked from the PostgreSQL side
    other = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(RuleViolation) as refused:
        restore_backup(made.path, engine=other, data_dir=tmp_path / "d", key_dir=tmp_path / "k")
    assert refused.value.code == "backup_dialect"
    assert _tables(other) == 0
