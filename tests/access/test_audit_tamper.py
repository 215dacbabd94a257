"""The audit log anchored outside the database: given the head statements an auditor
exported, every way a database administrator can cut, rewrite or re-sign the log is found,
by position. Keys are separate from the session secret, rotate without invalidating old
checkpoints, and entries written before the canonical encoding (format 1) still verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rfc8785
from sqlalchemy import delete, insert, select, text, update
from typer.testing import CliRunner

from govloop.audit import anchor
from govloop.audit import keys as audit_keys
from govloop.audit import log as audit
from govloop.audit.models import AuditCheckpoint, AuditEntry, AuditHead, AuditKey
from govloop.cli import app as cli
from govloop.core.clock import now
from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.core.settings import get_settings
from tests.access.audit_support import (
    b64,
    export,
    fill,
    kinds,
    rechain,
    secret_derived_key,
    verify,
)


@pytest.fixture
def anchored(db, tmp_path: Path) -> Path:
    """25 entries, checkpoints at 10 and 20, and the auditor's export: heads 10, 20, 25."""
    fill(25)
    folder = tmp_path / "auditor"
    result = export(folder)
    assert result.ok and result.heads_written == 3
    return folder


def _anchor_kinds(report: audit.VerifyReport) -> list[tuple[str, int]]:
    return [(k, seq) for k, seq in kinds(report) if k.startswith("anchor")]


def test_honest_anchored_log_verifies(anchored):
    report = verify(anchored)
    assert report.ok, report.problems
    assert report.anchor is not None and report.anchor.last_seq == 25
    assert report.anchor.matches and report.anchor.heads == 3
    assert (report.head_seq, report.last_seq) == (25, 25)


def test_modified_entry(anchored):
    with unit_of_work() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 7).values(actor="王五"))
    assert kinds(verify(anchored)) == [("modified", 7)]


def test_deleted_entry(anchored):
    with unit_of_work() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 12))
    assert kinds(verify(anchored)) == [("deleted", 12)]


def test_reordered_entries(anchored):
    with unit_of_work() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 15).values(seq=-15))
        s.execute(update(AuditEntry).where(AuditEntry.seq == 16).values(seq=15))
        s.execute(update(AuditEntry).where(AuditEntry.seq == -15).values(seq=16))
    assert kinds(verify(anchored)) == [("reordered", 15), ("reordered", 16), ("reordered", 17)]


def test_truncated_tail(anchored):
    with unit_of_work() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 22))
    # the export signed the head (25) in the database too, and the head row still names it
    assert kinds(verify()) == [("truncated", 23), ("head_mismatch", 25)]
    assert ("anchor_missing", 25) in kinds(verify(anchored))


def test_truncated_tail_after_the_last_export(anchored):
    fill(3)  # 26..28: neither signed nor exported yet
    with unit_of_work() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 26))
    assert kinds(verify(anchored)) == [("head_mismatch", 28)]
    with unit_of_work() as s:  # a tamperer who also moves the head row back
        s.execute(update(AuditHead).values(seq=26, hash=_hash_of(s, 26)))
    # the limit: entries after the last exported head can be cut off unseen; exporting
    # often (or GOVLOOP_AUDIT_ANCHOR_DIR, at each checkpoint) bounds that window
    assert verify(anchored).ok


def test_truncated_tail_with_its_checkpoints(anchored):
    with unit_of_work() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 15))
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > 15))
        s.execute(update(AuditHead).values(seq=15, hash=_hash_of(s, 15)))
    assert verify().ok
    report = verify(anchored)
    assert kinds(report) == [("anchor_missing", 20), ("anchor_missing", 25)]
    assert report.anchor is not None and not report.anchor.matches
    assert "20" in report.problems[0].message


def test_rewritten_and_rechained_log(anchored):
    with unit_of_work() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 5).values(actor="伪造"))
        rechain(s, 5)
        s.execute(delete(AuditCheckpoint))  # the tamperer cannot sign: drop the checkpoints
    assert verify().ok
    assert _anchor_kinds(verify(anchored)) == [
        ("anchor_mismatch", 10),
        ("anchor_mismatch", 20),
        ("anchor_mismatch", 25),
    ]


def test_resigned_with_the_session_secret(anchored):
    forged = secret_derived_key(get_settings().secret_key)
    forged_id = audit_keys.key_id_of(forged.public_key())
    with unit_of_work() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 5).values(actor="伪造"))
        rechain(s, 5)
        # re-sign every checkpoint over the new hashes, and register the key as if rotated
        for cp in s.scalars(select(AuditCheckpoint)):
            cp.hash = _hash_of(s, cp.seq)
            cp.key_id = forged_id
            cp.signature = b64(forged.sign(audit.head_statement(cp.seq, cp.hash, forged_id, cp.at)))
        s.execute(
            insert(AuditKey).values(
                key_id=forged_id,
                public_key=audit_keys.public_b64(forged.public_key()),
                created_at=now(),
            )
        )
    without_anchor = kinds(verify())
    assert ("untrusted_key", 10) in without_anchor and ("untrusted_key", 20) in without_anchor
    with_anchor = kinds(verify(anchored))
    assert ("anchor_mismatch", 10) in with_anchor and ("anchor_mismatch", 25) in with_anchor


def test_wiped_log(anchored):
    with unit_of_work() as s:
        for model in (AuditEntry, AuditCheckpoint, AuditHead, AuditKey):
            s.execute(delete(model))
    assert verify().ok  # an empty database says nothing
    report = verify(anchored)
    assert kinds(report) == [
        ("anchor_missing", 10),
        ("anchor_missing", 20),
        ("anchor_missing", 25),
    ]
    assert report.entries == 0


def test_forged_line_in_the_anchor_is_refused(anchored):
    # a head statement nobody signed (e.g. appended to cover a rewrite) is itself a finding
    path = anchor.anchor_file(anchored)
    line = json.loads(path.read_text().splitlines()[-1])
    line |= {"seq": 26, "hash": "f" * 64}
    with path.open("a") as f:
        f.write(rfc8785.dumps(line).decode() + "\n")
    assert ("anchor_invalid", 26) in kinds(verify(anchored))


# --- export ---------------------------------------------------------------------------------


def test_export_only_appends(anchored):
    path = anchor.anchor_file(anchored)
    before = path.read_bytes()
    fill(12)  # 26..37, checkpoint at 30
    result = export(anchored)
    assert result.ok and result.heads_written == 2  # 30, and the head at 37
    after = path.read_bytes()
    assert after.startswith(before) and len(after) > len(before)
    assert export(anchored).heads_written == 0  # nothing new: nothing written
    report = verify(anchored)
    assert report.ok and report.anchor is not None and report.anchor.last_seq == 37


def test_export_refuses_a_log_that_no_longer_matches(anchored):
    path = anchor.anchor_file(anchored)
    before = path.read_bytes()
    with unit_of_work() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 15))
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > 15))
        s.execute(update(AuditHead).values(seq=15, hash=_hash_of(s, 15)))
    result = export(anchored)
    assert not result.ok and ("anchor_missing", 20) in [(p.kind, p.seq) for p in result.problems]
    assert path.read_bytes() == before


def test_configured_anchor_is_appended_at_each_checkpoint(db, tmp_path, monkeypatch):
    folder = tmp_path / "server-anchor"
    monkeypatch.setenv("GOVLOOP_AUDIT_ANCHOR_DIR", str(folder))
    fill(25)  # checkpoints at 10 and 20, written after their commit
    lines = [json.loads(x) for x in anchor.anchor_file(folder).read_text().splitlines()]
    assert [x["seq"] for x in lines if x["type"] == "head"] == [10, 20]
    assert verify().anchor is not None  # verify uses the configured anchor by default
    with unit_of_work() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 15))
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > 15))
        s.execute(update(AuditHead).values(seq=15, hash=_hash_of(s, 15)))
    assert ("anchor_missing", 20) in kinds(verify())


def test_rolled_back_checkpoint_is_not_exported(db, tmp_path, monkeypatch):
    folder = tmp_path / "server-anchor"
    monkeypatch.setenv("GOVLOOP_AUDIT_ANCHOR_DIR", str(folder))
    with pytest.raises(RuntimeError), unit_of_work() as s:
        audit.append(session=s, entries=[_entry(i) for i in range(audit.CHECKPOINT_EVERY)])
        raise RuntimeError("the request failed after writing")
    assert not anchor.anchor_file(folder).exists()
    fill(3)
    assert verify().ok


# --- keys -----------------------------------------------------------------------------------


def test_rotation_keeps_old_checkpoints_verifiable(db, tmp_path, audit_key_dir):
    fill(25)
    first = audit_keys.current().record.key_id
    second = audit_keys.rotate()
    assert second.key_id != first and second.endorsed_by == first
    fill(20)  # checkpoints at 30 and 40 with the new key
    with unit_of_work(readonly=True) as s:
        used = {cp.key_id: cp.seq for cp in s.scalars(select(AuditCheckpoint))}
    assert set(used) == {first, second.key_id}
    assert verify().ok
    folder = tmp_path / "auditor"
    assert export(folder).ok
    # the old private key may be destroyed: its public half still verifies
    (audit_key_dir / f"{first}.pem").unlink()
    assert verify(folder).ok
    # an auditor elsewhere, with no key folder at all, trusts the keys in the anchor
    (audit_key_dir / "elsewhere").mkdir()
    report = _verify_with_key_dir(audit_key_dir / "elsewhere", folder)
    assert report.ok, report.problems
    assert {k.key_id for k in report.keys if k.trusted} == {first, second.key_id}


def test_a_key_only_the_database_knows_is_not_trusted(db):
    fill(10)
    impostor = audit_keys.generate_private()
    impostor_id = audit_keys.key_id_of(impostor.public_key())
    with unit_of_work() as s:
        s.execute(
            insert(AuditKey).values(
                key_id=impostor_id,
                public_key=audit_keys.public_b64(impostor.public_key()),
                created_at=now(),
                endorsed_by=audit_keys.current().record.key_id,
                endorsement=b64(impostor.sign(b"not an endorsement")),
            )
        )
        cp = s.scalars(select(AuditCheckpoint)).one()
        cp.key_id = impostor_id
        cp.signature = b64(impostor.sign(audit.head_statement(cp.seq, cp.hash, impostor_id, cp.at)))
    assert kinds(verify()) == [("untrusted_key", 10)]


def test_development_generates_a_random_key(db, audit_key_dir):
    assert not audit_key_dir.exists()
    fill(10)  # the checkpoint at 10 needs a key
    key = audit_keys.current()
    derived = secret_derived_key(get_settings().secret_key)
    assert key.record.key_id != audit_keys.key_id_of(derived.public_key())
    assert (audit_key_dir / f"{key.record.key_id}.pem").stat().st_mode & 0o077 == 0


def test_missing_key_outside_development_is_an_error(db, monkeypatch, audit_key_dir):
    monkeypatch.setenv("GOVLOOP_ENVIRONMENT", "production")
    monkeypatch.setenv("GOVLOOP_SECRET_KEY", "x" * 40)
    get_settings.cache_clear()
    try:
        with pytest.raises(GovloopError) as raised:
            audit_keys.require_signing_key()
        assert raised.value.code == "audit_key_missing" and "keygen" in raised.value.message
        assert not audit_key_dir.exists()
        audit_keys.keygen()
        assert audit_keys.require_signing_key().record.key_id
    finally:
        get_settings.cache_clear()


def test_keygen_refuses_to_replace_a_key(db):
    audit_keys.keygen()
    with pytest.raises(GovloopError):
        audit_keys.keygen()


# --- encodings ------------------------------------------------------------------------------


def test_format_1_entries_still_verify_and_format_2_follows(db):
    prev = audit.GENESIS
    rows = []
    for seq in (1, 2, 3):
        values = _legacy_values(seq)
        digest = audit.entry_hash(prev, values, fmt=1)
        rows.append({**values, "seq": seq, "prev_hash": prev, "hash": digest, "format": 1})
        prev = digest
    with unit_of_work() as s:
        s.execute(insert(AuditEntry), rows)
        s.execute(insert(AuditHead).values(id=1, seq=3, hash=prev))
    fill(4)
    with unit_of_work(readonly=True) as s:
        formats = s.execute(select(AuditEntry.seq, AuditEntry.format).order_by("seq")).all()
    assert [f for _, f in formats] == [1, 1, 1, 2, 2, 2, 2]
    assert verify().ok
    with unit_of_work() as s:  # a format-2 entry passed off as format 1
        s.execute(update(AuditEntry).where(AuditEntry.seq == 5).values(format=1))
    assert kinds(verify()) == [("modified", 5)]


def test_format_2_is_rfc8785_json(db):
    tricky = [
        "张三",
        'quote " and \\ backslash',
        "control \x00\x01\x08\t\n\x0b\x0c\r\x1f\x7f",
        "line sep \u2028 \u2029 emoji 🙂 é",
        "100% %s {}",
        "",
    ]
    for value in tricky:
        values = {name: None for name in audit.CONTENT_FIELDS}
        values |= {"at": "2026-01-01 00:00:00.000000", "actor": value, "actor_id": 2**53 - 1}
        values |= {"action": "read", "outcome": "ok", "fields": value, "case_id": -7}
        expected = dict(values, at="2026-01-01T00:00:00.000000+00:00", v=2)
        assert audit.canonical_v2(values) == rfc8785.dumps(expected)


# --- helpers --------------------------------------------------------------------------------


def _hash_of(s, seq: int) -> str:
    return s.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq))


def _entry(i: int) -> audit.Entry:
    return audit.Entry(actor_id=1, actor="张三", action="read", subject_id=i)


def _legacy_values(seq: int) -> dict:
    from datetime import UTC, datetime

    return {
        "at": datetime(2025, 6, 1, 8, seq, tzinfo=UTC),
        "actor_id": 3,
        "actor": "旧记录",
        "action": "read",
        "outcome": "ok",
        "case_type": "ticket",
        "case_id": seq,
        "case_label": None,
        "grant_id": None,
        "subject_id": seq,
        "fields": "name",
        "purpose": None,
        "detail": None,
    }


def _verify_with_key_dir(folder: Path, anchor_path: Path) -> audit.VerifyReport:
    import os

    old = os.environ["GOVLOOP_AUDIT_KEY_DIR"]
    os.environ["GOVLOOP_AUDIT_KEY_DIR"] = str(folder)
    try:
        return verify(anchor_path)
    finally:
        os.environ["GOVLOOP_AUDIT_KEY_DIR"] = old


# --- upgrade from the secret-derived key ----------------------------------------------------


def _legacy_log(n: int = 12) -> None:
    """A log as the release before 0012 left it: format-1 entries and a checkpoint at 10
    signed with the key derived from the session secret."""
    derived = secret_derived_key(get_settings().secret_key)
    prev, rows = audit.GENESIS, []
    for seq in range(1, n + 1):
        values = _legacy_values(seq)
        digest = audit.entry_hash(prev, values, fmt=1)
        rows.append({**values, "seq": seq, "prev_hash": prev, "hash": digest, "format": 1})
        prev = digest
    with unit_of_work() as s:
        s.execute(insert(AuditEntry), rows)
        s.execute(insert(AuditHead).values(id=1, seq=n, hash=prev))
        s.add(
            AuditCheckpoint(
                seq=10,
                hash=rows[9]["hash"],
                at=now(),
                signature=b64(derived.sign(f"govloop-audit:10:{rows[9]['hash']}".encode())),
                key_id=audit_keys.key_id_of(derived.public_key()),
            )
        )


def test_legacy_checkpoints_are_not_trusted_until_adopted(db):
    _legacy_log()
    assert kinds(verify()) == [("untrusted_key", 10)]
    audit_keys.keygen()
    with unit_of_work() as s:
        assert audit.adopt_legacy_checkpoints(session=s, secret=get_settings().secret_key) == 1
    report = verify()
    assert report.ok, report.problems
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(AuditCheckpoint.key_id)) == audit_keys.current_id()


def test_adoption_refuses_a_log_with_other_problems(db):
    _legacy_log()
    with unit_of_work() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(actor="伪造"))
    with pytest.raises(GovloopError) as raised, unit_of_work() as s:
        audit.adopt_legacy_checkpoints(session=s, secret=get_settings().secret_key)
    assert raised.value.code == "legacy_adoption_refused"
    assert ("untrusted_key", 10) in kinds(verify())


# --- the command line -----------------------------------------------------------------------


def test_cli_keys_export_and_verify(db, tmp_path):
    runner = CliRunner()
    first = runner.invoke(cli, ["audit", "keygen"])
    assert first.exit_code == 0 and "BEGIN PUBLIC KEY" in first.output
    assert runner.invoke(cli, ["audit", "keygen"]).exit_code == 2  # never replaced silently
    fill(25)
    folder = tmp_path / "auditor"
    exported = runner.invoke(cli, ["audit", "export", "--to", str(folder)])
    assert exported.exit_code == 0, exported.output
    assert runner.invoke(cli, ["audit", "rotate"]).exit_code == 0
    listed = runner.invoke(cli, ["audit", "public-key", "--all"]).output.splitlines()
    assert [json.loads(x)["endorsed_by"] is None for x in listed] == [True, False]
    ok = runner.invoke(cli, ["audit", "verify", "--anchor", str(folder), "--json"])
    body = json.loads(ok.output)
    assert ok.exit_code == 0 and body["ok"] and body["anchor"]["last_seq"] == 25
    with unit_of_work() as s:  # the tail with its checkpoints
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 15))
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > 15))
        s.execute(update(AuditHead).values(seq=15, hash=_hash_of(s, 15)))
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 0  # without the anchor
    found = runner.invoke(cli, ["audit", "verify", "--anchor", str(folder), "--json"])
    problems = [(p["kind"], p["seq"]) for p in json.loads(found.output)["problems"]]
    assert found.exit_code == 1 and problems == [("anchor_missing", 20), ("anchor_missing", 25)]
    text = runner.invoke(cli, ["audit", "verify", "--anchor", str(folder)])
    assert text.exit_code == 1 and "[anchor_missing] 第 20 条" in text.output
    assert runner.invoke(cli, ["audit", "export", "--to", str(folder)]).exit_code == 1
    missing = runner.invoke(cli, ["audit", "verify", "--anchor", str(tmp_path / "nothing.jsonl")])
    assert missing.exit_code == 2


def test_format_2_takes_the_direct_path_for_the_logs_own_values(monkeypatch):
    """The verification hot path: rfc8785 only for values outside str / int / None."""
    from datetime import UTC, datetime

    calls = []
    monkeypatch.setattr(audit.rfc8785, "dumps", lambda x: calls.append(x) or b"")
    values = _legacy_values(1) | {"at": datetime(2026, 1, 1, tzinfo=UTC)}
    audit.canonical_v2(values)
    audit.canonical_v2(values | {"at": "2026-01-01 00:00:00.000000"})
    assert calls == []
    audit.canonical_v2(values | {"case_id": 2**60})  # beyond what a double holds exactly
    assert len(calls) == 1


def test_sqlite_time_text_is_escaped_like_any_string(db, backend):
    """SQLite keeps times as text a database administrator can set to anything: it is
    escaped as JSON, so it cannot smuggle other members into the hashed encoding."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL keeps a timestamp, not text")
    fill(3)
    with unit_of_work() as s:
        s.execute(
            text("UPDATE access_audit_log SET at = :at WHERE seq = 2"),
            {"at": '2026-01-01 00:00:00.000000","actor":"x'},
        )
    assert kinds(verify()) == [("modified", 2)]
    row = (2, audit.GENESIS, "", 2, '2026 "x"', *([None] * 12))
    assert audit._v2_from_row(row).count(b'\\"x\\"') == 1
