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
    from govloop.hotline import routing

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


def bench_hotline(
    quick: bool = typer.Option(False, "--quick", help="Small sizes (for tests)"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
) -> None:
    """Intake through the API, knowledge-base search over 50,000 articles, routing accuracy
    on held-out generated orders and Open311 schema conformance."""
    from govloop.hotline.bench_intake import bench_intake
    from govloop.hotline.bench_kb import bench_kb_search
    from govloop.hotline.bench_routing import bench_routing

    result: dict[str, object] = {}
    with console.status("intake through the API and Open311 conformance…"):
        intake = bench_intake(orders=300 if quick else 2000)
    with console.status("knowledge-base search…"):
        kb = bench_kb_search(articles=2000 if quick else 50_000, queries=50 if quick else 500)
    with console.status("routing…"):
        routing_figures = bench_routing(seed=1, n_orders=1500 if quick else 6000)
    result.update(
        intake_per_s=intake["intake_per_s"],
        kb_search_p99_ms=kb["kb_search_p99_ms"],
        routing_accuracy=routing_figures["routing_accuracy"],
        open311_schema_failures=intake["open311_schema_failures"],
    )
    result["goals_met"] = {
        "intake_per_s": intake["intake_per_s"] >= 200,
        "kb_search_p99_ms": kb["kb_search_p99_ms"] <= 50,
        "routing_accuracy": routing_figures["routing_accuracy"] >= 0.9,
        "open311_schema_failures": intake["open311_schema_failures"] == 0,
    }
    result.update(intake=intake, kb=kb, routing=routing_figures)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    else:
        console.print_json(json.dumps(result, ensure_ascii=False, default=str))


@app.command("import-email")
def import_email(
    source: str = typer.Argument(..., help="An mbox file or a folder of .eml files"),
) -> None:
    """Register the mailbox's messages as work orders (a message imported before is skipped;
    one that cannot become an order is listed with its reason)."""
    from pathlib import Path

    from govloop.core.db import unit_of_work
    from govloop.hotline.email_import import import_mailbox

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
