"""Helpers of the audit-log tests: fill a log with small checkpoint intervals, verify it,
and play the database administrator who rewrites tables behind the application's back."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from govloop.audit import anchor, anchor_export
from govloop.audit import log as audit
from govloop.audit.log import Entry
from govloop.audit.models import AuditEntry, AuditHead
from govloop.core.db import unit_of_work


@contextmanager
def checkpoint_every(n: int) -> Iterator[None]:
    old = audit.CHECKPOINT_EVERY
    audit.CHECKPOINT_EVERY = n
    try:
        yield
    finally:
        audit.CHECKPOINT_EVERY = old


def fill(n: int, every: int = 10, actor: str = "张三") -> None:
    with checkpoint_every(every), unit_of_work() as s:
        audit.append(
            session=s,
            entries=[
                Entry(actor_id=1, actor=actor, action="read", subject_id=i, fields=["name"])
                for i in range(n)
            ],
        )


def verify(anchor_path: Path | None = None) -> audit.VerifyReport:
    with unit_of_work(readonly=True) as s:
        return audit.verify(
            session=s, anchor=anchor.read(anchor_path) if anchor_path is not None else None
        )


def export(to: Path) -> anchor_export.ExportResult:
    """What `govloop audit export --to` does: sign the head, commit, then append."""
    with unit_of_work() as s:
        audit.checkpoint_now(session=s)
    with unit_of_work(readonly=True) as s:
        return anchor_export.export(session=s, to=to)


def kinds(report: audit.VerifyReport) -> list[tuple[str, int]]:
    return [(p.kind, p.seq) for p in report.problems]


def rechain(s: Session, from_seq: int) -> None:
    """Recompute every hash from ``from_seq`` on, as a tamperer who knows the format would."""
    rows = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    prev = audit.GENESIS
    for row in rows:
        if row.seq >= from_seq:
            values = {c: getattr(row, c) for c in audit.CONTENT_FIELDS}
            row.prev_hash = prev
            row.hash = audit.entry_hash(prev, values, fmt=row.format)
        prev = row.hash
    s.flush()
    s.execute(update(AuditHead).values(seq=rows[-1].seq, hash=prev))


def secret_derived_key(secret: str) -> Ed25519PrivateKey:
    """The checkpoint key the old code derived from the session secret."""
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"govloop-audit", info=b"checkpoint-ed25519"
    ).derive(secret.encode())
    return Ed25519PrivateKey.from_private_bytes(seed)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
