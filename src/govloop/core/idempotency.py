"""Idempotency keys: a client that retries a write after a lost answer (a kiosk on a flaky
network, a window whose proxy restarted) sends the same ``Idempotency-Key`` and gets the
first answer again, instead of a second ticket or a second call.

The key is claimed in the write's own transaction before the work starts, so the answer
is stored exactly when the write is: a write that rolls back leaves no key behind, and a
concurrent duplicate waits on the key's unique index until the first commits, then replays.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.errors import BadRequest, Conflict
from govloop.core.models import IdempotencyRecord

KEY = re.compile(r"^[A-Za-z0-9_-]{8,100}$")
KEEP = timedelta(hours=24)  # how long a retry is recognised


class IdempotentReplay(Exception):
    """The write was done before under this key: answer as it was answered then."""

    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__("replayed")
        self.status_code = status_code
        self.body = body


@dataclass
class Idempotency:
    key: str | None
    scope: str
    fingerprint: str

    def claim(self, session: Session) -> None:
        """Replay an earlier answer, or hold the key for this write (no key: nothing)."""
        if self.key is None:
            return
        if self._replay(session):
            return
        try:
            with session.begin_nested():  # a failed claim is undone alone
                session.add(
                    IdempotencyRecord(scope=self.scope, key=self.key, fingerprint=self.fingerprint)
                )
                session.flush()
        except IntegrityError:  # a concurrent duplicate committed first: answer as it did
            if not self._replay(session):
                raise

    def remember(self, session: Session, body: Any, status_code: int = 200) -> Any:
        """Store the answer with the write; returns it."""
        if self.key is not None:
            record = self._record(session)
            assert record is not None, "claim() first"
            record.status_code = status_code
            record.body = jsonable_encoder(body)  # as it goes out: times as ISO text
        return body

    def _record(self, session: Session) -> IdempotencyRecord | None:
        return session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == self.scope, IdempotencyRecord.key == self.key
            )
        )

    def _replay(self, session: Session) -> bool:
        record = self._record(session)
        if record is None:
            return False
        if record.fingerprint != self.fingerprint:
            raise Conflict(
                "该幂等键已用于另一个请求，请为新的请求使用新的键",
                code="idempotency_key_reused",
            )
        if record.status_code == 0:
            return True  # claimed by a write that was refused and kept no answer: redo it
        raise IdempotentReplay(record.status_code, record.body)


async def idempotency(
    request: Request,
    key: str | None = Header(
        None,
        alias="Idempotency-Key",
        description="A random key per write (8–100 letters, digits, - or _): a retry with the "
        "same key and body gets the first answer again (within 24 hours).",
    ),
) -> Idempotency:
    """FastAPI dependency for retryable writes."""
    if key is None:
        return Idempotency(None, "", "")
    if not KEY.match(key):
        raise BadRequest(
            "Idempotency-Key 应为 8–100 位字母、数字、- 或 _", code="bad_idempotency_key"
        )
    body = await request.body()
    return Idempotency(
        key, f"{request.method} {request.url.path}", hashlib.sha256(body).hexdigest()
    )


def purge_expired(session: Session) -> int:
    """Keys older than ``KEEP`` are forgotten (a client retries within minutes)."""
    result = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now() - KEEP)
    )
    return int(getattr(result, "rowcount", 0) or 0)
