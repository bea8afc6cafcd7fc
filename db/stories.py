"""Stories (syndication clusters) and their near-duplicate index. The caller owns the session.

The index is the `dedupe_buckets` table: one row per (band, bucket) key of an article, with
the article's time (`seen_at`, its `published_at`) so that lookups stay within a window. The
keys themselves are computed elsewhere (`monitor.dedupe`); this module only stores and finds
them, and keeps each story's members, roles and counts consistent:

* a story's original is its earliest member by `published_at` (then by id), whose role is
  `original`; every other member is a `copy`;
* `first_seen_at` / `last_seen_at` are the original's and the latest member's `published_at`
  (so `last_seen_at - first_seen_at` is how long the text took to spread);
* `member_count`, `outlet_count`, `country_count` count members, their distinct outlets and
  the distinct countries of those outlets;
* a story left without members is deleted.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    TextualSelect,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from db.models import Article, ArticleTag, DedupeBucket, Outlet, Story, Tag
from db.types import UTCDateTime

# Roles as stored (the values of monitor.outcomes.StoryRole; db/ does not import monitor/).
ORIGINAL = "original"
COPY = "copy"
#: At most this many candidates per lookup, those sharing the most bands first: a flood of
#: near-identical templated items must not make one lookup read thousands of texts.
MAX_CANDIDATES = 100


@dataclass(frozen=True)
class ArticleText:
    """What clustering needs of a stored article."""

    id: int
    outlet_id: int
    published_at: datetime
    title_key: str | None
    match_text: str
    has_body: bool
    language: str | None


@dataclass(frozen=True)
class Candidate(ArticleText):
    """An earlier article that shares at least one band key with the one being clustered."""

    story_id: int | None
    shared_bands: int


@functools.cache
def _candidate_query(bands: int) -> TextualSelect:
    """The lookup for `bands` keys, built once per count (expression building costs more
    than running it)."""
    # An OR of (band = ? AND bucket = ?) terms: both SQLite (multi-index OR) and PostgreSQL
    # (bitmap OR) answer it from the (band, bucket) index; a row-value IN scans on SQLite.
    keys = " OR ".join(f"(band = :b{i} AND bucket = :k{i})" for i in range(bands))
    sql = f"""
        SELECT a.id, a.outlet_id, a.published_at, a.title_key, a.match_text,
               a.body <> '' AS has_body, a.language, a.story_id, hits.shared
        FROM (SELECT article_id, count(*) AS shared FROM dedupe_buckets
              WHERE ({keys}) AND seen_at >= :since AND seen_at <= :until
              GROUP BY article_id) AS hits
        JOIN articles a ON a.id = hits.article_id
        WHERE a.outlet_id <> :outlet AND a.id <> :article
        ORDER BY hits.shared DESC, a.published_at, a.id
        LIMIT :limit"""
    return (
        text(sql)
        .bindparams(
            bindparam("since", type_=UTCDateTime()),
            bindparam("until", type_=UTCDateTime()),
            *(bindparam(f"k{i}", type_=BigInteger()) for i in range(bands)),
        )
        .columns(published_at=UTCDateTime(), has_body=Boolean())
    )


def find_candidates(
    session: Session,
    bands: Sequence[tuple[int, int]],
    *,
    since: datetime,
    until: datetime,
    exclude_outlet_id: int | None = None,
    exclude_article_id: int | None = None,
    limit: int = MAX_CANDIDATES,
) -> list[Candidate]:
    """Articles sharing a band key with `bands`, indexed with a time in [since, until].

    Articles of `exclude_outlet_id` and the article `exclude_article_id` itself are left out.
    Ordered by shared band count (most first), then time and id: deterministic.
    """
    if not bands:
        return []
    params: dict[str, Any] = {
        "since": since,
        "until": until,
        "outlet": -1 if exclude_outlet_id is None else exclude_outlet_id,
        "article": -1 if exclude_article_id is None else exclude_article_id,
        "limit": limit,
    }
    for i, (band, bucket) in enumerate(bands):
        params[f"b{i}"], params[f"k{i}"] = band, bucket
    rows = session.execute(_candidate_query(len(bands)), params)
    return [Candidate(*row) for row in rows]


def replace_buckets(
    session: Session, article_id: int, bands: Sequence[tuple[int, int]], seen_at: datetime
) -> None:
    """Make `bands` the article's index keys (an updated text replaces its old keys)."""
    session.execute(delete(DedupeBucket).where(DedupeBucket.article_id == article_id))
    if bands:
        session.execute(
            insert(DedupeBucket),
            [
                {"band": band, "bucket": bucket, "article_id": article_id, "seen_at": seen_at}
                for band, bucket in bands
            ],
        )


def story_of(session: Session, article_id: int) -> int | None:
    return session.execute(
        select(Article.story_id).where(Article.id == article_id)
    ).scalar_one_or_none()


def assign_story(session: Session, article_id: int, story_id: int | None) -> int:
    """Put the article in `story_id` (a new story when None or gone); return the story id.

    Both the story it leaves and the one it joins get their original, roles and counts
    recomputed.
    """
    previous = story_of(session, article_id)
    if story_id is not None and session.get(Story, story_id) is None:
        story_id = None  # emptied and deleted by a concurrent re-check
    if story_id is None:
        published = session.execute(
            select(Article.published_at).where(Article.id == article_id)
        ).scalar_one()
        story = Story(
            first_article_id=article_id,
            first_seen_at=published,
            last_seen_at=published,
            member_count=1,
            outlet_count=1,
            country_count=1,
        )
        session.add(story)
        session.flush()
        story_id = story.id
    if previous != story_id:
        session.execute(update(Article).where(Article.id == article_id).values(story_id=story_id))
        if previous is not None:
            refresh_story(session, previous)
    refresh_story(session, story_id)
    return story_id


def refresh_story(session: Session, story_id: int) -> None:
    """Recompute a story's original, roles and counts from its members; delete it if empty."""
    members = session.execute(
        select(Article.id, Article.published_at, Article.outlet_id, Outlet.country)
        .join(Outlet, Outlet.id == Article.outlet_id)
        .where(Article.story_id == story_id)
        .order_by(Article.published_at, Article.id)
    ).all()
    if not members:
        session.execute(delete(Story).where(Story.id == story_id))
        return
    first = members[0]
    session.execute(
        update(Story)
        .where(Story.id == story_id)
        .values(
            first_article_id=first.id,
            first_seen_at=first.published_at,
            last_seen_at=max(m.published_at for m in members),
            member_count=len(members),
            outlet_count=len({m.outlet_id for m in members}),
            country_count=len({m.country for m in members}),
        )
    )
    session.execute(
        update(Article)
        .where(Article.story_id == story_id)
        .values(story_role=case((Article.id == first.id, ORIGINAL), else_=COPY))
    )


def clear_stories(session: Session, since: datetime | None = None) -> int:
    """Undo clustering for articles published at or after `since` (all when None).

    Their index keys are deleted, they leave their stories, stories left empty are deleted
    and the others recomputed. Returns the number of articles cleared.
    """
    chosen = select(Article.id)
    if since is not None:
        chosen = chosen.where(Article.published_at >= since)
    if since is None:
        session.execute(delete(DedupeBucket))
    else:
        session.execute(delete(DedupeBucket).where(DedupeBucket.seen_at >= since))
        session.execute(delete(DedupeBucket).where(DedupeBucket.article_id.in_(chosen)))
    touched = {
        story_id
        for story_id in session.execute(
            select(Article.story_id).where(Article.id.in_(chosen)).distinct()
        ).scalars()
        if story_id is not None
    }
    cleared = session.execute(select(func.count()).select_from(chosen.subquery())).scalar_one()
    session.execute(
        update(Article).where(Article.id.in_(chosen)).values(story_id=None, story_role=None)
    )
    if since is None:
        session.execute(delete(Story))
    else:
        for story_id in sorted(touched):
            refresh_story(session, story_id)
    return int(cleared)


@dataclass(frozen=True)
class StoredText(ArticleText):
    """An article to cluster again, with the text its matching form is folded from."""

    title: str
    summary: str
    body: str


def update_matching_form(
    session: Session, article_id: int, title_key: str | None, match_text: str
) -> None:
    """Store an article's re-folded matching keys (after a normaliser change)."""
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(title_key=title_key, match_text=match_text)
    )


def texts_after(
    session: Session,
    *,
    since: datetime | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int = 500,
) -> list[StoredText]:
    """The next `limit` articles published at or after `since`, oldest first, then by id.

    `after` is the (published_at, id) of the last article of the previous batch: keyset
    pagination, so that the caller may commit between batches.
    """
    query = select(
        Article.id,
        Article.outlet_id,
        Article.published_at,
        Article.title_key,
        Article.match_text,
        (Article.body != "").label("has_body"),
        Article.language,
        Article.title,
        Article.summary,
        Article.body,
    ).order_by(Article.published_at, Article.id)
    if since is not None:
        query = query.where(Article.published_at >= since)
    if after is not None:
        query = query.where(
            or_(
                Article.published_at > after[0],
                and_(Article.published_at == after[0], Article.id > after[1]),
            )
        )
    return [StoredText(**row._asdict()) for row in session.execute(query.limit(limit))]


# ---------------------------------------------------------------------------------------
# Read side: stories with their members, for `monitor stories`
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryFilter:
    since: datetime | None = None  # original published at or after
    until: datetime | None = None  # original published before
    tags: Sequence[str] = ()  # some member has every one of these tags
    countries: Sequence[str] = ()  # some member comes from one of these countries
    outlets: Sequence[str] = ()  # some member comes from one of these outlets (slug or name)
    min_outlets: int = 1
    limit: int | None = 50


def story_records(session: Session, flt: StoryFilter) -> list[dict[str, Any]]:
    """Stories matching the filter, newest first, each with its members original first.

    A record: story_id, first_seen_at, last_seen_at, spread_minutes (original to last
    copy), member_count, outlet_count, country_count, countries, outlets, title and
    origin (the original's), tags (of any member), and members: article_id, role, outlet,
    outlet_name, country, lang, published_at, minutes_after_original, credit, origin,
    url, title.
    """
    query = select(Story.id).where(Story.outlet_count >= flt.min_outlets)
    if flt.since is not None:
        query = query.where(Story.first_seen_at >= flt.since)
    if flt.until is not None:
        query = query.where(Story.first_seen_at < flt.until)
    member = select(Article.id).join(Outlet, Outlet.id == Article.outlet_id)
    member = member.where(Article.story_id == Story.id)
    if flt.countries:
        wanted = [c.upper() for c in flt.countries]
        query = query.where(member.where(Outlet.country.in_(wanted)).exists())
    if flt.outlets:
        wanted = [o.lower() for o in flt.outlets]
        named = or_(Outlet.slug.in_(wanted), func.lower(Outlet.name).in_(wanted))
        query = query.where(member.where(named).exists())
    for slug in flt.tags:
        tagged = (
            select(ArticleTag.article_id)
            .join(Tag, Tag.id == ArticleTag.tag_id)
            .join(Article, Article.id == ArticleTag.article_id)
            .where(Article.story_id == Story.id, Tag.slug == slug)
        )
        query = query.where(tagged.exists())
    query = query.order_by(Story.first_seen_at.desc(), Story.id.desc())
    if flt.limit:
        query = query.limit(flt.limit)
    ids = list(session.execute(query).scalars())
    return _records(session, ids)


def _records(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    stories = {s.id: s for s in session.execute(select(Story).where(Story.id.in_(ids))).scalars()}
    members: dict[int, list[Any]] = {story_id: [] for story_id in ids}
    for row in session.execute(
        select(
            Article.story_id,
            Article.id,
            Article.story_role,
            Outlet.slug,
            Outlet.name,
            Outlet.country,
            Article.language,
            Article.published_at,
            Article.credit,
            Article.origin,
            Article.url,
            Article.title,
        )
        .join(Outlet, Outlet.id == Article.outlet_id)
        .where(Article.story_id.in_(ids))
        .order_by(Article.published_at, Article.id)
    ):
        members[row.story_id].append(row)
    tags: dict[int, set[str]] = {story_id: set() for story_id in ids}
    for story_id, slug in session.execute(
        select(Article.story_id, Tag.slug)
        .join(ArticleTag, ArticleTag.article_id == Article.id)
        .join(Tag, Tag.id == ArticleTag.tag_id)
        .where(Article.story_id.in_(ids))
    ):
        if story_id is not None:
            tags[story_id].add(slug)
    records = []
    for story_id in ids:
        story, rows = stories[story_id], members[story_id]
        if not rows:
            continue
        # The stored original first (it is the earliest unless a re-check is under way).
        rows.sort(key=lambda r: (r.id != story.first_article_id, r.published_at, r.id))
        original = rows[0]
        outlets: list[str] = []
        for row in rows:
            if row.slug not in outlets:
                outlets.append(row.slug)
        records.append(
            {
                "story_id": story_id,
                "first_seen_at": story.first_seen_at,
                "last_seen_at": story.last_seen_at,
                "spread_minutes": _minutes(story.last_seen_at - story.first_seen_at),
                "member_count": story.member_count,
                "outlet_count": story.outlet_count,
                "country_count": story.country_count,
                "countries": sorted({row.country for row in rows}),
                "outlets": outlets,
                "title": original.title,
                "origin": original.origin,
                "tags": sorted(tags[story_id]),
                "members": [
                    {
                        "article_id": row.id,
                        "role": row.story_role,
                        "outlet": row.slug,
                        "outlet_name": row.name,
                        "country": row.country,
                        "lang": row.language,
                        "published_at": row.published_at,
                        "minutes_after_original": _minutes(
                            row.published_at - original.published_at
                        ),
                        "credit": row.credit,
                        "origin": row.origin,
                        "url": row.url,
                        "title": row.title,
                    }
                    for row in rows
                ],
            }
        )
    return records


def _minutes(delta: timedelta) -> int:
    return round(delta.total_seconds() / 60)
