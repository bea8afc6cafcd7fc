"""Ingestion throughput: items/s through parse → normalise → identify → store on SQLite.

Beside it, in the same run, the floor: feedparser's own parse of the same bytes. Feeds are
generated here in four languages (RSS 2.0 with HTML descriptions, as outlets serve them), so
the figures do not depend on files outside the repository.

    python bench/ingest.py [--feeds 40] [--items 100]
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
from scrapy.utils.test import get_crawler
from sqlalchemy import func, select

import settings
from db.engine import get_engine, session_factory, upgrade
from db.feeds import sync_feeds
from db.models import Article, Feed, Outlet
from monitor.items import ArticleItem, FeedRef, FetchItem
from monitor.outcomes import FetchOutcome
from monitor.parsing import parse_feed
from monitor.pipelines.identify import IdentifyPipeline
from monitor.pipelines.normalise import NormalisePipeline
from monitor.pipelines.store import StorePipeline
from monitor.registry import FeedSpec

WORDS = {
    "ar": [
        "المغرب",
        "إسرائيل",
        "تعاون",
        "عسكري",
        "وزير",
        "الدفاع",
        "زيارة",
        "الرباط",
        "اتفاقية",
        "أمنية",
        "طائرات",
        "مسيرة",
        "الاقتصاد",
        "الحكومة",
        "البرلمان",
        "مشروع",
        "قانون",
        "الميزانية",
        "الجهة",
        "المدينة",
        "الشباب",
    ],
    "fr": [
        "Maroc",
        "Israël",
        "coopération",
        "défense",
        "ministre",
        "visite",
        "Rabat",
        "accord",
        "sécurité",
        "drones",
        "économie",
        "gouvernement",
        "parlement",
        "projet",
        "loi",
        "budget",
        "région",
        "ville",
        "jeunesse",
    ],
    "he": [
        "מרוקו",
        "ישראל",
        "שיתוף",
        "פעולה",
        "ביטחוני",
        "שר",
        "הביטחון",
        "ביקור",
        "רבאט",
        "הסכם",
        'מל"טים',
        "כלכלה",
        "ממשלה",
        "כנסת",
        "הצעת",
        "חוק",
        "תקציב",
        "אזור",
        "עיר",
        "צעירים",
    ],
    "en": [
        "Morocco",
        "Israel",
        "defense",
        "cooperation",
        "minister",
        "visit",
        "Rabat",
        "security",
        "agreement",
        "drones",
        "economy",
        "government",
        "parliament",
        "bill",
        "budget",
        "region",
        "city",
        "youth",
    ],
}
LANGS = ("ar", "fr", "he", "en")


def make_feed(index: int, items: int, rng: random.Random) -> tuple[str, bytes]:
    lang = LANGS[index % 4]
    now = datetime(2026, 11, 30, tzinfo=UTC)
    parts = [
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Outlet {index}</title><link>https://outlet{index}.example/</link>"
        f"<language>{lang}</language>"
    ]
    for n in range(items):
        words = WORDS[lang]
        title = " ".join(rng.choice(words) for _ in range(9))
        body = " ".join(rng.choice(words) for _ in range(120))
        parts.append(
            f"<item><title>{escape(title)}</title>"
            f"<link>https://www.outlet{index}.example/news/{n}.html?utm_source=rss</link>"
            f'<guid isPermaLink="false">o{index}-{n}</guid>'
            f"<pubDate>{format_datetime(now - timedelta(minutes=n))}</pubDate>"
            f"<description>{escape(f'<p>{body}</p><p>The post appeared first on Outlet.</p>')}"
            f"</description></item>"
        )
    parts.append("</channel></rss>")
    return lang, "".join(parts).encode()


def floor(docs: list[bytes]) -> tuple[float, int]:
    started = time.perf_counter()
    count = 0
    for body in docs:
        count += len(feedparser.parse(io.BytesIO(body)).entries)
    return time.perf_counter() - started, count


def full(docs: list[tuple[str, bytes]], folder: Path) -> tuple[float, int]:
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    sessions = session_factory(get_engine(url))
    now = datetime.now(UTC)
    specs = [
        FeedSpec(
            id=f"f{i}",
            outlet=f"Outlet {i}",
            country="MA" if i % 2 else "IL",
            language=lang,
            url=f"https://outlet{i}.example/feed",
        )
        for i, (lang, _) in enumerate(docs)
    ]
    with sessions.begin() as session:
        sync_feeds(session, specs, now)
    with sessions() as session:
        rows = {
            feed.slug: (feed, outlet)
            for feed, outlet in session.execute(
                select(Feed, Outlet).join(Outlet, Feed.outlet_id == Outlet.id)
            )
        }
    project = {name: getattr(settings, name) for name in dir(settings) if name.isupper()}
    crawler = get_crawler(settings_dict={**project, "MONITOR_DATABASE_URL": url})
    stages = [
        NormalisePipeline.from_crawler(crawler),
        IdentifyPipeline.from_crawler(crawler),
        StorePipeline.from_crawler(crawler),
    ]
    started = time.perf_counter()
    for i, (_lang, body) in enumerate(docs):
        feed, outlet = rows[f"f{i}"]
        ref = FeedRef.of(feed, outlet)
        parsed = parse_feed(body, url=feed.url, headers={"content-type": "application/rss+xml"})
        key = f"{feed.id}:bench"
        seen = datetime.now(UTC)
        for entry in parsed.entries:
            item: object = ArticleItem(feed=ref, entry=entry, seen_at=seen, fetch_key=key)
            for stage in stages:
                item = stage.process_item(item)
        fetch: object = FetchItem(
            feed=ref,
            fetch_key=key,
            started_at=seen,
            duration_ms=0,
            outcome=FetchOutcome.OK,
            conditional=False,
            items_seen=len(parsed.entries),
        )
        for stage in stages:
            fetch = stage.process_item(fetch)
    elapsed = time.perf_counter() - started
    with sessions() as session:
        stored = session.execute(select(func.count(Article.id))).scalar_one()
    get_engine(url).dispose()
    return elapsed, int(stored)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--items", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(7)
    docs = [make_feed(i, args.items, rng) for i in range(args.feeds)]
    size = sum(len(body) for _, body in docs)
    print(f"{args.feeds} feeds × {args.items} items, {size / 1e6:.1f} MB of RSS, four languages")
    base_s, base_n = floor([body for _, body in docs])
    with tempfile.TemporaryDirectory() as folder:
        full_s, stored = full(docs, Path(folder))
    print(f"feedparser.parse alone (floor): {base_n / base_s:9.0f} items/s  ({base_s:.2f} s)")
    print(
        f"parse→normalise→identify→store: {stored / full_s:9.0f} items/s  ({full_s:.2f} s, "
        f"{stored} rows, one transaction per item, SQLite WAL)"
    )
    print(f"ratio full/floor: {full_s / base_s:.2f}× the time of feedparser alone")


if __name__ == "__main__":
    main()
