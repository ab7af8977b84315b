"""`wan-i2v users add|list|passwd|disable|api-key`: accounts in the orchestrator's database."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Users of the orchestrator (roles user and admin) and their API keys.", no_args_is_help=True)


def _store():  # type: ignore[no-untyped-def]
    from orchestrator.core.db import session_factory, upgrade
    from orchestrator.core.settings import get_settings
    from orchestrator.users.store import UserStore

    url = get_settings().DATABASE_URL
    upgrade(url)
    return UserStore(session_factory(url))


def _run(action) -> None:  # type: ignore[no-untyped-def]
    from orchestrator.core.errors import ServiceError

    try:
        action()
    except ServiceError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(code=1) from None


def _password(given: str | None) -> str:
    return given if given is not None else typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name.")],
    password: Annotated[str | None, typer.Option(help="Password (asked for when not given).")] = None,
    admin: Annotated[bool, typer.Option(help="Give the admin role.")] = False,
) -> None:
    """Add a user."""
    def act() -> None:
        user = _store().add(name, _password(password), "admin" if admin else "user")
        typer.echo(f"Added {user.role} '{user.username}'.")
    _run(act)


@app.command("list")
def list_users() -> None:
    """List users."""
    for user in _store().list():
        flag = " (disabled)" if user.disabled else ""
        typer.echo(f"{user.username:24} {user.role:6} {user.created_at:%Y-%m-%d}{flag}")


@app.command("passwd")
def passwd(
    name: Annotated[str, typer.Argument(help="User name.")],
    password: Annotated[str | None, typer.Option(help="New password (asked for when not given).")] = None,
) -> None:
    """Set a user's password."""
    _run(lambda: (_store().set_password(name, _password(password)), typer.echo(f"Password of '{name}' changed.")))


@app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="User name.")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable the account again instead.")] = False,
) -> None:
    """Disable (or --enable) an account: its tokens and API keys stop working at once."""
    _run(lambda: (_store().set_disabled(name, not enable),
                  typer.echo(f"'{name}' {'enabled' if enable else 'disabled'}.")))


@app.command("api-key")
def api_key(
    name: Annotated[str, typer.Argument(help="User name.")],
    label: Annotated[str, typer.Option(help="A note on what the key is for.")] = "",
) -> None:
    """Make an API key for a program (shown once; only its hash is stored)."""
    def act() -> None:
        key = _store().create_api_key(name, label)
        typer.echo(key)
        typer.echo("Keep it now: it is not shown again. Use it as 'Authorization: Bearer <key>'.", err=True)
    _run(act)
