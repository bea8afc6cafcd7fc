"""The daemon: its lease on real databases, its log lines, and the real process end to end."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from time import monotonic, sleep
from time import time as pytime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.engine import get_engine
from db.models import Article, ArticleFeed, DaemonState, Feed, Fetch, Outlet
from monitor.cli.run import EventFormatter
from monitor.daemon import Daemon, DaemonSettings, Lease, LeaseHeld, event
from monitor.health import health_report
from tests.feedserver import FeedServer, Route
from tests.helpers import monitor_env, registry, rss, run_monitor


def test_lease_is_exclusive_and_released(db_url: str) -> None:
    engine = get_engine(db_url)
    first, second = Lease(engine), Lease(engine)
    first.pid = os.getppid()  # as if held by another live process on this host
    assert first.acquire() == "lease created"
    with pytest.raises(LeaseHeld, match=r"another daemon is running on this database: pid"):
        second.acquire()
    assert first.renew()
    first.release()
    assert "lease was free" in second.acquire()
    assert not first.renew()  # the old holder learns it lost the lease
    with Session(engine) as session:
        row = session.get(DaemonState, "daemon")
        assert row is not None and row.owner == second.owner


def test_stale_heartbeat_is_taken_over(db_url: str) -> None:
    engine = get_engine(db_url)
    holder = Lease(engine)
    holder.acquire()
    with Session(engine) as session, session.begin():
        row = session.get(DaemonState, "daemon")
        assert row is not None
        row.owner = f"elsewhere:{os.getpid()}:abcd"
        row.heartbeat_at = datetime.now(UTC) - timedelta(seconds=30)
    with pytest.raises(LeaseHeld, match="on elsewhere, last heartbeat 30s ago"):
        Lease(engine).acquire()
    with Session(engine) as session, session.begin():
        row = session.get(DaemonState, "daemon")
        assert row is not None
        row.heartbeat_at = datetime.now(UTC) - timedelta(seconds=600)
    note = Lease(engine).acquire()
    assert note.startswith("took over from elsewhere:") and "no heartbeat for 600s" in note


def test_dead_process_on_this_host_is_taken_over_at_once(db_url: str) -> None:
    engine = get_engine(db_url)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: the pid is free
    holder = Lease(engine)
    holder.acquire()
    with Session(engine) as session, session.begin():
        row = session.get(DaemonState, "daemon")
        assert row is not None
        row.owner = f"{holder.host}:{dead.pid}:dead"
        row.pid = dead.pid
    note = Lease(engine).acquire()  # heartbeat is fresh, but its process is gone
    assert "its process is gone" in note


def test_lease_keeps_tick_history(db_url: str) -> None:
    engine = get_engine(db_url)
    lease = Lease(engine)
    lease.acquire()
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    lease.record_tick(at, "ok in 1.2s")
    lease.release()
    Lease(engine).acquire()
    with Session(engine) as session:
        row = session.get(DaemonState, "daemon")
        assert row is not None
        assert row.last_tick_at == at and row.last_tick_status == "ok in 1.2s"


def test_jobs_are_guarded_against_overlap_and_silent_misfires(sqlite_url: str) -> None:
    settings = DaemonSettings(
        database_url=sqlite_url,
        poll_tick=30,
        crawl_timeout=120,
        digest_time=time(7, 0),
        digest_tz=ZoneInfo("Africa/Casablanca"),
    )
    daemon = Daemon(settings)
    scheduler = daemon._build_scheduler()
    crawl, digest = scheduler.get_job("crawl"), scheduler.get_job("digest")
    assert (crawl.max_instances, crawl.coalesce, crawl.misfire_grace_time) == (1, True, 30)
    assert (digest.max_instances, digest.coalesce) == (1, True)
    assert digest.misfire_grace_time >= 600
    recheck = scheduler.get_job("digest-recheck")
    assert (recheck.max_instances, recheck.coalesce) == (1, True)
    # The digest fires at 07:00 Casablanca time, whatever the host's zone.
    fire = digest.trigger.get_next_fire_time(None, datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    local = fire.astimezone(ZoneInfo("Africa/Casablanca"))
    assert (local.hour, local.minute) == (7, 0)
    assert local.date().isoformat() == "2026-03-02"
    daemon.engine.dispose()


def test_event_lines_are_single_line_key_values() -> None:
    formatter = EventFormatter()
    logger = logging.getLogger("monitor.test")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        event(logger, "crawl.end", rc=0, status="ok in 1.2s", feed="hespress-ar")
        event(logger, "feed.error", level=logging.WARNING, error="bad\nline", title='قال "نعم"')
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            logger.exception("unexpected")
    finally:
        logger.removeHandler(handler)
    lines = [formatter.format(record) for record in records]
    assert all("\n" not in line for line in lines)
    assert " event=crawl.end rc=0 " in lines[0]
    assert 'status="ok in 1.2s" feed=hespress-ar' in lines[0]
    assert "level=warning" in lines[1]
    assert 'error="bad\\nline"' in lines[1]
    assert 'title="قال \\"نعم\\""' in lines[1]
    assert "exc=" in lines[2] and "ValueError: boom" in lines[2]
    parsed = json.loads(lines[1].split("title=", 1)[1])
    assert parsed == 'قال "نعم"'


# ---------------------------------------------------------------------------------------------
# The real daemon process against a real HTTP server on 127.0.0.1, with short intervals.


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _items(prefix: str, numbers: range) -> list[dict[str, object]]:
    return [
        {
            "guid": f"{prefix}-{n}",
            "link": f"https://www.hespress.com/{prefix}-{n}.html?utm_source=rss",
            "title": f"خبر {n}: {prefix}",
            "description": f"<p>نص الخبر رقم {n} عن {prefix} والتعاون.</p>",
            "pubDate": datetime(2026, 11, 30, 8, 0, tzinfo=UTC) + timedelta(minutes=n),
        }
        for n in numbers
    ]


class DaemonProcess:
    """`monitor run` as a child of the test, its log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "run"],
                env=env,
                cwd=log.parent,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=30)  # the contract: stopped within 30 s

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def daemon(env: dict[str, str], log: Path) -> Iterator[DaemonProcess]:
    process = DaemonProcess(env, log)
    try:
        yield process
    finally:
        process.ensure_dead()


def wait_for(check: Callable[[], Any], what: str, process: DaemonProcess | None = None) -> Any:
    """Poll until `check()` is truthy; fail naming `what` (and the daemon's log) after 90 s."""
    deadline = monotonic() + 90
    while monotonic() < deadline:
        value = check()
        if value:
            return value
        if process is not None and process.proc.poll() is not None:
            pytest.fail(f"daemon exited ({process.proc.returncode}) waiting for {what}")
        sleep(0.2)
    tail = "\n".join(process.lines()[-30:]) if process else ""
    pytest.fail(f"timed out waiting for {what}\n{tail}")


def _setup(
    tmp_path: Path, server: FeedServer, db_url: str, feeds: list[dict[str, str]]
) -> dict[str, str]:
    path = tmp_path / "feeds.yaml"
    path.write_text(registry(server, feeds), encoding="utf-8")
    env = monitor_env(
        db_url,
        MONITOR_FEEDS_FILE=str(path),
        MONITOR_POLL_TICK="1",
        MONITOR_MIN_INTERVAL="1",
        MONITOR_MAX_INTERVAL="2",
        MONITOR_CRAWL_TIMEOUT="60",
    )
    done = run_monitor(["feeds", "sync"], env)
    assert done.returncode == 0, done.stderr
    return env


def _articles(db_url: str) -> list[tuple[str | None, str | None]]:
    with Session(get_engine(db_url)) as session:
        return [(guid, url) for guid, url in session.execute(select(Article.guid, Article.url))]


def _feed(db_url: str, slug: str) -> Feed:
    with Session(get_engine(db_url)) as session:
        return session.execute(select(Feed).where(Feed.slug == slug)).scalar_one()


def _outcomes(db_url: str, slug: str) -> list[str]:
    with Session(get_engine(db_url)) as session:
        return list(
            session.execute(
                select(Fetch.outcome)
                .join(Feed, Feed.id == Fetch.feed_id)
                .where(Feed.slug == slug)
                .order_by(Fetch.id)
            ).scalars()
        )


def _status(env: dict[str, str]) -> dict[str, Any]:
    done = run_monitor(["status", "--json"], env)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.slow
def test_daemon_ticks_store_changes_use_304_and_refuse_a_second_instance(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    feed_server.route(
        "/news.xml", Route(body=rss(_items("news", range(3)), lang="ar"), etag='"v1"')
    )
    env = _setup(
        tmp_path,
        feed_server,
        db_url,
        [{"id": "news", "outlet": "Hespress", "path": "/news.xml", "language": "ar"}],
    )
    port = _free_port()
    env["MONITOR_HEALTH_PORT"] = str(port)
    with daemon(env, tmp_path / "daemon.log") as first:
        wait_for(lambda: len(_articles(db_url)) == 3, "the first three items", first)
        wait_for(lambda: "not_modified" in _outcomes(db_url, "news"), "a 304", first)
        assert any(
            hit.headers.get("If-None-Match") == '"v1"' for hit in feed_server.hits("/news.xml")
        )
        # The feed moves on: two new items, then the oldest three scroll out as three more come.
        feed_server.route(
            "/news.xml", Route(body=rss(_items("news", range(5)), lang="ar"), etag='"v2"')
        )
        wait_for(lambda: len(_articles(db_url)) == 5, "items 3 and 4", first)
        feed_server.route(
            "/news.xml", Route(body=rss(_items("news", range(3, 8)), lang="ar"), etag='"v3"')
        )
        wait_for(lambda: len(_articles(db_url)) == 8, "items 5 to 7", first)

        # Health: the endpoint, the status command, and the lock.
        code, body = _get(f"http://127.0.0.1:{port}/healthz")
        assert code == 200 and json.loads(body)["status"] == "ok"
        code, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        assert code == 200
        assert 'monitor_fetches_total{outcome="not_modified"}' in metrics
        assert 'monitor_items_stored_total{action="new"} 8' in metrics
        assert 'monitor_feed_lag_seconds{feed="news"}' in metrics
        wait_for(lambda: _status(env)["daemon"]["last_tick_at"], "a recorded tick", first)
        status = _status(env)
        assert status["daemon"]["alive"] is True and status["daemon"]["state"] == "running"
        assert status["daemon"]["pid"] == first.proc.pid
        assert status["items_today"] == 8 and status["articles"] == 8
        assert status["feeds"]["ok"] == 1 and status["failing"] == []

        second = run_monitor(["run"], env, cwd=tmp_path, timeout=60)
        assert second.returncode == 1
        assert "another daemon is running on this database" in second.stderr
        assert f"pid {first.proc.pid}" in second.stderr
        assert first.proc.poll() is None  # the first one is unaffected

        assert first.stop() == 0
    guids = [str(guid) for guid, _ in _articles(db_url)]
    assert sorted(guids) == sorted(f"news-{n}" for n in range(8))  # each once, none lost
    assert _status(env)["daemon"]["state"] == "stopped"
    events = [line for line in first.lines() if "logger=monitor.daemon" in line]
    assert any("event=daemon.start" in line for line in events)
    assert any("event=daemon.stop" in line for line in events)
    assert all(line.startswith("ts=") for line in events)


def _backoff_matches(feed: Feed) -> bool:
    """The stored reason names this error's rank and the doubled delay (1 s units here)."""
    errors = feed.consecutive_errors
    if errors < 3 or not feed.schedule_reason:
        return False
    expected = f"5xx error (HTTP 500), {errors}{'rd' if errors == 3 else 'th'} in a row"
    return expected in feed.schedule_reason and f"backoff {2 ** (errors - 1)}s" in (
        feed.schedule_reason
    )


@pytest.mark.slow
def test_failing_feed_backs_off_then_recovers(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    feed_server.route("/flaky.xml", Route(status=500, body=b"database error"))
    feed_server.route("/steady.xml", Route(body=rss(_items("steady", range(2)))))
    env = _setup(
        tmp_path,
        feed_server,
        sqlite_url,
        [
            {"id": "flaky", "outlet": "Le360", "path": "/flaky.xml", "language": "fr"},
            {"id": "steady", "outlet": "Hespress", "path": "/steady.xml"},
        ],
    )
    with daemon(env, tmp_path / "daemon.log") as running:
        feed = wait_for(
            lambda: (f := _feed(sqlite_url, "flaky")).consecutive_errors >= 3 and f,
            "three failures",
            running,
        )
        assert feed.last_status == 500 and feed.last_outcome == "http_error"
        wait_for(lambda: _backoff_matches(_feed(sqlite_url, "flaky")), "doubling backoff", running)
        failing = _status(env)["failing"]
        assert [row["id"] for row in failing] == ["flaky"]
        assert "backoff" in failing[0]["schedule"]

        feed_server.route("/flaky.xml", Route(body=rss(_items("flaky", range(4)), lang="fr")))
        recovered = wait_for(
            lambda: (f := _feed(sqlite_url, "flaky")).consecutive_errors == 0 and f,
            "recovery",
            running,
        )
        assert recovered.last_outcome in {"ok", "unchanged", "not_modified"}
        wait_for(lambda: len(_articles(sqlite_url)) == 6, "the recovered feed's items", running)
        assert _status(env)["failing"] == []
        assert running.stop() == 0


@pytest.mark.slow
def test_429_retry_after_is_honoured(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    answered: list[float] = []
    body = rss(_items("busy", range(2)))

    def limited(handler: BaseHTTPRequestHandler) -> None:
        first = not answered
        answered.append(pytime())
        status, payload = (429, b"slow down") if first else (200, body)
        handler.send_response(status)
        if first:
            handler.send_header("Retry-After", "6")
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    feed_server.route("/busy.xml", limited)
    env = _setup(
        tmp_path,
        feed_server,
        sqlite_url,
        [{"id": "busy", "outlet": "Barlamane", "path": "/busy.xml"}],
    )
    with daemon(env, tmp_path / "daemon.log") as running:
        limited_feed = wait_for(
            lambda: (f := _feed(sqlite_url, "busy")).last_status == 429 and f, "the 429", running
        )
        assert limited_feed.schedule_reason is not None
        assert "Retry-After 6s honoured" in limited_feed.schedule_reason
        wait_for(lambda: len(_articles(sqlite_url)) == 2, "the items after the wait", running)
        # Without Retry-After a 429 waits 3 s here (3 units of MIN_INTERVAL=1 s); the server
        # asked for 6, and the next request came no sooner.
        assert answered[1] - answered[0] >= 6
        assert running.stop() == 0


@pytest.mark.slow
def test_sigterm_during_a_crawl_stops_within_30s_with_exit_0(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    feed_server.route("/slow.xml", Route(body=rss(_items("slow", range(2))), delay=120))
    env = _setup(
        tmp_path, feed_server, sqlite_url, [{"id": "slow", "outlet": "Alnas", "path": "/slow.xml"}]
    )
    env["MONITOR_DOWNLOAD_TIMEOUT"] = "100"  # the crawl really is in the middle of a fetch
    with daemon(env, tmp_path / "daemon.log") as running:
        wait_for(lambda: feed_server.hits("/slow.xml"), "the crawl to be mid-fetch", running)
        child = _child_pid(running)
        assert running.stop(signal.SIGTERM) == 0
    assert not _alive(child)
    assert any("event=daemon.stopping reason=SIGTERM" in line for line in running.lines())


def _child_pid(running: DaemonProcess) -> int:
    line = wait_for(
        lambda: next((s for s in running.lines() if "event=crawl.start" in s), None),
        "a crawl child",
        running,
    )
    return int(line.split("pid=")[1].split()[0])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    return stat.rsplit(")", 1)[-1].split()[0] not in {"Z", "X"}


@pytest.mark.slow
def test_sigkill_mid_crawl_then_restart_loses_and_doubles_nothing(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    feeds = [
        {"id": f"f{n}", "outlet": f"Outlet {n}", "path": f"/f{n}.xml", "language": "ar"}
        for n in range(4)
    ]
    for n in range(4):
        feed_server.route(f"/f{n}.xml", Route(body=rss(_items(f"f{n}", range(10)), lang="ar")))
    # One feed answers slowly, so the kill lands while the crawl is storing the others.
    feed_server.route("/f3.xml", Route(body=rss(_items("f3", range(10)), lang="ar"), delay=2))
    env = _setup(tmp_path, feed_server, db_url, feeds)
    env["MONITOR_DOWNLOAD_TIMEOUT"] = "10"
    with daemon(env, tmp_path / "first.log") as first:
        wait_for(lambda: feed_server.hits("/f3.xml"), "the crawl to be mid-fetch", first)
        child = _child_pid(first)
        first.proc.kill()
        first.proc.wait()
    # The orphaned crawl is told to stop by the kernel (parent-death signal), not left running.
    wait_for(lambda: not _alive(child), "the orphaned crawl to end")
    # While no daemon runs, every feed publishes five more (the old ones are still listed).
    for n in range(4):
        feed_server.route(f"/f{n}.xml", Route(body=rss(_items(f"f{n}", range(15)), lang="ar")))
    with daemon(env, tmp_path / "second.log") as second:
        wait_for(lambda: len(_articles(db_url)) == 60, "every item of every feed", second)
        start = next(line for line in second.lines() if "event=daemon.start" in line)
        assert "its process is gone" in start  # taken over at once, no waiting for the lease
        assert second.stop() == 0
    rows = _articles(db_url)
    expected = {f"f{feed}-{n}" for feed in range(4) for n in range(15)}
    assert len(rows) == len(expected) and {guid for guid, _ in rows} == expected


class Mailbox:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.mark.slow
def test_digest_missed_while_down_goes_out_once_on_start(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    feed_server.route("/news.xml", Route(body=rss(_items("news", range(2)))))
    feed = {"id": "news", "outlet": "Hespress", "path": "/news.xml"}
    env = _setup(tmp_path, feed_server, sqlite_url, [feed])
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        env.update(
            MONITOR_SMTP_HOST="127.0.0.1",
            MONITOR_SMTP_PORT=str(controller.port),
            MONITOR_SMTP_SECURITY="none",
            MONITOR_DIGEST_FROM="monitor@example.org",
            MONITOR_DIGEST_TO="analyst@example.org",
            MONITOR_DIGEST_TZ="UTC",
            MONITOR_DIGEST_TIME="00:00",  # today's digest time has passed: it is due
        )
        with daemon(env, tmp_path / "first.log") as first:
            wait_for(lambda: mailbox.messages, "the digest mail", first)
            assert first.stop() == 0
        with daemon(env, tmp_path / "second.log") as second:
            wait_for(
                lambda: any("event=digest.end" in line for line in second.lines()),
                "the second daemon's digest check",
                second,
            )
            assert second.stop() == 0
        assert len(mailbox.messages) == 1  # a date is mailed once, restarts or not
        assert b"analyst@example.org" in mailbox.messages[0]
        status = _status(env)
        assert status["last_digest"]["status"] == "sent"
    finally:
        controller.stop()


def test_the_daemon_never_imports_twisted() -> None:
    """The reactor lives in crawl children only (DESIGN §2): `monitor run` must not load it."""
    probe = (
        "import sys, monitor.cli, monitor.cli.run, monitor.daemon, monitor.health; "
        "print(sorted(m for m in ('twisted', 'scrapy') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def _history(session: Session, now: datetime) -> None:
    """Three feeds with two weeks of history: a busy one gone quiet, a busy one still
    publishing, and one failing; plus one never polled."""
    outlet = Outlet(slug="hespress", name="Hespress", country="MA")
    session.add(outlet)
    session.flush()
    feeds = {}
    for slug, errors in (("quiet", 0), ("lively", 0), ("broken", 4), ("new", 0)):
        feed = Feed(
            slug=slug,
            outlet_id=outlet.id,
            url=f"https://www.hespress.com/{slug}.xml",
            language="ar",
            interval_seconds=900,
            consecutive_errors=errors,
            last_polled_at=None if slug == "new" else now - timedelta(minutes=5),
            last_outcome="http_error" if errors else "not_modified",
            last_status=503 if errors else 304,
            last_error="HTTP 503" if errors else None,
            created_at=now - timedelta(days=20),
            updated_at=now,
        )
        session.add(feed)
        feeds[slug] = feed
    session.flush()
    number = 0
    for slug, stop in (("quiet", now - timedelta(hours=30)), ("lively", now)):
        moment = now - timedelta(days=14)
        while moment < stop:
            if 6 <= moment.hour < 22:  # publishes by day, every 40 min
                number += 1
                article = Article(
                    outlet_id=outlet.id,
                    feed_id=feeds[slug].id,
                    guid=f"g{number}",
                    url=f"https://www.hespress.com/{number}.html",
                    canonical_url=f"https://hespress.com/{number}.html",
                    title=f"خبر {number}",
                    published_at=moment,
                    first_seen_at=moment,
                    updated_at=moment,
                    content_hash=f"{number:064d}",
                )
                session.add(article)
                session.flush()
                session.add(
                    ArticleFeed(article_id=article.id, feed_id=feeds[slug].id, first_seen_at=moment)
                )
            moment += timedelta(minutes=40)


def test_status_sorts_feeds_into_ok_failing_silent_and_new(db_url: str) -> None:
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    engine = get_engine(db_url)
    with Session(engine) as session, session.begin():
        _history(session, now)
    report = health_report(engine, now, ZoneInfo("Africa/Casablanca"))
    feeds = report["feeds"]
    assert feeds["counts"] == {
        "enabled": 4,
        "ok": 1,
        "failing": 1,
        "silent": 1,
        "never_polled": 1,
    }
    assert [row["id"] for row in feeds["silent"]] == ["quiet"]
    assert feeds["silent"][0]["why"] == "quiet 1d14h40m, usually at most 8h40m"
    assert feeds["failing"][0]["id"] == "broken" and feeds["failing"][0]["status"] == 503
    assert feeds["never_polled"] == ["new"]
    assert report["daemon"] == {"state": "never started", "alive": False}
    # "Today" is the day in Casablanca: items since local midnight, the lively feed's only.
    local_midnight = now.astimezone(ZoneInfo("Africa/Casablanca")).replace(hour=0, minute=0)
    expected = sum(
        1
        for minutes in range(0, 14 * 24 * 60, 40)
        if (moment := now - timedelta(days=14) + timedelta(minutes=minutes)) >= local_midnight
        and 6 <= moment.hour < 22
        and moment < now
    )
    assert report["items_today"] == expected > 0
