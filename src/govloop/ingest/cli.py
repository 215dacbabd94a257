"""Command group of the data platform: sources, push keys, file loads with a progress bar,
dead letters, replay and the Parquet export."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.ingest import service
from govloop.ingest.pipeline import create_source, get_source, issue_api_key

ingest_app = typer.Typer(no_args_is_help=True)
console = Console()


def _fail(exc: GovloopError) -> None:
    console.print(f"[red]{exc.message}[/red]")
    raise typer.Exit(1)


@ingest_app.command("sources")
def sources() -> None:
    """List the declared sources."""
    with unit_of_work(readonly=True) as s:
        rows = service.list_sources(session=s)
        last = service.last_runs(session=s)
        table = Table("key", "名称", "部门", "类型", "模式", "推送密钥", "最近运行")
        for src in rows:
            run = last.get(src.id)
            table.add_row(
                src.key,
                src.name,
                src.department or "",
                src.kind,
                src.schema_name,
                "有" if src.api_key_hash else "无",
                f"#{run.id} {run.status} {run.stored}/{run.rows_in}" if run else "",
            )
    console.print(table)


@ingest_app.command("add-source")
def add_source(
    key: str = typer.Argument(..., help="Stable key, e.g. civil-affairs"),
    name: str = typer.Option(..., "--name"),
    schema: str = typer.Option(..., "--schema", help="hall_event, person_record, …"),
    kind: str = typer.Option("file", "--kind", help="file, jsonl, http, mqtt, vendor"),
    department: str | None = typer.Option(None, "--department"),
    mapping: str | None = typer.Option(
        None, "--mapping", help='JSON object: source column → field, e.g. {"姓名": "name"}'
    ),
) -> None:
    """Declare a source: its schema and how its columns map."""
    try:
        parsed = json.loads(mapping) if mapping else {}
    except json.JSONDecodeError as exc:
        console.print(f"[red]--mapping 不是合法的 JSON：{exc.msg}[/red]")
        raise typer.Exit(2) from None
    try:
        with unit_of_work() as s:
            create_source(
                session=s,
                key=key,
                name=name,
                kind=kind,
                schema_name=schema,
                mapping=parsed,
                department=department,
            )
    except GovloopError as exc:
        _fail(exc)
    console.print(f"已添加数据源 {key}")


@ingest_app.command("issue-key")
def issue_key(key: str = typer.Argument(...)) -> None:
    """Issue a new push key for a source (the old one stops working); shown once."""
    try:
        with unit_of_work() as s:
            api_key = issue_api_key(session=s, source=get_source(session=s, key=key))
    except GovloopError as exc:
        _fail(exc)
    console.print(api_key)


def _counts_table(result: service.LoadResult) -> Table:
    table = Table("运行", "状态", "读入", "存储", "重复", "拒收（死信）", "编码")
    table.add_row(
        f"#{result.run_id}",
        str(result.status),
        str(result.counts.rows_in),
        str(result.counts.stored),
        str(result.counts.duplicates),
        str(result.counts.rejected),
        result.encoding or "",
    )
    return table


@ingest_app.command("load")
def load(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    source: str = typer.Option(..., "--source", help="Source key"),
    vendor: str | None = typer.Option(
        None, "--vendor", help="Vendor layout, e.g. queue_ticket_csv"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON"),
) -> None:
    """Load a CSV / .xlsx / JSON-lines file, with a progress bar and a final count table."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=as_json,
    )
    task = progress.add_task(file.name, total=None)
    try:
        with progress, unit_of_work() as s:
            result = service.load_file(
                session=s,
                source=get_source(session=s, key=source),
                path=file,
                vendor=vendor,
                on_size=lambda size: progress.update(task, total=size),
                progress=lambda done: progress.update(task, completed=done),
            )
    except GovloopError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        console.print(_counts_table(result))
        if result.message:
            console.print(f"[yellow]{result.message}[/yellow]")
    if result.status == "failed":
        raise typer.Exit(1)


@ingest_app.command("runs")
def runs(limit: int = typer.Option(20, "--limit")) -> None:
    """Run history with counts in / stored / duplicates / rejected."""
    with unit_of_work(readonly=True) as s:
        table = Table("#", "通道", "文件", "开始", "状态", "读入", "存储", "重复", "拒收")
        for r in service.list_runs(session=s, limit=limit):
            table.add_row(
                str(r.id),
                r.channel,
                r.file_name or "",
                r.started_at.isoformat(timespec="seconds"),
                r.status,
                str(r.rows_in),
                str(r.stored),
                str(r.duplicates),
                str(r.rejected),
            )
    console.print(table)


@ingest_app.command("dead-letters")
def dead_letters(
    source: str | None = typer.Option(None, "--source"),
    status: str | None = typer.Option("open", "--status", help="open, replayed, discarded"),
    reason: str | None = typer.Option(None, "--reason", help="Reason code or words"),
    limit: int = typer.Option(50, "--limit"),
) -> None:
    """List dead letters."""
    with unit_of_work(readonly=True) as s:
        table = Table("#", "数据源", "文件:行", "原因", "状态")
        for d in service.list_dead_letters(
            session=s, source_key=source, status=status or None, reason=reason, limit=limit
        ):
            where = f"{d.file_name or ''}:{d.row_number or ''}"
            table.add_row(str(d.id), d.source_key, where, f"[{d.reason_code}] {d.reason}", d.status)
    console.print(table)


@ingest_app.command("replay")
def replay(
    ids: list[int] = typer.Argument(None, help="Dead letter ids"),
    source: str | None = typer.Option(None, "--source", help="All open dead letters of a source"),
    corrected: str | None = typer.Option(
        None, "--corrected", help="A corrected record (JSON) for one dead letter"
    ),
) -> None:
    """Replay dead letters after the source's mapping was fixed, or with a corrected row."""
    record = None
    if corrected:
        try:
            record = json.loads(corrected)
        except json.JSONDecodeError as exc:
            console.print(f"[red]--corrected 不是合法的 JSON：{exc.msg}[/red]")
            raise typer.Exit(2) from None
    try:
        with unit_of_work() as s:
            chosen = list(ids or [])
            if source:
                chosen += [
                    d.id
                    for d in service.list_dead_letters(
                        session=s, source_key=source, status="open", limit=100_000
                    )
                ]
            if not chosen:
                console.print("没有要重放的死信")
                raise typer.Exit(1)
            result = service.replay_dead_letters(session=s, ids=chosen, corrected=record)
    except GovloopError as exc:
        _fail(exc)
    console.print(
        f"重放运行 #{result.run_id}：已存储 {len(result.replayed)} 条，"
        f"仍失败 {len(result.still_open)} 条"
    )
    for dead_id, reason in list(result.still_open.items())[:20]:
        console.print(f"  #{dead_id} {reason}")


@ingest_app.command("discard")
def discard(dead_letter_id: int, reason: str = typer.Option(..., "--reason")) -> None:
    """Discard a dead letter with a reason (it is kept, marked discarded)."""
    try:
        with unit_of_work() as s:
            service.discard_dead_letter(session=s, dead_letter_id=dead_letter_id, reason=reason)
    except GovloopError as exc:
        _fail(exc)
    console.print(f"已作废死信 #{dead_letter_id}")
