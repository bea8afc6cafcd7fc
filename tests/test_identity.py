"""Identity through the real pipelines (Scrapy's get_crawler), on SQLite and PostgreSQL.

Each case feeds entries to normalise → identify → store and checks which rows result: GUIDs
that lie, items without links or guids, aliases from page canonical URLs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy.utils.test import get_crawler
from sqlalchemy import select

import settings
from db.articles import add_alias
from db.engine import get_engine, session_factory
from db.feeds import sync_feeds
from db.models import Article, Feed, Fetch
from monitor.items import ArticleItem, FeedRef, FetchItem
from monitor.outcomes import FetchOutcome
from monitor.parsing import FeedEntry
from monitor.pipelines.identify import IdentifyPipeline
from monitor.pipelines.normalise import NormalisePipeline
from monitor.pipelines.store import StorePipeline
from monitor.registry import FeedSpec

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Ingest:
    """Runs entries through the crawl's own first and last stages."""

    def __init__(self, db_url: str) -> None:
        self.url = db_url
        self.sessions = session_factory(get_engine(db_url))
        spec = FeedSpec(
            id="le360-fr",
            outlet="Le360",
            country="MA",
            language="fr",
            url="https://fr.le360.ma/rss",
        )
        with self.sessions.begin() as session:
            sync_feeds(session, [spec], NOW)
        with self.sessions() as session:
            feed = session.execute(select(Feed)).scalar_one()
            self.ref = FeedRef(
                id=feed.id,
                slug=feed.slug,
                url=feed.url,
                outlet_id=feed.outlet_id,
                outlet_slug="le360",
                country="MA",
                language="fr",
                wire=False,
                fulltext=False,
                interval_seconds=feed.interval_seconds,
                adapted_interval_seconds=None,
                consecutive_errors=0,
                feed_ttl_seconds=None,
            )
        project = {name: getattr(settings, name) for name in dir(settings) if name.isupper()}
        crawler = get_crawler(settings_dict={**project, "MONITOR_DATABASE_URL": db_url})
        self.stages = [
            NormalisePipeline.from_crawler(crawler),
            IdentifyPipeline.from_crawler(crawler),
            StorePipeline.from_crawler(crawler),
        ]

    def run(self, *entries: FeedEntry) -> list[ArticleItem]:
        done = []
        for entry in entries:
            item: Any = ArticleItem(feed=self.ref, entry=entry, seen_at=NOW, fetch_key="k")
            for stage in self.stages:
                item = stage.process_item(item)
            done.append(item)
        fetch: Any = FetchItem(
            feed=self.ref,
            fetch_key="k",
            started_at=NOW,
            duration_ms=5,
            outcome=FetchOutcome.OK,
            conditional=False,
            items_seen=len(entries),
        )
        for stage in self.stages:
            fetch = stage.process_item(fetch)
        return done

    def rows(self) -> list[Article]:
        with self.sessions() as session:
            return list(session.execute(select(Article).order_by(Article.id)).scalars())


def entry(**fields: Any) -> FeedEntry:
    values: dict[str, Any] = {
        "guid": None,
        "link": None,
        "title": "",
        "summary_html": "",
        "content_html": "",
        "author": None,
        "published": NOW - timedelta(hours=1),
        "updated": None,
        "language": None,
        "categories": (),
    }
    values.update(fields)
    return FeedEntry(**values)


def test_same_url_with_tracking_is_one_article(db_url: str) -> None:
    ingest = Ingest(db_url)
    ingest.run(
        entry(
            guid="1",
            link="https://fr.le360.ma/politique/visite-12?utm_source=rss",
            title="Visite du chef d'état-major",
        ),
        entry(
            guid="1",
            link="http://m.le360.ma/politique/visite-12#comments",
            title="Visite du chef d'état-major",
        ),
    )
    rows = ingest.rows()
    assert len(rows) == 1 and rows[0].revision == 1


def test_reused_guid_for_another_story_makes_a_new_article(db_url: str) -> None:
    ingest = Ingest(db_url)
    ingest.run(entry(guid="post-1", link="https://fr.le360.ma/a-1", title="Premier article"))
    items = ingest.run(
        entry(guid="post-1", link="https://fr.le360.ma/b-2", title="Un tout autre sujet")
    )
    rows = ingest.rows()
    assert [(r.guid, r.canonical_url) for r in rows] == [
        ("post-1", "https://fr.le360.ma/a-1"),
        (None, "https://fr.le360.ma/b-2"),
    ]
    assert str(items[0].action) == "new"


def test_guid_kept_when_slug_changes_on_edit(db_url: str) -> None:
    ingest = Ingest(db_url)
    ingest.run(entry(guid="p-9", link="https://fr.le360.ma/drones-rabat", title="Drones à Rabat"))
    ingest.run(
        entry(
            guid="p-9",
            link="https://fr.le360.ma/drones-a-rabat-maj",
            title="Drones à Rabat",
            summary_html="<p>Mise à jour.</p>",
        )
    )
    rows = ingest.rows()
    assert len(rows) == 1 and rows[0].revision == 2 and rows[0].summary == "Mise à jour."


def test_no_link_no_guid_matches_on_title(db_url: str) -> None:
    ingest = Ingest(db_url)
    first = entry(title="Le Maroc et Israël signent un accord", summary_html="v1")
    ingest.run(first, first)
    ingest.run(entry(title="LE MAROC ET ISRAËL  signent un accord", summary_html="v2"))
    rows = ingest.rows()
    assert len(rows) == 1 and rows[0].revision == 2 and rows[0].summary == "v2"


def test_alias_url_identifies_the_article(db_url: str) -> None:
    ingest = Ingest(db_url)
    ingest.run(entry(guid="g1", link="https://fr.le360.ma/x-1", title="Article"))
    rows = ingest.rows()
    with ingest.sessions.begin() as session:
        assert add_alias(
            session, rows[0].outlet_id, "https://fr.le360.ma/page-canonique", rows[0].id
        )
        assert not add_alias(
            session, rows[0].outlet_id, "https://fr.le360.ma/page-canonique", rows[0].id
        )
    items = ingest.run(entry(link="https://fr.le360.ma/page-canonique", title="Article"))
    assert str(items[0].action) == "unchanged" and items[0].article_id == rows[0].id
    assert len(ingest.rows()) == 1


def test_fetch_record_counts_and_schedule(db_url: str) -> None:
    ingest = Ingest(db_url)
    ingest.run(
        entry(guid="a", link="https://fr.le360.ma/a", title="A"),
        entry(guid="b", link="https://fr.le360.ma/b", title="B"),
    )
    with ingest.sessions() as session:
        fetch = session.execute(select(Fetch)).scalar_one()
        feed = session.execute(select(Feed)).scalar_one()
    assert (fetch.outcome, fetch.items_seen, fetch.items_new, fetch.items_dropped) == (
        "ok",
        2,
        2,
        0,
    )
    assert feed.next_poll_at is not None and feed.next_poll_at > datetime.now(UTC)
    assert feed.last_new_item_at == NOW and feed.schedule_reason


def test_timestamps_are_aware_utc_and_future_dates_fall_back(db_url: str) -> None:
    ingest = Ingest(db_url)
    ingest.run(
        entry(
            guid="f", link="https://fr.le360.ma/f", title="Futur", published=NOW + timedelta(days=3)
        )
    )
    row = ingest.rows()[0]
    assert row.published_at == NOW and row.published_at.tzinfo is not None
    assert row.first_seen_at.utcoffset() == timedelta(0)
