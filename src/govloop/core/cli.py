"""Core CLI groups: `govloop db …` and `govloop users …`."""

from __future__ import annotations

import getpass

import typer
from rich.console import Console

from govloop.core.auth import Role, create_user, issue_api_token
from govloop.core.db import get_engine, unit_of_work
from govloop.core.errors import GovloopError
from govloop.core.migrate import upgrade

console = Console()
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)


def fail(exc: GovloopError) -> None:
    console.print(f"[red]错误：{exc.message}[/red]")
    raise typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    engine = get_engine()
    upgrade(engine, revision)
    console.print(
        f"[green]database at {revision}[/green] ({engine.url.render_as_string(hide_password=True)})"
    )


@users_app.command("create")
def users_create(
    username: str,
    role: str = typer.Option(Role.ADMIN.value, help="One of: " + ", ".join(r.value for r in Role)),
    display_name: str | None = typer.Option(None),
    password: str | None = typer.Option(None, help="Prompted for when omitted."),
) -> None:
    """Create a user (the first admin: `govloop users create admin`)."""
    if password is None:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat: "):
            console.print("[red]passwords differ[/red]")
            raise typer.Exit(code=1)
    try:
        with unit_of_work() as session:
            user = create_user(
                session=session,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
            )
            console.print(f"[green]created {user.username} ({user.role})[/green]")
    except GovloopError as exc:
        fail(exc)


@users_app.command("token")
def users_token(
    username: str, name: str = typer.Option("cli", help="What the token is for.")
) -> None:
    """Issue an API token for USERNAME (shown once)."""
    from sqlalchemy import select

    from govloop.core.models import User

    with unit_of_work() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            console.print(f"[red]no such user: {username}[/red]")
            raise typer.Exit(code=1)
        print(issue_api_token(session=session, user=user, name=name))
