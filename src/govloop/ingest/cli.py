"""Command group of the data platform."""

from __future__ import annotations

import typer

ingest_app = typer.Typer(no_args_is_help=True)
