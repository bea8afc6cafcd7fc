"""Full text for `fulltext` feeds (issue 9): ask for the page, fold its text back in.

Two stages, one on each side of the ordinary flow:

* `FulltextRequestPipeline` (after store): once a `fulltext` feed's item is stored from the
  feed, schedule its article page, at most once per article revision. The request comes
  from the factory the MONITOR_FULLTEXT_REQUEST setting names (`spiders.fulltext`), so
  this module depends on `monitor.pages` only, never on a spider module. A new or edited
  article is asked for at once; an unchanged one only when its last attempt failed and fewer
  than MONITOR_FULLTEXT_MAX_ATTEMPTS attempts were made (or none was ever made). The claim
  is one conditional UPDATE, so two feeds carrying the same article ask once.
* `EnrichPipeline` (between identify and cluster): the page comes back as an `ArticleItem`
  with the page's text as content (the spider's page callback) and has just been normalised and
  identified like any feed item; here it is checked against the revision it was asked for,
  given that revision's feed content hash (so the next poll of the unchanged feed item is
  UNCHANGED, not a flip back to the summary), and given a store hook that marks the
  article enriched and adds the page's canonical and final URLs as identity aliases. The
  cluster, tag and store stages then re-cluster, re-tag and store it as an update.
  A `PageFailed` item is recorded on the article; the feed's text stays.

Article columns: `fulltext_status` (`FulltextStatus`), `fulltext_attempts` (this revision),
`fulltext_revision` (the revision that holds page text), `fulltext_error`,
`page_canonical_url`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Self

from scrapy.utils.misc import load_object
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db.articles import add_alias
from db.models import Article, Feed
from monitor import optional
from monitor.items import Action, ArticleItem
from monitor.netguard import registered_hosts
from monitor.pages import PageEnrichment, PageFailed, PageRequestFactory, PageTask
from monitor.pipelines import ItemDropped, sessions_for
from monitor.urls import canonical_url


class FulltextStatus(StrEnum):
    PENDING = "pending"  # page asked for, no answer recorded yet
    OK = "ok"  # page text stored (revision in fulltext_revision)
    FEED_KEPT = "feed_kept"  # the page had no more text than the feed: feed text kept
    FAILED = "failed"  # the last attempt failed; retried on a later poll
    GAVE_UP = "gave_up"  # attempts exhausted, or refused by the guard or robots.txt


class StaleEnrichment(ItemDropped):
    """The article changed (a newer feed revision) after its page was asked for."""

    reason = "fulltext_stale"


class FulltextStoreFailed(ItemDropped):
    """The database refused to record a page's outcome."""

    reason = "fulltext_store_failed"


@dataclass(frozen=True)
class FulltextOutcome:
    """What a page ended as, when it ends before the store stage (passed on, not stored)."""

    article_id: int
    status: FulltextStatus
    detail: str = ""


def _stats_key(name: str) -> str:
    return f"monitor/fulltext/{name}"


def _declared(settings: Any, name: str) -> Any:
    """A setting that has its one declaration in `settings/__init__.py`: no default here,
    so a crawler built without the project settings fails loudly instead of running with
    a zero cap."""
    value = settings.get(name)
    if value is None:
        raise ValueError(f"{name} is not set (it is declared in settings/__init__.py)")
    return value


class FulltextRequestPipeline:
    """After store: schedule the article page of new, edited or still-failing articles."""

    def __init__(
        self,
        crawler: Any,
        sessions: Any,
        *,
        page_request: PageRequestFactory,
        max_attempts: int,
        max_bytes: int,
    ) -> None:
        self.crawler = crawler
        self.sessions = sessions
        self.stats = crawler.stats
        self.page_request = page_request
        self.max_attempts = max_attempts
        self.max_bytes = max_bytes
        self.asked: set[int] = set()  # articles asked for in this crawl
        self.outlet_hosts: dict[int, frozenset[str]] = {}
        self.extractor_missing_said = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        settings = crawler.settings
        return cls(
            crawler,
            sessions_for(crawler),
            page_request=load_object(_declared(settings, "MONITOR_FULLTEXT_REQUEST")),
            max_attempts=int(_declared(settings, "MONITOR_FULLTEXT_MAX_ATTEMPTS")),
            max_bytes=int(_declared(settings, "MONITOR_FULLTEXT_MAXSIZE")),
        )

    def process_item(self, item: Any) -> Any:
        if (
            not isinstance(item, ArticleItem)
            or not item.feed.fulltext
            or item.article_id is None
            or item.article is None
            or not item.entry.link
            or "fulltext" in item.notes  # a page's own item on its way through
            or item.article_id in self.asked
        ):
            return item
        missing = optional.unavailable(optional.FULLTEXT)
        if missing is not None:  # said once a crawl; the feed's own items are stored as usual
            if not self.extractor_missing_said:
                self.crawler.spider.logger.error("full text is off for this crawl: %s", missing)
                self.extractor_missing_said = True
            self.stats.inc_value(_stats_key("unavailable"))
            return item
        try:
            with self.sessions.begin() as session:
                task = self._claim(session, item)
                hosts = self._hosts(session, item.feed.outlet_id) if task else frozenset()
        except SQLAlchemyError as exc:
            self.crawler.spider.logger.warning("full text not asked for: %s", exc)
            return item
        if task is None:
            return item
        self.asked.add(task.article_id)
        request = self.page_request(
            task, outlet_hosts=hosts, max_bytes=self.max_bytes, url=item.entry.link
        )
        self.crawler.engine.crawl(request)
        self.stats.inc_value(_stats_key("requested"))
        return item

    def _claim(self, session: Session, item: ArticleItem) -> PageTask | None:
        """Mark the article pending and count the attempt, if it needs its page."""
        assert item.article_id is not None
        fresh = item.action in (Action.NEW, Action.UPDATE)
        statement = update(Article).where(Article.id == item.article_id)
        if fresh:
            # A new revision: its attempts start again.
            statement = statement.values(
                fulltext_status=FulltextStatus.PENDING, fulltext_attempts=1, fulltext_error=None
            )
        else:
            retryable = [FulltextStatus.FAILED, FulltextStatus.PENDING]
            statement = statement.where(
                or_(
                    Article.fulltext_status.is_(None),
                    Article.fulltext_status.in_(retryable)
                    & (Article.fulltext_attempts < self.max_attempts),
                )
            ).values(
                fulltext_status=FulltextStatus.PENDING,
                fulltext_attempts=Article.fulltext_attempts + 1,
            )
        row = session.execute(
            statement.returning(Article.revision, Article.content_hash, Article.body)
        ).first()
        if row is None:
            return None
        return PageTask(
            article_id=item.article_id,
            revision=row.revision,
            content_hash=row.content_hash,
            feed_body_chars=len(row.body or ""),
            feed=item.feed,
            entry=item.entry,
        )

    def _hosts(self, session: Session, outlet_id: int) -> frozenset[str]:
        """The outlet's registered hosts: those of all its feed URLs in the registry."""
        if outlet_id not in self.outlet_hosts:
            urls = session.execute(select(Feed.url).where(Feed.outlet_id == outlet_id)).scalars()
            self.outlet_hosts[outlet_id] = registered_hosts(urls)
        return self.outlet_hosts[outlet_id]


class EnrichPipeline:
    """Between identify and cluster: turn a page's item into an update of its article."""

    def __init__(self, sessions: Any, stats: Any, *, max_attempts: int) -> None:
        self.sessions = sessions
        self.stats = stats
        self.max_attempts = max_attempts

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        return cls(
            sessions_for(crawler),
            crawler.stats,
            max_attempts=int(_declared(crawler.settings, "MONITOR_FULLTEXT_MAX_ATTEMPTS")),
        )

    def process_item(self, item: Any) -> Any:
        if isinstance(item, PageFailed):
            return self._record_failure(item)
        if not isinstance(item, ArticleItem):
            return item
        enrichment = item.notes.get("fulltext")
        if not isinstance(enrichment, PageEnrichment) or item.article is None:
            return item
        task = enrichment.task
        existing = item.existing
        if existing is None or existing.id != task.article_id or existing.revision != task.revision:
            self.stats.inc_value(f"monitor/dropped/{StaleEnrichment.reason}")
            raise StaleEnrichment(f"article {task.article_id} changed since its page was asked")
        if len(item.article.body) <= task.feed_body_chars or item.action is Action.UNCHANGED:
            return self._finish(task, FulltextStatus.FEED_KEPT, "page text not longer than feed")
        # The stored hash stays the feed's: it says which feed revision this text belongs to.
        item.article = replace(item.article, content_hash=task.content_hash)
        item.action = Action.UPDATE
        item.hooks.append(self._enriched_hook(item, enrichment))
        self.stats.inc_value(_stats_key("enriched"))
        return item

    def _enriched_hook(self, item: ArticleItem, enrichment: PageEnrichment) -> Any:
        outlet_id = item.feed.outlet_id
        own = item.article.canonical_url if item.article else None
        declared = enrichment.extracted.canonical_url
        page_canonical = canonical_url(declared) if declared else None
        aliases = [
            url
            for url in dict.fromkeys([page_canonical, canonical_url(enrichment.final_url)])
            if url and url != own
        ]

        def hook(session: Session, article_id: int) -> None:
            session.execute(
                update(Article)
                .where(Article.id == article_id)
                .values(
                    fulltext_status=FulltextStatus.OK,
                    fulltext_revision=Article.revision,  # the revision just written
                    fulltext_error=None,
                    page_canonical_url=page_canonical,
                )
            )
            for url in aliases:
                add_alias(session, outlet_id, url, article_id)

        return hook

    def _record_failure(self, failed: PageFailed) -> FulltextOutcome:
        task = failed.task
        self.stats.inc_value(_stats_key(f"failed/{failed.reason}"))
        try:
            with self.sessions.begin() as session:
                attempts = session.execute(
                    select(Article.fulltext_attempts).where(
                        Article.id == task.article_id, Article.revision == task.revision
                    )
                ).scalar_one_or_none()
                if attempts is None:
                    return FulltextOutcome(task.article_id, FulltextStatus.FAILED, "stale")
                give_up = failed.reason.is_permanent or attempts >= self.max_attempts
                status = FulltextStatus.GAVE_UP if give_up else FulltextStatus.FAILED
                detail = f"{failed.reason}: {failed.detail}" if failed.detail else failed.reason
                self._set_status(session, task, status, detail)
        except SQLAlchemyError as exc:
            raise FulltextStoreFailed(f"article {task.article_id}: {exc}") from exc
        return FulltextOutcome(task.article_id, status, detail)

    def _finish(self, task: PageTask, status: FulltextStatus, detail: str) -> FulltextOutcome:
        self.stats.inc_value(_stats_key(str(status)))
        try:
            with self.sessions.begin() as session:
                self._set_status(session, task, status, None)
        except SQLAlchemyError as exc:
            raise FulltextStoreFailed(f"article {task.article_id}: {exc}") from exc
        return FulltextOutcome(task.article_id, status, detail)

    @staticmethod
    def _set_status(
        session: Session, task: PageTask, status: FulltextStatus, error: str | None
    ) -> None:
        session.execute(
            update(Article)
            .where(Article.id == task.article_id, Article.revision == task.revision)
            .values(fulltext_status=status, fulltext_error=error)
        )
