"""The audit log's anchor: signed head statements kept outside the database, where the
database administrator cannot rewrite them.

An anchor is a folder (the auditor's, ideally on append-only or write-once storage) holding
``heads.jsonl``: one RFC 8785 JSON object per line, only ever appended to —

- ``{"type": "key", "key_id", "public_key", "created_at", "endorsed_by", "endorsement"}``
  for every signing key, before the first head it signed;
- ``{"type": "head", "seq", "hash", "key_id", "at", "signature"}``: "the log up to entry
  ``seq`` has hash ``hash``", signed (Ed25519, over ``audit.head_statement``).

``govloop audit export --to DIR`` appends the checkpoints signed since the last line (after
signing the current head), once the log still matches every earlier line. With
``GOVLOOP_AUDIT_ANCHOR_DIR`` set, each checkpoint is also appended there as soon as its
transaction commits, and ``verify`` and the auditor's console check against that folder.

``verify`` with an anchor finds what the database alone cannot show: a tail cut off with its
checkpoints and head row, a wiped log, a log rewritten and re-chained, or re-signed with a
key the auditor never saw.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rfc8785
from sqlalchemy import event
from sqlalchemy.orm import Session

from govloop.audit.keys import KeyRecord
from govloop.core.errors import NotFound

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

ANCHOR_NAME = "heads.jsonl"
PENDING = "govloop_audit_anchor_pending"


def configured_dir() -> Path | None:
    """The server-side anchor folder (``GOVLOOP_AUDIT_ANCHOR_DIR``), read at call time."""
    value = os.environ.get("GOVLOOP_AUDIT_ANCHOR_DIR")
    return Path(value) if value else None


def anchor_file(folder: Path) -> Path:
    return folder / ANCHOR_NAME


@dataclass(frozen=True)
class HeadLine:
    seq: int
    hash: str
    key_id: str
    at: str
    signature: str
    line: int = 0  # position in the file, 1-based; 0 before it is written

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "head",
            "seq": self.seq,
            "hash": self.hash,
            "key_id": self.key_id,
            "at": self.at,
            "signature": self.signature,
        }


@dataclass
class Anchor:
    source: str
    keys: list[KeyRecord] = field(default_factory=list)
    heads: list[HeadLine] = field(default_factory=list)
    unreadable: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    @property
    def last(self) -> HeadLine | None:
        return max(self.heads, key=lambda h: h.seq) if self.heads else None

    @property
    def last_seq(self) -> int:
        last = self.last
        return last.seq if last else 0


def parse(text: str, source: str) -> Anchor:
    anchor = Anchor(source=source)
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            kind = data.get("type")
            if kind == "key":
                anchor.keys.append(KeyRecord.from_json(data))
            elif kind == "head":
                anchor.heads.append(
                    HeadLine(
                        seq=int(data["seq"]),
                        hash=str(data["hash"]),
                        key_id=str(data["key_id"]),
                        at=str(data["at"]),
                        signature=str(data["signature"]),
                        line=number,
                    )
                )
            else:
                anchor.unreadable.append((number, f"unknown type {kind!r}"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            anchor.unreadable.append((number, str(exc) or exc.__class__.__name__))
    return anchor


def read(path: Path) -> Anchor:
    """An anchor folder or its ``heads.jsonl``; a folder without the file is an empty anchor."""
    file = anchor_file(path) if path.is_dir() else path
    if not file.exists():
        if path.is_dir():
            return Anchor(source=str(file))
        raise NotFound(f"锚定文件不存在：{path}", code="anchor_not_found")
    return parse(file.read_text(encoding="utf-8"), str(file))


def read_configured() -> Anchor | None:
    folder = configured_dir()
    if folder is None:
        return None
    return read(folder) if folder.exists() else Anchor(source=str(anchor_file(folder)))


def line(data: dict[str, Any]) -> bytes:
    return rfc8785.dumps(data) + b"\n"


def append(folder: Path, *, keys: list[KeyRecord], heads: list[HeadLine]) -> tuple[int, int]:
    """Append the keys and heads the file lacks; never rewrites a byte already written.

    Under an exclusive lock, so concurrent writers (web workers, the export command) neither
    interleave nor duplicate lines. Returns (keys written, heads written)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = anchor_file(folder)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        text = path.read_text(encoding="utf-8")
        existing = parse(text, str(path))
        known_keys = {k.key_id for k in existing.keys}
        known_heads = {h.seq for h in existing.heads}
        out = bytearray()
        key_count = head_count = 0
        for record in keys:
            if record.key_id not in known_keys:
                out += line({"type": "key", **record.as_json()})
                known_keys.add(record.key_id)
                key_count += 1
        for head in sorted(heads, key=lambda h: h.seq):
            if head.seq not in known_heads:
                out += line(head.as_json())
                known_heads.add(head.seq)
                head_count += 1
        if out:
            if text and not text.endswith("\n"):
                out[:0] = b"\n"  # a torn last line stays as it is, and unreadable
            os.write(fd, bytes(out))
            os.fsync(fd)
        return key_count, head_count
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --- appended at each checkpoint, once its transaction committed --------------------------


def queue(session: Session, record: KeyRecord, head: HeadLine) -> None:
    """Remember a new checkpoint for the configured anchor; written after commit only, so
    a rolled-back checkpoint never reaches the anchor."""
    if configured_dir() is not None:
        session.info.setdefault(PENDING, []).append((record, head))


@event.listens_for(Session, "after_commit")
def _write_pending(session: Session) -> None:
    pending: list[tuple[KeyRecord, HeadLine]] | None = session.info.pop(PENDING, None)
    folder = configured_dir()
    if not pending or folder is None:
        return
    try:
        append(folder, keys=[r for r, _ in pending], heads=[h for _, h in pending])
    except OSError:  # the entries are stored; `govloop audit export` can append them later
        log.exception("could not append audit checkpoints to the anchor in %s", folder)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous: Any) -> None:
    session.info.pop(PENDING, None)


# --- export --------------------------------------------------------------------------------


def with_endorsers(keys: list[KeyRecord], ring: Any) -> list[KeyRecord]:
    """The keys and, before each, the chain of keys that endorsed it, oldest first."""
    out: dict[str, KeyRecord] = {}

    def add(record: KeyRecord) -> None:
        if record.key_id in out:
            return
        parent = ring.trusted.get(record.endorsed_by or "")
        if parent is not None:
            add(parent.record)
        out[record.key_id] = record

    for record in sorted(keys, key=lambda r: (r.created_at, r.key_id)):
        add(record)
    return list(out.values())
