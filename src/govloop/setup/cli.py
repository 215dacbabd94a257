"""`govloop org …`: the 事项清单 template, import and export; `govloop init`: the first
administrator of an empty database."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from govloop.core.auth import Role, create_user
from govloop.core.cli import fail
from govloop.core.db import get_engine, unit_of_work
from govloop.core.errors import Conflict, GovloopError
from govloop.core.migrate import upgrade
from govloop.core.models import User
from govloop.setup import service, sheets

console = Console()
org_app = typer.Typer(
    help="事项清单：模板、导入、导出（部门、大厅、事项、窗口、号源、人员）", no_args_is_help=True
)


@org_app.command("template")
def template(path: Path) -> None:
    """Write the empty 事项清单 template (.xlsx)."""
    path.write_bytes(sheets.template())
    console.print(f"[green]模板已写入 {path}[/green]")


@org_app.command("export")
def export(path: Path) -> None:
    """Write the current configuration in the template's layout."""
    with unit_of_work(readonly=True) as session:
        path.write_bytes(service.export(session))
    console.print(f"[green]当前配置已导出到 {path}[/green]")


@org_app.command("import")
def import_(
    paths: list[Path] = typer.Argument(..., help="One .xlsx workbook, or one CSV per sheet."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count; change nothing."),
) -> None:
    """Load a 事项清单 workbook: all of it, or nothing when any row has a problem."""
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        fail(GovloopError(f"找不到文件：{'、'.join(missing)}", code="no_file"))
    files = [(p.name, p.read_bytes()) for p in paths]
    try:
        with unit_of_work() as session:
            result = service.import_files(
                session=session, files=files, actor=None, source="cli", dry_run=dry_run
            )
    except GovloopError as exc:
        fail(exc)
    if not result.ok:
        table = Table("工作表", "行", "列", "问题", title="导入未执行：请修改以下问题后重试")
        for p in result.problems:
            table.add_row(p.sheet, str(p.row), p.column, p.message)
        console.print(table)
        raise typer.Exit(code=1)
    assert result.applied is not None
    table = Table(
        "工作表", "新增", "更新", "未变", title="试导入（未写入）" if dry_run else "已导入"
    )
    for name in sheets.ORDER:
        counts = result.applied.counts.get(name)
        if counts:
            table.add_row(name, *(str(counts[k]) for k in ("created", "updated", "unchanged")))
    console.print(table)
    for username, password in result.applied.passwords.items():
        console.print(
            f"新用户 {username} 的一次性密码：{password}（只显示这一次，首次登录须修改）",
            markup=False,
            highlight=False,
        )


def init(
    username: str = typer.Option("admin", help="The first administrator's user name."),
    display_name: str = typer.Option("系统管理员"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Set up an empty database: apply the migrations and create the first administrator."""
    upgrade(get_engine(), "head")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with unit_of_work() as session:
            if session.scalar(select(func.count()).select_from(User)):
                raise Conflict(
                    "数据库中已有用户：init 只用于空数据库，请用 govloop users create 添加用户",
                    code="already_initialised",
                )
            create_user(
                session=session,
                username=username,
                password=password,
                role=Role.ADMIN,
                display_name=display_name,
            )
    except GovloopError as exc:
        fail(exc)
    console.print(f"[green]已创建管理员 {username}；请登录 /admin 开始配置[/green]")
