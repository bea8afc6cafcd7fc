"""Serve the web view: Datasette over the monitor's SQLite file (or a PostgreSQL snapshot)."""

from __future__ import annotations

import asyncio
import ipaddress
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from monitor.browse import plugin
from monitor.browse.hostguard import allowed_hosts, host_guard
from monitor.browse.metadata import DATABASE, metadata
from monitor.browse.snapshot import snapshot

STATIC = Path(__file__).resolve().parent / "static"
SETTINGS = {
    "truncate_cells_html": 300,  # bodies are long; the full text is in CSV/JSON
    "facet_time_limit_ms": 2000,
    "sql_time_limit_ms": 5000,
    "default_page_size": 50,
    "allow_download": False,  # no download of the whole database file
}


class BrowseError(RuntimeError):
    """The web view cannot start as asked; the message says why."""


def check_loopback(host: str) -> None:
    """The view is unauthenticated: it listens on loopback addresses only."""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise BrowseError(
        f"refusing to listen on {host}: the web view has no login, so it serves loopback "
        "only (127.0.0.1 or ::1); reach it from elsewhere through an SSH tunnel"
    )


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BrowseError("the web view needs a database file, not an in-memory database")
    return Path(parsed.database).expanduser().resolve()


def read_only_database(datasette: Any, path: Path, *, immutable: bool) -> Any:
    """A Datasette database over ``path`` that has no way to write.

    Datasette keeps a write connection for plugins and its write API; here asking for one
    raises ``PermissionError``. Read connections are ``mode=ro`` on the live file (a crawl
    may be writing it, so SQLite must keep checking for changes) or ``immutable=1`` on a
    snapshot nobody else opens, and ``query_only`` on top, so an ATTACHed file cannot be
    written either.
    """
    from datasette.database import Database

    class ReadOnlyDatabase(Database):  # type: ignore[misc]
        def connect(self, write: bool = False) -> sqlite3.Connection:
            if write:
                raise PermissionError(f"the web view opens {self.path} read-only")
            conn: sqlite3.Connection = super().connect(write=False)
            conn.execute("PRAGMA query_only = 1")
            return conn

    return ReadOnlyDatabase(datasette, path=str(path), is_mutable=not immutable)


def build(path: Path, *, immutable: bool) -> Any:
    """A Datasette application over one SQLite file, named ``monitor``, read-only."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    if not pm.is_registered(plugin):
        pm.register(plugin, name="monitor-browse")
    datasette = Datasette(
        metadata=metadata(), settings=SETTINGS, static_mounts=[("monitor-static", str(STATIC))]
    )
    datasette.add_database(read_only_database(datasette, path, immutable=immutable), name=DATABASE)
    return datasette


def serve(url: str, host: str, port: int, say: Callable[[str], None]) -> None:
    """Serve until interrupted; PostgreSQL is browsed through a fresh SQLite snapshot."""
    import uvicorn

    check_loopback(host)
    path = sqlite_path(url)
    with tempfile.TemporaryDirectory(prefix="monitor-browse-") as scratch:
        immutable = path is None
        if path is None:
            path = Path(scratch) / "snapshot.db"
            say("PostgreSQL: copying a read-only snapshot for the web view ...")
            counts = snapshot(url, path)
            say(
                f"snapshot taken: {counts['articles']} articles, {counts['stories']} stories "
                "(restart to refresh)"
            )
        elif not path.is_file():
            raise BrowseError(f"no database at {path}: run `monitor db upgrade` or a crawl first")
        datasette = build(path, immutable=immutable)
        asyncio.run(datasette.invoke_startup())
        shown = f"[{host}]" if ":" in host else host
        say(f"Web view on http://{shown}:{port}/{DATABASE} (read-only; Ctrl-C to stop)")
        sys.stdout.flush()
        # Only requests addressed to this server by its loopback name: see hostguard.
        app = host_guard(datasette.app(), allowed_hosts(port, [host]))
        uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on")
