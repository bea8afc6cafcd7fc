"""Database faults during a crawl (issue 8): nothing is lost, nothing is stored twice.

* SQLite: an analyst's long read transaction stays open while a crawl writes (WAL keeps
  readers and the writer apart), and an analyst's short write lock only makes the crawl wait.
* PostgreSQL unreachable mid-crawl: the real server is never stopped (others use it). A TCP
  proxy on 127.0.0.1 stands in front of it; the crawl talks to the proxy, and the test cuts
  every connection through it mid-crawl, then restores it. The crawl logs the failure and
  exits; the next crawl stores everything the first one missed, with no duplicate.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from db.engine import get_engine, session_factory
from db.models import Article, Feed, Fetch
from tests.conftest import _empty_pg
from tests.faultserver import Body, FaultServer, rss_items
from tests.helpers import monitor_env, run_monitor

NOW = datetime.now(UTC).replace(microsecond=0)


def _feed(count: int, prefix: str = "db") -> bytes:
    items = [
        {
            "guid": f"{prefix}-{n}",
            "link": f"https://www.hespress.example/{prefix}-{n}.html",
            "title": f"خبر رقم {n} عن التعاون بين المغرب وإسرائيل",
            "description": f"<p>نص الخبر {n} حول زيارة وفد عسكري.</p>",
            "pubDate": NOW - timedelta(minutes=n),
        }
        for n in range(count)
    ]
    return rss_items(items, lang="ar").encode()


def _registry(tmp_path: Path, server: FaultServer) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n  - id: hespress-ar\n    outlet: Hespress\n    country: MA\n"
        f"    language: ar\n    url: {server.url('/feed.xml')}\n",
        encoding="utf-8",
    )
    return path


def _count(url: str) -> int:
    with session_factory(get_engine(url))() as session:
        return int(session.execute(select(func.count()).select_from(Article)).scalar_one())


def _guids(url: str) -> list[str]:
    with session_factory(get_engine(url))() as session:
        return [g or "" for g in session.execute(select(Article.guid)).scalars()]


def _outcomes(url: str) -> list[tuple[str, str | None]]:
    with session_factory(get_engine(url))() as session:
        return [
            (outcome, error)
            for outcome, error in session.execute(
                select(Fetch.outcome, Fetch.error).order_by(Fetch.id)
            )
        ]


# --------------------------------------------------------------------------- SQLite


def test_sqlite_crawl_writes_while_an_analyst_reads(tmp_path: Path, sqlite_url: str) -> None:
    total = 120
    database = make_url(sqlite_url).database
    assert database
    with FaultServer() as server:
        server.route("/feed.xml", Body(_feed(total)))
        env = monitor_env(sqlite_url, MONITOR_FEEDS_FILE=str(_registry(tmp_path, server)))
        assert run_monitor(["feeds", "sync"], env).returncode == 0
        analyst = sqlite3.connect(database, isolation_level=None)
        try:
            assert analyst.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            analyst.execute("BEGIN")  # a long read: a report, a spreadsheet export...
            assert analyst.execute("SELECT count(*) FROM articles").fetchone() == (0,)
            done = run_monitor(["crawl", "--all"], env)
            assert done.returncode == 0, done.stderr[-2000:]
            # The writer went on beside the reader, which still sees its own snapshot.
            assert analyst.execute("SELECT count(*) FROM articles").fetchone() == (0,)
            assert _count(sqlite_url) == total
            analyst.execute("COMMIT")
            assert analyst.execute("SELECT count(*) FROM articles").fetchone() == (total,)
        finally:
            analyst.close()
    assert _outcomes(sqlite_url) == [("ok", None)]


def test_sqlite_crawl_waits_out_an_analysts_short_write_lock(
    tmp_path: Path, sqlite_url: str
) -> None:
    total = 40
    database = make_url(sqlite_url).database
    assert database
    with FaultServer() as server:
        server.route("/feed.xml", Body(_feed(total)))
        env = monitor_env(sqlite_url, MONITOR_FEEDS_FILE=str(_registry(tmp_path, server)))
        assert run_monitor(["feeds", "sync"], env).returncode == 0
        analyst = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        analyst.execute("BEGIN IMMEDIATE")  # e.g. a hand-run UPDATE left open a moment
        release = threading.Timer(4.0, lambda: analyst.execute("ROLLBACK"))
        release.start()
        try:
            done = run_monitor(["crawl", "--all"], env)
        finally:
            release.join()
            analyst.close()
        assert done.returncode == 0, done.stderr[-2000:]
    assert _count(sqlite_url) == total  # busy_timeout: waited, then stored everything
    assert _outcomes(sqlite_url) == [("ok", None)]


# --------------------------------------------------------------------------- PostgreSQL


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 in front of `target`; `cut()` resets every open connection
    and refuses new ones until `restore()`.

    Only the pump threads close sockets, after `shutdown()` has woken them: a socket closed
    under a thread blocked in recv() would free its descriptor for reuse while that thread
    still holds it, and the next connection would receive another's bytes.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.refused = 0

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._cut.is_set():
                self.refused += 1
                _abort(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _abort(client)
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            pair = _Pair(client, upstream, self._forget)
            with self._lock:
                if self._cut.is_set():  # cut while we were connecting
                    pair.shutdown()
                self._pairs.add(pair)
            pair.start()

    def _forget(self, pair: _Pair) -> None:
        with self._lock:
            self._pairs.discard(pair)

    def cut(self) -> None:
        with self._lock:
            self._cut.set()
            pairs = list(self._pairs)
        for pair in pairs:
            pair.shutdown()

    def restore(self) -> None:
        self._cut.clear()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self.cut()
        self._thread.join()
        self._listener.close()


class _Pair:
    """One proxied connection: a pump thread per direction; the last one out closes both."""

    def __init__(self, client: socket.socket, upstream: socket.socket, done: Any) -> None:
        self.sockets = (client, upstream)
        self._running = 2
        self._lock = threading.Lock()
        self._done = done

    def start(self) -> None:
        client, upstream = self.sockets
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def shutdown(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        self.shutdown()
        with self._lock:
            self._running -= 1
            last = self._running == 0
        if last:
            for sock in self.sockets:
                _abort(sock)
            self._done(self)


def _abort(sock: socket.socket) -> None:
    """Close with a TCP reset, as a dying server or a pulled cable looks to the client."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    url: str = request.getfixturevalue("pg_database")
    _empty_pg(url)
    yield url
    get_engine(url).dispose()


def _address(url: str) -> tuple[str, int]:
    parsed = make_url(url)
    return parsed.host or "127.0.0.1", parsed.port or 5432


def _through(proxy: CuttableProxy, url: str) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)


def _start_crawl(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "crawl", "--all", "--log-level", "INFO"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_for_articles(direct: str, at_least: int, child: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        stored = _count(direct)
        if stored >= at_least:
            return stored
        time.sleep(0.02)
    raise AssertionError(f"the crawl ended or stalled before {at_least} articles were stored")


def test_postgres_lost_for_the_rest_of_the_crawl(tmp_path: Path, pg_url: str) -> None:
    total = 200
    target = make_url(pg_url)
    with (
        FaultServer() as server,
        CuttableProxy((target.host or "127.0.0.1", target.port or 5432)) as proxy,
    ):
        server.route("/feed.xml", Body(_feed(total)))
        env = monitor_env(
            _through(proxy, pg_url), MONITOR_FEEDS_FILE=str(_registry(tmp_path, server))
        )
        assert run_monitor(["feeds", "sync"], env).returncode == 0
        log = tmp_path / "crawl.log"
        child = _start_crawl(env, log)
        before = _wait_for_articles(pg_url, 20, child)
        proxy.cut()
        cut_at = time.monotonic()
        code = child.wait(timeout=180)
        output = log.read_text(encoding="utf-8", errors="replace")
        stored = _count(pg_url)
        assert before <= stored < total, f"the cut did not land mid-crawl ({stored} stored)"
        assert proxy.refused > 0  # the crawl kept trying, through the proxy only
        assert _outcomes(pg_url) == []  # nothing could be recorded while the database was gone
        print(
            f"\ncut after {before} articles; crawl exited {code} "
            f"{time.monotonic() - cut_at:.1f} s later with {stored}/{total} stored"
        )
        # Logged once, naming the feed and the database; the summary counts what was lost.
        assert (
            f"could not record the fetch of hespress-ar (store_error) in "
            f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/"
        ) in output
        assert "1 feeds fetched (1 unrecorded)" in output
        assert f"{total - stored} dropped" in output
        assert code == 1 and "1 fetches could not be recorded" in output
        proxy.restore()
        again = run_monitor(["crawl", "--all"], env)
        assert again.returncode == 0, again.stderr[-2000:]
    guids = _guids(pg_url)
    assert len(guids) == total and len(set(guids)) == total
    assert [outcome for outcome, _ in _outcomes(pg_url)] == ["ok"]


def test_postgres_back_mid_crawl_then_next_crawl_fills_the_gap(tmp_path: Path, pg_url: str) -> None:
    total = 200
    target = make_url(pg_url)
    with (
        FaultServer() as server,
        CuttableProxy((target.host or "127.0.0.1", target.port or 5432)) as proxy,
    ):
        server.route("/feed.xml", Body(_feed(total)))
        env = monitor_env(
            _through(proxy, pg_url), MONITOR_FEEDS_FILE=str(_registry(tmp_path, server))
        )
        assert run_monitor(["feeds", "sync"], env).returncode == 0
        child = _start_crawl(env, tmp_path / "crawl.log")
        _wait_for_articles(pg_url, 20, child)
        proxy.cut()
        time.sleep(0.5)
        proxy.restore()  # a restart: back before the crawl is over
        code = child.wait(timeout=180)
        first = _count(pg_url)
        assert first < total
        recorded = _outcomes(pg_url)
        # Whether the fetch record itself fell in the cut depends on timing; both end well.
        if recorded:
            [(outcome, error)] = recorded
            assert code == 0 and outcome == "store_error"
            assert error == f"{total - first} of {total} items could not be stored"
            with session_factory(get_engine(pg_url))() as session:
                feed = session.execute(select(Feed)).scalar_one()
                assert feed.body_hash is None and feed.etag is None  # refetched whole next time
        else:
            assert code == 1  # the crawl says it could not record the fetch
        again = run_monitor(["crawl", "--all"], env)
        assert again.returncode == 0, again.stderr[-2000:]
    guids = _guids(pg_url)
    assert len(guids) == total and len(set(guids)) == total
    assert [outcome for outcome, _ in _outcomes(pg_url)][-1] == "ok"
