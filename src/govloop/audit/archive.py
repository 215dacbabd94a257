"""Moving old access-log entries out of the database without losing what proves them.

A segment always ends at a signed checkpoint, so the first entry left in the database links
to a signed hash, and the log is verified whole before anything leaves it: an archive never
launders an entry that was already tampered with. The segment's file keeps every column
the hash covers; ``verify`` reads it in its place and reports a missing or replaced file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from govloop.audit import log, segments
from govloop.audit.models import AuditArchive, AuditCheckpoint, AuditEntry
from govloop.core import parquet_archive
from govloop.core.errors import RuleViolation

# Entries per file: a year of a busy city's access log is a few files, each read in memory.
SEGMENT_ENTRIES = 200_000


@dataclass
class AuditArchiveResult:
    entries: int = 0
    files: list[str] = field(default_factory=list)
    through_seq: int = 0


def _checkpoint_ends(session: Session, after: int, cutoff: datetime) -> list[int]:
    """Signed checkpoints past ``after`` whose entries are all older than ``cutoff``."""
    newest_old = session.scalar(select(func.max(AuditEntry.seq)).where(AuditEntry.at < cutoff))
    if not newest_old or newest_old <= after:
        return []
    return list(
        session.scalars(
            select(AuditCheckpoint.seq)
            .where(AuditCheckpoint.seq > after, AuditCheckpoint.seq <= newest_old)
            .order_by(AuditCheckpoint.seq)
        )
    )


def _segments(after: int, ends: list[int]) -> list[tuple[int, int]]:
    """(first, last) spans ending at checkpoints, each up to about SEGMENT_ENTRIES long."""
    spans, first = [], after + 1
    for i, end in enumerate(ends):
        last_one = i == len(ends) - 1
        if last_one or ends[i + 1] - first >= SEGMENT_ENTRIES:
            spans.append((first, end))
            first = end + 1
    return spans


def archive_before(
    *, session: Session, cutoff: datetime, data_dir: Path, dry_run: bool = False
) -> AuditArchiveResult:
    """Archive the entries older than ``cutoff`` up to the last signed checkpoint among
    them; refuses while the log does not verify."""
    result = AuditArchiveResult()
    done = session.scalar(select(func.max(AuditArchive.last_seq))) or 0
    result.through_seq = done
    spans = _segments(done, _checkpoint_ends(session, done, cutoff))
    if not spans:
        return result
    report = log.verify(session=session)
    if not report.ok:
        shown = "；".join(p.message for p in report.problems[:3])
        raise RuleViolation(
            f"审计日志校验未通过，暂不归档（先查明问题）：{shown}", code="audit_not_verified"
        )
    signed = select(AuditCheckpoint.seq, AuditCheckpoint.hash).where(
        AuditCheckpoint.seq.in_([last for _, last in spans])
    )
    hashes = {seq: digest for seq, digest in session.execute(signed)}
    for first, last in spans:
        result.entries += last - first + 1
        result.through_seq = last
        if dry_run:
            continue
        rows = list(log.raw_entries(session, first=first, last_seq=last))
        relative = segments.file_name(first, last)
        digest = parquet_archive.write(data_dir / relative, segments.to_table(rows))
        session.add(
            AuditArchive(
                first_seq=first,
                last_seq=last,
                last_hash=hashes[last],
                entries=len(rows),
                path=relative.as_posix(),
                sha256=digest,
            )
        )
        session.execute(delete(AuditEntry).where(AuditEntry.seq.between(first, last)))
        result.files.append(relative.as_posix())
    session.flush()
    return result


def archived_totals(session: Session) -> tuple[int, int]:
    """(entries, files) moved to archives so far."""
    entries, files = session.execute(
        select(func.coalesce(func.sum(AuditArchive.entries), 0), func.count(AuditArchive.id))
    ).one()
    return int(entries), int(files)
