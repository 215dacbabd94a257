"""Subject databases CLI: `govloop subjects …`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

subjects_app = typer.Typer(
    help="主题库：人员、法人、项目主数据，标识校验、关联与数据质量", no_args_is_help=True
)
console = Console()


@subjects_app.command("link")
def link() -> None:
    """Link the records stored since the last run into master records."""
    from govloop.core.db import unit_of_work
    from govloop.subjects import linking

    with console.status("正在关联新记录…"), unit_of_work() as session:
        reports = linking.run_all(session=session)
    table = Table(title="主题库关联")
    for column in ("类型", "新记录", "按标识关联", "概率匹配", "新建主记录", "无效标识"):
        table.add_column(column, justify="right")
    for r in reports:
        table.add_row(
            r.kind,
            str(r.records),
            str(r.by_identifier),
            str(r.probabilistic),
            str(r.new_masters),
            str(r.invalid_identifiers),
        )
    console.print(table)


@subjects_app.command("quality")
def assess(
    feedback_dir: Path | None = typer.Option(
        None, "--feedback-dir", help="Also write each source's problem list (xlsx) here"
    ),
) -> None:
    """Assess data quality (GB/T 36344-2018) and store the run."""
    from govloop.core.db import unit_of_work
    from govloop.subjects import feedback, quality

    with console.status("正在评估数据质量…"), unit_of_work() as session:
        run = quality.run_assessment(session=session)
        summary = quality.summarize(quality.results_of(session=session, run_id=run.id))
        files = []
        if feedback_dir is not None:
            feedback_dir.mkdir(parents=True, exist_ok=True)
            for source in summary:
                path = feedback_dir / f"feedback-{source}.xlsx"
                path.write_bytes(feedback.feedback_workbook(session=session, source_key=source))
                files.append(path)
    table = Table(title=f"数据质量（第 {run.id} 次评估，{run.records} 条记录）")
    table.add_column("数据源")
    for label in quality.DIMENSIONS.values():
        table.add_column(label, justify="right")
    for source, dims in summary.items():
        table.add_row(
            source,
            *("—" if dims.get(d) is None else f"{dims[d]:.1%}" for d in quality.DIMENSIONS),
        )
    console.print(table)
    for path in files:
        console.print(f"问题数据反馈清单：{path}")


@subjects_app.command("check")
def check(
    kind: str = typer.Argument(..., help="resident_id, credit_code, org_code or phone"),
    value: str = typer.Argument(...),
) -> None:
    """Validate one identifier and say why it fails (exit code 1 when invalid)."""
    from govloop.subjects import identifiers as ids

    checks = {
        "resident_id": ids.check_resident_id,
        "credit_code": ids.check_uscc,
        "org_code": ids.check_org_code,
        "phone": ids.check_phone,
    }
    if kind not in checks:
        console.print(f"[red]未知的标识类型：{kind}（可用：{'、'.join(checks)}）[/red]")
        raise typer.Exit(2)
    result = checks[kind](value)
    typer.echo(json.dumps(asdict(result), ensure_ascii=False))
    if not result.valid:
        raise typer.Exit(1)
