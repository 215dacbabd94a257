"""Parquet files of archived rows: written whole or not at all, with a checksum."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write(path: Path, table: pa.Table) -> str:
    """Write ``table`` to ``path`` through a temporary file and fsync, so a crash leaves
    either the complete file or none; returns its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    pq.write_table(table, partial, compression="zstd")
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, path)
    return sha256_of(path)


def read(path: Path) -> pa.Table:
    return pq.read_table(path)
