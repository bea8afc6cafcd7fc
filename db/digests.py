"""The digest's database side: which stories are due, and the `digests` ledger.

Stories: `due_stories(session, start, end, tags, day=...)` returns every story that gained a
member first seen in [start, end) and carries one of `tags` on any member (no tags: every
story), with all its members, outlets and tags; an article not clustered into a story stands
alone. A story is left out when any of its articles was carried by a digest `sent` for
another date (`digest_stories`): each story is mailed once, however late a copy of it
arrives and however much consecutive windows overlap.

Ledger: one `digests` row per send attempt. The rules that make a date go out once:

* `claim()` inserts a `sending` row, with the articles the digest carries, and commits both
  *before* the mail is sent. A crash between sending and `finish(..., SENT)` leaves that
  row `sending`: later runs see it and report it instead of sending again (`--force`
  overrides after a person has checked). Marking it sent is then a one-row update, and
  only `sent` rows keep their stories out of later digests: the stories of a failed or
  interrupted attempt are not counted as mailed.
* A date with a `sent` or `skipped` row is done; only `force` sends it again.
* Two processes claiming the same date at once: each checks, after committing its own
  row, whether another claim appeared meanwhile; if so it withdraws (`conflict`). At worst
  both withdraw and a later run sends; never both send.
* A failed attempt is `failed` with the error; the caller decides when to retry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, update
from sqlalchemy.orm import Session

from db.models import Article, ArticleTag, Digest, DigestStory, Outlet, Tag


class DigestStatus(StrEnum):
    SENDING = "sending"  # claimed; the mail may be on its way (or the sender died)
    SENT = "sent"  # the server accepted it
    SKIPPED = "skipped"  # nothing new and empty digests are not sent
    FAILED = "failed"  # sending failed; `error` says why (temporary or permanent)
    CONFLICT = "conflict"  # withdrawn: another process claimed the date at the same moment
    INTERRUPTED = "interrupted"  # a `sending` row found stale and reported; never resent


DONE = (DigestStatus.SENT, DigestStatus.SKIPPED)
BLOCKING = (*DONE, DigestStatus.SENDING, DigestStatus.INTERRUPTED)


# --- stories -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagRow:
    slug: str
    score: float
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MemberRow:
    article_id: int
    story_id: int | None
    story_role: str | None
    outlet: str
    country: str
    language: str | None
    title: str
    url: str  # as published
    canonical_url: str | None
    published_at: datetime
    first_seen_at: datetime
    credit: str | None
    origin: str | None
    summary: str
    body: str
    tags: tuple[TagRow, ...]


@dataclass(frozen=True, slots=True)
class StoryRow:
    """A story (or a lone article: `story_id` None) with every member, earliest first.

    `key` identifies the digest entry: the story id, or minus the article id for a lone
    article (both ids are positive, so the two never collide)."""

    key: int
    story_id: int | None
    members: tuple[MemberRow, ...]


def due_stories(
    session: Session, start: datetime, end: datetime, tags: Sequence[str], *, day: date
) -> list[StoryRow]:
    """Stories with a member first seen in [start, end) and, when `tags` is given, a member
    carrying one of them; without those already carried by a digest sent for a date other
    than `day` (a resend of `day` itself shows its stories again)."""
    in_window = and_(Article.first_seen_at >= start, Article.first_seen_at < end)
    carried: Select[Any] = (
        select(DigestStory.article_id)
        .join(Digest, Digest.id == DigestStory.digest_id)
        .where(Digest.status == DigestStatus.SENT, Digest.digest_date != day)
    )
    carried_stories: Select[Any] = select(Article.story_id).where(
        Article.id.in_(carried), Article.story_id.is_not(None)
    )
    tagged: ColumnElement[bool] | None = None
    if tags:
        tagged = (
            (
                select(ArticleTag.article_id)
                .join(Tag, Tag.id == ArticleTag.tag_id)
                .where(Tag.slug.in_(list(tags)))
            )
            .exists()
            .where(ArticleTag.article_id == Article.id)
        )
    new_stories: Select[Any] = select(Article.story_id).where(
        in_window, Article.story_id.is_not(None)
    )
    wanted_stories: Select[Any] = select(Article.story_id).where(
        Article.story_id.in_(new_stories), Article.story_id.not_in(carried_stories)
    )
    lone = and_(in_window, Article.story_id.is_(None), Article.id.not_in(carried))
    if tagged is not None:
        wanted_stories = wanted_stories.where(tagged)
        lone = and_(lone, tagged)
    members = session.execute(
        select(Article, Outlet)
        .join(Outlet, Outlet.id == Article.outlet_id)
        .where(or_(Article.story_id.in_(wanted_stories), lone))
        .order_by(Article.first_seen_at, Article.id)
    ).all()
    ids = [article.id for article, _ in members]
    tag_rows = _tags_for(session, ids)
    grouped: dict[int, list[MemberRow]] = defaultdict(list)
    for article, outlet in members:
        key = article.story_id if article.story_id is not None else -article.id
        grouped[key].append(_member(article, outlet, tag_rows.get(article.id, ())))
    return [StoryRow(key, rows[0].story_id, tuple(rows)) for key, rows in grouped.items()]


def _tags_for(session: Session, ids: list[int]) -> dict[int, tuple[TagRow, ...]]:
    found: defaultdict[int, list[TagRow]] = defaultdict(list)
    for start in range(0, len(ids), 500):  # stay far below SQLite's bound-parameter limit
        chunk = ids[start : start + 500]
        rows = session.execute(
            select(ArticleTag.article_id, Tag.slug, ArticleTag.score, ArticleTag.evidence)
            .join(Tag, Tag.id == ArticleTag.tag_id)
            .where(ArticleTag.article_id.in_(chunk))
            .order_by(ArticleTag.article_id, Tag.slug)
        )
        for article_id, slug, score, evidence in rows:
            found[article_id].append(TagRow(slug, float(score), dict(evidence or {})))
    return {article_id: tuple(rows) for article_id, rows in found.items()}


def _member(article: Article, outlet: Outlet, tags: tuple[TagRow, ...]) -> MemberRow:
    return MemberRow(
        article_id=article.id,
        story_id=article.story_id,
        story_role=article.story_role,
        outlet=outlet.name,
        country=outlet.country,
        language=article.language,
        title=article.title,
        url=article.url or article.canonical_url or "",
        canonical_url=article.canonical_url,
        published_at=article.published_at,
        first_seen_at=article.first_seen_at,
        credit=article.credit,
        origin=article.origin,
        summary=article.summary,
        body=article.body,
        tags=tags,
    )


# --- the ledger --------------------------------------------------------------------------


def attempts_for(session: Session, day: date) -> list[Digest]:
    """Every attempt for `day`, oldest first."""
    return list(
        session.execute(
            select(Digest).where(Digest.digest_date == day).order_by(Digest.id)
        ).scalars()
    )


def last_sent(session: Session, *, before_day: date, ending_by: datetime) -> Digest | None:
    """The digest sent for a date before `before_day` whose window ends last, at or before
    `ending_by`: where the next window starts."""
    return session.execute(
        select(Digest)
        .where(
            Digest.status == DigestStatus.SENT,
            Digest.digest_date < before_day,
            Digest.window_end <= ending_by,
        )
        .order_by(Digest.window_end.desc(), Digest.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def latest(session: Session) -> Digest | None:
    """The most recent attempt of any date (for status reports)."""
    return session.execute(select(Digest).order_by(Digest.id.desc()).limit(1)).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of `claim()`: our row, or the row that stands in the way."""

    row: Digest | None
    blocker: Digest | None = None

    @property
    def ok(self) -> bool:
        return self.row is not None


def claim(
    session: Session,
    *,
    day: date,
    window: tuple[datetime, datetime],
    recipients: Sequence[str],
    story_count: int,
    now: datetime,
    force: bool = False,
    status: DigestStatus = DigestStatus.SENDING,
    carried: Sequence[tuple[int, int | None]] = (),
) -> Claim:
    """Record an attempt for `day` and commit it, unless the date is taken.

    Taken means a `sent`, `skipped`, `sending` or `interrupted` row exists (ignored with
    `force`), or a concurrent claim appeared while ours was being committed. `status` is
    `skipped` to record an empty day that is not mailed. `carried` lists the (article id,
    story id) pairs the digest shows; they are committed with the row, so a row that later
    becomes `sent` always has them.
    """
    rows = attempts_for(session, day)
    if not force and (blocker := _first_blocking(rows)) is not None:
        return Claim(None, blocker)
    before = {row.id for row in rows}
    row = Digest(
        digest_date=day,
        window_start=window[0],
        window_end=window[1],
        recipients=", ".join(recipients),
        status=status,
        attempts=len(rows) + 1,
        created_at=now,
        story_count=story_count,
    )
    session.add(row)
    session.flush()
    session.add_all(
        DigestStory(digest_id=row.id, article_id=article_id, story_id=story_id)
        for article_id, story_id in dict(carried).items()  # one row per article
    )
    session.commit()
    rivals = [
        other
        for other in attempts_for(session, day)
        if other.id != row.id and other.id not in before and other.status in BLOCKING
    ]
    if rivals:
        finish(session, row, DigestStatus.CONFLICT, error=f"date claimed by attempt {rivals[0].id}")
        return Claim(None, rivals[0])
    return Claim(row)


def _first_blocking(rows: list[Digest]) -> Digest | None:
    return next((row for row in reversed(rows) if row.status in BLOCKING), None)


def set_message_id(session: Session, row: Digest, message_id: str) -> None:
    """Store the Message-ID before sending, so an interrupted attempt can be traced."""
    row.message_id = message_id
    session.commit()


def finish(
    session: Session,
    row: Digest,
    status: DigestStatus,
    *,
    sent_at: datetime | None = None,
    error: str | None = None,
) -> None:
    row.status = status
    row.sent_at = sent_at
    row.error = error
    session.commit()


def mark_interrupted(session: Session, row: Digest, note: str) -> bool:
    """Turn a stale `sending` row into `interrupted`; False when someone else changed it."""
    done = session.execute(
        update(Digest)
        .where(Digest.id == row.id, Digest.status == DigestStatus.SENDING)
        .values(status=DigestStatus.INTERRUPTED, error=note)
    )
    session.commit()
    session.refresh(row)
    return bool(getattr(done, "rowcount", 0))
