"""Article identity and storage. The caller owns the session and its transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.models import Article, ArticleAlias, ArticleFeed

# Items with neither link nor guid are matched on their folded title within this window.
TITLE_FALLBACK_WINDOW = timedelta(days=3)


@dataclass(frozen=True)
class StoredArticle:
    """The stored article an incoming item was identified with."""

    id: int
    revision: int
    content_hash: str
    title_key: str | None
    story_id: int | None
    feed_ids: frozenset[int]
    first_seen_at: datetime
    matched_on: str  # canonical_url, alias, guid or title


def _first(session: Session, query: Select[Article]) -> Article | None:
    return session.execute(query.limit(1)).scalars().first()


def find_article(
    session: Session,
    outlet_id: int,
    *,
    canonical_url: str | None,
    guid: str | None,
    title_key: str | None,
    published_at: datetime,
) -> StoredArticle | None:
    """The article of this outlet that an item is, by URL, then alias, then guid, then title.

    GUIDs lie: some sites reuse them for new stories. A guid-only match whose stored URL and
    title both differ from the item's is treated as a different article.
    """
    found: Article | None = None
    matched_on = ""
    if canonical_url:
        matched_on = "canonical_url"
        found = _first(
            session,
            select(Article).where(
                Article.outlet_id == outlet_id, Article.canonical_url == canonical_url
            ),
        )
        if found is None:
            matched_on = "alias"
            found = _first(
                session,
                select(Article)
                .join(ArticleAlias, ArticleAlias.article_id == Article.id)
                .where(ArticleAlias.outlet_id == outlet_id, ArticleAlias.url == canonical_url),
            )
    if found is None and guid:
        matched_on = "guid"
        found = _first(
            session, select(Article).where(Article.outlet_id == outlet_id, Article.guid == guid)
        )
        if (
            found is not None
            and canonical_url
            and found.canonical_url
            and found.canonical_url != canonical_url
            and found.title_key != title_key
        ):
            found = None  # a reused guid: another story
    if found is None and not canonical_url and not guid and title_key:
        matched_on = "title"
        found = _first(
            session,
            select(Article).where(
                Article.outlet_id == outlet_id,
                Article.title_key == title_key,
                Article.published_at >= published_at - TITLE_FALLBACK_WINDOW,
                Article.published_at <= published_at + TITLE_FALLBACK_WINDOW,
            ),
        )
    if found is None:
        return None
    feed_ids = session.execute(
        select(ArticleFeed.feed_id).where(ArticleFeed.article_id == found.id)
    ).scalars()
    return StoredArticle(
        id=found.id,
        revision=found.revision,
        content_hash=found.content_hash,
        title_key=found.title_key,
        story_id=found.story_id,
        feed_ids=frozenset(feed_ids),
        first_seen_at=found.first_seen_at,
        matched_on=matched_on,
    )


def guid_taken(session: Session, outlet_id: int, guid: str) -> bool:
    query = select(Article.id).where(Article.outlet_id == outlet_id, Article.guid == guid)
    return session.execute(query.limit(1)).first() is not None


def insert_article(session: Session, values: Mapping[str, Any]) -> int | None:
    """Insert a new article; None when a concurrent writer stored the same identity first."""
    dialect = session.get_bind().dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = builder(Article).values(**values).on_conflict_do_nothing().returning(Article.id)
    return session.execute(statement).scalar_one_or_none()


def update_article(
    session: Session, article_id: int, values: Mapping[str, Any], now: datetime
) -> int:
    """Store a new revision of an article, keeping its id; return the new revision number."""
    statement = (
        update(Article)
        .where(Article.id == article_id)
        .values(**values, revision=Article.revision + 1, updated_at=now)
        .returning(Article.revision)
    )
    return int(session.execute(statement).scalar_one())


def link_feed(session: Session, article_id: int, feed_id: int, seen_at: datetime) -> None:
    """Remember that the article appeared in this feed (idempotent)."""
    dialect = session.get_bind().dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        builder(ArticleFeed)
        .values(article_id=article_id, feed_id=feed_id, first_seen_at=seen_at)
        .on_conflict_do_nothing()
    )


def add_alias(session: Session, outlet_id: int, url: str, article_id: int) -> bool:
    """Make `url` another identity key of the article; False when it already names one."""
    dialect = session.get_bind().dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    result = session.execute(
        builder(ArticleAlias)
        .values(outlet_id=outlet_id, url=url, article_id=article_id)
        .on_conflict_do_nothing()
        .returning(ArticleAlias.id)
    )
    return result.scalar_one_or_none() is not None
