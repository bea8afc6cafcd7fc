"""Stage 2: is this entry an article we already have? (same outlet + URL / alias / guid / title)"""

from __future__ import annotations

from typing import Any, Self

from db.articles import find_article
from monitor.items import Action, ArticleItem
from monitor.pipelines import sessions_for


class IdentifyPipeline:
    def __init__(self, sessions: Any, stats: Any) -> None:
        self.sessions = sessions
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        return cls(sessions_for(crawler), crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem) or item.article is None:
            return item
        article = item.article
        with self.sessions() as session:
            existing = find_article(
                session,
                item.feed.outlet_id,
                canonical_url=article.canonical_url,
                guid=article.guid,
                title_key=article.title_key,
                published_at=article.published_at,
            )
        item.existing = existing
        if existing is None:
            item.action = Action.NEW
        elif existing.content_hash != article.content_hash:
            item.action = Action.UPDATE
        else:
            item.action = Action.UNCHANGED
        self.stats.inc_value(f"monitor/identified/{item.action}")
        return item
