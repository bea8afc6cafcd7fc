"""The daemon over many ticks: its memory, and how long a new item takes to reach the database.

A loopback HTTP server serves 200 RSS feeds (ETag-aware, so unchanged feeds answer 304); a
publisher thread adds an item to a random feed every 0.25 s and notes when it appeared. The
real daemon runs as its own process (the `Daemon` of `monitor run`, with a sub-second tick,
which `MONITOR_POLL_TICK` cannot express) with feed intervals bounded to 2-10 s, crawling in
child processes as in production, until the scheduler has ticked 500 times. A watcher
notes when each item's row shows up in the database (0.2 s resolution).

Figures: daemon RSS just after start, after its first crawl, and at the end (target growth
<= 15 MB); p50/p95/max lag from appearance to row; duplicates; the stop time. Baseline,
measured in the same run before the daemon starts: one `monitor crawl --all` over every
feed, i.e. the best lag a poller can give when it fetches everything back to back.

    python bench/daemon.py                      # 200 feeds, 500 ticks of 0.2 s (~2 min)
    python bench/daemon.py --ticks 3000 --tick 0.5 --database postgresql://...
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select

from db.engine import get_engine, session_factory, upgrade
from db.models import Article

LAUNCHER = """
import dataclasses, sys
from monitor.cli.run import configure_logging
from monitor.daemon import Daemon, DaemonSettings
from settings.config import load_config
configure_logging("INFO")
settings = DaemonSettings.from_config(load_config())
settings = dataclasses.replace(settings, poll_tick=float(sys.argv[1]))
sys.exit(Daemon(settings).run())
"""


MONITOR = [sys.executable, "-m", "monitor"]


class Feeds:
    """The served feeds: newest 30 items each, an ETag per version, appearance times noted."""

    def __init__(self, count: int) -> None:
        self.lock = threading.Lock()
        self.items: list[list[tuple[str, datetime]]] = [[] for _ in range(count)]
        self.version = [0] * count
        self.appeared: dict[str, float] = {}

    def publish(self, feed: int) -> None:
        with self.lock:
            number = len(self.items[feed])
            guid = f"f{feed}-{number}"
            self.items[feed].append((guid, datetime.now(UTC)))
            self.version[feed] += 1
            self.appeared[guid] = time.time()

    def body(self, feed: int) -> tuple[bytes, str]:
        with self.lock:
            items, version = list(self.items[feed][-30:]), self.version[feed]
        parts = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>']
        parts.append(f"<title>Feed {feed}</title><link>http://127.0.0.1/</link>")
        for guid, when in reversed(items):
            parts.append(
                f"<item><guid>{guid}</guid><link>https://outlet{feed}.example/{guid}</link>"
                f"<title>{escape(f'خبر {guid} عن التعاون الدفاعي')}</title>"
                f"<description>{escape(f'نص الخبر {guid} والتفاصيل الكاملة هنا')}"
                f"</description><pubDate>{format_datetime(when)}</pubDate></item>"
            )
        parts.append("</channel></rss>")
        return "".join(parts).encode(), f'"v{version}"'


def serve(feeds: Feeds) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            name = self.path.strip("/").removesuffix(".xml")
            if not name.startswith("f") or not name[1:].isdigit():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body, etag = feeds.body(int(name[1:]))
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def setup(args: argparse.Namespace, workdir: Path) -> tuple[str, Feeds, Any, dict[str, str]]:
    """Database, feeds, server, registry and environment; the registry loaded."""
    url = args.database or f"sqlite:///{workdir / 'monitor.db'}"
    upgrade(url)
    feeds = Feeds(args.feeds)
    for feed in range(args.feeds):
        feeds.publish(feed)  # one item each to start with
    server = serve(feeds)
    port = server.server_address[1]
    registry = ["feeds:"]
    for feed in range(args.feeds):
        registry += [
            f"  - id: f{feed}",
            f"    outlet: Outlet {feed}",
            "    country: MA",
            "    language: ar",
            f"    url: http://127.0.0.1:{port}/f{feed}.xml",
            "    interval: 1m",
        ]
    (workdir / "feeds.yaml").write_text("\n".join(registry) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(
        MONITOR_DATABASE_URL=url,
        MONITOR_FEEDS_FILE=str(workdir / "feeds.yaml"),
        MONITOR_DOWNLOAD_DELAY="0",
        MONITOR_MIN_INTERVAL="2",
        MONITOR_MAX_INTERVAL="10",
        MONITOR_CRAWL_TIMEOUT="120",
        MONITOR_DIGEST_TIME="23:59",
        PYTHONWARNINGS="ignore",
    )
    subprocess.run([*MONITOR, "feeds", "sync"], env=env, check=True, capture_output=True)
    return url, feeds, server, env


class Watcher:
    """Notes when each article row first shows up in the database."""

    def __init__(self, url: str) -> None:
        self.sessions = session_factory(get_engine(url))
        with self.sessions() as session:
            self.last_id = max(session.execute(select(Article.id)).scalars(), default=0)
        self.seen_at: dict[str, float] = {}

    def poll(self) -> None:
        with self.sessions() as session:
            for article_id, guid in session.execute(
                select(Article.id, Article.guid).where(Article.id > self.last_id)
            ):
                self.seen_at.setdefault(str(guid), time.time())
                self.last_id = max(self.last_id, article_id)

    def guids(self) -> list[str]:
        with self.sessions() as session:
            return [str(guid) for guid in session.execute(select(Article.guid)).scalars()]


def count_ticks(text: str) -> int:
    return sum(text.count(f"event=crawl.{kind}") for kind in ("start", "skipped", "missed"))


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--ticks", type=int, default=500)
    parser.add_argument("--tick", type=float, default=0.2, help="seconds between ticks")
    parser.add_argument("--publish-every", type=float, default=0.25)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (log, database)")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    workdir = Path(tempfile.mkdtemp(prefix="bench-daemon-"))
    url, feeds, server, env = setup(args, workdir)

    # Baseline: everything fetched back to back, once (this also stores the first items).
    started = time.monotonic()
    subprocess.run([*MONITOR, "crawl", "--all"], env=env, check=True, capture_output=True)
    baseline = time.monotonic() - started
    watcher = Watcher(url)

    log_path = workdir / "daemon.log"
    with log_path.open("wb") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(args.tick)],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    time.sleep(0.5)
    rss_launch = rss_mb(daemon.pid)
    stop_publishing = threading.Event()

    def publisher() -> None:
        rng = random.Random(5)
        while not stop_publishing.wait(args.publish_every):
            feeds.publish(rng.randrange(args.feeds))

    threading.Thread(target=publisher, daemon=True).start()

    def log_text() -> str:
        return log_path.read_text(encoding="utf-8", errors="replace")

    rss_start = None
    deadline = time.monotonic() + args.ticks * args.tick * 3 + 120
    while count_ticks(log_text()) < args.ticks and time.monotonic() < deadline:
        time.sleep(0.2)
        if daemon.poll() is not None:
            sys.exit(f"daemon exited early ({daemon.returncode}); see {log_path}")
        if rss_start is None and "event=crawl.end" in log_text():
            rss_start = rss_mb(daemon.pid)  # imports done, one crawl behind it: steady state
        watcher.poll()
    rss_end, measured_ticks = rss_mb(daemon.pid), count_ticks(log_text())
    stop_publishing.set()
    # Drain: let the daemon store what was published last, then stop it.
    drain_until = time.monotonic() + 60
    while (
        time.monotonic() < drain_until and len(watcher.seen_at) < len(feeds.appeared) - args.feeds
    ):
        time.sleep(0.2)
        watcher.poll()
    stop_started = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    code = daemon.wait(timeout=60)
    stop_seconds = time.monotonic() - stop_started
    server.shutdown()
    report(args, url, log_text(), feeds, watcher, baseline)
    start = rss_start if rss_start is not None else rss_launch
    print(
        f"daemon RSS            launch {rss_launch:.1f} MB, after first crawl {start:.1f} MB, "
        f"after {measured_ticks} ticks {rss_end:.1f} MB: growth {rss_end - start:+.1f} MB "
        f"(target <= 15), end/start {rss_end / start:.3f}x"
    )
    print(f"stop                  SIGTERM -> exit {code} in {stop_seconds:.1f}s")
    if args.keep:
        print(f"work dir              {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def report(
    args: argparse.Namespace, url: str, text: str, feeds: Feeds, watcher: Watcher, baseline: float
) -> None:
    # Items of the first poll were stored by the baseline crawl, before the watcher started.
    lags = [watcher.seen_at[g] - t for g, t in feeds.appeared.items() if g in watcher.seen_at]
    guids = watcher.guids()
    crawls = text.count("event=crawl.end")
    print(f"feeds                 {args.feeds} (on 127.0.0.1, ETag/304), database {url}")
    print(
        f"ticks                 {count_ticks(text)} every {args.tick}s: {crawls} crawls run, "
        f"{text.count('event=crawl.skipped')} skipped while one ran, "
        f"{text.count('event=crawl.missed')} missed"
    )
    print(
        f"items                 {len(feeds.appeared)} published, {len(set(guids))} stored, "
        f"{len(guids) - len(set(guids))} duplicates, "
        f"{len(feeds.appeared) - len(set(guids))} not stored at stop"
    )
    print(
        f"lag appear -> row     p50 {percentile(lags, 0.5):.1f}s, p95 "
        f"{percentile(lags, 0.95):.1f}s, max {max(lags, default=float('nan')):.1f}s "
        f"over {len(lags)} items (feed intervals 2-10 s)"
    )
    ratio = statistics.median(lags) / baseline if lags else float("nan")
    print(
        f"baseline              one `monitor crawl --all` of {args.feeds} feeds: {baseline:.1f}s;"
        f" lag p50 / baseline = {ratio:.2f}x"
    )


if __name__ == "__main__":
    main()
