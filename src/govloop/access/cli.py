"""Access CLI: `govloop audit …` and `govloop bench access`."""

from __future__ import annotations

import json

import typer
from rich.console import Console

audit_app = typer.Typer(help="访问审计：校验日志、签名检查点、公钥", no_args_is_help=True)
console = Console()
status_console = Console(stderr=True)


@audit_app.command("verify")
def verify(as_json: bool = typer.Option(False, "--json", help="Print the report as JSON")) -> None:
    """Verify the access log's hash chain and signed checkpoints (exit code 1 on tampering)."""
    from dataclasses import asdict

    from govloop.access import audit
    from govloop.core.db import unit_of_work

    with status_console.status("正在校验访问日志…"), unit_of_work(readonly=True) as session:
        report = audit.verify(session=session)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "entries": report.entries,
                    "checkpoints": report.checkpoints,
                    "last_seq": report.last_seq,
                    "problems": [asdict(p) for p in report.problems],
                },
                ensure_ascii=False,
            )
        )
    elif report.ok:
        console.print(
            f"[green]访问日志完整：{report.entries} 条，{report.checkpoints} 个签名检查点[/green]"
        )
    else:
        console.print(f"[red]发现篡改（共 {report.entries} 条）：[/red]")
        for problem in report.problems:
            console.print(f"  [{problem.kind}] {problem.message}")
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Sign the log's current head now (e.g. from cron at the end of the day)."""
    from govloop.access import audit
    from govloop.core.db import unit_of_work

    with unit_of_work() as session:
        signed = audit.checkpoint_now(session=session)
        label = f"第 {signed.seq} 条" if signed else None
    console.print(f"已签名检查点：{label}" if label else "日志为空，无需签名")


@audit_app.command("public-key")
def public_key() -> None:
    """The Ed25519 public key that verifies the checkpoints (give it to auditors)."""
    from govloop.access import audit

    typer.echo(audit.public_key_pem())


@audit_app.command("sweep")
def sweep() -> None:
    """End grants whose case closed or whose time limit passed."""
    from govloop.access import service
    from govloop.core.db import unit_of_work

    with unit_of_work() as session:
        counts = service.sweep(session=session)
    console.print(f"已结束授权：过期 {counts['expired']} 个，办件结束 {counts['case_closed']} 个")


def bench_access(
    quick: bool = typer.Option(False, "--quick", help="Small sizes, for tests"),
    as_json: bool = typer.Option(True, "--json/--no-json", help="Print one JSON object"),
) -> None:
    """Field-filter overhead, audit appends, verifying a million entries, tamper detection."""
    from govloop.access import bench

    with status_console.status("bench access…") as status:
        result = bench.run(quick=quick, progress=lambda msg: status.update(msg))
    typer.echo(json.dumps(result, ensure_ascii=False, indent=None if as_json else 1))
