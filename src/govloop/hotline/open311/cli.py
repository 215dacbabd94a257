"""`govloop hotline open311 …`: API keys of the Open311 clients."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from govloop.core.clock import to_local
from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.hotline.open311 import service as open311

console = Console()
app = typer.Typer(help="Open311 GeoReport v2 clients and their API keys.", no_args_is_help=True)


def _fail(exc: GovloopError) -> None:
    console.print(f"[red]错误：{exc.message}[/red]")
    raise typer.Exit(code=1)


@app.command("create-key")
def create_key(name: str = typer.Option(..., "--name", help="Who the key is for.")) -> None:
    """Create a client and print its API key (shown once; only its hash is stored)."""
    try:
        with unit_of_work() as session:
            client, key = open311.create_client(session=session, name=name)
            client_id = client.id
    except GovloopError as exc:
        _fail(exc)
        return
    console.print(f"[green]已创建 Open311 客户端 #{client_id}：{name}[/green]")
    console.print("API 密钥（仅显示这一次，请妥善保存）：")
    print(key)


@app.command("list-keys")
def list_keys() -> None:
    """List the clients (keys themselves are never stored)."""
    with unit_of_work(readonly=True) as session:
        clients = open311.list_clients(session=session)
        table = Table("id", "name", "active", "created")
        for c in clients:
            table.add_row(
                str(c.id),
                c.name,
                "yes" if c.active else "no",
                f"{to_local(c.created_at):%Y-%m-%d %H:%M}",
            )
    if not clients:
        console.print("还没有 Open311 客户端")
        return
    console.print(table)


@app.command("revoke-key")
def revoke_key(
    client_id: int = typer.Argument(..., help="The client's id (see list-keys)."),
) -> None:
    """Deactivate a client: its key is refused from now on."""
    try:
        with unit_of_work() as session:
            client = open311.revoke_client(session=session, client_id=client_id)
            name = client.name
    except GovloopError as exc:
        _fail(exc)
        return
    console.print(f"[yellow]已停用客户端 #{client_id}：{name}[/yellow]")
