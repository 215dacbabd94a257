"""Hall CLI: `govloop hall …`, `govloop serve`, `govloop demo`, `govloop bench hall`."""

from __future__ import annotations

import typer
from rich.console import Console

from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.hall import appointments, service

console = Console()
hall_app = typer.Typer(help="Service hall operations.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (print JSON).", no_args_is_help=True)


@hall_app.command("sweep-appointments")
def sweep_appointments(hall: str = typer.Argument(..., help="Hall code")) -> None:
    """Mark appointments whose slot has passed without check-in as missed."""
    try:
        with unit_of_work() as session:
            missed = appointments.sweep_missed(
                session=session, hall=service.get_hall(session=session, code=hall)
            )
    except GovloopError as exc:
        console.print(f"[red]错误：{exc.message}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"missed: {len(missed)}")


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the web application."""
    import uvicorn

    uvicorn.run(
        "govloop.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def demo() -> None:
    """Build the demo hall with 90 days of history and serve it with a live day."""
    console.print("[yellow]demo data not available yet[/yellow]")
    raise typer.Exit(1)
