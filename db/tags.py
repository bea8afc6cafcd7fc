"""Tags on articles: the tag registry and an article's tags with their evidence.

The caller owns the session and the transaction: the crawl writes an article's tags in the
article's own store transaction (a store hook), `monitor retag` in its batch transaction.
Nothing here knows how tags are computed; it stores what it is given (slug, score, evidence,
rules version).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.models import Article, ArticleTag, Tag


@dataclass(frozen=True, slots=True)
class TagRow:
    """One tag to store on an article."""

    slug: str
    score: float
    evidence: Mapping[str, Any]  # JSON-serialisable: matched terms, fields, positions
    version: str  # the rules version that gave the tag


class TagChange(NamedTuple):
    """What replacing an article's tags did, by tag slug."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]  # kept, with a different score or evidence
    unchanged: tuple[str, ...]


def ensure_tags(session: Session, labels: Mapping[str, str]) -> dict[str, int]:
    """Make sure every slug in ``labels`` has a row (label kept up to date); return slug -> id.

    Safe when two crawler processes do it at once: the insert skips a slug another
    transaction has just added.
    """
    dialect_insert: Any = (
        pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )
    existing = {
        slug: (tag_id, label)
        for tag_id, slug, label in session.execute(
            select(Tag.id, Tag.slug, Tag.label).where(Tag.slug.in_(list(labels)))
        )
    }
    for slug, label in labels.items():
        if slug not in existing:
            session.execute(
                dialect_insert(Tag).values(slug=slug, label=label).on_conflict_do_nothing()
            )
        elif existing[slug][1] != label:
            session.execute(update(Tag).where(Tag.id == existing[slug][0]).values(label=label))
    return {
        slug: tag_id
        for tag_id, slug in session.execute(
            select(Tag.id, Tag.slug).where(Tag.slug.in_(list(labels)))
        )
    }


def replace_article_tags(
    session: Session,
    article_id: int,
    rows: Iterable[TagRow],
    tag_ids: Mapping[str, int],
    *,
    tagged_at: datetime,
) -> TagChange:
    """Make ``rows`` the article's tags: add the new, drop the ones not given, update changed.

    A tag kept with the same score and evidence keeps its row and ``tagged_at``, even when the
    rules version moved on (the version is refreshed). ``tag_ids`` comes from
    :func:`ensure_tags`.
    """
    wanted = {row.slug: row for row in rows}
    current = {
        slug: (score, evidence, version)
        for slug, score, evidence, version in session.execute(
            select(Tag.slug, ArticleTag.score, ArticleTag.evidence, ArticleTag.taxonomy_version)
            .join(Tag, Tag.id == ArticleTag.tag_id)
            .where(ArticleTag.article_id == article_id)
        )
    }
    removed = tuple(slug for slug in current if slug not in wanted)
    if removed:
        gone = [tag_ids[s] if s in tag_ids else _tag_id(session, s) for s in removed]
        session.execute(
            delete(ArticleTag).where(
                ArticleTag.article_id == article_id, ArticleTag.tag_id.in_(gone)
            )
        )
    added: list[str] = []
    changed: list[str] = []
    unchanged: list[str] = []
    for slug, row in wanted.items():
        evidence = dict(row.evidence)
        values = {"score": row.score, "evidence": evidence, "taxonomy_version": row.version}
        if slug not in current:
            session.add(
                ArticleTag(
                    article_id=article_id, tag_id=tag_ids[slug], tagged_at=tagged_at, **values
                )
            )
            added.append(slug)
            continue
        score, old_evidence, version = current[slug]
        same = float(score) == row.score and (old_evidence or {}) == evidence
        if same and version == row.version:
            unchanged.append(slug)
            continue
        if not same:
            values["tagged_at"] = tagged_at
        session.execute(
            update(ArticleTag)
            .where(ArticleTag.article_id == article_id, ArticleTag.tag_id == tag_ids[slug])
            .values(**values)
        )
        (unchanged if same else changed).append(slug)
    session.flush()
    return TagChange(tuple(added), removed, tuple(changed), tuple(unchanged))


def _tag_id(session: Session, slug: str) -> int:
    """The id of a tag the current rules no longer name (its old rows are being dropped)."""
    return session.execute(select(Tag.id).where(Tag.slug == slug)).scalar_one()


class StoredForTagging(NamedTuple):
    id: int
    title: str
    match_text: str
    language: str | None


def articles_to_tag(
    session: Session, *, since: datetime | None = None, after_id: int = 0, limit: int = 500
) -> Sequence[StoredForTagging]:
    """The next ``limit`` articles with id above ``after_id`` (published at or after ``since``
    when given), by id: keyset pagination so the caller may commit between batches."""
    query = (
        select(Article.id, Article.title, Article.match_text, Article.language)
        .where(Article.id > after_id)
        .order_by(Article.id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(Article.published_at >= since)
    return [StoredForTagging(*row) for row in session.execute(query)]
