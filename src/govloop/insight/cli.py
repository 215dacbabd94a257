"""Insight CLI: `govloop insight …` and `govloop bench insight`."""

from __future__ import annotations

import json
from typing import Any

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
    from govloop.insight import planning

    with unit_of_work(readonly=True) as session:
        report = planning.staffing_report(planning.staffing(session=session, hall_code=hall))
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for day, slots in report["days"].items():
        row = " ".join(f"{s['slot']}:{s['required']}" for s in slots)
        console.print(f"{day}  {row}")
    console.print(f"gaps: {len(report['gaps'])}, infeasible slots: {len(report['infeasible'])}")


def bench_insight(
    quick: bool = typer.Option(False, "--quick", help="Small sizes (for tests)"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
) -> None:
    """Staffing speed, Erlang A against simulation, forecast accuracy on bank_calls and
    anomaly detection on injected anomalies."""
    from govloop.insight.bench_anomalies import anomaly_figures
    from govloop.insight.bench_forecast import forecast_figures
    from govloop.insight.bench_queueing import queueing_figures

    result: dict[str, Any] = {}
    with console.status("staffing and queueing…"):
        result.update(queueing_figures(quick=quick))
    # headline figures at the top level, each part in full under its own key
    with console.status("forecasting bank_calls…"):
        forecast = forecast_figures(origins=5 if quick else None)
    result.update({k: v for k, v in forecast.items() if k.startswith("forecast_")})
    result["forecast"] = forecast
    with console.status("anomalies on generated history…"):
        anomalies = anomaly_figures(series=6, days=200) if quick else anomaly_figures()
    result.update({k: v for k, v in anomalies.items() if k.startswith("anomaly_")})
    result["anomalies"] = anomalies
    goals = {
        "staffing_seconds": result.get("staffing_seconds", float("inf")) <= 1.0,
        "erlang_a_agree": result.get("erlang_a_agree", float("inf")) <= 0.02,
        "sim_target_met": result.get("sim_target_met", 0.0) >= 0.95,
        "forecast_mase_ratio": result.get("forecast_mase_ratio", float("inf")) <= 0.9,
        "forecast_mape": result.get("forecast_mape", float("inf")) <= 11.0,
        "anomaly_recall": result.get("anomaly_recall", 0.0) >= 0.9,
        "anomaly_false_per_1000": result.get("anomaly_false_per_1000", float("inf")) <= 1.0,
    }
    result["goals_met"] = goals
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, default=str))
    else:
        for key, met in goals.items():
            console.print(f"{key}: {result.get(key)} {'met' if met else 'MISSED'}")
