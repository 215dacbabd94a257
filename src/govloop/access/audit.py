"""The tamper-evident access log: a hash chain with periodic signed checkpoints.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON
(everything but the sequence number, so a renumbered entry shows up as out of order rather
than as modified). Every ``CHECKPOINT_EVERY`` entries the head is signed with an Ed25519 key
derived from the server secret; the public key lets an auditor verify without the secret.

``verify`` walks the log and reports, by position: a modified entry (its hash no longer
matches its content), a deleted entry (a gap in the sequence, and the chain broken there),
entries out of order (an entry's link points at another entry than the one before it), a
rewritten chain (a checkpoint's signed hash no longer matches), and truncation (the log ends
before the last checkpoint). Entries after the last checkpoint that are removed from the end
leave no trace in the log itself: checkpoints bound that window.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from govloop.access.models import AuditCheckpoint, AuditEntry, AuditHead
from govloop.core.clock import now
from govloop.core.settings import get_settings

GENESIS = "0" * 64
CHECKPOINT_EVERY = 1_000
CONTENT_FIELDS = (
    "at",
    "actor_id",
    "actor",
    "action",
    "outcome",
    "case_type",
    "case_id",
    "case_label",
    "grant_id",
    "subject_id",
    "fields",
    "purpose",
    "detail",
)


@dataclass
class Entry:
    """What an access-log line says; ``fields`` are field names, never values."""

    actor_id: int | None
    actor: str
    action: str  # grant_opened / read / denied / break_glass / grant_ended / key_issued / …
    outcome: str = "ok"  # ok / denied
    case_type: str | None = None
    case_id: int | None = None
    case_label: str | None = None
    grant_id: int | None = None
    subject_id: int | None = None
    fields: list[str] = field(default_factory=list)
    purpose: str | None = None
    detail: str | None = None
    at: datetime | None = None


def _canonical(values: dict[str, Any]) -> bytes:
    content = {k: values.get(k) for k in CONTENT_FIELDS}
    at = content["at"]
    if isinstance(at, datetime):
        content["at"] = at.astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def entry_hash(prev_hash: str, values: dict[str, Any]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + _canonical(values)).hexdigest()


# --- signing -------------------------------------------------------------------------------


def signing_key() -> Ed25519PrivateKey:
    """Derived from the server secret (which production must set), so no key file to lose."""
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"govloop-audit", info=b"checkpoint-ed25519"
    ).derive(get_settings().secret_key.encode())
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_pem() -> str:
    return (
        signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _statement(seq: int, head_hash: str) -> bytes:
    return f"govloop-audit:{seq}:{head_hash}".encode()


# --- appending -----------------------------------------------------------------------------


def _head(session: Session) -> AuditHead:
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def append(*, session: Session, entries: list[Entry]) -> int:
    """Append entries in order, in the caller's transaction; returns the last sequence."""
    if not entries:
        return 0
    head = _head(session)
    seq, prev = head.seq, head.hash
    rows = []
    stamp = now()
    for entry in entries:
        values = {
            "at": entry.at or stamp,
            "actor_id": entry.actor_id,
            "actor": entry.actor,
            "action": entry.action,
            "outcome": entry.outcome,
            "case_type": entry.case_type,
            "case_id": entry.case_id,
            "case_label": entry.case_label,
            "grant_id": entry.grant_id,
            "subject_id": entry.subject_id,
            "fields": sorted(entry.fields),
            "purpose": entry.purpose,
            "detail": entry.detail,
        }
        seq += 1
        digest = entry_hash(prev, values)
        rows.append({**values, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
        if seq % CHECKPOINT_EVERY == 0:
            _checkpoint_rows(session, rows)
            rows = []
            _sign(session, seq, digest, stamp)
    _checkpoint_rows(session, rows)
    head.seq, head.hash = seq, prev
    session.flush()
    return seq


def _checkpoint_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(AuditEntry), rows)


def _sign(session: Session, seq: int, head_hash: str, at: datetime) -> AuditCheckpoint:
    key = signing_key()
    checkpoint = AuditCheckpoint(
        seq=seq,
        hash=head_hash,
        at=at,
        signature=base64.b64encode(key.sign(_statement(seq, head_hash))).decode(),
        key_id=_key_id(key.public_key()),
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


def checkpoint_now(*, session: Session) -> AuditCheckpoint | None:
    """Sign the current head (e.g. at the end of the day), unless it is signed already."""
    head = _head(session)
    if head.seq == 0:
        return None
    signed = session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.seq == head.seq))
    return signed or _sign(session, head.seq, head.hash, now())


# --- verifying -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # modified / deleted / reordered / rewritten / truncated / bad_signature
    seq: int
    message: str


@dataclass
class VerifyReport:
    entries: int = 0
    checkpoints: int = 0
    last_seq: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _entries(session: Session, chunk: int = 20_000) -> Iterator[tuple[Any, ...]]:
    columns = [getattr(AuditEntry, c) for c in ("seq", "prev_hash", "hash", *CONTENT_FIELDS)]
    last = 0
    while True:
        rows = session.execute(
            select(*columns).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(chunk)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def verify(*, session: Session, public_key: Ed25519PublicKey | None = None) -> VerifyReport:
    public_key = public_key or signing_key().public_key()
    report = VerifyReport()
    checkpoints = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))
    report.checkpoints = len(checkpoints)
    signed: dict[int, str] = {}
    for cp in checkpoints:
        try:
            public_key.verify(base64.b64decode(cp.signature), _statement(cp.seq, cp.hash))
            signed[cp.seq] = cp.hash
        except Exception:
            report.problems.append(
                Problem("bad_signature", cp.seq, f"第 {cp.seq} 条处的检查点签名无效")
            )
    expected_seq, prev = 1, GENESIS
    problems = report.problems
    for row in _entries(session):
        seq, prev_hash, stored = row[0], row[1], row[2]
        values = dict(zip(CONTENT_FIELDS, row[3:], strict=True))
        report.entries += 1
        if seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}–{seq - 1}"
            problems.append(Problem("deleted", expected_seq, f"第 {missing} 条缺失（被删除）"))
        if entry_hash(prev_hash, values) != stored:
            problems.append(Problem("modified", seq, f"第 {seq} 条内容被修改（哈希不符）"))
        elif prev_hash != prev and seq == expected_seq:
            where = _seq_of_hash(session, prev_hash)
            if where is not None:
                problems.append(
                    Problem("reordered", seq, f"第 {seq} 条顺序被调换，它本应在第 {where} 条之后")
                )
            else:
                problems.append(
                    Problem(
                        "broken",
                        seq,
                        f"第 {seq} 条与前一条的链接断开（前一条被改写，或插入了伪造条目）",
                    )
                )
        if seq in signed and signed[seq] != stored:
            problems.append(
                Problem("rewritten", seq, f"第 {seq} 条的哈希与已签名检查点不符（日志被重写）")
            )
        prev, expected_seq = stored, seq + 1
        report.last_seq = seq
    if checkpoints and report.last_seq < checkpoints[-1].seq:
        last = checkpoints[-1].seq
        problems.append(
            Problem(
                "truncated",
                report.last_seq + 1,
                f"日志在第 {report.last_seq} 条结束，但检查点已签到第 {last} 条（末尾被截断）",
            )
        )
    return report


def _seq_of_hash(session: Session, digest: str) -> int | None:
    return session.scalar(select(AuditEntry.seq).where(AuditEntry.hash == digest))


def entry_count(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0
