"""`monitor browse`: the read-only web view (Datasette) on loopback."""

from __future__ import annotations

import click

from monitor.cli import AppContext, pass_app


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Loopback address to listen on (127.0.0.1 or ::1).",
)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535))
@pass_app
def browse(app: AppContext, host: str, port: int) -> None:
    """Browse the database in a web browser: search, facets, stories, CSV export.

    Serves Datasette, read-only, on loopback only: a search box that understands the same
    queries as `monitor search`, facets by tag, outlet, country, language and date, story
    pages listing every outlet that carried a text, CSV/JSON links on every page, canned
    analyst queries, and a SQL box. Arabic and Hebrew text is laid out right to left.
    On PostgreSQL it serves a read-only SQLite snapshot taken at start.

    \b
    Examples:
      monitor browse                    # then open http://127.0.0.1:8001/monitor
      monitor browse --port 8080
      ssh -L 8001:127.0.0.1:8001 server # from your laptop, to browse a remote monitor
    """
    from monitor import optional

    optional.load(optional.WEB_VIEW)  # one line, not a traceback, when Datasette is missing
    from monitor.browse.server import BrowseError, check_loopback, serve

    try:
        check_loopback(host)
        serve(app.database(), host, port, click.echo)
    except BrowseError as exc:
        raise click.ClickException(str(exc)) from None


commands = [browse]
