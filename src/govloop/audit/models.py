"""Audit log tables: the entries, the chain head, signed checkpoints and the signing keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, UTCDateTime


class AuditEntry(Base):
    """Append-only; each entry's hash covers its content and the previous entry's hash.

    ``format`` names the content encoding the hash covers: 1 the original separator-joined
    text (entries written before 0012), 2 RFC 8785 canonical JSON."""

    __tablename__ = "access_audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    format: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(24))
    outcome: Mapped[str] = mapped_column(String(16))
    case_type: Mapped[str | None] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(Integer)
    case_label: Mapped[str | None] = mapped_column(String(200))
    grant_id: Mapped[int | None] = mapped_column(Integer)
    subject_id: Mapped[int | None] = mapped_column(Integer, index=True)
    fields: Mapped[str] = mapped_column(String(500), default="")  # names, comma-joined
    purpose: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(String(500))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), index=True)


class AuditHead(Base):
    """One row: the last sequence number and hash. Appends lock it, so the chain is linear."""

    __tablename__ = "access_audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement "the log up to seq N has hash H, at time T, by key K" (Ed25519)."""

    __tablename__ = "access_audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    signature: Mapped[str] = mapped_column(String(200))  # base64
    key_id: Mapped[str] = mapped_column(String(16))  # first bytes of the public key's hash


class AuditKey(Base):
    """The public half of every key that ever signed checkpoints, so old checkpoints verify
    after a rotation. A row alone earns no trust (the database is what is being checked):
    a key is trusted when the key folder or the auditor's anchor names it, or when a
    trusted key endorsed it at rotation (``endorsement`` signs its id and public key)."""

    __tablename__ = "access_audit_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))  # base64 of the raw 32 bytes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    endorsed_by: Mapped[str | None] = mapped_column(String(16))
    endorsement: Mapped[str | None] = mapped_column(String(128))  # base64 signature


class AuditArchive(Base):
    """A segment of the log moved to a Parquet file by retention: entries ``first_seq`` to
    ``last_seq``, ending at a signed checkpoint whose hash is ``last_hash``. Verification
    reads the file in its place; ``sha256`` tells a replaced file at a glance."""

    __tablename__ = "access_audit_archives"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_seq: Mapped[int] = mapped_column(Integer, unique=True)
    last_seq: Mapped[int] = mapped_column(Integer, unique=True)
    last_hash: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(300))  # relative to the data directory
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
