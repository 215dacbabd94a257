"""Command group of the data platform."""

from __future__ import annotations

import typer

catalog_app = typer.Typer(no_args_is_help=True)
