"""Exporting the log's signed heads to an anchor outside the database (verified first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from govloop.audit import log as audit
from govloop.audit.anchor import Anchor, HeadLine, anchor_file, append, read, with_endorsers
from govloop.audit.findings import Problem


@dataclass
class ExportResult:
    file: str
    ok: bool
    problems: list[Problem] = field(default_factory=list)
    keys_written: int = 0
    heads_written: int = 0
    last_seq: int = 0


def export(*, session: Session, to: Path) -> ExportResult:
    """Append to the anchor in ``to`` every checkpoint signed since its last head.

    Refuses (writing nothing) when the log no longer matches the anchor or fails its own
    checks: a head of a tampered log must not be exported. Sign the current head first
    (``audit.checkpoint_now``, committed) so the export reaches the log's end."""
    existing = read(to) if to.exists() else Anchor(source=str(anchor_file(to)))
    report = audit.verify(session=session, anchor=existing, use_configured_anchor=False)
    result = ExportResult(file=str(anchor_file(to)), ok=report.ok, problems=report.problems)
    if not report.ok:
        result.last_seq = existing.last_seq
        return result
    ring = report.keyring
    heads = [
        HeadLine(cp.seq, cp.hash, cp.key_id, audit.canonical_at(cp.at), cp.signature)
        for cp in audit.checkpoints(session=session, after=existing.last_seq)
    ]
    used = {h.key_id for h in heads}
    keys = [t.record for t in ring.trusted.values() if t.record.key_id in used]
    keys = with_endorsers(keys, ring)
    result.keys_written, result.heads_written = append(to, keys=keys, heads=heads)
    result.last_seq = max([existing.last_seq, *(h.seq for h in heads)])
    return result
