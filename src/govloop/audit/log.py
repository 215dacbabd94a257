"""The tamper-evident access log: a hash chain, signed checkpoints, and an anchor outside
the database.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's content
(everything but the sequence number, so a renumbered entry shows up as out of order rather
than as modified). The content encoding is versioned by the ``format`` column: format 2 is
the RFC 8785 canonical JSON of the content with ``"v": 2``; format 1, the original text
joined by unit separators, is kept for entries written before it and still verifies.

Every ``CHECKPOINT_EVERY`` entries the head is signed (Ed25519) with the current key of the
key folder (``audit_keys``: key files apart from the database and the session secret, with
a history so checkpoints signed before a rotation still verify). Head statements are
exported to an anchor the auditor keeps (``anchor``).

``verify`` walks the log and reports, by position: a modified entry (its hash no longer
matches its content), a deleted entry (a gap in the sequence), entries out of order (an
entry's link points at another entry than the one before it), a rewritten chain (a signed
checkpoint's hash no longer matches), a checkpoint signed by a key nobody trusts, truncation
before the last checkpoint, a head row that does not match the last entry, and — given the
auditor's anchor — every exported head the log no longer contains with the same hash
(truncation with the checkpoints, a wipe, a rewrite with the chain recomputed and
re-signed). Entries appended after the last exported head can still be cut off unseen:
export often (or set ``GOVLOOP_AUDIT_ANCHOR_DIR``) to bound that window.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from operator import itemgetter
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, Table, func, insert, select, text, update
from sqlalchemy.orm import Session

from govloop.audit import anchor as anchoring
from govloop.audit import keys as audit_keys
from govloop.audit import segments
from govloop.audit.findings import Problem
from govloop.audit.keys import KeyRecord, KeyRing, canonical_at
from govloop.audit.models import AuditCheckpoint, AuditEntry, AuditHead, AuditKey
from govloop.core.clock import now
from govloop.core.errors import RuleViolation
from govloop.core.settings import analytics_settings

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
FORMAT = 2  # the encoding of new entries
HEAD_STATEMENT = "govloop-audit-head"
_MAX_SAFE_INT = 2**53 - 1  # RFC 8785 numbers are IEEE doubles: larger integers lose digits
_json_str = json.encoder.encode_basestring  # the C encoder: escapes exactly as RFC 8785


# --- content encodings ---------------------------------------------------------------------


def _canonical_v1(values: dict[str, Any]) -> bytes:
    parts = [canonical_at(values["at"])]
    for name in CONTENT_FIELDS[1:]:
        v = values.get(name)
        parts.append(NULL if v is None else str(v))
    return "\x1f".join(parts).encode()


def _v1_from_row(row: tuple[Any, ...]) -> bytes:
    parts = [canonical_at(row[4])]
    parts.extend(NULL if v is None else str(v) for v in row[5:])
    return "\x1f".join(parts).encode()


class _NotPlain(Exception):
    """A value outside str / int / None: left to the rfc8785 package."""


def _plain(value: Any) -> str:
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return _json_str(value)
    if kind is int and -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        return str(value)
    raise _NotPlain


# A raw row is (seq, prev_hash, hash, format, *CONTENT_FIELDS). The members in RFC 8785
# order (UTF-16 code units; the names are ASCII, so plain sorting), as one template.
_ROW = {name: 4 + i for i, name in enumerate(CONTENT_FIELDS)}
_V2_NAMES = sorted((*CONTENT_FIELDS, "v"))
_V2_TEMPLATE = (
    "{" + ",".join(_json_str(n) + ":" + ("2" if n == "v" else "%s") for n in _V2_NAMES) + "}"
)
_V2_OTHER = tuple(n for n in _V2_NAMES if n not in ("v", "at"))  # "at" is written apart
_V2_VALUES = itemgetter(*(_ROW[n] for n in _V2_OTHER))
_V2_AT = [n for n in _V2_NAMES if n != "v"].index("at")


def _v2_fallback(content: dict[str, Any]) -> bytes:
    return rfc8785.dumps({**content, "at": canonical_at(content["at"]), "v": 2})


def _v2_from_row(row: tuple[Any, ...]) -> bytes:
    """RFC 8785 canonical JSON of the content and ``"v": 2``. Written out directly for the
    value kinds the log holds (the verification hot path; the test suite checks it against
    the rfc8785 package), through the package for anything else."""
    try:
        values = [
            "null" if v is None else _json_str(v) if type(v) is str else _plain(v)
            for v in _V2_VALUES(row)
        ]
    except _NotPlain:
        return _v2_fallback({name: row[i] for name, i in _ROW.items()})
    values.insert(_V2_AT, _json_str(canonical_at(row[_ROW["at"]])))
    return (_V2_TEMPLATE % tuple(values)).encode()


def canonical_v2(values: dict[str, Any]) -> bytes:
    """As ``_v2_from_row``, from a dict of the content (the append path)."""
    try:
        out = [
            "null"
            if (v := values.get(n)) is None
            else _json_str(v)
            if type(v) is str
            else _plain(v)
            for n in _V2_OTHER
        ]
    except _NotPlain:
        return _v2_fallback({name: values.get(name) for name in CONTENT_FIELDS})
    out.insert(_V2_AT, _json_str(canonical_at(values["at"])))
    return (_V2_TEMPLATE % tuple(out)).encode()


def entry_hash(prev_hash: str, values: dict[str, Any], fmt: int = FORMAT) -> str:
    content = canonical_v2(values) if fmt == 2 else _canonical_v1(values)
    return hashlib.sha256(bytes.fromhex(prev_hash) + content).hexdigest()


def _raw_hash(row: tuple[Any, ...]) -> str | None:
    """entry_hash over a raw driver row (seq, prev_hash, hash, format, *content), without
    building a dict: verification runs this a million times. None for an unknown format."""
    fmt = row[3]
    if fmt == 2:
        content = _v2_from_row(row)
    elif fmt == 1:
        content = _v1_from_row(row)
    else:
        return None
    return hashlib.sha256(bytes.fromhex(row[1]) + content).hexdigest()


# --- signing -------------------------------------------------------------------------------


def head_statement(seq: int, head_hash: str, key_id: str, at: datetime | str) -> bytes:
    """What a checkpoint and an exported head sign: RFC 8785 JSON of the head, key and time
    (``at`` as canonical text, or a datetime)."""
    return rfc8785.dumps(
        {
            "type": HEAD_STATEMENT,
            "seq": seq,
            "hash": head_hash,
            "key_id": key_id,
            "at": at if isinstance(at, str) else canonical_at(at),
        }
    )


def register_key(*, session: Session, record: KeyRecord) -> None:
    """Keep every signing key's public half in the database too (history for the console
    and for auditors; trusted only through the key folder, an anchor or an endorsement)."""
    known = session.execute(select(AuditKey.key_id).where(AuditKey.key_id == record.key_id)).first()
    if known is None:
        session.execute(
            insert(AuditKey).values(
                key_id=record.key_id,
                public_key=record.public_key,
                created_at=datetime.fromisoformat(record.created_at),
                endorsed_by=record.endorsed_by,
                endorsement=record.endorsement,
            )
        )


def _db_keys(session: Session) -> list[KeyRecord]:
    found = []
    for row in session.scalars(select(AuditKey)):
        try:
            found.append(
                KeyRecord.from_json(
                    {
                        "key_id": row.key_id,
                        "public_key": row.public_key,
                        "created_at": canonical_at(row.created_at),
                        "endorsed_by": row.endorsed_by,
                        "endorsement": row.endorsement,
                    }
                )
            )
        except ValueError:
            continue  # a row whose id is not its key's earns nothing
    return found


def keyring(*, session: Session, anchor: anchoring.Anchor | None = None) -> KeyRing:
    """Trusted: the key folder's keys, the anchor's, and those a trusted key endorsed."""
    ring = KeyRing()
    for record in audit_keys.records():
        ring.pin(record, "key_dir")
    for record in anchor.keys if anchor else []:
        ring.pin(record, "anchor")
    ring.endorse(_db_keys(session))
    return ring


# --- appending -----------------------------------------------------------------------------


HEAD: Table = AuditHead.__table__  # type: ignore[assignment]
LOG: Table = AuditEntry.__table__  # type: ignore[assignment]


# Built once: constructing a statement costs more than hashing an entry (the hot path).
_LOCK_HEAD = select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1).with_for_update()
_NEW_HEAD = insert(HEAD).values(id=1, seq=0, hash=GENESIS)
_MOVE_HEAD = update(HEAD).where(HEAD.c.id == 1)
_INSERT_ENTRIES = insert(LOG)


def _head(session: Session) -> tuple[int, str]:
    """The chain's head, locked for this transaction (Core statements: this is a hot path)."""
    row = session.execute(_LOCK_HEAD).first()
    if row is None:
        session.execute(_NEW_HEAD)
        return 0, GENESIS
    return int(row[0]), str(row[1])


def append(*, session: Session, entries: list[Entry]) -> int:
    """Append entries in order, in the caller's transaction; returns the last sequence."""
    return append_head(session=session, entries=entries)[0]


def append_head(*, session: Session, entries: list[Entry]) -> tuple[int, str]:
    """``append``, returning the new head (last sequence and hash)."""
    if not entries:
        return 0, ""
    seq, prev = _head(session)
    rows = []
    stamp = now()
    for entry in entries:
        values = _content(entry, stamp)
        seq += 1
        digest = entry_hash(prev, values)
        rows.append({**values, "seq": seq, "format": FORMAT, "prev_hash": prev, "hash": digest})
        prev = digest
        if seq % CHECKPOINT_EVERY == 0:
            _checkpoint_rows(session, rows)
            rows = []
            _sign(session, seq, digest, stamp)
    _checkpoint_rows(session, rows)
    session.execute(_MOVE_HEAD, {"seq": seq, "hash": prev})
    return seq, prev


def _content(entry: Entry, stamp: datetime) -> dict[str, Any]:
    return {
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


# PostgreSQL: the head moved on and the entries inserted by one statement, only if the head is
# still the one the caller last wrote. The UPDATE waits for a concurrent holder of the head
# row and then re-checks its condition on the committed row, so a head another process moved
# in the meantime matches nothing and nothing is inserted.
_ROW_TYPES = {
    "seq": "integer",
    "format": "integer",
    "at": "timestamptz",
    "actor_id": "integer",
    "actor": "text",
    "action": "text",
    "outcome": "text",
    "case_type": "text",
    "case_id": "integer",
    "case_label": "text",
    "grant_id": "integer",
    "subject_id": "integer",
    "fields": "text",
    "purpose": "text",
    "detail": "text",
    "prev_hash": "text",
    "hash": "text",
}
_APPEND_IF_HEAD = text(
    "WITH head AS ("
    " UPDATE access_audit_head SET seq = :new_seq, hash = :new_hash"
    " WHERE id = 1 AND seq = :old_seq AND hash = :old_hash RETURNING id"
    "), added AS ("
    f" INSERT INTO access_audit_log ({', '.join(_ROW_TYPES)})"
    " SELECT * FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _ROW_TYPES.items())
    + ") WHERE EXISTS (SELECT 1 FROM head) RETURNING seq"
    ") SELECT count(*) FROM added"
)


def append_if_head(
    *, connection: Connection, entries: list[Entry], head: tuple[int, str]
) -> tuple[int, str] | None:
    """Append entries after ``head`` in one PostgreSQL statement — on a connection in
    autocommit, one round trip and one transaction. Returns the new head, or None when
    nothing was written: the head is no longer ``head`` (another appender moved it), or the
    entries reach a checkpoint position (signing takes ``append``'s transaction)."""
    seq, prev = head
    if not entries or (seq + len(entries)) // CHECKPOINT_EVERY != seq // CHECKPOINT_EVERY:
        return None
    columns: dict[str, list[Any]] = {name: [] for name in _ROW_TYPES}
    old, stamp = head, now()
    for entry in entries:
        values = _content(entry, stamp)
        seq += 1
        digest = entry_hash(prev, values)
        if values["at"].tzinfo is None:  # as UTCDateTime refuses it on the other path
            raise ValueError("naive datetime refused: store timezone-aware UTC")
        values["at"] = values["at"].astimezone(UTC)
        values |= {"seq": seq, "format": FORMAT, "prev_hash": prev, "hash": digest}
        for name, column in columns.items():
            column.append(values[name])
        prev = digest
    params = {"new_seq": seq, "new_hash": prev, "old_seq": old[0], "old_hash": old[1]}
    added = connection.execute(_APPEND_IF_HEAD, params | columns).scalar()
    return (seq, prev) if added == len(entries) else None


def _checkpoint_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(_INSERT_ENTRIES, rows[0] if len(rows) == 1 else rows)


def _sign(session: Session, seq: int, head_hash: str, at: datetime) -> AuditCheckpoint:
    key = audit_keys.current()
    register_key(session=session, record=key.record)
    key_id, at_text = key.record.key_id, canonical_at(at)
    signature = key.sign(head_statement(seq, head_hash, key_id, at_text))
    checkpoint = AuditCheckpoint(seq=seq, hash=head_hash, at=at, signature=signature, key_id=key_id)
    session.add(checkpoint)
    session.flush()
    anchoring.queue(
        session, key.record, anchoring.HeadLine(seq, head_hash, key_id, at_text, signature)
    )
    return checkpoint


def checkpoint_now(*, session: Session) -> AuditCheckpoint | None:
    """Sign the current head (e.g. at the end of the day), unless it is signed already."""
    seq, head_hash = _head(session)
    if seq == 0:
        return None
    signed = session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.seq == seq))
    return signed or _sign(session, seq, head_hash, now())


def checkpoints(*, session: Session, after: int = 0) -> list[AuditCheckpoint]:
    return list(
        session.scalars(
            select(AuditCheckpoint).where(AuditCheckpoint.seq > after).order_by(AuditCheckpoint.seq)
        )
    )


# --- verifying -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyStatus:
    key_id: str
    created_at: str | None
    endorsed_by: str | None
    trusted: bool
    source: str  # key_dir / anchor / endorsed, or "" when untrusted
    current: bool
    checkpoints: int


@dataclass(frozen=True)
class AnchorStatus:
    source: str
    heads: int
    last_seq: int
    last_hash: str | None
    last_at: str | None
    last_key_id: str | None
    matches: bool  # the log holds every exported head with the same hash


@dataclass
class VerifyReport:
    entries: int = 0
    archived_segments: int = 0
    checkpoints: int = 0
    last_seq: int = 0
    head_seq: int = 0
    problems: list[Problem] = field(default_factory=list)
    keys: list[KeyStatus] = field(default_factory=list)
    anchor: AnchorStatus | None = None
    keyring: KeyRing = field(default_factory=KeyRing, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "archived_segments": self.archived_segments,
            "checkpoints": self.checkpoints,
            "last_seq": self.last_seq,
            "head_seq": self.head_seq,
            "problems": [vars(p) for p in self.problems],
            "keys": [vars(k) for k in self.keys],
            "anchor": vars(self.anchor) if self.anchor else None,
        }


def raw_entries(
    session: Session, chunk: int = 50_000, first: int = 1, last_seq: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """Raw rows through the driver: no ORM or type processing on the hot path."""
    columns = ", ".join(("seq", "prev_hash", "hash", "format", *CONTENT_FIELDS))
    upto = "" if last_seq is None else f" AND seq <= {int(last_seq)}"
    sql = (
        f"SELECT {columns} FROM access_audit_log WHERE seq > :last{upto} ORDER BY seq LIMIT {chunk}"
    )
    connection = session.connection()
    last = first - 1
    while True:
        rows = connection.execute(text(sql), {"last": last}).all()
        if not rows:
            return
        for row in rows:
            yield tuple(row)
        last = rows[-1][0]


def verify(
    *,
    session: Session,
    anchor: anchoring.Anchor | None = None,
    use_configured_anchor: bool = True,
) -> VerifyReport:
    """Check the chain, the checkpoints' signatures, the head row and, given an anchor (by
    default the configured ``GOVLOOP_AUDIT_ANCHOR_DIR``), every head exported to it."""
    if anchor is None and use_configured_anchor:
        anchor = anchoring.read_configured()
    ring = keyring(session=session, anchor=anchor)
    report = VerifyReport(keyring=ring)
    problems = report.problems
    checkpoints = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))
    report.checkpoints = len(checkpoints)
    signed = _check_signatures(checkpoints, ring, problems)
    anchored = _check_anchor_lines(anchor, ring, problems) if anchor else {}
    seen: set[int] = set()
    expected_seq, prev = 1, GENESIS
    archived = segments.archived(session)
    report.archived_segments = len(archived)
    data_dir = analytics_settings().data_dir
    for row in chain(segments.read_segments(archived, data_dir, problems), raw_entries(session)):
        if isinstance(row, segments.Gap):
            # the segment's end is a signed checkpoint: the walk resumes from its hash
            if signed.get(row.last_seq) != row.last_hash:
                problems.append(
                    Problem(
                        "rewritten",
                        row.last_seq,
                        f"第 {row.last_seq} 条的归档记录与已签名检查点不符（归档记录被改动）",
                    )
                )
            expected_seq, prev, report.last_seq = row.last_seq + 1, row.last_hash, row.last_seq
            continue
        seq, prev_hash, stored = row[0], row[1], row[2]
        report.entries += 1
        if seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}–{seq - 1}"
            problems.append(Problem("deleted", expected_seq, f"第 {missing} 条缺失（被删除）"))
        if _raw_hash(row) != stored:
            problems.append(Problem("modified", seq, f"第 {seq} 条内容被修改（哈希不符）"))
        elif prev_hash != prev and seq == expected_seq:
            problems.append(_link_problem(session, seq, prev_hash))
        if seq in signed and signed[seq] != stored:
            problems.append(
                Problem("rewritten", seq, f"第 {seq} 条的哈希与已签名检查点不符（日志被重写）")
            )
        if anchored and seq in anchored:
            seen.add(seq)
            if anchored[seq] != stored:
                problems.append(
                    Problem(
                        "anchor_mismatch",
                        seq,
                        f"第 {seq} 条的哈希与审计员导出的链头不符（此前的日志被改写并重算）",
                    )
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
    head = session.execute(select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1)).first()
    report.head_seq, head_hash = (int(head[0]), str(head[1])) if head else (0, GENESIS)
    if (report.head_seq, head_hash) != (report.last_seq, prev):
        problems.append(
            Problem(
                "head_mismatch",
                report.head_seq,
                f"链头记录为第 {report.head_seq} 条，但日志实际结束于第 {report.last_seq} 条"
                "（末尾被截断或链头被改动）",
            )
        )
    for seq in sorted(set(anchored) - seen):
        problems.append(
            Problem(
                "anchor_missing",
                seq,
                f"审计员导出的第 {seq} 条链头在日志中已不存在"
                "（末尾连同检查点被截断，或日志被清空）",
            )
        )
    report.keys = _key_statuses(session, ring, checkpoints)
    if anchor is not None:
        last_line = anchor.last
        report.anchor = AnchorStatus(
            source=anchor.source,
            heads=len(anchor.heads),
            last_seq=anchor.last_seq,
            last_hash=last_line.hash if last_line else None,
            last_at=last_line.at if last_line else None,
            last_key_id=last_line.key_id if last_line else None,
            matches=not any(p.kind.startswith("anchor_") for p in problems),
        )
    return report


def _check_signatures(
    checkpoints: list[AuditCheckpoint], ring: KeyRing, problems: list[Problem]
) -> dict[int, str]:
    signed: dict[int, str] = {}
    for cp in checkpoints:
        public = ring.public(cp.key_id)
        if public is None:
            problems.append(
                Problem(
                    "untrusted_key",
                    cp.seq,
                    f"第 {cp.seq} 条处的检查点由不受信任的密钥 {cp.key_id} 签名"
                    "（密钥目录、锚定文件和轮换背书中都没有它）",
                )
            )
        elif audit_keys.verify_signature(
            public, cp.signature, head_statement(cp.seq, cp.hash, cp.key_id, cp.at)
        ):
            signed[cp.seq] = cp.hash
        else:
            problems.append(Problem("bad_signature", cp.seq, f"第 {cp.seq} 条处的检查点签名无效"))
    return signed


def _check_anchor_lines(
    anchor: anchoring.Anchor, ring: KeyRing, problems: list[Problem]
) -> dict[int, str]:
    """The anchor's heads that carry a trusted signature, by sequence."""
    for number, reason in anchor.unreadable:
        problems.append(Problem("anchor_invalid", 0, f"锚定文件第 {number} 行无法读取：{reason}"))
    anchored: dict[int, str] = {}
    for head in anchor.heads:
        public = ring.public(head.key_id)
        statement = head_statement(head.seq, head.hash, head.key_id, head.at)
        if public is None or not audit_keys.verify_signature(public, head.signature, statement):
            problems.append(
                Problem(
                    "anchor_invalid",
                    head.seq,
                    f"锚定文件第 {head.line} 行（第 {head.seq} 条链头）的签名无效或密钥不受信任",
                )
            )
        elif anchored.setdefault(head.seq, head.hash) != head.hash:
            problems.append(
                Problem(
                    "anchor_invalid",
                    head.seq,
                    f"锚定文件第 {head.line} 行与前面的行对第 {head.seq} 条给出了不同的哈希",
                )
            )
    return anchored


def _link_problem(session: Session, seq: int, prev_hash: str) -> Problem:
    where = _seq_of_hash(session, prev_hash)
    if where is not None:
        return Problem("reordered", seq, f"第 {seq} 条顺序被调换，它本应在第 {where} 条之后")
    return Problem(
        "broken", seq, f"第 {seq} 条与前一条的链接断开（前一条被改写，或插入了伪造条目）"
    )


def _key_statuses(
    session: Session, ring: KeyRing, checkpoints: list[AuditCheckpoint]
) -> list[KeyStatus]:
    used: dict[str, int] = {}
    for cp in checkpoints:
        used[cp.key_id] = used.get(cp.key_id, 0) + 1
    records = {r.key_id: r for r in _db_keys(session)}
    records |= {key_id: t.record for key_id, t in ring.trusted.items()}
    current = audit_keys.current_id()
    statuses = [
        KeyStatus(
            key_id=key_id,
            created_at=records[key_id].created_at if key_id in records else None,
            endorsed_by=records[key_id].endorsed_by if key_id in records else None,
            trusted=key_id in ring.trusted,
            source=ring.trusted[key_id].source if key_id in ring.trusted else "",
            current=key_id == current,
            checkpoints=used.get(key_id, 0),
        )
        for key_id in set(records) | set(used)
    ]
    return sorted(statuses, key=lambda k: (k.created_at or "", k.key_id))


def _seq_of_hash(session: Session, digest: str) -> int | None:
    return session.scalar(select(AuditEntry.seq).where(AuditEntry.hash == digest))


# --- adopting checkpoints of the old secret-derived key ------------------------------------


def _legacy_public(secret: str) -> Ed25519PublicKey:
    """The key releases before 0012 derived from the session secret. Used only to check
    those old signatures once, before re-signing them: verify never trusts it."""
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"govloop-audit", info=b"checkpoint-ed25519"
    ).derive(secret.encode())
    return Ed25519PrivateKey.from_private_bytes(seed).public_key()


def adopt_legacy_checkpoints(*, session: Session, secret: str) -> int:
    """Re-sign with the current key the checkpoints signed before the upgrade with the key
    derived from the session secret, so an upgraded log verifies. Only checkpoints over
    format-1 entries (the old code wrote nothing else) whose old signature is valid, and
    only when the log shows no other problem. Run once, right after ``keygen``."""
    legacy = _legacy_public(secret)
    legacy_id = audit_keys.key_id_of(legacy)
    rows = list(
        session.scalars(
            select(AuditCheckpoint)
            .where(AuditCheckpoint.key_id == legacy_id)
            .order_by(AuditCheckpoint.seq)
            .with_for_update()
        )
    )
    if not rows:
        return 0
    query = select(AuditEntry.seq, AuditEntry.format).where(
        AuditEntry.seq.in_([cp.seq for cp in rows])
    )
    formats = {seq: fmt for seq, fmt in session.execute(query)}
    for cp in rows:
        old = f"govloop-audit:{cp.seq}:{cp.hash}".encode()
        if formats.get(cp.seq) != 1 or not audit_keys.verify_signature(legacy, cp.signature, old):
            raise RuleViolation(
                f"第 {cp.seq} 条处的旧检查点不是升级前的有效签名，未采用任何旧检查点",
                code="legacy_checkpoint_invalid",
            )
    adopted = {cp.seq for cp in rows}
    report = verify(session=session)
    blocking = [p for p in report.problems if not (p.kind == "untrusted_key" and p.seq in adopted)]
    if blocking:
        raise RuleViolation(
            "日志校验未通过，未采用旧检查点：" + "；".join(p.message for p in blocking[:5]),
            code="legacy_adoption_refused",
        )
    key = audit_keys.current()
    register_key(session=session, record=key.record)
    for cp in rows:
        cp.key_id = key.record.key_id
        cp.signature = key.sign(head_statement(cp.seq, cp.hash, cp.key_id, cp.at))
        anchoring.queue(
            session,
            key.record,
            anchoring.HeadLine(cp.seq, cp.hash, cp.key_id, canonical_at(cp.at), cp.signature),
        )
    session.flush()
    return len(rows)


def entry_count(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0
