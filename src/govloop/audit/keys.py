"""The keys that sign audit checkpoints: Ed25519 key files apart from the database and from
the session secret, with a history so that checkpoints signed before a rotation still verify.

``GOVLOOP_AUDIT_KEY_DIR`` (default ``var/audit-keys``) holds, per key:

- ``<key_id>.pem``: the private key (PKCS#8 PEM, mode 0600); may be destroyed once retired;
- ``<key_id>.json``: its public half — key id, public key, creation time and, for a key that
  replaced another, the previous key's endorsement (a signature over the new key's id,
  public key and creation time);

and ``current``, the id of the key that signs new checkpoints. A key id is the first 16 hex
digits of SHA-256 over the raw public key.

In development a missing key is generated on first use (at random: never derived from the
session secret); elsewhere it is an error until ``govloop audit keygen`` has made one.

Whom ``verify`` trusts (``KeyRing``): the keys in the key folder and in the auditor's anchor
file, and keys endorsed by a trusted key. A key only the database names is not trusted: the
database is what is being checked.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from govloop.core.clock import now
from govloop.core.errors import Conflict, RuleViolation
from govloop.core.settings import get_settings

log = logging.getLogger(__name__)

DEFAULT_KEY_DIR = Path("var") / "audit-keys"
CURRENT = "current"
KEY_STATEMENT = "govloop-audit-key"


def key_dir() -> Path:
    """Read at call time, so tests and tools can point elsewhere."""
    return Path(os.environ.get("GOVLOOP_AUDIT_KEY_DIR") or DEFAULT_KEY_DIR)


def canonical_at(value: datetime | str) -> str:
    """UTC ISO text with microseconds. SQLite hands back its stored text
    ('2026-01-01 00:00:00.000000', UTC by convention), PostgreSQL a datetime."""
    if isinstance(value, str):
        return value.replace(" ", "T", 1) + "+00:00"
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def iso(value: datetime) -> str:
    """The one text form of a time in signed statements: UTC, microseconds."""
    return canonical_at(value)


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_b64(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def generate_private() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@dataclass(frozen=True)
class KeyRecord:
    """The public half of a signing key, as the key folder, the database and anchors keep it."""

    key_id: str
    public_key: str  # base64 of the raw 32 bytes
    created_at: str  # iso()
    endorsed_by: str | None = None
    endorsement: str | None = None  # base64 signature of statement() by endorsed_by

    def public(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(self.public_key))

    def statement(self) -> bytes:
        return rfc8785.dumps(
            {
                "type": KEY_STATEMENT,
                "key_id": self.key_id,
                "public_key": self.public_key,
                "created_at": self.created_at,
            }
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "public_key": self.public_key,
            "created_at": self.created_at,
            "endorsed_by": self.endorsed_by,
            "endorsement": self.endorsement,
        }

    def pem(self) -> str:
        return (
            self.public()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyRecord:
        """Refuses a record whose id is not its public key's (ValueError)."""
        record = cls(
            key_id=str(data["key_id"]),
            public_key=str(data["public_key"]),
            created_at=str(data["created_at"]),
            endorsed_by=data.get("endorsed_by"),
            endorsement=data.get("endorsement"),
        )
        if key_id_of(record.public()) != record.key_id:
            raise ValueError(f"key id {record.key_id} does not match its public key")
        return record


@dataclass(frozen=True)
class SigningKey:
    record: KeyRecord
    private: Ed25519PrivateKey

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private.sign(message)).decode()


def missing_key_error(folder: Path) -> RuleViolation:
    return RuleViolation(
        f"审计签名密钥不存在（{folder}）：请先运行 govloop audit keygen，"
        "或将 GOVLOOP_AUDIT_KEY_DIR 指向保存密钥的目录",
        code="audit_key_missing",
    )


# --- the key folder ------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _current_id(folder: Path) -> str | None:
    try:
        return (folder / CURRENT).read_text().strip() or None
    except FileNotFoundError:
        return None


def _set_current(folder: Path, key_id: str) -> None:
    tmp = folder / f".{CURRENT}.{os.getpid()}"
    tmp.write_text(key_id + "\n")
    os.replace(tmp, folder / CURRENT)


def _create(folder: Path, previous: SigningKey | None) -> KeyRecord:
    private = generate_private()
    public = private.public_key()
    record = KeyRecord(key_id_of(public), public_b64(public), iso(now()))
    if previous is not None:
        record = KeyRecord(
            record.key_id,
            record.public_key,
            record.created_at,
            endorsed_by=previous.record.key_id,
            endorsement=previous.sign(record.statement()),
        )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_new(folder / f"{record.key_id}.pem", pem, 0o600)
    _write_new(
        folder / f"{record.key_id}.json",
        json.dumps(record.as_json(), indent=1).encode(),
        0o644,
    )
    _set_current(folder, record.key_id)
    return record


def keygen(folder: Path | None = None) -> KeyRecord:
    """The first key of a folder; refuses to replace one (that is ``rotate``)."""
    folder = folder or key_dir()
    with _locked(folder):
        existing = _current_id(folder)
        if existing is not None:
            raise Conflict(
                f"已有审计签名密钥 {existing}（{folder}）；更换请使用 govloop audit rotate",
                code="audit_key_exists",
            )
        return _create(folder, None)


def rotate(folder: Path | None = None) -> KeyRecord:
    """A new current key, endorsed by the old one; the old one's public half stays."""
    folder = folder or key_dir()
    with _locked(folder):
        old = _load_current(folder)
        if old is None:
            raise missing_key_error(folder)
        return _create(folder, old)


@lru_cache(maxsize=16)
def _private(path: str, _mtime_ns: int) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise RuleViolation(f"{path} 不是 Ed25519 私钥", code="audit_key_invalid")
    return key


def _load_current(folder: Path) -> SigningKey | None:
    key_id = _current_id(folder)
    if key_id is None:
        return None
    pem = folder / f"{key_id}.pem"
    try:
        private = _private(str(pem), pem.stat().st_mtime_ns)
        record = KeyRecord.from_json(json.loads((folder / f"{key_id}.json").read_text()))
    except FileNotFoundError as exc:
        raise RuleViolation(
            f"当前审计签名密钥 {key_id} 的文件缺失（{exc.filename}）", code="audit_key_invalid"
        ) from exc
    if record.key_id != key_id_of(private.public_key()):
        raise RuleViolation(f"{pem} 与 {key_id}.json 不是同一把密钥", code="audit_key_invalid")
    return SigningKey(record, private)


def current(folder: Path | None = None) -> SigningKey:
    """The key that signs new checkpoints. Development makes one when there is none."""
    folder = folder or key_dir()
    key = _load_current(folder)
    if key is not None:
        return key
    if get_settings().environment != "development":
        raise missing_key_error(folder)
    with _locked(folder):
        if _current_id(folder) is None:
            record = _create(folder, None)
            log.warning("generated audit signing key %s in %s (development)", record.key_id, folder)
    key = _load_current(folder)
    assert key is not None
    return key


def require_signing_key() -> SigningKey:
    """Start-up check: outside development a missing key stops the server (and the CLI)."""
    return current()


def records(folder: Path | None = None) -> list[KeyRecord]:
    """Every key's public half in the folder, oldest first. Unreadable files add no trust."""
    folder = folder or key_dir()
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found.append(KeyRecord.from_json(json.loads(path.read_text())))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring audit key file %s: %s", path, exc)
    return sorted(found, key=lambda r: (r.created_at, r.key_id))


def current_id(folder: Path | None = None) -> str | None:
    return _current_id(folder or key_dir())


# --- trust ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trusted:
    record: KeyRecord
    source: str  # key_dir / anchor / endorsed


@dataclass
class KeyRing:
    """The keys a verification trusts, and why."""

    trusted: dict[str, Trusted] = field(default_factory=dict)

    def pin(self, record: KeyRecord, source: str) -> None:
        self.trusted.setdefault(record.key_id, Trusted(record, source))

    def endorse(self, candidates: Iterable[KeyRecord]) -> None:
        """Trust each candidate a trusted key endorsed, until nothing changes."""
        pending = [r for r in candidates if r.key_id not in self.trusted]
        progress = True
        while pending and progress:
            progress = False
            for record in list(pending):
                signer = self.trusted.get(record.endorsed_by or "")
                if signer is None or not record.endorsement:
                    continue
                pending.remove(record)
                if verify_signature(signer.record.public(), record.endorsement, record.statement()):
                    self.pin(record, "endorsed")
                    progress = True

    def public(self, key_id: str) -> Ed25519PublicKey | None:
        found = self.trusted.get(key_id)
        return found.record.public() if found else None


def verify_signature(public: Ed25519PublicKey, signature: str, message: bytes) -> bool:
    try:
        public.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
