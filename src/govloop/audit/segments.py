"""Archived segments of the access log: their Parquet layout, and reading them back in
chain order for verification."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.audit.findings import Problem
from govloop.audit.models import AuditArchive
from govloop.core import parquet_archive

FOLDER = Path("archive") / "access_audit_log"
# A raw row: (seq, prev_hash, hash, format, at, actor_id, …) as the log's verification reads
# it. ``at`` is kept as SQLite's UTC text, which the hash's canonical form reads back alike.
SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("prev_hash", pa.string()),
        ("hash", pa.string()),
        ("format", pa.int32()),
        ("at", pa.string()),
        ("actor_id", pa.int64()),
        ("actor", pa.string()),
        ("action", pa.string()),
        ("outcome", pa.string()),
        ("case_type", pa.string()),
        ("case_id", pa.int64()),
        ("case_label", pa.string()),
        ("grant_id", pa.int64()),
        ("subject_id", pa.int64()),
        ("fields", pa.string()),
        ("purpose", pa.string()),
        ("detail", pa.string()),
    ]
)


def stored_at(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def file_name(first: int, last: int) -> Path:
    return FOLDER / f"seq-{first:010d}-{last:010d}.parquet"


def to_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    columns: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] if rows else []
    columns = columns or [[] for _ in SCHEMA]
    at = SCHEMA.get_field_index("at")
    columns[at] = [stored_at(v) for v in columns[at]]
    return pa.table(
        {field.name: pa.array(columns[i], type=field.type) for i, field in enumerate(SCHEMA)},
        schema=SCHEMA,
    )


@dataclass(frozen=True)
class Gap:
    """An archived segment whose file cannot be read: the walk resumes after it."""

    first_seq: int
    last_seq: int
    last_hash: str


def archived(session: Session) -> list[AuditArchive]:
    return list(session.scalars(select(AuditArchive).order_by(AuditArchive.first_seq)))


def read_segments(
    segments: list[AuditArchive], data_dir: Path, problems: list[Problem]
) -> Iterator[tuple[Any, ...] | Gap]:
    """The archived rows in order; a ``Gap`` (and a problem) where a file is gone or
    unreadable; a problem where a file's checksum differs (its rows are still walked, so
    what changed shows up entry by entry)."""
    for segment in segments:
        path = data_dir / segment.path
        span = f"第 {segment.first_seq}–{segment.last_seq} 条"
        try:
            table = parquet_archive.read(path)
            columns = [table.column(field.name).to_pylist() for field in SCHEMA]
        except (OSError, KeyError, pa.ArrowException) as exc:
            reason = "不存在" if not path.exists() else f"无法读取（{exc.__class__.__name__}）"
            problems.append(
                Problem(
                    "archive_missing",
                    segment.first_seq,
                    f"{span}已归档到 {segment.path}，但归档文件{reason}",
                )
            )
            yield Gap(segment.first_seq, segment.last_seq, segment.last_hash)
            continue
        if parquet_archive.sha256_of(path) != segment.sha256:
            problems.append(
                Problem(
                    "archive_replaced",
                    segment.first_seq,
                    f"{span}的归档文件 {segment.path} 与归档时的校验和不符（文件被替换或改动）",
                )
            )
        yield from zip(*columns, strict=True)
