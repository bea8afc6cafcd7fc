"""The data model (DESIGN §4): typed SQLAlchemy 2 models, one class per table.

Identity rules live in constraints: (outlet, canonical_url) and (outlet, guid) are unique
for articles, so a re-poll, a second category feed or a tracking parameter can never make a
second row. Nothing here is deleted by ingestion.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.types import UTCDateTime

# Named constraints make migrations reviewable and batch mode on SQLite predictable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Schema objects that migrations create by hand because SQLAlchemy has no model for them:
# the SQLite FTS5 index and its shadow tables, PostgreSQL's generated search column and its
# index, and the analysts' views. Drift checks (`alembic check`) leave them out.
HAND_WRITTEN_PREFIXES = ("articles_fts", "v_", "search_vector", "ix_articles_search_vector")


def is_hand_written(name: str | None) -> bool:
    return bool(name) and str(name).startswith(HAND_WRITTEN_PREFIXES)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012


class Outlet(Base):
    __tablename__ = "outlets"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    is_wire: Mapped[bool] = mapped_column(Boolean, default=False)

    feeds: Mapped[list[Feed]] = relationship(back_populates="outlet")


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    fulltext: Mapped[bool] = mapped_column(Boolean, default=False)
    interval_seconds: Mapped[int] = mapped_column(Integer)  # base interval from the registry
    adapted_interval_seconds: Mapped[int | None] = mapped_column(Integer)  # learned cadence
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    feed_ttl_seconds: Mapped[int | None] = mapped_column(Integer)  # RSS ttl / sy:updatePeriod
    next_poll_at: Mapped[datetime | None] = mapped_column(index=True)
    schedule_reason: Mapped[str | None] = mapped_column(Text)  # why next_poll_at is what it is
    last_polled_at: Mapped[datetime | None]
    last_unconditional_at: Mapped[datetime | None]
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(SmallInteger)  # HTTP status
    last_outcome: Mapped[str | None] = mapped_column(String(32))  # FetchOutcome
    last_error: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None]
    last_new_item_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    outlet: Mapped[Outlet] = relationship(back_populates="feeds")


class Fetch(Base):
    """One row per fetch attempt, whatever came of it."""

    __tablename__ = "fetches"
    __table_args__ = (Index("ix_fetches_feed_started", "feed_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"))
    started_at: Mapped[datetime]
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    outcome: Mapped[str] = mapped_column(String(32))
    conditional: Mapped[bool] = mapped_column(Boolean, default=False)
    bytes: Mapped[int | None] = mapped_column(Integer)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_updated: Mapped[int] = mapped_column(Integer, default=0)
    items_dropped: Mapped[int] = mapped_column(Integer, default=0)
    bozo: Mapped[str | None] = mapped_column(Text)  # parser's well-formedness complaint
    error: Mapped[str | None] = mapped_column(Text)


class Story(Base):
    """A syndication cluster: one text carried by one or more outlets."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The original member. No foreign key: stories and articles refer to each other, and a
    # cycle of constraints would complicate every migration for no gain in safety.
    first_article_id: Mapped[int | None] = mapped_column(Integer, index=True)
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime]
    member_count: Mapped[int] = mapped_column(Integer, default=1)
    outlet_count: Mapped[int] = mapped_column(Integer, default=1)
    country_count: Mapped[int] = mapped_column(Integer, default=1)


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("outlet_id", "canonical_url"),
        UniqueConstraint("outlet_id", "guid"),
        Index("ix_articles_outlet_title_key", "outlet_id", "title_key"),
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_first_seen_at", "first_seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"), index=True)  # first feed
    guid: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)  # as published
    canonical_url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    title_key: Mapped[str | None] = mapped_column(String(200))  # folded title: identity fallback
    summary: Mapped[str] = mapped_column(Text, default="")  # clean text, as published
    body: Mapped[str] = mapped_column(Text, default="")  # clean text, as published
    match_text: Mapped[str] = mapped_column(Text, default="")  # folded, credit-free: for matching
    language: Mapped[str | None] = mapped_column(String(8), index=True)
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime]
    first_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revision: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64))
    credit: Mapped[str | None] = mapped_column(Text)  # credit line as published
    origin: Mapped[str | None] = mapped_column(String(40), index=True)  # wire agency slug
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    story_role: Mapped[str | None] = mapped_column(String(16))  # StoryRole
    fulltext_status: Mapped[str | None] = mapped_column(String(32))  # None: not asked
    fulltext_attempts: Mapped[int] = mapped_column(Integer, default=0)
    fulltext_revision: Mapped[int | None] = mapped_column(Integer)  # revision last enriched
    fulltext_error: Mapped[str | None] = mapped_column(Text)
    page_canonical_url: Mapped[str | None] = mapped_column(Text)


class ArticleFeed(Base):
    """Every feed an article was seen in."""

    __tablename__ = "article_feeds"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"), primary_key=True, index=True)
    first_seen_at: Mapped[datetime]


class ArticleAlias(Base):
    """Extra identity keys of an article (a page's canonical URL that differs from its link)."""

    __tablename__ = "article_aliases"
    __table_args__ = (UniqueConstraint("outlet_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    url: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)


class DedupeBucket(Base):
    """LSH index for near-duplicate candidates: one row per (band, bucket) of an article."""

    __tablename__ = "dedupe_buckets"
    __table_args__ = (Index("ix_dedupe_buckets_band_bucket", "band", "bucket"),)

    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True, index=True)
    seen_at: Mapped[datetime]  # the article's time, so candidates filter by window in the index


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    label: Mapped[str] = mapped_column(String(200))


class ArticleTag(Base):
    __tablename__ = "article_tags"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True, index=True)
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]]  # matched terms with fields and positions
    taxonomy_version: Mapped[str] = mapped_column(String(40))
    tagged_at: Mapped[datetime]


class Digest(Base):
    """One row per digest attempt; the sender consults it so a date is mailed once."""

    __tablename__ = "digests"
    __table_args__ = (Index("ix_digests_date", "digest_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_date: Mapped[date] = mapped_column(Date)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    recipients: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # pending, sending, sent, failed, ...
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(Text)
    story_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class DaemonState(Base):
    """The running daemon's lease and heartbeat (one row per daemon name)."""

    __tablename__ = "daemon_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(200))  # host:pid:token of the holder
    pid: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    last_tick_at: Mapped[datetime | None]
    last_tick_status: Mapped[str | None] = mapped_column(Text)
    info: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class DigestStory(Base):
    """What one digest attempt carried: a row per member article of each story it showed.

    Written with the attempt's `sending` row, before any mail goes out. Articles carried by
    a `sent` digest keep their stories out of every later digest of another date, so each
    story is mailed once. `story_id` is the story as it was then, for the record only:
    re-clustering renumbers stories (SQLite may reuse ids), article ids never change.
    """

    __tablename__ = "digest_stories"

    digest_id: Mapped[int] = mapped_column(
        ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True, index=True)
    story_id: Mapped[int | None] = mapped_column(Integer)
