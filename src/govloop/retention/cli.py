"""`govloop retention`: archive old events now, and show what the database still holds."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.core.settings import analytics_settings, get_settings
from govloop.retention import service

retention_app = typer.Typer(no_args_is_help=True, help="事件保留期：归档旧事件、查看各表状态")
console = Console()

SOURCE_LABELS = {
    "hall_events": "大厅事件",
    "work_order_events": "工单事件",
    "access_audit_log": "访问审计日志",
}


@retention_app.command("run")
def run_now(
    days: int | None = typer.Option(
        None, "--days", min=1, help="事件保留天数（默认 GOVLOOP_RETENTION_DAYS）"
    ),
    audit_days: int | None = typer.Option(
        None, "--audit-days", min=1, help="审计日志保留天数（默认 GOVLOOP_AUDIT_RETENTION_DAYS）"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="只统计将归档的行，不改动任何数据"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出结果"),
) -> None:
    """Archive the events older than the retention age to Parquet and remove them."""
    settings = get_settings()
    days = days or settings.retention_days
    if audit_days is None:
        audit_days = settings.audit_retention_days or None
    if not days:
        console.print("事件保留期为 0（GOVLOOP_RETENTION_DAYS）：全部保留，不归档。")
        raise typer.Exit(0)
    try:
        with unit_of_work() as session:
            result = service.run(
                session=session,
                days=days,
                audit_days=audit_days,
                data_dir=analytics_settings().data_dir,
                dry_run=dry_run,
            )
    except GovloopError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
        return
    verb = "将归档" if dry_run else "已归档"
    for name, found in result.sources.items():
        line = f"{SOURCE_LABELS[name]}：{verb} {found.rows} 行，{len(found.files)} 个文件"
        if found.waiting_for_export:
            line += f"；另有 {found.waiting_for_export} 行尚未导出到分析库，下次再归档"
        console.print(line)
    if result.audit_cutoff is not None:
        console.print(
            f"{SOURCE_LABELS['access_audit_log']}：{verb} {result.audit_entries} 条，"
            f"{len(result.audit_files)} 个文件"
        )
    if result.partitions_dropped:
        console.print(f"已删除空的月分区：{'、'.join(result.partitions_dropped)}")


@retention_app.command("status")
def show_status() -> None:
    """Rows still in the database, the oldest event, and what was archived, per table."""
    with unit_of_work(readonly=True) as session:
        rows = service.status(session)
    table = Table("表", "库内行数", "最早事件", "已归档行", "归档文件", "月分区")
    for found in rows:
        table.add_row(
            SOURCE_LABELS[found.source],
            str(found.rows),
            found.oldest.strftime("%Y-%m-%d") if found.oldest else "—",
            str(found.archived_rows),
            str(found.archive_files),
            str(found.partitions) if found.partitions else "—",
        )
    console.print(table)
