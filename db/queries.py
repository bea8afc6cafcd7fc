"""Read-side queries for analysts: article records with their feeds, story and tags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from db.models import Article, ArticleFeed, ArticleTag, Feed, Outlet, Tag


@dataclass(frozen=True)
class ArticleFilter:
    since: datetime | None = None  # published at or after
    until: datetime | None = None  # published before
    outlets: Sequence[str] = ()  # outlet slugs or names
    countries: Sequence[str] = ()
    languages: Sequence[str] = ()
    feeds: Sequence[str] = ()  # feed slugs the article was seen in
    tags: Sequence[str] = ()  # every tag must be present
    story_id: int | None = None
    ids: Sequence[int] | None = None  # restrict to these (e.g. search hits)
    limit: int | None = 50


def filtered_ids(session: Session, flt: ArticleFilter) -> Select[int]:
    """A SELECT of article ids matching the filter (no order, no limit)."""
    query = select(Article.id).join(Outlet, Article.outlet_id == Outlet.id)
    if flt.since is not None:
        query = query.where(Article.published_at >= flt.since)
    if flt.until is not None:
        query = query.where(Article.published_at < flt.until)
    if flt.outlets:
        wanted = [o.lower() for o in flt.outlets]
        query = query.where(or_(Outlet.slug.in_(wanted), func.lower(Outlet.name).in_(wanted)))
    if flt.countries:
        query = query.where(Outlet.country.in_([c.upper() for c in flt.countries]))
    if flt.languages:
        query = query.where(Article.language.in_([lang.lower() for lang in flt.languages]))
    if flt.feeds:
        seen = aliased(ArticleFeed)
        query = query.where(
            select(seen.article_id)
            .join(Feed, Feed.id == seen.feed_id)
            .where(seen.article_id == Article.id, Feed.slug.in_(list(flt.feeds)))
            .exists()
        )
    for slug in flt.tags:
        query = query.where(
            select(ArticleTag.article_id)
            .join(Tag, Tag.id == ArticleTag.tag_id)
            .where(ArticleTag.article_id == Article.id, Tag.slug == slug)
            .exists()
        )
    if flt.story_id is not None:
        query = query.where(Article.story_id == flt.story_id)
    if flt.ids is not None:
        query = query.where(Article.id.in_(list(flt.ids)))
    return query


def article_records(
    session: Session, flt: ArticleFilter, *, order_ids: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """Articles as records (DESIGN §6 fields), newest first, or in `order_ids` order."""
    ids_query = filtered_ids(session, flt)
    if order_ids is None:
        ids_query = ids_query.order_by(Article.published_at.desc(), Article.id.desc())
        if flt.limit:
            ids_query = ids_query.limit(flt.limit)
    ids = list(session.execute(ids_query).scalars())
    if order_ids is not None:
        keep = set(ids)
        ids = [i for i in order_ids if i in keep][: flt.limit or None]
    return records_for(session, ids)


def records_for(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Records for these article ids, in this order."""
    if not ids:
        return []
    first_feed = aliased(Feed)
    rows = session.execute(
        select(Article, Outlet, first_feed.slug)
        .join(Outlet, Article.outlet_id == Outlet.id)
        .join(first_feed, Article.feed_id == first_feed.id)
        .where(Article.id.in_(list(ids)))
    )
    by_id = {article.id: (article, outlet, feed_slug) for article, outlet, feed_slug in rows}
    feeds: defaultdict[int, list[str]] = defaultdict(list)
    for article_id, slug in session.execute(
        select(ArticleFeed.article_id, Feed.slug)
        .join(Feed, Feed.id == ArticleFeed.feed_id)
        .where(ArticleFeed.article_id.in_(list(ids)))
        .order_by(ArticleFeed.first_seen_at, Feed.slug)
    ):
        feeds[article_id].append(slug)
    tags: defaultdict[int, dict[str, Any]] = defaultdict(dict)
    for article_id, slug, score, evidence, version in session.execute(
        select(
            ArticleTag.article_id,
            Tag.slug,
            ArticleTag.score,
            ArticleTag.evidence,
            ArticleTag.taxonomy_version,
        )
        .join(Tag, Tag.id == ArticleTag.tag_id)
        .where(ArticleTag.article_id.in_(list(ids)))
        .order_by(Tag.slug)
    ):
        tags[article_id][slug] = {"score": score, "version": version, **(evidence or {})}
    records = []
    for article_id in ids:
        if article_id not in by_id:
            continue
        article, outlet, feed_slug = by_id[article_id]
        records.append(
            {
                "id": article.id,
                "outlet": outlet.slug,
                "outlet_name": outlet.name,
                "feed": feed_slug,
                "feeds": feeds[article.id],
                "country": outlet.country,
                "lang": article.language,
                "guid": article.guid,
                "url": article.url,
                "canonical_url": article.canonical_url,
                "title": article.title,
                "summary": article.summary,
                "author": article.author,
                "published_at": article.published_at,
                "first_seen_at": article.first_seen_at,
                "updated_at": article.updated_at,
                "revision": article.revision,
                "story_id": article.story_id,
                "story_role": article.story_role,
                "credit": article.credit,
                "origin": article.origin,
                "tags": list(tags[article.id]),
                "evidence": tags[article.id],
            }
        )
    return records
