"""`monitor db upgrade`: migrate the schema (other commands do it on a fresh database too)."""

from __future__ import annotations

import click

from db.engine import current_revision, display_url, get_engine, head_revision, upgrade
from monitor.cli import AppContext, pass_app


@click.group("db")
def database() -> None:
    """The database schema."""


@database.command("upgrade")
@pass_app
def upgrade_command(app: AppContext) -> None:
    """Migrate the database to the current schema.

    \b
    Examples:
      monitor db upgrade
      MONITOR_DATABASE_URL=postgresql://postgres@127.0.0.1/monitor monitor db upgrade
    """
    url = app.config.database_url
    applied = upgrade(url)
    revision = current_revision(get_engine(url).engine) if applied else head_revision()
    click.echo(f"{display_url(url)}: {'migrated to' if applied else 'already at'} {revision}")


commands = [database]
