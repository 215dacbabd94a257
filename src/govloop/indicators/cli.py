"""Indicators CLI: `govloop indicators …`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.indicators import results, service
from govloop.indicators.framework import FrameworkInvalid
from govloop.indicators.periods import MATERIALIZED_GRAINS

console = Console()
indicators_app = typer.Typer(
    help="Indicator framework (SERVQUAL), KPI refresh, targets and scores.",
    no_args_is_help=True,
)


def _fail(exc: GovloopError) -> None:
    if isinstance(exc, FrameworkInvalid):
        console.print("[red]指标体系文件有误，现行版本保持不变：[/red]")
        for problem in exc.problems:
            console.print(f"  {problem}", markup=False, soft_wrap=True)
    else:
        console.print(f"[red]错误：{exc.message}[/red]")
    raise typer.Exit(code=1)


@indicators_app.command("load")
def load(
    file: Path | None = typer.Argument(None, help="Framework YAML (default: the shipped one)."),
) -> None:
    """Validate a framework file and store it as a new version."""
    try:
        with unit_of_work() as session:
            version, created = service.load_framework(session=session, path=file)
            text = (
                f"framework {version.name} v{version.version} "
                f"(valid from {version.valid_from.isoformat()}, sha256 {version.sha256[:12]})"
            )
    except GovloopError as exc:
        _fail(exc)
        return
    console.print(f"[green]loaded {text}[/green]" if created else f"unchanged: {text}")


@indicators_app.command("versions")
def versions() -> None:
    """List the stored framework versions."""
    with unit_of_work(readonly=True) as session:
        rows = service.list_versions(session=session)
        table = Table("version", "label", "valid from", "sha256", "loaded at", "file")
        for v in rows:
            table.add_row(
                str(v.version),
                v.label,
                v.valid_from.isoformat(),
                v.sha256[:12],
                v.loaded_at.isoformat(timespec="seconds"),
                v.source_path,
            )
    console.print(table)


@indicators_app.command("refresh")
def refresh(
    settle_seconds: float = typer.Option(
        5.0, help="Leave events younger than this for the next refresh."
    ),
    grain: list[str] = typer.Option(
        list(MATERIALIZED_GRAINS), help="Grains to materialize (day, week, month)."
    ),
) -> None:
    """Export new events to the analytics store and recompute the periods they touch."""
    unknown = set(grain) - set(MATERIALIZED_GRAINS)
    if unknown:
        console.print(f"[red]未知的周期类型：{', '.join(sorted(unknown))}[/red]")
        raise typer.Exit(code=1)
    try:
        with unit_of_work() as session:
            report = service.refresh(session=session, grains=grain, settle_seconds=settle_seconds)
    except GovloopError as exc:
        _fail(exc)
        return
    console.print(
        f"exported {report.exported}; recomputed periods {report.periods}; "
        f"{report.results_written} results written"
        + ("; store rebuilt" if report.store_reset else "")
    )


@indicators_app.command("show")
def show(
    hall: str = typer.Option(..., help="Hall code"),
    period: str = typer.Option(..., help="2026-11, 2026-W48, 2026-11-23 or a..b"),
    object_kind: str = typer.Option("hall", "--object", help="hall, department, window, …"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show indicator values, targets and scores of a hall's objects for a period."""
    try:
        with unit_of_work(readonly=True) as session:
            out = results.scores(
                session=session, hall_code=hall, object_kind=object_kind, period_text=period
            )
    except GovloopError as exc:
        _fail(exc)
        return
    if as_json:
        print(out.model_dump_json(indent=2))
        return
    source = "materialized" if out.materialized else "computed now"
    console.print(
        f"{out.hall} · {out.object_kind} · {out.period} ({out.start}–{out.end}) · "
        f"framework v{out.framework_version} · {source}"
    )
    for obj in out.objects:
        table = Table(title=f"{obj.label}  overall {_fmt(obj.overall)}")
        table.add_column("indicator")
        table.add_column("value", justify="right")
        table.add_column("target", justify="right")
        table.add_column("score", justify="right")
        for ind in obj.indicators:
            mark = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: ""}[ind.met]
            table.add_row(ind.code, _fmt(ind.value), _fmt(ind.target), f"{_fmt(ind.score)} {mark}")
        for dim, value in obj.dimensions.items():
            table.add_row(f"[bold]{dim}[/bold]", "", "", _fmt(value))
        console.print(table)
    if not out.objects:
        console.print("[yellow]no data for this period[/yellow]")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


@indicators_app.command("target")
def target(
    indicator: str = typer.Argument(..., help="Indicator code"),
    value: float = typer.Argument(..., help="Target value"),
    hall: str | None = typer.Option(None, help="Hall code (omit: every hall)"),
    object_kind: str = typer.Option("hall", "--object", help="hall, department, window, …"),
    ref: str | None = typer.Option(
        None, help="Window number, staff username, department or item code (an override)"
    ),
    rule: str = typer.Option(
        "inherit", help="Decomposition of a hall target: inherit, volume_share, volume_balance"
    ),
    valid_from: str | None = typer.Option(None, "--from", help="First day (ISO date)"),
) -> None:
    """Set a target (指标下发分解): a hall's with its rule, a kind-level one or an override."""
    try:
        start = date.fromisoformat(valid_from) if valid_from else None
    except ValueError:
        console.print(f"[red]日期格式不正确：{valid_from}[/red]")
        raise typer.Exit(code=1) from None
    try:
        with unit_of_work() as session:
            row = service.set_target(
                session=session,
                indicator_code=indicator,
                value=value,
                hall_code=hall,
                object_kind=object_kind,
                object_ref=ref,
                rule=rule,
                valid_from=start,
            )
            text = f"{row.indicator_code} = {row.value:g} from {row.valid_from.isoformat()}"
    except GovloopError as exc:
        _fail(exc)
        return
    console.print(f"[green]target set: {text}[/green] (run `govloop indicators refresh`)")


@indicators_app.command("export")
def export(
    hall: str = typer.Option(..., help="Hall code"),
    period: str = typer.Option(..., help="Month such as 2026-11 (or a week, day or a..b)"),
    fmt: str = typer.Option("xlsx", "--format", help="xlsx or pdf"),
    out: Path = typer.Option(..., "--out", help="File to write"),
    object_kind: list[str] = typer.Option(
        [], "--object", help="staff, window, department, item, hall (repeat; default: all)"
    ),
) -> None:
    """Export the assessment scorecards (考评) of a hall to Excel or PDF."""
    from govloop.indicators import export_reports, scorecards

    if fmt not in ("xlsx", "pdf"):
        console.print(f"[red]未知的导出格式：{fmt}（xlsx 或 pdf）[/red]")
        raise typer.Exit(code=1)
    try:
        with unit_of_work(readonly=True) as session:
            cards = scorecards.scorecards(
                session=session, hall_code=hall, kinds=object_kind, period_text=period
            )
    except GovloopError as exc:
        _fail(exc)
        return
    build = export_reports.build_xlsx if fmt == "xlsx" else export_reports.build_pdf
    out.write_bytes(build(cards))
    rows = sum(len(c.rows) for c in cards)
    console.print(f"[green]wrote {out} ({len(cards)} scorecards, {rows} rows)[/green]")
