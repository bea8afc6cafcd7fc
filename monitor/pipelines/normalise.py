"""Stage 1: clean, credit, key and date each entry (monitor/normalise.py)."""

from __future__ import annotations

from typing import Any, Self

from monitor.items import ArticleItem
from monitor.normalise import normalise_entry
from monitor.pipelines import NoIdentity


class NormalisePipeline:
    def __init__(self, stats: Any) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        article = normalise_entry(
            item.entry,
            feed_url=item.feed.url,
            feed_language=item.feed.language,
            seen_at=item.seen_at,
            wire_origin=item.feed.outlet_slug if item.feed.wire else None,
        )
        if not article.has_identity:
            self.stats.inc_value(f"monitor/dropped/{NoIdentity.reason}")
            raise NoIdentity(f"entry without link, guid or title in {item.feed.slug}")
        item.article = article
        return item
