"""Hall CLI: `govloop hall …`."""

from __future__ import annotations

import typer
from rich.console import Console

from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.hall import appointments
from govloop.org import service as org_service

console = Console()
hall_app = typer.Typer(help="Service hall operations.", no_args_is_help=True)


@hall_app.command("sweep-appointments")
def sweep_appointments(hall: str = typer.Argument(..., help="Hall code")) -> None:
    """Mark appointments whose slot has passed without check-in as missed."""
    try:
        with unit_of_work() as session:
            missed = appointments.sweep_missed(
                session=session, hall=org_service.get_hall(session=session, code=hall)
            )
    except GovloopError as exc:
        console.print(f"[red]错误：{exc.message}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"missed: {len(missed)}")


@hall_app.command("run-jobs")
def run_jobs() -> None:
    """Run the timed duties once: missed appointments, closing the queue after hours."""
    from govloop.hall.jobs import run_all_halls

    with unit_of_work() as session:
        for report in run_all_halls(session=session):
            closed = sum(len(v) for v in report["closed"].values())
            missed = len(report["missed"])
            console.print(f"{report['hall']}: missed appointments {missed}, closed {closed}")
