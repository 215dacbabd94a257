"""Command group of the data platform: `govloop catalog …` (catalog quality profiles, tag
runs and knowledge-graph look-ups)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from govloop.core.errors import GovloopError

catalog_app = typer.Typer(no_args_is_help=True)
tags_app = typer.Typer(no_args_is_help=True, help="标签服务：按规则批量计算标签")
graph_app = typer.Typer(no_args_is_help=True, help="知识图谱：邻域与路径查询")
catalog_app.add_typer(tags_app, name="tags")
catalog_app.add_typer(graph_app, name="graph")
console = Console()
status_console = Console(stderr=True)


def _fail(exc: GovloopError) -> typer.Exit:
    console.print(f"[red]错误：{exc.message}[/red]")
    return typer.Exit(code=1)


@catalog_app.command("profile")
def profile(
    dataset: list[str] = typer.Option(None, "--dataset", "-d", help="Dataset key (repeatable)"),
) -> None:
    """Measure every dataset's quality now (a full pass over its rows)."""
    from govloop.catalog import service
    from govloop.core.db import unit_of_work

    try:
        with status_console.status("正在测量数据质量…"), unit_of_work() as session:
            done = service.profile_datasets(session=session, keys=dataset or None)
    except GovloopError as exc:
        raise _fail(exc) from exc
    table = Table(title="数据质量")
    for col in ("数据集", "行数", "通过", "质量评分", "用时 ms"):
        table.add_column(col, justify="left" if col == "数据集" else "right")
    for p in done:
        score = "—" if p.score is None else f"{p.score:.1%}"
        table.add_row(p.dataset_key, str(p.rows), str(p.passed), score, f"{p.duration_ms:.0f}")
    console.print(table)


@tags_app.command("compute")
def compute(as_json: bool = typer.Option(False, "--json", help="Print the run as JSON")) -> None:
    """Evaluate the tag rules (tags.yaml) and replace the previous assignments."""
    from govloop.catalog import tags
    from govloop.core.db import unit_of_work

    try:
        with status_console.status("正在计算标签…"), unit_of_work() as session:
            run = tags.compute_tags(session=session)
            names = {r.code: r.name for r in tags.shipped_rules().rules}
    except GovloopError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps({"run_id": run.id, "counts": run.counts}, ensure_ascii=False))
        return
    table = Table(
        title=f"标签计算 #{run.id}（{run.subjects_scanned} 个主体，{run.duration_ms:.0f} ms）"
    )
    table.add_column("标签")
    table.add_column("编码")
    table.add_column("主体数", justify="right")
    for code, n in run.counts.items():
        table.add_row(names.get(code, code), code, str(n))
    console.print(table)


@tags_app.command("list")
def list_tags() -> None:
    """Show the declared tags and how many subjects carry each."""
    from govloop.catalog import tags
    from govloop.core.db import unit_of_work

    with unit_of_work(readonly=True) as session:
        summaries = tags.list_tags(session=session)
    table = Table(title="标签")
    for col in ("标签", "编码", "版本", "主体数", "规则"):
        table.add_column(col)
    for t in summaries:
        table.add_row(
            t.rule.name, t.rule.code, str(t.rule.version), str(t.subjects), t.rule.description
        )
    console.print(table)


@graph_app.command("neighborhood")
def neighborhood(
    entity: str = typer.Argument(..., help="<type>:<key>, e.g. person:350102…"),
    depth: int = typer.Option(2, min=1, max=3),
) -> None:
    """Print the entities within DEPTH hops of ENTITY."""
    from govloop.catalog import graph
    from govloop.core.db import unit_of_work

    try:
        with unit_of_work(readonly=True) as session:
            view = graph.neighborhood(session=session, entity=entity, depth=depth)
    except GovloopError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"{entity} 的 {depth} 度邻域（{view.total_nodes} 个实体）")
    for col in ("距离", "类型", "实体", "名称"):
        table.add_column(col)
    for n in view.nodes:
        table.add_row(str(n["distance"]), n["type"], n["id"], n["label"])
    console.print(table)
    if view.truncated:
        console.print(f"[yellow]只列出最近的 {len(view.nodes)} 个[/yellow]")


@graph_app.command("stats")
def stats() -> None:
    """Count the graph's entities and relations by kind."""
    from govloop.catalog import graph
    from govloop.core.db import unit_of_work

    with unit_of_work(readonly=True) as session:
        figures = graph.stats(session=session)
    typer.echo(json.dumps(figures, ensure_ascii=False, indent=2))
