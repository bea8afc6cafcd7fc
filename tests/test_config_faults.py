"""Configuration faults (issue 8): one line naming the problem, exit status 1, nothing written.

Each case runs the real `monitor` command as a child process against a database that holds a
synced registry whose feed is live on a loopback server: had the command gone ahead, it would
have fetched that feed and written fetch and article rows. So "nothing written" is checked
twice: the database's rows are identical before and after, and the feed server saw no request.
tests/test_cli.py covers an unknown variable and an unreachable database for `status`, and a
duplicate feed id; these cases extend that to the crawl and to every kind of broken file.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from db.engine import get_engine, session_factory
from db.models import Article, ArticleTag, Base
from tests.faultserver import Body, FaultServer, rss_items
from tests.helpers import monitor_env, run_monitor

DEFENCE = [
    {
        "guid": f"def-{n}",
        "link": f"https://www.hespress.example/defence-{n}.html",
        "title": title,
        "description": f"<p>{body}</p>",
    }
    for n, (title, body) in enumerate(
        [
            (
                "Morocco and Israel sign a defence cooperation agreement",
                "The Israeli defence minister signed a military cooperation agreement with "
                "Morocco in Rabat, covering drones, intelligence sharing and joint exercises "
                "between the Royal Armed Forces and the IDF.",
            ),
            ("Weather in Casablanca", "Sunny with light winds across the coast today."),
        ]
    )
]


@dataclass
class Site:
    """A synced database, the registry file, the live feed server and a work directory."""

    db_url: str
    registry: Path
    server: FaultServer
    workdir: Path

    def env(self, **extra: str) -> dict[str, str]:
        return monitor_env(self.db_url, MONITOR_FEEDS_FILE=str(self.registry), **extra)


def _registry_text(server: FaultServer) -> str:
    return (
        "feeds:\n  - id: hespress-en\n    outlet: Hespress\n    country: MA\n"
        f"    language: en\n    url: {server.url('/feed.xml')}\n"
    )


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[Site]:
    with FaultServer() as server:
        server.route("/feed.xml", Body(rss_items(DEFENCE).encode()))
        registry = tmp_path / "feeds.yaml"
        registry.write_text(_registry_text(server), encoding="utf-8")
        workdir = tmp_path / "work"
        workdir.mkdir()
        found = Site(sqlite_url, registry, server, workdir)
        synced = run_monitor(["feeds", "sync"], found.env())
        assert synced.returncode == 0, synced.stderr
        yield found


def _rows(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: what "nothing written" compares."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with session_factory(get_engine(db_url))() as session:
        for table in Base.metadata.sorted_tables:
            rows = session.execute(select(table).order_by(*table.primary_key.columns))
            dump[table.name] = [tuple(row) for row in rows]
    return dump


def _refused(done: Any, expected: str) -> None:
    """Exit status 1 and exactly one line on stderr, naming the problem; no traceback."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr[-2000:]
    assert expected in lines[0], lines[0]
    assert done.stdout == ""


# --------------------------------------------------------------------------- settings

SETTINGS_CASES = [
    pytest.param(
        {"MONITOR_DATABSE_URL": "sqlite:///typo.db"},
        {},
        "unknown setting MONITOR_DATABSE_URL; known settings: MONITOR_CRAWL_TIMEOUT",
        id="unknown-variable",
    ),
    pytest.param(
        {},
        {"monitor.toml": '[monitor]\nfeed_file = "feeds.yaml"\n'},
        "unknown setting MONITOR_FEED_FILE in {workdir}/monitor.toml",
        id="unknown-toml-key",
    ),
    pytest.param(
        {},
        {".env": "# local overrides\nMONITOR_POLL_TIK=5\n"},
        "unknown setting MONITOR_POLL_TIK in {workdir}/.env",
        id="unknown-dotenv-name",
    ),
    pytest.param(
        {},
        {".env": "MONITOR_POLL_TICK=30\nMONITOR_DIGEST_TO\n"},
        "{workdir}/.env:2: expected NAME=value, got 'MONITOR_DIGEST_TO'",
        id="dotenv-line-without-value",
    ),
    pytest.param(
        {},
        {".env": b"MONITOR_DIGEST_FROM=veille@\xe9quipe.ma\n"},
        "{workdir}/.env: not UTF-8 text",
        id="dotenv-not-utf8",
    ),
    pytest.param(
        {},
        {"monitor.toml": '[monitor\ndigest_time = "07:00"\n'},
        "{workdir}/monitor.toml: not valid TOML: Expected ']' at the end of a table "
        "declaration (at line 1, column 9)",
        id="toml-syntax",
    ),
    pytest.param(
        {"MONITOR_DOWNLOAD_TIMEOUT": "soon"},
        {},
        "MONITOR_DOWNLOAD_TIMEOUT must be a whole number, got 'soon'",
        id="not-a-number",
    ),
    pytest.param(
        {"MONITOR_DIGEST_TZ": "Africa/Rabat_Sale"},
        {},
        "MONITOR_DIGEST_TZ is not a known time zone: 'Africa/Rabat_Sale'",
        id="unknown-time-zone",
    ),
    pytest.param(
        {"MONITOR_MAX_INTERVAL": "60"},
        {},
        "MONITOR_MAX_INTERVAL must be at least 300, got 60",
        id="max-below-min-interval",
    ),
    pytest.param(
        {"MONITOR_SMTP_SECURITY": "tls1.3"},
        {},
        "MONITOR_SMTP_SECURITY must be starttls, ssl or none, not 'tls1.3'",
        id="smtp-security",
    ),
]


@pytest.mark.parametrize(("env", "files", "expected"), SETTINGS_CASES)
def test_bad_settings_stop_the_crawl_before_anything_is_written(
    site: Site, env: dict[str, str], files: dict[str, str | bytes], expected: str
) -> None:
    for name, content in files.items():
        path = site.workdir / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    before = _rows(site.db_url)
    done = run_monitor(["crawl", "--all"], site.env(**env), cwd=site.workdir)
    _refused(done, expected.format(workdir=site.workdir))
    assert _rows(site.db_url) == before
    assert not site.server.hits("/feed.xml")


# --------------------------------------------------------------------------- feeds.yaml

GOOD_ENTRY = (
    "feeds:\n  - id: a\n    outlet: A\n    country: MA\n    language: ar\n"
    "    url: https://a.example/feed\n"
)
REGISTRY_CASES = [
    pytest.param(
        "feeds:\n  - id: a\n    outlet: A\n    url: [https://a.example/feed\n",
        "{file}:5: not valid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence on line 4)",
        id="yaml-syntax",
    ),
    pytest.param(
        GOOD_ENTRY + "\tinterval: 15m\n",
        "{file}:7: not valid YAML: found character '\\t' that cannot start any token",
        id="tab-indent",
    ),
    pytest.param(
        GOOD_ENTRY + "    titel: Hespress\n",
        "{file}:2 (id a): unknown key 'titel' (allowed: id, outlet, country, language, url",
        id="unknown-key",
    ),
    pytest.param(
        GOOD_ENTRY.replace("https://a.example/feed", "ftp://a.example/feed"),
        "{file}:2 (id a): url 'ftp://a.example/feed' is not an http(s) URL with a host",
        id="bad-url",
    ),
    pytest.param(
        GOOD_ENTRY.replace("language: ar", "language: arabic"),
        "{file}:2 (id a): language 'arabic' is not one of ar, fr, he, en",
        id="bad-language",
    ),
    pytest.param(
        GOOD_ENTRY + "    interval: 10s\n",
        "{file}:2 (id a): interval '10s' is shorter than a minute",
        id="interval-too-short",
    ),
    pytest.param(
        "- id: a\n  url: https://a.example/feed\n",
        "{file}: expected a top-level 'feeds:' list",
        id="not-a-registry",
    ),
    pytest.param(
        b"feeds:\n  - id: a\n    outlet: H\xe9spress\n",
        "{file}: not UTF-8 text",
        id="not-utf8",
    ),
    pytest.param(None, "cannot read the feed registry {file}: No such file", id="missing"),
]


def _write(path: Path, content: str | bytes | None) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize(("content", "expected"), REGISTRY_CASES)
def test_bad_registry_changes_no_feed(
    site: Site, content: str | bytes | None, expected: str
) -> None:
    bad = site.workdir / "feeds.yaml"
    _write(bad, content)
    before = _rows(site.db_url)
    done = run_monitor(["feeds", "sync", "--file", str(bad)], site.env())
    _refused(done, expected.format(file=bad))
    assert _rows(site.db_url) == before  # no feed added, changed or disabled


@pytest.mark.parametrize(("content", "expected"), REGISTRY_CASES[:3])
def test_first_crawl_with_a_bad_registry_loads_nothing(
    tmp_path: Path, sqlite_url: str, content: str | bytes | None, expected: str
) -> None:
    bad = tmp_path / "feeds.yaml"
    _write(bad, content)
    done = run_monitor(["crawl", "--all"], monitor_env(sqlite_url, MONITOR_FEEDS_FILE=str(bad)))
    _refused(done, expected.format(file=bad))
    rows = _rows(sqlite_url)
    assert rows["feeds"] == rows["outlets"] == rows["fetches"] == rows["articles"] == []


# --------------------------------------------------------------------------- topics.yaml

TOPICS_CASES = [
    pytest.param("version: broken\ntags: [\n", "{file}, line 3: not valid YAML", id="yaml-syntax"),
    pytest.param(
        "version: x\nentities: {}\ntags:\n  defense-cooperation:\n    labl: Defence\n",
        "{file}, line 5",
        id="unknown-key",
    ),
]


@pytest.fixture
def tagged(site: Site) -> Site:
    """The site after one crawl, with its defence story tagged."""
    done = run_monitor(["crawl", "--all"], site.env())
    assert done.returncode == 0, done.stderr[-2000:]
    with session_factory(get_engine(site.db_url))() as session:
        assert session.execute(select(ArticleTag)).first() is not None, "nothing was tagged"
    return site


@pytest.mark.parametrize(("content", "expected"), TOPICS_CASES)
def test_bad_rules_make_retag_change_nothing(tagged: Site, content: str, expected: str) -> None:
    rules = tagged.workdir / "topics.yaml"
    rules.write_text(content, encoding="utf-8")
    before = _rows(tagged.db_url)
    env = tagged.env(MONITOR_TOPICS_FILE=str(rules))
    for args in (["retag"], ["retag", "--check"]):
        done = run_monitor(args, env)
        _refused(done, expected.format(file=rules))
    assert _rows(tagged.db_url) == before


def test_bad_rules_do_not_stop_ingestion(site: Site) -> None:
    """The crawl keeps every item (feeds rotate them out) and says loudly that tagging is
    off; `monitor retag` with the rules fixed tags them afterwards."""
    rules = site.workdir / "topics.yaml"
    rules.write_text("version: broken\ntags: [\n", encoding="utf-8")
    done = run_monitor(["crawl", "--all"], site.env(MONITOR_TOPICS_FILE=str(rules)))
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"tagging is off for this crawl: {rules}, line 3: not valid YAML" in done.stderr
    with session_factory(get_engine(site.db_url))() as session:
        assert len(session.execute(select(Article)).all()) == len(DEFENCE)
        assert session.execute(select(ArticleTag)).first() is None
    fixed = run_monitor(["retag"], site.env())
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    with session_factory(get_engine(site.db_url))() as session:
        assert session.execute(select(ArticleTag)).first() is not None


# --------------------------------------------------------------------------- database URL


class _Resetter:
    """A loopback port that accepts connections and resets them at once (a dead proxy)."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", [["crawl", "--all"], ["feeds", "sync"]])
def test_unreachable_or_unusable_database_is_named(
    tmp_path: Path, site: Site, command: list[str]
) -> None:
    resetter = _Resetter()
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"Analyst notes, not a database.\n" * 200)
    junk_bytes = junk.read_bytes()
    folder = tmp_path / "folder.db"
    folder.mkdir()
    cases = {
        f"postgresql://monitor:s3cret@127.0.0.1:{_closed_port()}/monitor": (
            "cannot reach the database postgresql://monitor:***@127.0.0.1:"
        ),
        f"postgresql://monitor@127.0.0.1:{resetter.port}/monitor": "cannot reach the database",
        "hespress.db": "not a database URL (it begins 'hespress.db')",
        "mysql://monitor:s3cret@127.0.0.1/monitor": "cannot use mysql://monitor:***@127.0.0.1/",
        f"sqlite:///{junk}": f"cannot use the database sqlite:///{junk}: file is not a database",
        f"sqlite:///{folder}": f"cannot reach the database sqlite:///{folder}: unable to open",
    }
    try:
        for url, expected in cases.items():
            done = run_monitor(command, site.env(MONITOR_DATABASE_URL=url))
            _refused(done, expected)
            assert "s3cret" not in done.stderr
    finally:
        resetter.close()
    assert junk.read_bytes() == junk_bytes
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("notes")) == [
        "notes.db"
    ]  # no -wal or -shm beside it either
    assert not site.server.hits("/feed.xml")


def test_postgres_database_that_does_not_exist(site: Site, pg_database: str) -> None:
    url = make_url(pg_database).set(database="monitor_no_such_db").render_as_string(False)
    done = run_monitor(["crawl", "--all"], site.env(MONITOR_DATABASE_URL=url))
    _refused(done, 'database "monitor_no_such_db" does not exist')
    with get_engine(pg_database).connect() as connection:
        names = connection.execute(text("SELECT datname FROM pg_database")).scalars().all()
    assert "monitor_no_such_db" not in names  # named, not created
    assert not site.server.hits("/feed.xml")
