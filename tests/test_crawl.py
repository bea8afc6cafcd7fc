"""End to end: `monitor crawl` against a real HTTP server on 127.0.0.1, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from db.engine import get_engine, session_factory
from db.models import Article, ArticleFeed, Feed, Fetch
from tests.feedserver import FeedServer, Route
from tests.helpers import monitor_env, registry, rss, run_monitor

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _items(
    prefix: str, count: int, *, host: str = "https://www.hespress.com"
) -> list[dict[str, object]]:
    return [
        {
            "guid": f"{prefix}-{n}",
            "link": f"{host}/{prefix}-{n}.html?utm_source=rss&utm_medium=feed",
            "title": f"خبر رقم {n} من {prefix}",
            "description": f"<p>نص الخبر {n} حول الاقتصاد المغربي والتجارة.</p>",
            "pubDate": NOW - timedelta(minutes=n),
        }
        for n in range(count)
    ]


def _setup(
    tmp_path: Path, server: FeedServer, db_url: str, feeds: list[dict[str, str]]
) -> dict[str, str]:
    path = tmp_path / "feeds.yaml"
    path.write_text(registry(server, feeds), encoding="utf-8")
    env = monitor_env(db_url, MONITOR_FEEDS_FILE=str(path))
    done = run_monitor(["feeds", "sync"], env)
    assert done.returncode == 0, done.stderr
    return env


def _crawl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = run_monitor(["crawl", "--all", *args], env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _count(db_url: str, model: type) -> int:
    with session_factory(get_engine(db_url))() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def _outcomes(db_url: str) -> dict[str, list[str]]:
    with session_factory(get_engine(db_url))() as session:
        rows = session.execute(
            select(Feed.slug, Fetch.outcome).join(Feed, Feed.id == Fetch.feed_id).order_by(Fetch.id)
        )
        result: dict[str, list[str]] = {}
        for slug, outcome in rows:
            result.setdefault(slug, []).append(outcome)
        return result


def test_rerun_and_category_feeds_make_no_duplicates(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    shared = _items("shared", 5)
    feed_server.route("/politique.xml", Route(body=rss(shared + _items("pol", 3), lang="ar")))
    # The same outlet's other section feed carries the shared items with other tracking tags.
    retagged = [
        dict(item, link=str(item["link"]).replace("utm_medium=feed", "fbclid=x1"))
        for item in shared
    ]
    feed_server.route("/societe.xml", Route(body=rss(retagged + _items("soc", 2), lang="ar")))
    feed_server.route("/ynet.xml", Route(body=rss(_items("yn", 4, host="https://www.ynet.co.il"))))
    env = _setup(
        tmp_path,
        feed_server,
        db_url,
        [
            {
                "id": "hespress-pol",
                "outlet": "Hespress",
                "path": "/politique.xml",
                "language": "ar",
            },
            {"id": "hespress-soc", "outlet": "Hespress", "path": "/societe.xml", "language": "ar"},
            {"id": "ynet-he", "outlet": "Ynet", "country": "IL", "path": "/ynet.xml"},
        ],
    )
    first = _crawl(env)
    assert "14 new" in first.stdout
    assert _count(db_url, Article) == 5 + 3 + 2 + 4
    assert _count(db_url, ArticleFeed) == 5 * 2 + 3 + 2 + 4
    second = _crawl(env)
    assert "0 new" in second.stdout
    assert _count(db_url, Article) == 14
    assert _outcomes(db_url) == {
        "hespress-pol": ["ok", "unchanged"],
        "hespress-soc": ["ok", "unchanged"],
        "ynet-he": ["ok", "unchanged"],
    }
    with session_factory(get_engine(db_url))() as session:
        urls = set(session.execute(select(Article.canonical_url)).scalars())
    assert "https://hespress.com/shared-0.html" in urls
    assert not any("utm_" in url or "fbclid" in url for url in urls)


def test_edit_updates_the_same_row(tmp_path: Path, feed_server: FeedServer, db_url: str) -> None:
    items = _items("a", 2)
    feed_server.route("/f.xml", Route(body=rss(items, lang="ar")))
    env = _setup(
        tmp_path,
        feed_server,
        db_url,
        [{"id": "f", "outlet": "Hespress", "path": "/f.xml", "language": "ar"}],
    )
    _crawl(env)
    with session_factory(get_engine(db_url))() as session:
        before = {a.guid: (a.id, a.revision) for a in session.execute(select(Article)).scalars()}
    items[0] = dict(items[0], title="عنوان معدل بعد التحرير")
    feed_server.route("/f.xml", Route(body=rss(items, lang="ar")))
    assert "1 updated" in _crawl(env).stdout
    with session_factory(get_engine(db_url))() as session:
        after = {
            a.guid: (a.id, a.revision, a.title) for a in session.execute(select(Article)).scalars()
        }
    assert after["a-0"] == (before["a-0"][0], 2, "عنوان معدل بعد التحرير")
    assert after["a-1"][:2] == before["a-1"]


def test_conditional_get_with_etag_and_last_modified(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    feed_server.route("/etag.xml", Route(body=rss(_items("e", 2)), etag='"v1"'))
    feed_server.route(
        "/lm.xml", Route(body=rss(_items("l", 2)), last_modified="Mon, 30 Nov 2026 07:00:00 GMT")
    )
    env = _setup(
        tmp_path,
        feed_server,
        db_url,
        [
            {"id": "etag", "outlet": "Le360", "path": "/etag.xml", "language": "fr"},
            {"id": "lm", "outlet": "TelQuel", "path": "/lm.xml", "language": "fr"},
        ],
    )
    _crawl(env)
    _crawl(env)
    assert _outcomes(db_url) == {"etag": ["ok", "not_modified"], "lm": ["ok", "not_modified"]}
    assert feed_server.hits("/etag.xml")[-1].headers.get("If-None-Match") == '"v1"'
    assert (
        feed_server.hits("/lm.xml")[-1].headers.get("If-Modified-Since")
        == "Mon, 30 Nov 2026 07:00:00 GMT"
    )
    assert _count(db_url, Article) == 4


def test_failures_are_named_and_other_feeds_carry_on(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    feed_server.route("/good.xml", Route(body=rss(_items("g", 3))))
    feed_server.route("/gone.xml", Route(status=404, body=b"no"))
    feed_server.route("/broken.xml", Route(status=500, body=b"oops"))
    feed_server.route("/slow.xml", Route(body=rss(_items("s", 1)), delay=6))
    feed_server.route(
        "/page.xml",
        Route(
            body=b"<!doctype html><html><body><p>Hello</p></body></html>", content_type="text/html"
        ),
    )
    feed_server.route("/huge.xml", Route(body=b"<rss>" + b" " * (17 * 1024 * 1024) + b"</rss>"))
    feed_server.route("/moved.xml", Route(status=301, headers={"Location": "/good.xml"}))
    names = ["good", "gone", "broken", "slow", "page", "huge", "moved"]
    env = _setup(
        tmp_path,
        feed_server,
        db_url,
        [{"id": name, "outlet": f"Outlet {name}", "path": f"/{name}.xml"} for name in names],
    )
    done = _crawl(env)
    assert "7 feeds fetched" in done.stdout
    assert _outcomes(db_url) == {
        "good": ["ok"],
        "gone": ["http_error"],
        "broken": ["http_error"],
        "slow": ["timeout"],
        "page": ["parse_error"],
        "huge": ["too_large"],
        "moved": ["ok"],
    }
    assert _count(db_url, Article) == 6  # good's three, and the same three via the redirect
    with session_factory(get_engine(db_url))() as session:
        feeds = {f.slug: f for f in session.execute(select(Feed)).scalars()}
    assert feeds["broken"].consecutive_errors == 1 and feeds["broken"].last_status == 500
    assert feeds["good"].consecutive_errors == 0 and feeds["good"].last_success_at is not None
    assert feeds["page"].last_error
    for feed in feeds.values():
        assert feed.next_poll_at is not None and feed.schedule_reason
    status = run_monitor(["status"], env)
    assert status.returncode == 0
    assert (
        "failing: gone: http_error" in status.stdout and "failing: slow: timeout" in status.stdout
    )


def test_killed_crawl_loses_nothing_on_rerun(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    total = 800
    feed_server.route("/big.xml", Route(body=rss(_items("k", total), lang="ar")))
    env = _setup(
        tmp_path,
        feed_server,
        db_url,
        [{"id": "big", "outlet": "Hespress", "path": "/big.xml", "language": "ar"}],
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "monitor", "crawl", "--all"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    stored = 0
    while time.monotonic() < deadline and child.poll() is None:
        stored = _count(db_url, Article)
        if stored >= 50:
            break
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    stored = _count(db_url, Article)
    assert 0 < stored < total, f"kill did not land mid-crawl ({stored} stored)"
    _crawl(env)
    assert _count(db_url, Article) == total
    with session_factory(get_engine(db_url))() as session:
        guids = list(session.execute(select(Article.guid)).scalars())
    assert len(set(guids)) == total
