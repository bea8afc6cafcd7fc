"""What the spider hands to the item pipelines (DESIGN §2).

An `ArticleItem` is one feed entry; each pipeline stage fills in its part. A `FetchItem` closes
one fetch of one feed: it comes after all of that fetch's articles, so the feed's validators
(ETag, body hash) are saved only once every item is stored — a crawl killed halfway refetches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from db.articles import StoredArticle
from db.models import Feed, Outlet
from monitor.normalise import NormalisedArticle
from monitor.outcomes import FetchOutcome
from monitor.parsing import FeedEntry

# Fetch keys of article pages (full text) start with this; feed fetches never do.
PAGE_FETCH_PREFIX = "fulltext:"

# Writes a stage wants done in the store transaction: called with (session, article_id).
StoreHook = Callable[[Any, int], None]


@dataclass(frozen=True)
class FeedRef:
    """The feed an item came from, as the spider read it from the registry table."""

    id: int
    slug: str
    url: str
    outlet_id: int
    outlet_slug: str
    country: str
    language: str
    wire: bool
    fulltext: bool
    # The feed's state when the crawl began, for the poller's decision afterwards.
    interval_seconds: int
    adapted_interval_seconds: int | None
    consecutive_errors: int
    feed_ttl_seconds: int | None

    @classmethod
    def of(cls, feed: Feed, outlet: Outlet) -> FeedRef:
        """A snapshot of a feed row and its outlet row."""
        return cls(
            id=feed.id,
            slug=feed.slug,
            url=feed.url,
            outlet_id=outlet.id,
            outlet_slug=outlet.slug,
            country=outlet.country,
            language=feed.language,
            wire=outlet.is_wire,
            fulltext=feed.fulltext,
            interval_seconds=feed.interval_seconds,
            adapted_interval_seconds=feed.adapted_interval_seconds,
            consecutive_errors=feed.consecutive_errors,
            feed_ttl_seconds=feed.feed_ttl_seconds,
        )


class Action(StrEnum):
    """What identification decided for an item."""

    NEW = "new"  # no article has this identity yet
    UPDATE = "update"  # same article, changed title or text: a new revision
    UNCHANGED = "unchanged"  # same article, same content (maybe seen in another feed)


@dataclass
class ArticleItem:
    feed: FeedRef
    entry: FeedEntry
    seen_at: datetime
    fetch_key: str
    article: NormalisedArticle | None = None  # set by the normalise stage
    action: Action | None = None  # set by the identify stage
    existing: StoredArticle | None = None  # set by the identify stage when found
    hooks: list[StoreHook] = field(default_factory=list)  # cluster, tag, ... stages
    notes: dict[str, Any] = field(default_factory=dict)  # stage results, for later stages
    article_id: int | None = None  # set by the store stage

    @property
    def is_page(self) -> bool:
        """True for an article page fetched for its full text, not a feed entry."""
        return self.fetch_key.startswith(PAGE_FETCH_PREFIX)


@dataclass
class FetchItem:
    feed: FeedRef
    fetch_key: str
    started_at: datetime
    duration_ms: int
    outcome: FetchOutcome
    conditional: bool
    http_status: int | None = None
    error: str | None = None
    bytes: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    retry_after: str | None = None
    cache_control: str | None = None
    feed_ttl_seconds: int | None = None
    update_period_seconds: int | None = None
    bozo: str | None = None
    items_seen: int = 0
