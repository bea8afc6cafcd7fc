"""Health of the monitor: the facts behind `monitor status`, and the daemon's loopback endpoint.

`health_report(engine, now, tz)` reads the database only (any process can call it): the
daemon's lease row (alive, heartbeat, last tick), feeds ok / failing / silent / not polled
yet, items today, the last digest. `HealthServer` is the daemon's optional HTTP endpoint on
127.0.0.1 (MONITOR_HEALTH_PORT): `/healthz` (200 or 503 with a JSON body) and `/metrics`
(Prometheus text format 0.0.4).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.models import Article, ArticleFeed, DaemonState, Digest, Feed, Fetch, Story
from monitor.polling import silence

if TYPE_CHECKING:
    from monitor.daemon import Daemon

LEASE_NAME = "daemon"  # the daemon_state row monitor.daemon.Lease keeps
LEASE_TTL = 60.0  # seconds: a fresher heartbeat means a live daemon; an older one frees the lease
SILENCE_HISTORY = timedelta(days=21)  # arrivals looked at to learn a feed's usual rhythm


def daemon_report(session: Session, now: datetime) -> dict[str, Any]:
    """The lease row as a person reads it: state running / stale / stopped / never started."""
    row = session.get(DaemonState, LEASE_NAME)
    if row is None:
        return {"state": "never started", "alive": False}
    age = (now - row.heartbeat_at).total_seconds() if row.heartbeat_at else None
    if row.owner is None:
        state = "stopped"
    elif age is not None and age < LEASE_TTL:
        state = "running"
    else:
        state = "stale"  # owner recorded but silent: killed or hung; the next start takes over
    return {
        "state": state,
        "alive": state == "running",
        "pid": row.pid if row.owner else None,
        "host": row.owner.split(":", 1)[0] if row.owner else None,
        "started_at": row.started_at,
        "heartbeat_at": row.heartbeat_at,
        "heartbeat_age_s": None if age is None else round(age, 1),
        "last_tick_at": row.last_tick_at,
        "last_tick_status": row.last_tick_status,
    }


def feeds_report(session: Session, now: datetime) -> dict[str, Any]:
    """Enabled feeds sorted into ok / failing / silent / not polled yet, with the why of each."""
    feeds = list(session.execute(select(Feed).where(Feed.enabled.is_(True))).scalars())
    arrivals: defaultdict[int, list[datetime]] = defaultdict(list)
    for feed_id, seen in session.execute(
        select(ArticleFeed.feed_id, ArticleFeed.first_seen_at).where(
            ArticleFeed.first_seen_at >= now - SILENCE_HISTORY
        )
    ):
        arrivals[feed_id].append(seen)
    failing, silent, never = [], [], []
    for feed in sorted(feeds, key=lambda f: f.slug):
        if feed.last_polled_at is None:
            never.append(feed.slug)
        elif feed.consecutive_errors > 0:
            failing.append(
                {
                    "id": feed.slug,
                    "outcome": feed.last_outcome,
                    "status": feed.last_status,
                    "errors": feed.consecutive_errors,
                    "error": feed.last_error,
                    "last_success_at": feed.last_success_at,
                    "next_poll_at": feed.next_poll_at,
                    "schedule": feed.schedule_reason,
                }
            )
        else:
            verdict = silence(arrivals.get(feed.id, []), now)
            if verdict.silent:
                silent.append(
                    {
                        "id": feed.slug,
                        "last_new_item_at": feed.last_new_item_at,
                        "why": verdict.reason,
                    }
                )
    counts = {
        "enabled": len(feeds),
        "ok": len(feeds) - len(failing) - len(silent) - len(never),
        "failing": len(failing),
        "silent": len(silent),
        "never_polled": len(never),
    }
    return {"counts": counts, "failing": failing, "silent": silent, "never_polled": never}


def health_report(engine: Engine, now: datetime, tz: tzinfo) -> dict[str, Any]:
    """Everything `monitor status` shows; "today" is the local day in `tz` (the digest's)."""
    midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    with Session(engine) as session:
        digest = session.execute(
            select(Digest).order_by(Digest.created_at.desc(), Digest.id.desc()).limit(1)
        ).scalar_one_or_none()
        sent = session.execute(
            select(func.max(Digest.sent_at)).where(Digest.status == "sent")
        ).scalar_one()
        return {
            "daemon": daemon_report(session, now),
            "feeds": feeds_report(session, now),
            "last_fetch_at": session.execute(select(func.max(Fetch.started_at))).scalar_one(),
            "items_today": session.execute(
                select(func.count(Article.id)).where(Article.first_seen_at >= midnight)
            ).scalar_one(),
            "today_since": midnight,
            "articles": session.execute(select(func.count(Article.id))).scalar_one(),
            "stories": session.execute(select(func.count(Story.id))).scalar_one(),
            "last_digest": None
            if digest is None
            else {
                "date": digest.digest_date,
                "status": digest.status,
                "created_at": digest.created_at,
                "sent_at": digest.sent_at,
                "stories": digest.story_count,
                "error": digest.error,
            },
            "last_digest_sent_at": sent,
        }


# ---------------------------------------------------------------------------------------------
# The daemon's endpoint.


class _Counters:
    """Fetch outcomes and items since the daemon started, read incrementally from `fetches`
    (rows after the last one seen), so a scrape never scans the whole history."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        with Session(engine) as session:
            self.last_id = session.execute(select(func.max(Fetch.id))).scalar_one() or 0
        self.outcomes: dict[str, int] = {}
        self.items = {"new": 0, "updated": 0}

    def refresh(self, session: Session) -> None:
        with self.lock:
            rows = session.execute(
                select(
                    Fetch.outcome,
                    func.count(),
                    func.sum(Fetch.items_new),
                    func.sum(Fetch.items_updated),
                    func.max(Fetch.id),
                )
                .where(Fetch.id > self.last_id)
                .group_by(Fetch.outcome)
            )
            for outcome, count, new, updated, last in rows:
                self.outcomes[outcome] = self.outcomes.get(outcome, 0) + int(count)
                self.items["new"] += int(new or 0)
                self.items["updated"] += int(updated or 0)
                self.last_id = max(self.last_id, int(last))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Metrics:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        self.lines += [f"{name}{labels} {value:g}" for labels, value in samples]

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render_metrics(daemon: Daemon, counters: _Counters, now: datetime) -> str:
    """The Prometheus exposition of the daemon's counters and the feeds' lag."""
    stats, metrics = daemon.stats, _Metrics()
    with Session(daemon.engine) as session:
        counters.refresh(session)
        feeds = session.execute(
            select(Feed.slug, Feed.next_poll_at, Feed.last_success_at, Feed.consecutive_errors)
            .where(Feed.enabled.is_(True))
            .order_by(Feed.slug)
        ).all()
    with stats.lock:
        ticks, digests = dict(stats.ticks), dict(stats.digests)
        crawl_sum, crawl_count = stats.crawl_seconds_sum, stats.crawl_seconds_count
        skipped, missed = stats.skipped_ticks, stats.missed_runs
    metrics.add(
        "monitor_daemon_start_time_seconds",
        "gauge",
        "Unix time the daemon started.",
        [("", stats.started_at.timestamp())],
    )
    metrics.add(
        "monitor_ticks_total",
        "counter",
        "Crawl ticks run, by result.",
        [(f'{{result="{_label(k)}"}}', v) for k, v in sorted(ticks.items())],
    )
    metrics.add(
        "monitor_ticks_skipped_total",
        "counter",
        "Ticks skipped because the previous crawl was still running.",
        [("", skipped)],
    )
    metrics.add(
        "monitor_runs_missed_total", "counter", "Runs started too late, dropped.", [("", missed)]
    )
    metrics.add(
        "monitor_crawl_duration_seconds",
        "summary",
        "Wall time of crawl child processes.",
        [("_sum", crawl_sum), ("_count", crawl_count)],
    )
    metrics.add(
        "monitor_fetches_total",
        "counter",
        "Feed fetches since the daemon started, by outcome.",
        [(f'{{outcome="{_label(k)}"}}', v) for k, v in sorted(counters.outcomes.items())],
    )
    metrics.add(
        "monitor_items_stored_total",
        "counter",
        "Articles stored since the daemon started: new rows and updates.",
        [(f'{{action="{k}"}}', v) for k, v in sorted(counters.items.items())],
    )
    metrics.add(
        "monitor_digests_total",
        "counter",
        "Digest runs, by result.",
        [(f'{{result="{_label(k)}"}}', v) for k, v in sorted(digests.items())],
    )
    overdue, since_ok, errors = [], [], []
    for slug, next_poll_at, last_success_at, consecutive in feeds:
        label = f'{{feed="{_label(slug)}"}}'
        lag = (now - next_poll_at).total_seconds() if next_poll_at else 0.0
        overdue.append((label, max(lag, 0.0)))
        if last_success_at is not None:
            since_ok.append((label, (now - last_success_at).total_seconds()))
        errors.append((label, float(consecutive)))
    metrics.add(
        "monitor_feed_lag_seconds",
        "gauge",
        "How far behind its schedule a feed is (0 when not yet due).",
        overdue,
    )
    metrics.add(
        "monitor_feed_last_success_age_seconds",
        "gauge",
        "Seconds since the feed last answered successfully.",
        since_ok,
    )
    metrics.add("monitor_feed_consecutive_errors", "gauge", "Failed fetches in a row.", errors)
    return metrics.text()


def healthz(daemon: Daemon, now: datetime) -> tuple[int, dict[str, Any]]:
    """200 while the daemon runs and crawls complete; 503 with the reason otherwise."""
    settings, stats = daemon.settings, daemon.stats
    with stats.lock:
        last_tick, last_status = stats.last_tick_at, stats.last_tick_status
    # A crawl may legitimately take its whole time limit, and a tick may wait one period.
    allowed = timedelta(seconds=settings.crawl_timeout + 2 * settings.poll_tick + 30)
    reference = last_tick or stats.started_at
    body: dict[str, Any] = {
        "pid": daemon.lease.pid,
        "started_at": stats.started_at.isoformat(),
        "last_tick_at": last_tick.isoformat() if last_tick else None,
        "last_tick_status": last_status,
    }
    if daemon.stop_requested.is_set():
        body["status"] = f"stopping ({daemon.stop_reason})"
        return 503, body
    if now - reference > allowed:
        body["status"] = f"no crawl completed for {(now - reference).total_seconds():.0f}s"
        return 503, body
    body["status"] = "ok"
    return 200, body


class HealthServer:
    """Serves /healthz and /metrics on 127.0.0.1:`port` from a background thread."""

    def __init__(self, daemon: Daemon, port: int) -> None:
        counters = _Counters(daemon.engine)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return  # scrapes every few seconds would drown the event log

            def do_GET(self) -> None:
                now = datetime.now(UTC)
                if self.path == "/healthz":
                    status, body = healthz(daemon, now)
                    self._send(status, "application/json", json.dumps(body) + "\n")
                elif self.path == "/metrics":
                    text = render_metrics(daemon, counters, now)
                    self._send(200, "text/plain; version=0.0.4; charset=utf-8", text)
                else:
                    self._send(404, "text/plain", "try /healthz or /metrics\n")

            def _send(self, status: int, kind: str, text: str) -> None:
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="health", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
