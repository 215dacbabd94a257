"""Insight CLI: `govloop insight …`."""

from __future__ import annotations

import json

import typer
from rich.console import Console

insight_app = typer.Typer(help="Demand, forecasts, staffing, anomalies (理解分析 · 评估决策)")
console = Console(stderr=True)


@insight_app.command("scan")
def scan_anomalies(hall: str = typer.Argument(..., help="Hall code")) -> None:
    """Test every indicator series of a hall and store the anomalies found."""
    from govloop.core.db import unit_of_work
    from govloop.insight import watch

    with unit_of_work() as session:
        report = watch.scan(session=session, hall_code=hall)
    console.print(
        f"{report.series} series over {report.days} days: {report.found} anomalies,"
        f" {report.new} new; not watched: {report.skipped or 'none'}"
    )


@insight_app.command("staffing")
def staffing_plan(
    hall: str = typer.Argument(..., help="Hall code"),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON"),
) -> None:
    """Plan next week's windows per 30-minute slot from the forecast."""
    from govloop.core.db import unit_of_work
    from govloop.insight.planning import service as planning

    with unit_of_work(readonly=True) as session:
        report = planning.staffing_report(planning.staffing(session=session, hall_code=hall))
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for day, slots in report["days"].items():
        row = " ".join(f"{s['slot']}:{s['required']}" for s in slots)
        console.print(f"{day}  {row}")
    console.print(f"gaps: {len(report['gaps'])}, infeasible slots: {len(report['infeasible'])}")
