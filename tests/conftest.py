"""Shared fixtures: fresh databases on SQLite and PostgreSQL, a loopback feed server.

PostgreSQL comes from MONITOR_TEST_PG_URL (default: the local server's `test` database). Each
test session creates its own scratch database there, so parallel runs never collide; each test
starts from empty tables. Without a server the PostgreSQL cases skip, except in CI (CI=true),
where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from db.engine import get_engine, normalise_url, session_factory, upgrade
from db.models import Base
from tests.feedserver import FeedServer

PG_URL = os.environ.get("MONITOR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
DATA = Path(__file__).resolve().parent / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_admin_url() -> str:
    return normalise_url(PG_URL)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a migrated scratch PostgreSQL database for this test session."""
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            name = f"monitor_test_{uuid.uuid4().hex[:12]}"
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: skip locally, fail in CI
        admin.dispose()
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}")
    url = make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    get_engine(url).dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    get_engine(url).dispose()
    return path


def _empty_pg(url: str) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with get_engine(url).begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, then the session's PostgreSQL database."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "monitor.db"
        shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
        yield url
        get_engine(url).dispose()
    else:
        url = request.getfixturevalue("pg_database")
        _empty_pg(url)
        yield url
        get_engine(url).dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty SQLite database only (for tests about SQLite behaviour)."""
    path = tmp_path / "monitor.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    yield url
    get_engine(url).dispose()


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with session_factory(get_engine(db_url))() as db_session:
        yield db_session


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not present at {CORPUS}")
    return CORPUS
