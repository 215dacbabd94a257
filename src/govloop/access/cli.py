"""Access CLI: `govloop audit …`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

audit_app = typer.Typer(
    help="访问审计：校验日志、签名检查点、密钥与轮换、导出锚定链头", no_args_is_help=True
)
console = Console()
status_console = Console(stderr=True)


def _refuse(exc: Exception) -> NoReturn:
    """A configuration or rule error (GovloopError): its message, exit code 2."""
    console.print(f"[red]{getattr(exc, 'message', exc)}[/red]")
    raise typer.Exit(2)


def _print_problem(problem: Any) -> None:
    """One finding a line: its kind (stable, for scripts), position and message."""
    console.print(
        f"  [{problem.kind}] 第 {problem.seq} 条：{problem.message}", markup=False, soft_wrap=True
    )


def _print_report(report: Any) -> None:
    head = f"链头第 {report.head_seq} 条"
    if report.archived_segments:  # read from the archive files in their place
        head += f"；其中 {report.archived_segments} 段已归档到 Parquet 文件"
    if report.ok:
        console.print(
            f"[green]访问日志完整：{report.entries} 条，{report.checkpoints} 个签名检查点，"
            f"{head}[/green]"
        )
    else:
        console.print(f"[red]发现篡改（共 {report.entries} 条，{head}）：[/red]")
        for problem in report.problems:
            _print_problem(problem)
    for key in report.keys:
        trust = f"受信任（{key.source}）" if key.trusted else "[red]不受信任[/red]"
        mark = "，当前" if key.current else ""
        console.print(f"  密钥 {key.key_id}：{trust}{mark}，签过 {key.checkpoints} 个检查点")
    if report.anchor is None:
        console.print(
            "  [yellow]未对照锚定文件：无法发现连同检查点一起被截断、清空或重写的日志"
            "（--anchor 或 GOVLOOP_AUDIT_ANCHOR_DIR）[/yellow]"
        )
    else:
        a = report.anchor
        last = (
            f"最后为第 {a.last_seq} 条（{(a.last_hash or '')[:16]}…，{a.last_at}）"
            if a.heads
            else "尚无链头"
        )
        verdict = "[green]日志与之一致[/green]" if a.matches else "[red]日志与之不符[/red]"
        console.print(f"  锚定文件 {a.source}：{a.heads} 个链头，{last}；{verdict}")


@audit_app.command("verify")
def verify(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
    anchor: Path | None = typer.Option(
        None,
        "--anchor",
        help="The auditor's anchor file or folder (default: GOVLOOP_AUDIT_ANCHOR_DIR, if set)",
    ),
) -> None:
    """Verify the access log's chain, signed checkpoints, head row and exported heads (exit
    code 1 on tampering)."""
    from govloop.audit import anchor as anchoring
    from govloop.audit import log as audit
    from govloop.core.db import unit_of_work
    from govloop.core.errors import GovloopError

    try:
        with status_console.status("正在校验访问日志…"), unit_of_work(readonly=True) as session:
            report = audit.verify(
                session=session, anchor=anchoring.read(anchor) if anchor else None
            )
    except GovloopError as exc:
        _refuse(exc)
    if as_json:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("export")
def export(
    to: Path = typer.Option(..., "--to", help="The anchor folder the auditor keeps"),
) -> None:
    """Sign the current head and append the new signed heads to DIR/heads.jsonl (refused,
    writing nothing, when the log no longer matches what DIR holds)."""
    from govloop.audit import anchor_export
    from govloop.audit import log as audit
    from govloop.core.db import unit_of_work
    from govloop.core.errors import GovloopError

    try:
        with unit_of_work() as session:
            audit.checkpoint_now(session=session)
        with unit_of_work(readonly=True) as session:
            result = anchor_export.export(session=session, to=to)
    except GovloopError as exc:
        _refuse(exc)
    if not result.ok:
        console.print(f"[red]日志与锚定文件 {result.file} 不符，未导出：[/red]")
        for problem in result.problems:
            _print_problem(problem)
        raise typer.Exit(1)
    console.print(
        f"已追加到 {result.file}：{result.heads_written} 个链头，{result.keys_written} 个公钥；"
        f"最后导出的链头为第 {result.last_seq} 条"
    )


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Sign the log's current head now (e.g. from cron at the end of the day)."""
    from govloop.audit import log as audit
    from govloop.core.db import unit_of_work
    from govloop.core.errors import GovloopError

    try:
        with unit_of_work() as session:
            signed = audit.checkpoint_now(session=session)
            label = f"第 {signed.seq} 条（密钥 {signed.key_id}）" if signed else None
    except GovloopError as exc:
        _refuse(exc)
    console.print(f"已签名检查点：{label}" if label else "日志为空，无需签名")


@audit_app.command("keygen")
def keygen() -> None:
    """Create the first checkpoint signing key in GOVLOOP_AUDIT_KEY_DIR."""
    from govloop.audit import keys as audit_keys
    from govloop.core.errors import GovloopError

    try:
        record = audit_keys.keygen()
    except GovloopError as exc:
        _refuse(exc)
    console.print(f"已生成审计签名密钥 {record.key_id}（{audit_keys.key_dir()}）")
    typer.echo(record.pem(), nl=False)


@audit_app.command("rotate")
def rotate() -> None:
    """Replace the signing key; the old key endorses the new one, old checkpoints still
    verify (keep the old key's .json; its .pem may be destroyed)."""
    from govloop.audit import keys as audit_keys
    from govloop.audit import log as audit
    from govloop.core.db import unit_of_work
    from govloop.core.errors import GovloopError

    try:
        record = audit_keys.rotate()
    except GovloopError as exc:
        _refuse(exc)
    with unit_of_work() as session:
        audit.register_key(session=session, record=record)
    console.print(f"已轮换审计签名密钥：{record.endorsed_by} → {record.key_id}")
    typer.echo(record.pem(), nl=False)


@audit_app.command("public-key")
def public_key(
    every: bool = typer.Option(
        False, "--all", help="Every key ever used, one JSON object a line (id, key, endorsement)"
    ),
) -> None:
    """The current signing key's public key (PEM), or with --all every key's public half."""
    from govloop.audit import keys as audit_keys
    from govloop.core.errors import GovloopError

    if every:
        for record in audit_keys.records():
            typer.echo(json.dumps(record.as_json(), ensure_ascii=False))
        return
    try:
        typer.echo(audit_keys.current().record.pem(), nl=False)
    except GovloopError as exc:
        _refuse(exc)


@audit_app.command("adopt-legacy")
def adopt_legacy() -> None:
    """Once after upgrading: re-sign with the current key the checkpoints the old release
    signed with a key derived from the session secret (only if the log verifies otherwise)."""
    from govloop.audit import log as audit
    from govloop.core.db import unit_of_work
    from govloop.core.errors import GovloopError
    from govloop.core.settings import get_settings

    try:
        with unit_of_work() as session:
            count = audit.adopt_legacy_checkpoints(
                session=session, secret=get_settings().secret_key
            )
    except GovloopError as exc:
        _refuse(exc)
    console.print(f"已用当前密钥重新签名 {count} 个旧检查点")


@audit_app.command("sweep")
def sweep() -> None:
    """End grants whose case closed or whose time limit passed."""
    from govloop.access import service
    from govloop.core.db import unit_of_work

    with unit_of_work() as session:
        counts = service.sweep(session=session)
    console.print(f"已结束授权：过期 {counts['expired']} 个，办件结束 {counts['case_closed']} 个")
