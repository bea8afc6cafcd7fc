"""Article identity and storage. The caller owns the session and its transaction."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
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


_ARTICLE = cast(Table, Article.__table__)
_ARTICLE_FEED = cast(Table, ArticleFeed.__table__)
_ALIAS = cast(Table, ArticleAlias.__table__)
_COLUMNS = (
    Article.id,
    Article.revision,
    Article.content_hash,
    Article.title_key,
    Article.story_id,
    Article.first_seen_at,
    Article.canonical_url,
    Article.guid,
)
# Built once: statement construction costs more than the query on SQLite. One round trip
# finds every candidate by URL, alias or guid; `find_article` picks by priority.
_BY_KEYS = (
    select(*_COLUMNS)
    .where(
        Article.outlet_id == bindparam("outlet_id"),
        or_(
            Article.canonical_url == bindparam("url"),
            Article.guid == bindparam("guid"),
            Article.id.in_(
                select(ArticleAlias.article_id).where(
                    ArticleAlias.outlet_id == bindparam("outlet_id"),
                    ArticleAlias.url == bindparam("url"),
                )
            ),
        ),
    )
    .limit(4)
)
_BY_TITLE = (
    select(*_COLUMNS)
    .where(
        Article.outlet_id == bindparam("outlet_id"),
        Article.title_key == bindparam("title_key"),
        Article.published_at.between(bindparam("earliest"), bindparam("latest")),
    )
    .limit(1)
)
_FEED_IDS = select(ArticleFeed.feed_id).where(ArticleFeed.article_id == bindparam("article_id"))


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
    title both differ from the item's is treated as a different article. Items with neither
    URL nor guid are matched on their folded title within `TITLE_FALLBACK_WINDOW`.
    """
    found: Any = None  # a Row of _COLUMNS
    matched_on = ""
    if canonical_url or guid:
        rows = session.execute(
            _BY_KEYS, {"outlet_id": outlet_id, "url": canonical_url, "guid": guid}
        ).all()
        by_url = [row for row in rows if canonical_url and row.canonical_url == canonical_url]
        by_guid = [row for row in rows if guid and row.guid == guid]
        by_alias = [row for row in rows if row not in by_url and row not in by_guid]
        if by_url:
            found, matched_on = by_url[0], "canonical_url"
        elif by_alias and canonical_url:
            found, matched_on = by_alias[0], "alias"
        elif by_guid:
            found, matched_on = by_guid[0], "guid"
            stored_url = found.canonical_url
            moved = bool(canonical_url and stored_url and stored_url != canonical_url)
            # Without URLs a reused guid cannot be told from an edited title: the guid wins,
            # since a new row per poll would be worse than an overwritten one.
            if moved and found.title_key != title_key:
                found = None  # a reused guid: another story
    elif title_key:
        found = session.execute(
            _BY_TITLE,
            {
                "outlet_id": outlet_id,
                "title_key": title_key,
                "earliest": published_at - TITLE_FALLBACK_WINDOW,
                "latest": published_at + TITLE_FALLBACK_WINDOW,
            },
        ).first()
        matched_on = "title"
    if found is None:
        return None
    feed_ids = session.execute(_FEED_IDS, {"article_id": found.id}).scalars()
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


def _dialect_insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


@functools.cache
def _statements(dialect_insert: Any) -> dict[str, Any]:
    """Insert statements built once per dialect; each execution binds its own values."""
    return {
        "article": dialect_insert(_ARTICLE).on_conflict_do_nothing().returning(_ARTICLE.c.id),
        "feed": dialect_insert(_ARTICLE_FEED).on_conflict_do_nothing(),
        "alias": dialect_insert(_ALIAS).on_conflict_do_nothing().returning(_ALIAS.c.id),
    }


def insert_article(session: Session, values: Mapping[str, Any]) -> int | None:
    """Insert a new article; None when a concurrent writer stored the same identity first."""
    statement = _statements(_dialect_insert(session))["article"]
    return session.execute(statement, dict(values)).scalar_one_or_none()


def update_article(
    session: Session, article_id: int, values: Mapping[str, Any], now: datetime
) -> int:
    """Store a new revision of an article, keeping its id; return the new revision number."""
    statement = (
        update(_ARTICLE)
        .where(_ARTICLE.c.id == article_id)
        .values(**values, revision=_ARTICLE.c.revision + 1, updated_at=now)
        .returning(_ARTICLE.c.revision)
    )
    return int(session.execute(statement).scalar_one())


def link_feed(session: Session, article_id: int, feed_id: int, seen_at: datetime) -> None:
    """Remember that the article appeared in this feed (idempotent)."""
    statement = _statements(_dialect_insert(session))["feed"]
    session.execute(
        statement, {"article_id": article_id, "feed_id": feed_id, "first_seen_at": seen_at}
    )


def add_alias(session: Session, outlet_id: int, url: str, article_id: int) -> bool:
    """Make `url` another identity key of the article; False when it already names one."""
    statement = _statements(_dialect_insert(session))["alias"]
    result = session.execute(
        statement, {"outlet_id": outlet_id, "url": url, "article_id": article_id}
    )
    return result.scalar_one_or_none() is not None
