"""Full text for `fulltext: true` feeds, end to end: `monitor crawl` against pages served on
127.0.0.1 (the test pages of tests/data/pages), SQLite and PostgreSQL.

The outlet's feeds live on 127.0.0.1:PORT, so that host is the outlet's own; `localhost` on
the same port is another host that resolves to a loopback address, which the address guard
must refuse.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from db.engine import get_engine, session_factory
from db.models import Article, ArticleAlias
from monitor.netguard import GuardReason, registered_hosts
from monitor.text import fold
from monitor.urls import canonical_url
from spiders.middlewares import NetGuardMiddleware, NetGuardRefused
from tests.feedserver import FeedServer, Route
from tests.helpers import monitor_env, registry, rss, run_monitor

PAGES = Path(__file__).parent / "data" / "pages"
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _page(name: str) -> Route:
    return Route(body=(PAGES / f"{name}.html").read_bytes(), content_type="text/html")


def _golden(name: str) -> tuple[str, dict[str, Any]]:
    text = (PAGES / f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")
    meta: dict[str, Any] = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
    return text, meta


def _item(server: FeedServer, key: str, path: str, title: str, minutes: int = 0) -> dict[str, Any]:
    return {
        "guid": f"urn:{key}",
        "link": server.url(path),
        "title": title,
        "description": f"{title}: a one-sentence summary, as summary-only feeds give.",
        "pubDate": NOW - timedelta(minutes=minutes),
    }


def _setup(
    tmp_path: Path, server: FeedServer, db_url: str, feeds: list[dict[str, str]]
) -> dict[str, str]:
    path = tmp_path / "feeds.yaml"
    path.write_text(registry(server, feeds), encoding="utf-8")
    env = monitor_env(db_url, MONITOR_FEEDS_FILE=str(path))
    done = run_monitor(["feeds", "sync"], env)
    assert done.returncode == 0, done.stderr
    return env


def _crawl(env: dict[str, str]) -> str:
    done = run_monitor(["crawl", "--all"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _articles(db_url: str) -> dict[str, Article]:
    with session_factory(get_engine(db_url))() as session:
        rows = session.execute(select(Article)).scalars().all()
        session.expunge_all()
    return {str(a.guid).removeprefix("urn:"): a for a in rows}


def _aliases(db_url: str) -> set[tuple[int, str]]:
    with session_factory(get_engine(db_url))() as session:
        return {(a.article_id, a.url) for a in session.execute(select(ArticleAlias)).scalars()}


LAYOUTS = {  # key -> (test page, feed language)
    "hespress": ("wp-ar-hespress", "ar"),
    "ynet": ("ynet-he", "he"),
    "i24": ("i24-fr", "fr"),
    "toi": ("toi-en", "en"),
}


def test_pages_enrich_summary_only_items_once_per_revision(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    items = []
    for n, (key, (page, _lang)) in enumerate(LAYOUTS.items()):
        feed_server.route(f"/pages/{key}", _page(page))
        items.append(_item(feed_server, key, f"/pages/{key}", f"Headline {key}", n))
    # A moved article: the feed links the old address, the site redirects on its own host.
    feed_server.route("/old/jns", Route(status=301, headers={"Location": "/pages/jns"}))
    jns = _page("wp-en-jns")
    jns.headers["Set-Cookie"] = "session=outlet-a; Path=/"
    feed_server.route("/pages/jns", jns)
    items.append(_item(feed_server, "jns", "/old/jns", "Headline jns", 9))
    feed_server.route("/feed.xml", Route(body=rss(items)))
    env = _setup(
        tmp_path,
        feed_server,
        db_url,
        [{"id": "mixed", "outlet": "Mixed", "path": "/feed.xml", "fulltext": "true"}],
    )

    _crawl(env)
    stored = _articles(db_url)
    assert set(stored) == {*LAYOUTS, "jns"}
    for key, (page, lang) in [*LAYOUTS.items(), ("jns", ("wp-en-jns", "en"))]:
        article = stored[key]
        text, meta = _golden(page)
        assert article.body == text, key
        assert article.title == f"Headline {key}"  # the feed's title stays the headline
        assert article.summary.startswith(f"Headline {key}: a one-sentence summary")
        assert article.fulltext_status == "ok", (key, article.fulltext_error)
        assert article.fulltext_attempts == 1
        assert article.revision == 2  # the feed's revision, then the page's
        assert article.fulltext_revision == 2
        assert article.page_canonical_url is not None
        assert article.page_canonical_url.startswith("https://")
        assert (article.credit, article.origin) == (meta["credit"], meta["origin"])
        assert article.language == lang
        assert article.author == meta["author"]
        # Matching text is the page's, folded and without its credit line.
        assert fold(text.split("\n\n")[1]) in article.match_text
        if meta["credit"]:
            assert fold(meta["credit"]) not in article.match_text
    assert feed_server.hits("/pages/hespress")[0].headers["User-Agent"].startswith("media-monitor")
    # The page's canonical URL and the redirect's final URL joined the article's identity.
    aliases = _aliases(db_url)
    assert (
        stored["hespress"].id,
        "https://hespress.example/politique/defense-memorandum-1289.html",
    ) in aliases
    assert (stored["jns"].id, canonical_url(feed_server.url("/pages/jns"))) in aliases
    # No cookie travels: the outlet's Set-Cookie is not sent back on any later request.
    assert not any("Cookie" in seen.headers for seen in feed_server.requests)

    # Unchanged items are not fetched again, whatever else changes in the feed.
    feed_server.route("/feed.xml", Route(body=rss(items, title="Feed, second edition")))
    _crawl(env)
    assert len(feed_server.hits("/pages/hespress")) == 1
    again = _articles(db_url)
    assert again["hespress"].body == stored["hespress"].body
    assert again["hespress"].revision == 2

    # A page canonical URL is an identity key: another feed of the outlet linking to it
    # finds the same article.
    other = [
        dict(
            _item(feed_server, "hespress-again", "/x", "Headline hespress"),
            link="https://www.hespress.example/politique/defense-memorandum-1289.html",
        )
    ]
    feed_server.route("/other.xml", Route(body=rss(other)))
    env = _setup(
        tmp_path,
        feed_server,
        db_url,
        [
            {"id": "mixed", "outlet": "Mixed", "path": "/feed.xml", "fulltext": "true"},
            {"id": "other", "outlet": "Mixed", "path": "/other.xml"},
        ],
    )
    _crawl(env)
    assert len(_articles(db_url)) == 5

    # An edit in the feed is a new revision: its page is fetched once more.
    items[0] = dict(items[0], title="Headline hespress, edited")
    feed_server.route("/feed.xml", Route(body=rss(items, title="Feed, third edition")))
    _crawl(env)
    assert len(feed_server.hits("/pages/hespress")) == 2
    edited = _articles(db_url)["hespress"]
    assert edited.title == "Headline hespress, edited"
    assert edited.body == _golden("wp-ar-hespress")[0]
    assert (edited.revision, edited.fulltext_revision, edited.fulltext_status) == (4, 4, "ok")


def test_failures_leave_the_feed_item_and_are_recorded(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    port = feed_server.port
    feed_server.route("/pages/good", _page("maariv-he-cp1255"))
    feed_server.route("/pages/index", _page("no-article-section-fr"))
    feed_server.route(
        "/pages/slow", Route(body=b"<html></html>", content_type="text/html", delay=6)
    )
    feed_server.route("/pages/pdf", Route(body=b"%PDF-1.4 ...", content_type="application/pdf"))
    # Redirect to another host that resolves to a private (loopback) address: refused.
    feed_server.route(
        "/pages/redirect",
        Route(status=302, headers={"Location": f"http://localhost:{port}/secret"}),
    )
    feed_server.route(
        "/secret", Route(body=b"<html>internal admin</html>", content_type="text/html")
    )
    feed_server.route(
        "/secret2", Route(body=b"<html>internal admin</html>", content_type="text/html")
    )
    robots = b"User-agent: *\nDisallow: /pages/blocked\n"
    feed_server.route("/robots.txt", Route(body=robots, content_type="text/plain"))
    feed_server.route("/pages/blocked", _page("maariv-he-cp1255"))
    items = [
        _item(feed_server, "good", "/pages/good", "Good"),
        _item(feed_server, "missing", "/pages/missing", "Missing", 1),  # 404
        _item(feed_server, "index", "/pages/index", "Index", 2),
        _item(feed_server, "slow", "/pages/slow", "Slow", 3),
        _item(feed_server, "pdf", "/pages/pdf", "Pdf", 4),
        _item(feed_server, "redirect", "/pages/redirect", "Redirect", 5),
        _item(feed_server, "blocked", "/pages/blocked", "Blocked", 7),
        dict(
            _item(feed_server, "direct", "/x", "Direct", 6), link=f"http://localhost:{port}/secret2"
        ),
    ]
    feed_server.route("/feed.xml", Route(body=rss(items, lang="he")))
    env = _setup(
        tmp_path,
        feed_server,
        db_url,
        [
            {
                "id": "f",
                "outlet": "Maariv",
                "path": "/feed.xml",
                "language": "he",
                "fulltext": "true",
            }
        ],
    )
    _crawl(env)
    stored = _articles(db_url)
    assert len(stored) == 8  # every feed item stored, whatever its page did
    assert stored["good"].fulltext_status == "ok"
    assert stored["good"].body == _golden("maariv-he-cp1255")[0]
    expected = {
        "missing": ("failed", "http_error: HTTP 404"),
        "index": ("failed", "no_article"),
        "slow": ("failed", "timeout"),
        "pdf": ("failed", "not_html: application/pdf"),
        "redirect": ("gave_up", "refused: netguard refused redirect to http://localhost"),
        "direct": ("gave_up", "refused: netguard refused http://localhost"),
        "blocked": ("gave_up", "robots_denied"),
    }
    for key, (status, error) in expected.items():
        article = stored[key]
        assert (article.fulltext_status, article.fulltext_attempts) == (status, 1), key
        assert article.fulltext_error is not None and article.fulltext_error.startswith(error), (
            key,
            article.fulltext_error,
        )
        assert article.body == ""  # the feed gave none; nothing replaced it
        assert article.summary.startswith(f"{key.capitalize()}: a one-sentence summary")
        assert article.revision == 1
        assert article.fulltext_revision is None
    assert "private_address localhost (127.0.0.1)" in str(stored["redirect"].fulltext_error)
    assert feed_server.hits("/secret") == [] and feed_server.hits("/secret2") == []
    assert feed_server.hits("/pages/blocked") == []

    # Later polls retry what may recover, a bounded number of times; refusals are final.
    feed_server.route("/pages/slow", Route(status=503, body=b"busy"))
    for n in (2, 3, 4):
        feed_server.route("/feed.xml", Route(body=rss(items, lang="he", title=f"Feed {n}")))
        _crawl(env)
    stored = _articles(db_url)
    assert len(feed_server.hits("/pages/missing")) == 3
    assert (stored["missing"].fulltext_status, stored["missing"].fulltext_attempts) == (
        "gave_up",
        3,
    )
    assert stored["slow"].fulltext_error == "http_error: HTTP 503"
    assert (stored["redirect"].fulltext_attempts, stored["direct"].fulltext_attempts) == (1, 1)
    assert len(feed_server.hits("/pages/redirect")) == 1
    assert len(feed_server.hits("/pages/good")) == 1
    assert feed_server.hits("/secret") == [] and feed_server.hits("/secret2") == []


def test_a_page_that_recovers_is_enriched_on_a_later_poll(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    feed_server.route("/pages/late", Route(status=404, body=b"not yet"))
    items = [_item(feed_server, "late", "/pages/late", "Late")]
    feed_server.route("/feed.xml", Route(body=rss(items, lang="ar")))
    env = _setup(
        tmp_path,
        feed_server,
        sqlite_url,
        [{"id": "f", "outlet": "Alnas", "path": "/feed.xml", "language": "ar", "fulltext": "true"}],
    )
    _crawl(env)
    assert _articles(sqlite_url)["late"].fulltext_status == "failed"
    feed_server.route("/pages/late", _page("alnas-ar-cp1256"))
    feed_server.route("/feed.xml", Route(body=rss(items, lang="ar", title="v2")))
    _crawl(env)
    article = _articles(sqlite_url)["late"]
    assert (article.fulltext_status, article.fulltext_attempts) == ("ok", 2), article.fulltext_error
    assert article.body == _golden("alnas-ar-cp1256")[0]
    assert (article.credit, article.origin) == ("الناس/متابعة", "compilation")


def test_enriched_article_is_reclustered_with_its_syndicated_copy(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    """Outlet A carries the whole wire text in its feed; outlet B only a summary, and the
    same text on its page. Once B's page is in, B's article joins A's story."""
    text, _meta = _golden("i24-fr")
    full = "".join(f"<p>{paragraph}</p>" for paragraph in text.split("\n\n"))
    wire = [dict(_item(feed_server, "a", "/a/1", "Le chef d'état-major reçu à Tel-Aviv", 30))]
    wire[0]["description"] = full
    feed_server.route("/a.xml", Route(body=rss(wire, lang="fr")))
    feed_server.route("/pages/b", _page("i24-fr"))
    feed_server.route("/b.xml", Route(body=rss([_item(feed_server, "b", "/pages/b", "Visite")])))
    env = _setup(
        tmp_path,
        feed_server,
        sqlite_url,
        [
            {"id": "a", "outlet": "Wire", "path": "/a.xml", "language": "fr"},
            {"id": "b", "outlet": "I24", "path": "/b.xml", "language": "fr", "fulltext": "true"},
        ],
    )
    _crawl(env)
    stored = _articles(sqlite_url)
    assert stored["b"].fulltext_status == "ok"
    assert stored["a"].story_id is not None
    assert stored["b"].story_id == stored["a"].story_id
    assert (stored["a"].story_role, stored["b"].story_role) == ("original", "copy")


# The middleware on its own, with a DNS table instead of the system resolver.
DNS = {
    "public.example": ["93.184.216.34"],
    "inside.example": ["10.0.0.8"],
    "mixed.example": ["93.184.216.34", "127.0.0.1"],
}


async def _table_resolve(host: str) -> list[str]:
    return DNS.get(host, [])


def _guard() -> tuple[NetGuardMiddleware, MemoryStatsCollector]:
    stats = MemoryStatsCollector(get_crawler())
    return NetGuardMiddleware(stats, resolve=_table_resolve), stats


OUTLET = registered_hosts(["https://www.outlet.example/feed"])


@pytest.mark.parametrize(
    ("url", "meta", "refused"),
    [
        # Article pages: the outlet's hosts, or public addresses.
        ("https://outlet.example/a", {"netguard_hosts": OUTLET}, None),
        ("https://public.example/a", {"netguard_hosts": OUTLET}, None),
        ("https://inside.example/a", {"netguard_hosts": OUTLET}, GuardReason.PRIVATE_ADDRESS),
        ("https://mixed.example/a", {"netguard_hosts": OUTLET}, GuardReason.PRIVATE_ADDRESS),
        ("https://unknown.example/a", {"netguard_hosts": OUTLET}, GuardReason.UNRESOLVED),
        ("http://127.0.0.1:6379/", {"netguard_hosts": OUTLET}, GuardReason.PRIVATE_ADDRESS),
        # Requests the crawl starts itself (registry feed URLs) pass.
        ("http://127.0.0.1:8000/feed.xml", {}, None),
        # A redirect hop of any request may stay on its first host, or go public.
        (
            "http://127.0.0.1:8000/moved.xml",
            {"redirect_urls": ["http://127.0.0.1:8000/feed.xml"]},
            None,
        ),
        (
            "https://public.example/feed",
            {"redirect_urls": ["http://127.0.0.1:8000/feed.xml"]},
            None,
        ),
        (
            "http://inside.example/",
            {"redirect_urls": ["https://public.example/robots.txt"]},
            GuardReason.PRIVATE_ADDRESS,
        ),
        (
            "http://127.0.0.1:9000/",
            {"redirect_urls": ["http://127.0.0.1:8000/f"]},
            GuardReason.PRIVATE_ADDRESS,
        ),
    ],
)
def test_middleware_judges_requests_and_redirect_hops(
    url: str, meta: dict[str, Any], refused: GuardReason | None
) -> None:
    guard, stats = _guard()
    request = Request(url, meta=meta)
    if refused is None:
        assert asyncio.run(guard.process_request(request)) is None
        assert stats.get_value("monitor/netguard/refused") is None
    else:
        with pytest.raises(NetGuardRefused) as caught:
            asyncio.run(guard.process_request(request))
        assert caught.value.decision.reason is refused
        assert ("redirect to" in str(caught.value)) is ("redirect_urls" in meta)
        assert stats.get_value(f"monitor/netguard/refused/{refused}") == 1


# ---------------------------------------------------------------- structure and reactor

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> dict[str, Any]:
    """Run `code` in a fresh interpreter (a reactor is installed once per process); it
    prints one JSON line."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_pipelines_import_no_spider_module() -> None:
    """Imports flow one way: spiders feed the pipelines, the pipelines never reach back."""
    loaded = _python(
        "import json, pkgutil, importlib, sys\n"
        "import monitor.pipelines as p\n"
        "for m in pkgutil.iter_modules(p.__path__):\n"
        "    importlib.import_module(f'monitor.pipelines.{m.name}')\n"
        "print(json.dumps({'modules': sorted(sys.modules)}))\n"
    )["modules"]
    assert "monitor.pipelines.enrich" in loaded
    assert [name for name in loaded if name == "spiders" or name.startswith("spiders.")] == []


_SETTING_READ = re.compile(
    r"(?:settings\s*\.\s*get\w*\(|_declared\(\s*[\w.]+\s*,)\s*[\"'](MONITOR_\w+)[\"']"
)


def test_every_crawler_setting_read_is_declared_in_settings() -> None:
    """Settings are declared once, in settings/__init__.py, with a comment; a component
    reading a MONITOR_ name that is not there runs on a default nobody can see."""
    import settings as project

    declared = {name for name in vars(project) if name.startswith("MONITOR_")}
    read: dict[str, str] = {}
    for folder in ("monitor", "spiders"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in _SETTING_READ.findall(path.read_text(encoding="utf-8")):
                read.setdefault(name, str(path.relative_to(ROOT)))
    assert {name: where for name, where in read.items() if name not in declared} == {}
    assert {"MONITOR_DATABASE_URL", "MONITOR_FULLTEXT_MAX_ATTEMPTS"} <= set(read)  # it finds


# A child process: the real reactor, the page callback on a page that takes about a second
# to extract, and a heartbeat on the reactor counting its turns while the callback runs.
_HEARTBEAT = """
import asyncio, json
from datetime import UTC, datetime
from scrapy.utils.reactor import install_reactor
install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
from scrapy.http import HtmlResponse, Request
from twisted.internet import reactor, task
from twisted.internet.defer import Deferred
from monitor.items import ArticleItem, FeedRef
from monitor.pages import PageTask
from monitor.parsing import FeedEntry
from spiders.fulltext import parse_page

feed = FeedRef(1, "f", "http://127.0.0.1/feed", 1, "hespress", "MA", "ar", False, True,
               900, None, 0, None)
entry = FeedEntry("urn:1", "http://127.0.0.1/a", "عنوان", "", "", None, None, None, "ar", ())
task_ = PageTask(1, 1, "hash", 0, feed, entry)
paragraph = ("<p>الفقرة {}: استقبل رئيس الأركان نظيره في الرباط"
             " لتوقيع مذكرة تفاهم للتعاون العسكري.</p>")
body = ("<html lang='ar' dir='rtl'><head><title>عنوان</title></head><body><article>"
        + "".join(paragraph.format(n) for n in range(8000))
        + "</article></body></html>").encode()
request = Request("http://127.0.0.1/a", meta={"fulltext": task_, "download_maxsize": 1 << 22})
response = HtmlResponse("http://127.0.0.1/a", body=body, request=request,
                        headers={"Content-Type": "text/html; charset=utf-8"})

async def run():
    turns = []
    beat = task.LoopingCall(lambda: turns.append(1))
    beat.start(0.005, now=False)
    produced = parse_page(response)
    if hasattr(produced, "__aiter__"):
        items = [item async for item in produced]
    else:
        items = list(produced)
    during = len(turns)
    beat.stop()
    item = items[0]
    note = item.notes.get("fulltext") if isinstance(item, ArticleItem) else None
    return {"turns": during, "kind": type(item).__name__,
            "enriched": type(note).__name__ == "PageEnrichment",
            "first": note.extracted.text.split("\\n\\n")[0] if note else str(item)}

out = {}
def main():
    d = Deferred.fromFuture(asyncio.ensure_future(run()))
    d.addBoth(lambda result: (out.update(result=result), reactor.stop()))
reactor.callWhenRunning(main)
reactor.run()
result = out["result"]
if not isinstance(result, dict):
    result.raiseException()
print(json.dumps(result))
"""


def test_page_extraction_leaves_the_reactor_free() -> None:
    """Extraction (seconds on a big page) runs in a worker thread: the reactor keeps
    turning meanwhile, so the downloads of the feeds still in flight do not time out."""
    result = _python(_HEARTBEAT)
    assert (result["kind"], result["enriched"]) == ("ArticleItem", True), result
    assert result["first"].startswith("الفقرة 0: استقبل رئيس الأركان")
    assert result["turns"] > 0  # blocked, the reactor could not have run the heartbeat once
