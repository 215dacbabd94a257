"""`govloop ingest export`: stored records to the analytics store's Parquet partitions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from govloop.analytics import records as analytics
from govloop.core.db import unit_of_work

console = Console()


def export_records(
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Default: GOVLOOP_DATA_DIR"),
) -> None:
    """Export newly stored records to partitioned Parquet (incremental)."""
    with unit_of_work(readonly=True) as s:
        result = analytics.export_records(session=s, root=data_dir)
    console.print(
        f"已导出 {result.exported} 条记录，{len(result.files)} 个文件，水位 {result.watermark}"
    )
