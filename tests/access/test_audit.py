"""The audit log's hash chain and signed checkpoints: verify passes on an honest log and
names the position of a modified, deleted, reordered or truncated entry."""

from __future__ import annotations

from sqlalchemy import delete, select, text, update

from govloop.audit import log as audit
from govloop.audit.log import Entry
from govloop.audit.models import AuditCheckpoint, AuditEntry
from govloop.core.db import unit_of_work


def _fill(n: int, every: int = 10) -> None:
    old = audit.CHECKPOINT_EVERY
    audit.CHECKPOINT_EVERY = every
    try:
        with unit_of_work() as s:
            audit.append(
                session=s,
                entries=[
                    Entry(actor_id=1, actor="张三", action="read", subject_id=i, fields=["name"])
                    for i in range(n)
                ],
            )
    finally:
        audit.CHECKPOINT_EVERY = old


def _verify() -> audit.VerifyReport:
    with unit_of_work(readonly=True) as s:
        return audit.verify(session=s)


def test_honest_log_verifies_with_checkpoints(db):
    _fill(25)
    with unit_of_work() as s:
        audit.append(
            session=s,
            entries=[
                Entry(
                    actor_id=2,
                    actor="李四",
                    action="denied",
                    outcome="denied",
                    detail="not_your_case",
                )
            ],
        )
        assert audit.checkpoint_now(session=s) is not None
    report = _verify()
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints, report.last_seq) == (26, 3, 26)


def test_modified_entry_is_found(db):
    _fill(25)
    with unit_of_work() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 7).values(actor="王五"))
    kinds = [(p.kind, p.seq) for p in _verify().problems]
    assert kinds == [("modified", 7)]


def test_deleted_entry_is_found(db):
    _fill(25)
    with unit_of_work() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 12))
    problems = _verify().problems
    assert [(p.kind, p.seq) for p in problems] == [("deleted", 12)]
    assert "12" in problems[0].message


def test_reordered_entries_are_found(db):
    _fill(25)
    with unit_of_work() as s:
        # swap entries 15 and 16 wholesale (content, links and hashes)
        s.execute(update(AuditEntry).where(AuditEntry.seq == 15).values(seq=-15))
        s.execute(update(AuditEntry).where(AuditEntry.seq == 16).values(seq=15))
        s.execute(update(AuditEntry).where(AuditEntry.seq == -15).values(seq=16))
    problems = _verify().problems
    assert {p.kind for p in problems} == {"reordered"}
    # 15 and 16 changed places; 17 now follows the wrong entry too
    assert [p.seq for p in problems] == [15, 16, 17]


def test_truncation_before_the_last_checkpoint_is_found(db):
    _fill(25)  # checkpoints at 10 and 20
    with unit_of_work() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 17))
    problems = _verify().problems
    # the head row still names entry 25
    assert [(p.kind, p.seq) for p in problems] == [("truncated", 18), ("head_mismatch", 25)]


def test_a_rewritten_chain_fails_the_signed_checkpoint(db):
    _fill(25)
    with unit_of_work() as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        rows[4].actor = "伪造"
        prev = rows[3].hash
        for row in rows[4:]:  # recompute every hash after the change
            values = {c: getattr(row, c) for c in audit.CONTENT_FIELDS}
            row.prev_hash = prev
            row.hash = audit.entry_hash(prev, values)
            prev = row.hash
    kinds = {p.kind for p in _verify().problems}
    assert "rewritten" in kinds


def test_forged_checkpoint_signature_is_found(db):
    _fill(12)
    with unit_of_work() as s:
        s.execute(update(AuditCheckpoint).values(signature="AAAA" + "A" * 84))
    assert [p.kind for p in _verify().problems] == ["bad_signature"]


def test_appends_continue_the_chain_across_transactions(db):
    _fill(3)
    _fill(4)
    report = _verify()
    assert report.ok and report.last_seq == 7
    with unit_of_work(readonly=True) as s:
        assert s.execute(text("select count(*) from access_audit_log")).scalar() == 7
