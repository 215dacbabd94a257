"""Subject databases CLI: `govloop subjects …`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from govloop.core.models import User

subjects_app = typer.Typer(
    help="主题库：人员、法人、项目主数据，标识校验、关联与数据质量", no_args_is_help=True
)
console = Console()


@subjects_app.command("link")
def link(
    full: bool = typer.Option(
        False,
        "--full",
        help="Also cluster every person record again (keeps steward decisions and master ids)",
    ),
) -> None:
    """Link the records stored since the last run into master records."""
    from govloop.core.db import unit_of_work
    from govloop.subjects import linking

    with console.status("正在关联新记录…"), unit_of_work() as session:
        reports = linking.run_all(session=session)
    if full:
        with console.status("正在全量重新关联人员记录…"), unit_of_work() as session:
            figures = linking.relink_persons(session=session)
        console.print(
            f"全量重新关联：{figures['records']} 条人员记录，移动 {figures['moved']} 条，"
            f"新建 {figures['new_masters']} 个主记录"
        )
    table = Table(title="主题库关联")
    columns = ("类型", "新记录", "按标识关联", "概率匹配", "新建主记录", "无效标识", "自动拆分")
    for column in columns:
        table.add_column(column, justify="right")
    for r in reports:
        table.add_row(
            r.kind,
            str(r.records),
            str(r.by_identifier),
            str(r.probabilistic),
            str(r.new_masters),
            str(r.invalid_identifiers),
            str(r.auto_splits),
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


# --- data stewards mend master records -------------------------------------------------------

ACTOR_HELP = "Username of the data steward the decision is attributed to"
REASON_HELP = "Why (2–500 characters); kept with the decision"


def _as_steward(username: str, decide: Callable[[Session, User], str]) -> None:
    """One decision in one transaction, by the user named with --actor; prints its outcome.
    A refusal prints the reason and exits with 1, changing nothing."""
    from govloop.core import accounts
    from govloop.core.cli import fail
    from govloop.core.db import unit_of_work
    from govloop.core.errors import GovloopError

    try:
        with unit_of_work() as session:
            user = accounts.find_user(session=session, username=username)
            outcome = decide(session, user)
    except GovloopError as exc:
        fail(exc)
    console.print(outcome, markup=False, highlight=False)


@subjects_app.command("split")
def split(
    master_id: int = typer.Argument(..., help="The master record to split"),
    record_ids: list[int] = typer.Argument(..., help="The records that leave for a new master"),
    reason: str = typer.Option(..., "--reason", help=REASON_HELP),
    actor: str = typer.Option(..., "--actor", help=ACTOR_HELP),
) -> None:
    """Split records off a master; the part with more records keeps the master's id."""
    from govloop.subjects import stewardship

    def decide(session: Session, user: User) -> str:
        kept, new = stewardship.split_master(session, master_id, record_ids, user, reason)
        return f"已拆分：主记录 #{kept} 保留原编号，新主记录 #{new}"

    _as_steward(actor, decide)


@subjects_app.command("move")
def move(
    record_id: int = typer.Argument(..., help="The source record to move"),
    to: str = typer.Option(..., "--to", help="Master id to move it to, or 'new'"),
    reason: str = typer.Option(..., "--reason", help=REASON_HELP),
    actor: str = typer.Option(..., "--actor", help=ACTOR_HELP),
) -> None:
    """Move one record to another master of its kind, or to a new one (--to new)."""
    from govloop.core.input_guard import digits_int
    from govloop.subjects import stewardship

    target = None if to.strip().lower() == "new" else digits_int(to.lstrip("#"))
    if target is None and to.strip().lower() != "new":
        console.print("错误：--to 应为主记录编号或 new", style="red", markup=False)
        raise typer.Exit(2)

    def decide(session: Session, user: User) -> str:
        source, joined = stewardship.move_record(session, record_id, target, user, reason)
        return f"已移动：记录 #{record_id} 从主记录 #{source} 移到 #{joined}"

    _as_steward(actor, decide)


@subjects_app.command("not-same")
def not_same(
    record_a: int = typer.Argument(...),
    record_b: int = typer.Argument(..., help="Leaves for a new master if both are in one"),
    reason: str = typer.Option(..., "--reason", help=REASON_HELP),
    actor: str = typer.Option(..., "--actor", help=ACTOR_HELP),
) -> None:
    """Two records are never one person; if one master holds both, RECORD_B leaves it."""
    from govloop.subjects import stewardship

    def decide(session: Session, user: User) -> str:
        stewardship.mark_not_same(session, record_a, record_b, user, reason)
        a = stewardship.master_of_record(session, record_a)
        b = stewardship.master_of_record(session, record_b)
        return f"已记录：记录 #{record_a} 与 #{record_b} 不是同一人（现分属主记录 #{a} 与 #{b}）"

    _as_steward(actor, decide)


@subjects_app.command("suspicious")
def suspicious(
    kind: str = typer.Option("person", help="person, enterprise or project"),
    limit: int = typer.Option(50, min=1, max=1_000, help="How many masters to list"),
) -> None:
    """Masters that look wrongly merged, riskiest first, with their reasons."""
    from govloop.core.cli import fail
    from govloop.core.db import unit_of_work
    from govloop.core.errors import GovloopError
    from govloop.subjects import stewardship

    try:
        with unit_of_work(readonly=True) as session:
            rows = stewardship.suspicious_masters(session, kind=kind, limit=limit)
    except GovloopError as exc:
        fail(exc)
    table = Table(title=f"疑似错误合并（{len(rows)}）")
    table.add_column("排名", justify="right")
    table.add_column("主记录", justify="right")
    table.add_column("名称")
    table.add_column("记录数", justify="right")
    table.add_column("疑点")
    for rank, row in enumerate(rows, 1):
        table.add_row(
            str(rank),
            f"#{row.master_id}",
            row.display_name,
            str(row.record_count),
            "\n".join(
                f"{f.label}：{f.pairs} 对（如 #{f.example[0]} 与 #{f.example[1]}）"
                for f in row.findings
            ),
        )
    console.print(table)
