"""`govloop matters`: the deadline sweep, a department's open matters, one matter's history,
and the courier simulator's pushes now."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.matters import service, sweep, views
from govloop.matters.delivery import jobs as delivery_jobs
from govloop.matters.ingest_cli import matter_ingest_app
from govloop.org import service as org_service

matters_app = typer.Typer(no_args_is_help=True, help="办件：时限巡查、在办列表、办件详情、快递轨迹")
matters_app.add_typer(matter_ingest_app, name="ingest", help="办件数据接入：部门审批系统的办件记录")
console = Console()


def _fail(exc: GovloopError) -> None:
    console.print(f"[red]{exc.message}[/red]")
    raise typer.Exit(1) from exc


@matters_app.command("sweep")
def run_sweep(as_json: bool = typer.Option(False, "--json", help="以 JSON 输出")) -> None:
    """Flag matters due soon or overdue (once each) and tell their departments."""
    with unit_of_work() as session:
        report = sweep.sweep(session=session)
    if as_json:
        typer.echo(json.dumps({"warned": report.warned, "overdue": report.overdue}))
        return
    console.print(f"即将到期 {report.warned} 件，新超期 {report.overdue} 件")


@matters_app.command("list")
def list_open(
    department: str | None = typer.Option(None, "--department", help="部门编码（默认全部）"),
    state: str | None = typer.Option(None, "--state", help="状态，如 reviewing"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
) -> None:
    """Open matters, overdue first."""
    try:
        with unit_of_work(readonly=True) as session:
            dept_id = (
                org_service.get_department(session=session, code=department).id
                if department
                else None
            )
            rows = [
                views.matter_out(session, m)
                for m in service.workbench(session=session, department_id=dept_id, state=state)
            ]
    except GovloopError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("办件编号", "事项", "状态", "承诺办结", "时限")
    for r in rows:
        due = (r["promised_due_at"] or "")[:10]
        table.add_row(r["number"], r["item"], r["state_label"], due, r["clock_label"])
    console.print(table)


@matters_app.command("show")
def show(number: str, as_json: bool = typer.Option(False, "--json", help="以 JSON 输出")) -> None:
    """One matter with its history (applicant masked)."""
    try:
        with unit_of_work(readonly=True) as session:
            matter = service.get_matter(session=session, number=number)
            out = views.matter_out(session, matter)
            out["events"] = [
                {"at": e.at.isoformat(), "kind": e.kind, "note": e.note}
                for e in service.events(session=session, matter=matter)
            ]
    except GovloopError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    console.print(
        f"[bold]{out['number']}[/bold] {out['item']} · {out['state_label']} · {out['clock_label']}"
    )
    for e in out["events"]:
        console.print(f"  {e['at'][:16]}  {e['kind']}  {e['note'] or ''}")


@matters_app.command("courier-push")
def courier_push() -> None:
    """Deliver the courier simulator's tracking events that are due now."""
    r = delivery_jobs.push_simulator_events()
    console.print(f"推送 {r.sent} 条，接收 {r.taken} 条，拒收 {r.refused} 条，失败 {r.failed} 条")
