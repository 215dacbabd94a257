"""Hotline CLI: `govloop hotline …`."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="12345 hotline: work orders, routing, knowledge base (12345 热线)")
console = Console()

status_console = Console(stderr=True)


@app.callback()
def hotline() -> None:
    """12345 热线：工单、分派模型、知识库。"""


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


@app.command("train")
def train_routing(
    test_share: float = typer.Option(0.2, "--test-share", help="Share of orders held out"),
    seed: int = typer.Option(0, "--seed", help="Seed of the hold-out split and the fit"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Retrain the routing model on closed orders and report held-out accuracy."""
    from govloop.core.db import unit_of_work
    from govloop.core.errors import GovloopError
    from govloop.hotline.orders import routing

    try:
        with status_console.status("正在用已办结工单训练分派模型…"), unit_of_work() as session:
            result = routing.train(session=session, test_share=test_share, seed=seed)
    except GovloopError as exc:
        console.print(f"[red]错误：{exc.message}[/red]")
        raise typer.Exit(code=1) from exc
    if as_json:
        typer.echo(json.dumps(asdict(result), ensure_ascii=False))
        return

    summary = Table(title=f"分派模型 #{result.model_id}（留出 {test_share:.0%} 验证）")
    summary.add_column("指标")
    summary.add_column("数值", justify="right")
    summary.add_row("训练工单", str(result.n_train))
    summary.add_row("验证工单", str(result.n_test))
    summary.add_row("分类准确率", _percent(result.category_accuracy))
    summary.add_row("部门准确率", _percent(result.department_accuracy))
    summary.add_row("分类宏平均 F1", _percent(result.macro_f1))
    summary.add_row("派单目录关键词准确率（对照）", _percent(result.catalogue_accuracy))
    console.print(summary)

    worst = Table(title="表现最差的分类")
    for column in ("分类", "名称", "验证工单", "精确率", "召回率", "F1"):
        worst.add_column(column, justify="left" if column in ("分类", "名称") else "right")
    for row in result.worst_categories:
        worst.add_row(
            row["code"],
            row.get("name", ""),
            str(row["support"]),
            _percent(row["precision"]),
            _percent(row["recall"]),
            _percent(row["f1"]),
        )
    console.print(worst)
    console.print("已启用新模型；旧模型已停用。上线后坐席仍须确认每条分派建议。")


@app.command("import-email")
def import_email(
    source: str = typer.Argument(..., help="An mbox file or a folder of .eml files"),
) -> None:
    """Register the mailbox's messages as work orders (a message imported before is skipped;
    one that cannot become an order is listed with its reason)."""
    from pathlib import Path

    from govloop.core.db import unit_of_work
    from govloop.hotline.orders.email_import import import_mailbox

    path = Path(source)
    if not path.exists():
        console.print(f"[red]找不到 {source}[/red]")
        raise typer.Exit(1)
    with unit_of_work() as session:
        report = import_mailbox(session=session, source=path, actor=None)
    console.print(
        f"已受理 {len(report.imported)} 件，此前已导入 {len(report.already_imported)} 件，"
        f"未能受理 {len(report.rejected)} 件"
    )
    for where, reason in report.rejected:
        console.print(f"[yellow]{where}: {reason}[/yellow]")
    if report.rejected:
        raise typer.Exit(2)
