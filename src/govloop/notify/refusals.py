"""Refused callbacks (delivery reports, inbound messages, courier pushes) are stored, then
answered with a 4xx: the unit of work commits a ``RecordedRefusal`` before it is sent, and
the refusal changes nothing else."""

from __future__ import annotations

from typing import Any, NoReturn

from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.errors import RecordedRefusal
from govloop.notify.models import RefusedCallback

# what a stored payload keeps of each value: enough to see the problem, not a data dump
_KEEP_CHARS = 200


def _clean(value: Any) -> str:
    """Control characters shown, not stored: PostgreSQL refuses NUL in text and JSON."""
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in str(value))


def refuse(
    session: Session,
    *,
    source: str,
    reason: str,
    message: str,
    payload: dict[str, Any],
    status: int = 400,
) -> NoReturn:
    kept = {_clean(k)[:50]: _clean(v)[:_KEEP_CHARS] for k, v in list(payload.items())[:30]}
    session.add(RefusedCallback(source=source, reason=reason, payload=kept, at=now()))
    session.flush()
    raise RecordedRefusal(message, code=reason, status=status)
