"""Stage 3: syndicated copies become one story (monitor/dedupe.py over db/stories.py's index).

For a new or updated article the stage fingerprints its matching text, looks up articles of
other outlets sharing an LSH band within the window (a short read session), verifies them and
picks the best; the store transaction then records the article's band keys and its story
(a hook). `monitor recluster` runs the same :class:`Clusterer` over stored articles.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Self

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Article
from db.stories import (
    StoredText,
    assign_story,
    clear_stories,
    find_candidates,
    replace_buckets,
    story_of,
    texts_after,
    update_matching_form,
)
from monitor.dedupe import (
    DEFAULT_THRESHOLDS,
    WINDOW,
    BandKey,
    Entry,
    Thresholds,
    Verdict,
    best_match,
    story_fingerprint,
)
from monitor.items import Action, ArticleItem
from monitor.normalise import matching_form
from monitor.pipelines import sessions_for


@dataclass(frozen=True)
class Decision:
    """What the read side found for one article: its keys, and the article it copies."""

    bands: tuple[BandKey, ...]
    match_id: int | None
    verdict: Verdict | None
    candidates: int


def _key(article_id: int | None) -> str:
    # Zero-padded so that string order is id order in dedupe.best_match's tie-break.
    return f"{article_id or 0:012d}"


class Clusterer:
    """Finds and records the story of one article (crawl stage and `monitor recluster`)."""

    def __init__(
        self, window: timedelta = WINDOW, thresholds: Thresholds = DEFAULT_THRESHOLDS
    ) -> None:
        self.window = window
        self.thresholds = thresholds

    def decide(
        self,
        session: Session,
        *,
        article_id: int | None,
        outlet_id: int,
        published_at: datetime,
        title_key: str | None,
        match_text: str,
        has_body: bool,
        language: str | None,
    ) -> Decision:
        """Read-only: the article's band keys and its best verified match, if any."""
        fp = story_fingerprint(title_key or "", match_text, has_body=has_body, lang=language)
        found = find_candidates(
            session,
            fp.bands,
            since=published_at - self.window,
            until=published_at + self.window,
            exclude_outlet_id=outlet_id,
            exclude_article_id=article_id,
        )
        entry = Entry(_key(article_id), str(outlet_id), published_at, fp)
        pool = [
            Entry(
                _key(c.id),
                str(c.outlet_id),
                c.published_at,
                story_fingerprint(
                    c.title_key or "",
                    c.match_text,
                    has_body=c.has_body,
                    lang=c.language,
                    index=False,
                ),
            )
            for c in found
        ]
        best = best_match(entry, pool, window=self.window, thresholds=self.thresholds)
        if best is None:
            return Decision(fp.bands, None, None, len(found))
        return Decision(fp.bands, int(best[0].key), best[1], len(found))

    def record(self, session: Session, article_id: int, decision: Decision) -> int:
        """Store the article's keys and put it in its story; return the story id.

        A match puts the article in the match's story. Without one, an article that is
        alone in its story keeps it; one whose update no longer matches leaves its story
        (the other members stay together) for a new one.
        """
        published = session.execute(
            select(Article.published_at).where(Article.id == article_id)
        ).scalar_one()
        replace_buckets(session, article_id, decision.bands, published)
        if decision.match_id is not None:
            target = story_of(session, decision.match_id)
            if target is None:  # stored before clustering ran: give it a story first
                target = assign_story(session, decision.match_id, None)
            return assign_story(session, article_id, target)
        current = story_of(session, article_id)
        if current is not None and self._alone(session, article_id, current):
            return assign_story(session, article_id, current)
        return assign_story(session, article_id, None)

    @staticmethod
    def _alone(session: Session, article_id: int, story_id: int) -> bool:
        other = session.execute(
            select(Article.id).where(Article.story_id == story_id, Article.id != article_id)
        ).first()
        return other is None


class ClusterPipeline:
    def __init__(self, sessions: Any, stats: Any, clusterer: Clusterer) -> None:
        self.sessions = sessions
        self.stats = stats
        self.clusterer = clusterer

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        days = crawler.settings.getint("MONITOR_DEDUPE_WINDOW_DAYS", 7)
        return cls(sessions_for(crawler), crawler.stats, Clusterer(timedelta(days=days)))

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem) or item.article is None:
            return item
        if item.action is Action.UNCHANGED:
            return item
        article = item.article
        with self.sessions() as session:
            decision = self.clusterer.decide(
                session,
                article_id=item.existing.id if item.existing else None,
                outlet_id=item.feed.outlet_id,
                published_at=article.published_at,
                title_key=article.title_key,
                match_text=article.match_text,
                has_body=bool(article.body),
                language=article.language,
            )
        item.notes["cluster"] = decision
        clusterer = self.clusterer

        def hook(session: Session, article_id: int) -> None:
            clusterer.record(session, article_id, decision)

        item.hooks.append(hook)
        self.stats.inc_value("monitor/cluster/copy" if decision.match_id else "monitor/cluster/new")
        return item


class ReclusterReport(NamedTuple):
    cleared: int  # articles taken out of their stories
    articles: int  # articles clustered again
    matched: int  # of which joined an earlier article's story


def recluster(
    sessions: sessionmaker[Session],
    *,
    since: datetime | None = None,
    clusterer: Clusterer | None = None,
    batch: int = 500,
) -> ReclusterReport:
    """Rebuild stories of articles published at or after `since` (all when None).

    Their keys and stories are cleared, then they are clustered again one by one (their
    matching form re-folded by the current normaliser first) in
    (published_at, id) order against the index as it grows, exactly as the crawl would have
    had they arrived in that order: the same database and settings give the same stories.
    Commits every `batch` articles.
    """
    clusterer = clusterer or Clusterer()
    with sessions.begin() as session:
        cleared = clear_stories(session, since)
    done = matched = 0
    after: tuple[datetime, int] | None = None
    while True:
        with sessions.begin() as session:
            rows = texts_after(session, since=since, after=after, limit=batch)
            for stored in rows:
                row = _refolded(session, stored)
                decision = _decide_stored(session, clusterer, row)
                clusterer.record(session, row.id, decision)
                matched += decision.match_id is not None
        if not rows:
            break
        done += len(rows)
        after = (rows[-1].published_at, rows[-1].id)
    return ReclusterReport(cleared, done, matched)


def _refolded(session: Session, row: StoredText) -> StoredText:
    """The row with its matching keys folded by today's normaliser (stored if they changed)."""
    title_key, match_text = matching_form(row.title, row.summary, row.body)
    if (title_key, match_text) == (row.title_key, row.match_text):
        return row
    update_matching_form(session, row.id, title_key, match_text)
    return replace(row, title_key=title_key, match_text=match_text)


def _decide_stored(session: Session, clusterer: Clusterer, row: StoredText) -> Decision:
    return clusterer.decide(
        session,
        article_id=row.id,
        outlet_id=row.outlet_id,
        published_at=row.published_at,
        title_key=row.title_key,
        match_text=row.match_text,
        has_body=row.has_body,
        language=row.language,
    )
