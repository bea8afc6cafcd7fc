"""The `monitor` command line: one module per command group, each exposing `commands`.

Errors a person can fix (configuration, registry, database URL, bad arguments) are printed as
one line naming the problem, with exit status 1 or 2, never as a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from db.engine import DatabaseError
from db.feeds import SyncError
from monitor.optional import MissingDependency
from monitor.registry import RegistryError
from settings.config import Config, ConfigError, load_config

# Command name -> the module that defines it (as `commands: list[click.Command]`), in the
# order of `--help`. Modules load when their command runs: the crawl child started every tick
# does not pay for the digest's templates or the daemon's scheduler.
COMMANDS = {
    "feeds": "feeds",
    "crawl": "crawl",
    "run": "run",
    "articles": "articles",
    "search": "search",
    "stories": "stories",
    "recluster": "stories",
    "retag": "retag",
    "browse": "browse",
    "status": "status",
    "digest": "digest",
    "db": "db",
    "demo": "demo",
}


class AppContext:
    """Configuration, loaded on first use so that `--help` works with a broken setup."""

    def __init__(self) -> None:
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config()
        return self._config

    def database(self) -> str:
        """The database URL, migrated to the current schema (a fresh database is set up)."""
        from db.engine import upgrade

        url = self.config.database_url
        upgrade(url)
        return url


pass_app = click.make_pass_decorator(AppContext, ensure=True)


class MonitorGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        commands = importlib.import_module(f"monitor.cli.{module}").commands
        return next((command for command in commands if command.name == cmd_name), None)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, RegistryError, DatabaseError, SyncError, MissingDependency) as exc:
            raise click.ClickException(str(exc)) from None


def database_url(value: str) -> str:
    """A `--database` value as a URL: URLs pass through, anything else is a SQLite file."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="media-monitor")
@click.option(
    "--database",
    metavar="URL|FILE",
    help="Database to use instead of MONITOR_DATABASE_URL: a SQLAlchemy URL or a SQLite file.",
)
@click.pass_context
def cli(ctx: click.Context, database: str | None) -> None:
    """Media monitor: Moroccan and Israeli press, syndication folded, defence cooperation tagged.

    \b
    Quick start (offline):   monitor demo
    Then, on the demo data:  monitor --database demo-monitor.db articles --since 7d
    Real use:                monitor feeds sync && monitor run
    Configuration comes from MONITOR_* environment variables (see README).
    """
    if database:
        # Through the environment, so the crawl children a command starts use it too.
        os.environ["MONITOR_DATABASE_URL"] = database_url(database)
    ctx.ensure_object(AppContext)


def main() -> None:
    # Scrapy looks for scrapy.cfg from the working directory up; name our settings outright
    # so the command works from anywhere, also after a non-editable install.
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "settings")
    sys.exit(cli.main(prog_name="monitor"))
