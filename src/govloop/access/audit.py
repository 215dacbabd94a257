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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Table, func, insert, select, text, update
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


NULL = "\x00"


def canonical_at(value: datetime | str) -> str:
    """UTC ISO text with microseconds. SQLite hands back its stored text
    ('2026-01-01 00:00:00.000000', UTC by convention), PostgreSQL a datetime."""
    if isinstance(value, str):
        return value.replace(" ", "T", 1) + "+00:00"
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _canonical(values: dict[str, Any]) -> bytes:
    parts = [canonical_at(values["at"])]
    for name in CONTENT_FIELDS[1:]:
        v = values.get(name)
        parts.append(NULL if v is None else str(v))
    return "\x1f".join(parts).encode()


def entry_hash(prev_hash: str, values: dict[str, Any]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + _canonical(values)).hexdigest()


def _raw_hash(prev_hash: str, row: tuple[Any, ...]) -> str:
    """entry_hash over a raw driver row (seq, prev_hash, hash, *content), without building
    a dict: verification runs this a million times."""
    parts = [canonical_at(row[3])]
    parts.extend(NULL if v is None else str(v) for v in row[4:])
    return hashlib.sha256(bytes.fromhex(prev_hash) + "\x1f".join(parts).encode()).hexdigest()


# --- signing -------------------------------------------------------------------------------


def signing_key() -> Ed25519PrivateKey:
    """Derived from the server secret (which production must set), so no key file to lose."""
    return _derived_key(get_settings().secret_key)


@lru_cache(maxsize=4)
def _derived_key(secret: str) -> Ed25519PrivateKey:
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"govloop-audit", info=b"checkpoint-ed25519"
    ).derive(secret.encode())
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


HEAD: Table = AuditHead.__table__  # type: ignore[assignment]
LOG: Table = AuditEntry.__table__  # type: ignore[assignment]


def _head(session: Session) -> tuple[int, str]:
    """The chain's head, locked for this transaction (Core statements: this is a hot path)."""
    row = session.execute(
        select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1).with_for_update()
    ).first()
    if row is None:
        session.execute(insert(HEAD).values(id=1, seq=0, hash=GENESIS))
        return 0, GENESIS
    return int(row[0]), str(row[1])


def append(*, session: Session, entries: list[Entry]) -> int:
    """Append entries in order, in the caller's transaction; returns the last sequence."""
    if not entries:
        return 0
    seq, prev = _head(session)
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
            "fields": ",".join(sorted(entry.fields)),
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
    session.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=seq, hash=prev))
    return seq


def _checkpoint_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(LOG), rows)


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
    seq, head_hash = _head(session)
    if seq == 0:
        return None
    signed = session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.seq == seq))
    return signed or _sign(session, seq, head_hash, now())


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


def _entries(session: Session, chunk: int = 50_000) -> Iterator[tuple[Any, ...]]:
    """Raw rows through the driver: no ORM or type processing on the hot path."""
    columns = ", ".join(("seq", "prev_hash", "hash", *CONTENT_FIELDS))
    sql = f"SELECT {columns} FROM access_audit_log WHERE seq > :last ORDER BY seq LIMIT {chunk}"
    connection = session.connection()
    last = 0
    while True:
        rows = connection.execute(text(sql), {"last": last}).all()
        if not rows:
            return
        for row in rows:
            yield tuple(row)
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
        report.entries += 1
        if seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}–{seq - 1}"
            problems.append(Problem("deleted", expected_seq, f"第 {missing} 条缺失（被删除）"))
        if _raw_hash(prev_hash, row) != stored:
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
