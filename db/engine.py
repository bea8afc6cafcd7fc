"""Engines, sessions and schema migration. Nothing is created at import time."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest migration. Every command checks it against the database before it starts, so
# Alembic (11 MiB, half a second) is imported only when there is something to migrate;
# tests/test_migrations.py fails when a new migration forgets to move it.
SCHEMA_HEAD = "0003"


class DatabaseError(RuntimeError):
    """The database cannot be used as configured; the message names the URL (password hidden)."""


def normalise_url(url: str) -> str:
    """Pick psycopg 3 for bare PostgreSQL URLs (psycopg2 batches upserts badly)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        # The text may hold a password: show only its scheme.
        scheme = url.partition(":")[0][:20]
        raise DatabaseError(
            f"not a database URL (it begins {scheme!r}); expected e.g. "
            "sqlite:///monitor.db or postgresql://user@host/db"
        ) from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def display_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL keeps an analyst's long read from blocking the crawler's writes; foreign keys are off
    # by default in SQLite; the busy timeout turns brief lock contention into a wait.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """A new engine for `url` with the pragmas and drivers this project relies on."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            parent = Path(database).expanduser().resolve().parent
            if not parent.is_dir():
                raise DatabaseError(f"cannot open {display_url(url)}: folder {parent} is missing")
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": 10})
    try:
        return create_engine(url, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:  # mysql:// without its driver, a typo
        if make_url(url).drivername == "postgresql+psycopg" and isinstance(exc, ImportError):
            reason = str(exc).splitlines()[0]
            install = "pip install 'psycopg[binary]'"
            raise DatabaseError(
                f"PostgreSQL is unavailable: {reason}; install it with: {install}"
            ) from None
        raise DatabaseError(f"cannot use {display_url(url)}: no driver for it ({exc})") from None


def get_engine(url: str) -> Engine:
    """The process-wide engine for `url`, created on first use."""
    return _engine(normalise_url(url))


@functools.cache
def _engine(url: str) -> Engine:
    return make_engine(url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database (None for an empty database)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str | None:
    """The newest revision among the migration scripts (this imports Alembic)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _one_line(exc: DBAPIError) -> str:
    # psycopg adds a hint on a second, tab-indented line; an error message is one line.
    return " ".join(str(exc.orig).split())


def upgrade(url: str) -> bool:
    """Migrate the schema to head; return True when anything was applied."""
    engine = get_engine(url)
    try:
        before = current_revision(engine)
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot reach the database {display_url(url)}: {_one_line(exc)}"
        ) from None
    except DBAPIError as exc:  # e.g. a SQLite URL naming a file that is not a database
        raise DatabaseError(
            f"cannot use the database {display_url(url)}: {_one_line(exc)}"
        ) from None
    if before == SCHEMA_HEAD:
        return False
    from alembic import command

    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return True


def open_database(url: str) -> Engine:
    """The engine for `url`, with the schema migrated (a fresh database is set up)."""
    upgrade(url)
    return get_engine(url)
