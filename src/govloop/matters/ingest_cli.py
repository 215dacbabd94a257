"""``govloop matters ingest``: apply the department records the ingest pipeline stored
(``matter_record``) to matters now, instead of waiting for the timed duty."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from govloop.matters import ingest_consumer

matter_ingest_app = typer.Typer(no_args_is_help=True)
console = Console()


@matter_ingest_app.callback()
def main() -> None:
    """办件数据接入：部门审批系统推送或导出的办件记录。"""


@matter_ingest_app.command("apply")
def apply(as_json: bool = typer.Option(False, "--json", help="Print the totals as JSON")) -> None:
    """Open and move matters from the stored department records not applied yet."""
    totals: dict[str, int] = {}
    dead: list[int] = []
    reports = list(ingest_consumer.apply_all())
    if not reports:
        console.print("[yellow]另一个进程正在处理办件记录，请稍后再试[/yellow]")
        raise typer.Exit(1)
    for report in reports:
        for key, value in report.as_dict().items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
        dead += report.dead_letters
    if as_json:
        print(json.dumps({**totals, "dead_letters": dead}, ensure_ascii=False))
        return
    console.print(
        f"处理记录 {totals.get('taken', 0)} 条：开办 {totals.get('opened', 0)}，"
        f"推进 {totals.get('moved', 0)}，状态相同 {totals.get('same', 0)}，"
        f"迟到的旧记录 {totals.get('stale', 0)}，拒收 {totals.get('rejected', 0)}"
        + (f"（死信 {', '.join(map(str, dead))}）" if dead else "")
    )
