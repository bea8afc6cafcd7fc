"""Last stage: one short transaction per item; then the fetch record and the feed's schedule.

An item's article row, its feed link and every write the earlier stages queued (story, tags,
search index) commit together or not at all. The fetch record comes after its items: when any
of them failed to store, the feed's validators are cleared so the next poll refetches it whole.
An item that an earlier stage failed on (the database gone mid-crawl) counts as not stored.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from scrapy import signals
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db.articles import find_article, guid_taken, insert_article, link_feed, update_article
from db.engine import display_url
from db.feeds import FetchRecord, record_fetch
from monitor.items import Action, ArticleItem, FetchItem
from monitor.outcomes import FetchOutcome
from monitor.pipelines import ItemDropped, sessions_for
from monitor.polling import PollDecision, PollInput, plan_next_poll

log = logging.getLogger(__name__)


class StoreFailed(ItemDropped):
    """The database refused the item (unreachable, locked too long): refetched next poll."""

    reason = "store_failed"


def _seconds(value: int | None) -> timedelta | None:
    return timedelta(seconds=value) if value else None


class StorePipeline:
    def __init__(
        self,
        sessions: Any,
        stats: Any,
        database_url: str,
        *,
        min_interval: timedelta,
        max_interval: timedelta,
    ) -> None:
        self.sessions = sessions
        self.stats = stats
        self.database_url = database_url
        self.min_interval, self.max_interval = min_interval, max_interval
        self.tally: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.rng = random.Random()

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        settings = crawler.settings
        pipeline = cls(
            sessions_for(crawler),
            crawler.stats,
            settings.get("MONITOR_DATABASE_URL"),
            min_interval=timedelta(seconds=settings.getint("MONITOR_MIN_INTERVAL")),
            max_interval=timedelta(seconds=settings.getint("MONITOR_MAX_INTERVAL")),
        )
        crawler.signals.connect(pipeline.item_failed, signal=signals.item_error)
        return pipeline

    def item_failed(self, item: Any, **_: Any) -> None:
        """A stage raised on the item (identify or cluster lost the database, say): count it
        as not stored, so its fetch ends as store_error and the next poll refetches it whole
        instead of finding the body unchanged and the item gone for good."""
        if isinstance(item, ArticleItem):
            self.tally[item.fetch_key]["failed"] += 1
            self.stats.inc_value(f"monitor/dropped/{StoreFailed.reason}")

    def process_item(self, item: Any) -> Any:
        if isinstance(item, FetchItem):
            self._close_fetch(item)
        elif isinstance(item, ArticleItem):
            try:
                with self.sessions.begin() as session:
                    self._store(session, item)
            except SQLAlchemyError as exc:
                if not item.is_page:
                    self.tally[item.fetch_key]["failed"] += 1
                self.stats.inc_value(f"monitor/dropped/{StoreFailed.reason}")
                raise StoreFailed(
                    f"could not store an item of {item.feed.slug} in "
                    f"{display_url(self.database_url)}: {exc.__class__.__name__}"
                ) from exc
            if item.is_page:  # an article page: not part of any feed's fetch
                self.stats.inc_value("monitor/stored/enriched")
            else:
                self.tally[item.fetch_key][str(item.action)] += 1
                self.stats.inc_value(f"monitor/stored/{item.action}")
        return item

    def _store(self, session: Session, item: ArticleItem) -> None:
        article, feed = item.article, item.feed
        assert article is not None and item.action is not None
        if item.action is Action.UNCHANGED:
            assert item.existing is not None
            item.article_id = item.existing.id
            if feed.id not in item.existing.feed_ids:
                link_feed(session, item.existing.id, feed.id, item.seen_at)
            return
        content = {
            "title": article.title,
            "title_key": article.title_key,
            "summary": article.summary,
            "body": article.body,
            "match_text": article.match_text,
            "language": article.language,
            "author": article.author,
            "content_hash": article.content_hash,
            "credit": article.credit,
            "origin": article.origin,
        }
        if item.action is Action.UPDATE:
            assert item.existing is not None
            article_id = item.existing.id
            update_article(session, article_id, content, item.seen_at)
        else:
            article_id = self._insert(session, item, content)
        item.article_id = article_id
        link_feed(session, article_id, feed.id, item.seen_at)
        for hook in item.hooks:
            hook(session, article_id)

    def _insert(self, session: Session, item: ArticleItem, content: dict[str, Any]) -> int:
        article, feed = item.article, item.feed
        assert article is not None
        guid = article.guid
        if guid and guid_taken(session, feed.outlet_id, guid):
            guid = None  # a reused guid (see db.articles.find_article): keep the URL identity
        values = {
            **content,
            "outlet_id": feed.outlet_id,
            "feed_id": feed.id,
            "guid": guid,
            "url": article.url,
            "canonical_url": article.canonical_url,
            "published_at": article.published_at,
            "first_seen_at": item.seen_at,
            "updated_at": item.seen_at,
        }
        article_id = insert_article(session, values)
        if article_id is not None:
            return article_id
        # Another writer stored this identity between our lookup and our insert.
        existing = find_article(
            session,
            feed.outlet_id,
            canonical_url=article.canonical_url,
            guid=guid,
            title_key=article.title_key,
            published_at=article.published_at,
        )
        if existing is None:
            raise RuntimeError(f"article of {feed.slug} neither inserted nor found")
        item.action, item.existing = Action.UPDATE, existing
        update_article(session, existing.id, content, item.seen_at)
        return existing.id

    def _close_fetch(self, item: FetchItem) -> None:
        counts = self.tally.pop(item.fetch_key, Counter())
        outcome, error = item.outcome, item.error
        if counts["failed"]:
            outcome = FetchOutcome.STORE_ERROR
            error = f"{counts['failed']} of {item.items_seen} items could not be stored"
        feed = item.feed
        now = datetime.now(UTC)
        errors = 0 if outcome.is_success else feed.consecutive_errors + 1
        poll = PollInput(
            now=now,
            base_interval=timedelta(seconds=feed.interval_seconds),
            outcome=outcome,
            http_status=item.http_status,
            consecutive_errors=errors,
            new_items=counts[Action.NEW],
            previous_interval=_seconds(feed.adapted_interval_seconds),
            retry_after=item.retry_after,
            cache_control=item.cache_control,
            feed_ttl=_seconds(item.feed_ttl_seconds or feed.feed_ttl_seconds),
            feed_update_period=_seconds(item.update_period_seconds),
        )
        try:
            decision = plan_next_poll(
                poll, rng=self.rng, min_interval=self.min_interval, max_interval=self.max_interval
            )
        except (ValueError, OverflowError) as exc:
            # The fetch must be recorded whatever the schedule thinks; poll again at the
            # base interval and say why.
            decision = PollDecision(
                next_poll_at=now + poll.base_interval,
                interval=poll.base_interval,
                reason=f"base interval (schedule could not be planned: {exc})",
            )
        stored = counts[Action.NEW] + counts[Action.UPDATE] + counts[Action.UNCHANGED]
        record = FetchRecord(
            feed_id=feed.id,
            started_at=item.started_at,
            duration_ms=item.duration_ms,
            outcome=str(outcome),
            success=outcome.is_success,
            conditional=item.conditional,
            http_status=item.http_status,
            error=error,
            bytes=item.bytes,
            bozo=item.bozo,
            items_seen=item.items_seen,
            items_new=counts[Action.NEW],
            items_updated=counts[Action.UPDATE],
            items_dropped=max(item.items_seen - stored, 0),
            etag=item.etag,
            last_modified=item.last_modified,
            body_hash=item.body_hash,
            feed_ttl_seconds=item.feed_ttl_seconds,
            next_poll_at=decision.next_poll_at,
            interval_seconds=int(decision.interval.total_seconds()),
            schedule_reason=decision.reason,
        )
        try:
            with self.sessions.begin() as session:
                record_fetch(session, record)
        except SQLAlchemyError as exc:
            # The feed keeps its old validators and schedule: the next crawl fetches it again.
            self.stats.inc_value("monitor/fetch/unrecorded")
            log.error(
                "could not record the fetch of %s (%s) in %s: %s",
                feed.slug,
                outcome,
                display_url(self.database_url),
                exc.__class__.__name__,
            )
            return
        self.stats.inc_value(f"monitor/fetch/{outcome}")
