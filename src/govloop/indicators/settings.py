"""Settings of the indicators domain.

The analytics store (Parquet files read by DuckDB) lives under ``GOVLOOP_DATA_DIR``
(default ``var/data``). Read at call time, so tests and benchmarks can point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = Path("var") / "data"

# DuckDB resources: the machine is shared, so stay within two threads and a few GB.
DUCKDB_THREADS = int(os.environ.get("GOVLOOP_DUCKDB_THREADS", "2"))
DUCKDB_MEMORY_LIMIT = os.environ.get("GOVLOOP_DUCKDB_MEMORY_LIMIT", "3GB")


def data_dir() -> Path:
    return Path(os.environ.get("GOVLOOP_DATA_DIR") or DEFAULT_DATA_DIR)
