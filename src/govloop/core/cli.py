"""Core CLI groups: `govloop db …` and `govloop users …`."""

from __future__ import annotations

import getpass

import typer
from rich.console import Console
from rich.table import Table

from govloop.core import accounts
from govloop.core.auth import Role, create_user, issue_api_token
from govloop.core.clock import to_local
from govloop.core.db import get_engine, unit_of_work
from govloop.core.errors import GovloopError
from govloop.core.migrate import upgrade

console = Console()
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)


def fail(exc: GovloopError) -> None:
    console.print(f"错误：{exc.message}", style="red", markup=False, highlight=False)
    raise typer.Exit(code=1)


def _new_password(password: str | None) -> str:
    if password is not None:
        return password
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Repeat: "):
        console.print("[red]passwords differ[/red]")
        raise typer.Exit(code=1)
    return password


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
    password = _new_password(password)
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


@users_app.command("deactivate")
def users_deactivate(username: str) -> None:
    """Stop USERNAME signing in; ends all their sessions and revokes all their API tokens."""
    try:
        with unit_of_work() as session:
            user = accounts.find_user(session=session, username=username)
            ended, revoked = accounts.deactivate(session=session, user=user)
    except GovloopError as exc:
        fail(exc)
    console.print(
        f"[green]deactivated {username}[/green]: {ended} session(s) ended, "
        f"{revoked} token(s) revoked"
    )


@users_app.command("activate")
def users_activate(username: str) -> None:
    """Let USERNAME sign in again (sessions and tokens ended earlier stay ended)."""
    try:
        with unit_of_work() as session:
            accounts.activate(
                session=session, user=accounts.find_user(session=session, username=username)
            )
    except GovloopError as exc:
        fail(exc)
    console.print(f"[green]activated {username}[/green]")


@users_app.command("passwd")
def users_passwd(
    username: str, password: str | None = typer.Option(None, help="Prompted for when omitted.")
) -> None:
    """Set a new password for USERNAME; ends all their sessions."""
    password = _new_password(password)
    try:
        with unit_of_work() as session:
            user = accounts.find_user(session=session, username=username)
            ended = accounts.set_password(session=session, user=user, password=password)
    except GovloopError as exc:
        fail(exc)
    console.print(f"[green]password of {username} set[/green]: {ended} session(s) ended")


def _when(value: object) -> str:
    from datetime import datetime

    return to_local(value).strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else "-"


@users_app.command("tokens")
def users_tokens(username: str) -> None:
    """List USERNAME's API tokens and live sign-in sessions (ids for `users revoke`)."""
    try:
        with unit_of_work(readonly=True) as session:
            user = accounts.find_user(session=session, username=username)
            tokens = accounts.tokens(session=session, user=user)
            sessions = accounts.live_sessions(session=session, user=user)
    except GovloopError as exc:
        fail(exc)
    table = Table(title=f"API tokens of {username}")
    for column in ("id", "name", "created", "last used", "state"):
        table.add_column(column)
    for t in tokens:
        state = f"revoked {_when(t.revoked_at)}" if t.revoked else "active"
        table.add_row(str(t.id), t.name, _when(t.created_at), _when(t.last_used_at), state)
    console.print(table)
    table = Table(title=f"Sign-in sessions of {username}")
    for column in ("id", "signed in", "last seen", "expires", "address", "browser"):
        table.add_column(column)
    for row in sessions:
        table.add_row(
            str(row.id),
            _when(row.created_at),
            _when(row.last_seen_at),
            _when(row.expires_at),
            row.ip or "-",
            (row.user_agent or "-")[:40],
        )
    console.print(table)


@users_app.command("revoke")
def users_revoke(
    username: str,
    token: list[int] = typer.Option([], "--token", help="API token id (repeatable)."),
    session_id: list[int] = typer.Option([], "--session", help="Session id (repeatable)."),
    all_tokens: bool = typer.Option(False, "--all-tokens", help="Every API token."),
    all_sessions: bool = typer.Option(False, "--all-sessions", help="Every sign-in session."),
) -> None:
    """Revoke API tokens and/or end sign-in sessions of USERNAME (see `users tokens`)."""
    if not (token or session_id or all_tokens or all_sessions):
        console.print(
            "[red]nothing to revoke: give --token, --session, --all-tokens or --all-sessions[/red]"
        )
        raise typer.Exit(code=1)
    try:
        with unit_of_work() as session:
            user = accounts.find_user(session=session, username=username)
            for token_id in token:
                accounts.revoke_token(session=session, user=user, token_id=token_id)
            for sid in session_id:
                accounts.revoke_session(session=session, user=user, session_id=sid)
            tokens = accounts.revoke_tokens(session=session, user=user) if all_tokens else 0
            ended = accounts.revoke_sessions(session=session, user=user) if all_sessions else 0
    except GovloopError as exc:
        fail(exc)
    console.print(
        f"[green]revoked for {username}[/green]: {len(token) + tokens} token(s), "
        f"{len(session_id) + ended} session(s)"
    )
