"""`govloop notify`: run the sender until nothing is due, see the outbox by status and its
dead letters, retry one, record a citizen's opt-out, set a staff member's contact."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from govloop.core.clock import to_local
from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.core.i18n import gettext_ as _
from govloop.notify import dispatch, labels, service
from govloop.notify.models import ChannelName

notify_app = typer.Typer(
    no_args_is_help=True, help="通知服务：发送、状态、死信、退订、工作人员联系方式"
)
console = Console()


def _fail(exc: GovloopError) -> typer.Exit:
    console.print(f"[red]{exc.message}[/red]")
    return typer.Exit(1)


@notify_app.command("drain")
def drain(
    max_rounds: int = typer.Option(1000, "--max-rounds", min=1, help="最多发送轮数"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出结果"),
) -> None:
    """Run the sender until nothing is due (messages waiting for a retry stay queued)."""
    report = dispatch.drain(max_rounds=max_rounds)
    out = {"sent": report.sent, "retried": report.retried, "dead": report.dead}
    if as_json:
        typer.echo(json.dumps(out))
        return
    console.print(
        f"已发出 {report.sent} 条，稍后重试 {report.retried} 条，转入死信 {report.dead} 条"
    )


@notify_app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="以 JSON 输出结果")) -> None:
    """Messages by status, and whether each channel's gateway is simulated."""
    with unit_of_work(readonly=True) as session:
        counts = service.counts_by_status(session=session)
    simulated = service.gateways()
    if as_json:
        typer.echo(json.dumps({"counts": counts, "simulated": simulated}))
        return
    table = Table("状态", "条数")
    for key, n in counts.items():
        table.add_row(_(labels.STATUS_LABELS[key]), str(n))
    console.print(table)
    for channel, sim in simulated.items():
        name = _(labels.CHANNEL_LABELS[channel])
        console.print(f"{name}：{'模拟网关（不会真正发出）' if sim else '真实网关'}")


@notify_app.command("dead")
def dead(
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出结果"),
) -> None:
    """The dead-letter list: messages that failed every attempt or were refused."""
    with unit_of_work(readonly=True) as session:
        rows = service.dead_letters(session=session, limit=limit)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "created_at": r.created_at.isoformat(),
                        "channel": r.channel,
                        "recipient": r.recipient,
                        "template": r.template,
                        "attempts": r.attempts,
                        "reason": r.reason,
                        "last_error": r.last_error,
                    }
                    for r in rows
                ],
                ensure_ascii=False,
            )
        )
        return
    if not rows:
        console.print("死信列表为空。")
        return
    table = Table("编号", "时间", "渠道", "收件人", "内容", "次数", "原因", "最后错误")
    for r in rows:
        table.add_row(
            str(r.id),
            to_local(r.created_at).strftime("%m-%d %H:%M"),
            _(labels.CHANNEL_LABELS[r.channel]),
            r.recipient,
            _(labels.TEMPLATE_LABELS.get(r.template, r.template)),
            str(r.attempts),
            _(labels.REASON_LABELS.get(r.reason or "", r.reason or "")),
            r.last_error or "",
        )
    console.print(table)


@notify_app.command("retry")
def retry(notification_id: int = typer.Argument(..., help="死信的编号")) -> None:
    """Put a dead-lettered message back in the queue."""
    try:
        with unit_of_work() as session:
            dispatch.retry_dead(session=session, notification_id=notification_id, by="cli")
    except GovloopError as exc:
        raise _fail(exc) from exc
    console.print(f"通知 {notification_id} 已重新排队，将在下一轮发送。")


@notify_app.command("opt-out")
def opt_out(
    address: str = typer.Argument(..., help="手机号（或 --email 时的邮箱地址）"),
    email: bool = typer.Option(False, "--email", help="退订电子邮件而不是短信"),
    undo: bool = typer.Option(False, "--undo", help="恢复接收"),
) -> None:
    """Record a citizen's opt-out (asked for by phone or at the counter), or undo it."""
    channel = ChannelName.EMAIL if email else ChannelName.SMS
    try:
        with unit_of_work() as session:
            changed = service.set_opt_out(
                session=session, channel=channel, address=address, opted_out=not undo, via="staff"
            )
    except GovloopError as exc:
        raise _fail(exc) from exc
    if undo:
        console.print("已恢复接收。" if changed else "该地址并未退订。")
    else:
        console.print("已退订。" if changed else "该地址此前已退订。")


@notify_app.command("contact")
def contact(
    username: str = typer.Argument(..., help="工作人员的用户名"),
    phone: str | None = typer.Option(None, "--phone", help="手机号（空字符串表示清除）"),
    email: str | None = typer.Option(None, "--email", help="邮箱地址（空字符串表示清除）"),
) -> None:
    """Show or set where a staff member is told of work for them."""
    try:
        with unit_of_work() as session:
            user = service.find_user(session=session, username=username)
            found = service.get_contact(session=session, user_id=user.id)
            if phone is not None or email is not None:
                found = service.set_contact(
                    session=session,
                    user_id=user.id,
                    phone=found.phone if phone is None else phone,
                    email=found.email if email is None else email,
                )
    except GovloopError as exc:
        raise _fail(exc) from exc
    console.print(f"{username}：手机 {found.phone or '未设置'}，邮箱 {found.email or '未设置'}")
