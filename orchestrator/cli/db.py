"""`wan-i2v db upgrade`: bring the database schema up to date (Alembic migrations)."""

from __future__ import annotations

import typer

app = typer.Typer(help="The orchestrator's database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Run the migrations up to REVISION (safe to run on every start)."""
    from orchestrator.core.db import upgrade
    from orchestrator.core.settings import get_settings

    url = get_settings().DATABASE_URL
    upgrade(url, revision)
    typer.echo(f"Database at {url.split('@')[-1]} is at revision {revision}.")
