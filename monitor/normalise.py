"""One feed entry -> the values an article row needs (DESIGN §5, "Text normalisation").

Stored text stays as published (cleaned of markup and site boilerplate); only `match_text`
and `title_key` are folded, for matching. Pure: values in, values out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.credits import Credit, split_credit
from monitor.lang import detect_language
from monitor.parsing import FeedEntry
from monitor.text import clean_text, fold
from monitor.urls import canonical_url

TITLE_KEY_LENGTH = 200
# A publication date further ahead than this is a feed bug; first-seen time is used instead.
FUTURE_TOLERANCE = timedelta(hours=2)
EARLIEST_PLAUSIBLE = datetime(1995, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class NormalisedArticle:
    guid: str | None
    url: str | None
    canonical_url: str | None
    title: str
    title_key: str | None
    summary: str
    body: str
    match_text: str  # folded body (or summary) without credit line and boilerplate
    language: str | None
    author: str | None
    published_at: datetime
    content_hash: str
    credit: str | None
    origin: str | None

    @property
    def has_identity(self) -> bool:
        return bool(self.canonical_url or self.guid or self.title_key)


def _published(entry: FeedEntry, seen_at: datetime) -> datetime:
    when = entry.published or entry.updated
    if when is None or when > seen_at + FUTURE_TOLERANCE or when < EARLIEST_PLAUSIBLE:
        return seen_at
    return when


def content_hash(title: str, summary: str, body: str) -> str:
    """Hash of what a reader sees; a change means a new revision of the article."""
    return hashlib.sha256("\x1f".join((title, summary, body)).encode("utf-8")).hexdigest()


def matching_form(
    title: str, summary: str, body: str, credit: Credit | None = None
) -> tuple[str | None, str]:
    """An article's folded keys: its title key, and the credit-free text it is matched on.
    `credit` is `split_credit(body or summary)` when the caller has it already."""
    credit = credit or split_credit(body or summary)
    return fold(title)[:TITLE_KEY_LENGTH] or None, fold(credit.text)


def normalise_entry(
    entry: FeedEntry,
    *,
    feed_url: str,
    feed_language: str | None,
    seen_at: datetime,
    wire_origin: str | None = None,
) -> NormalisedArticle:
    """Clean, credit and key one entry. `wire_origin` is the origin of a news agency's own feed."""
    title = " ".join(clean_text(entry.title).split())
    summary = clean_text(entry.summary_html)
    body = clean_text(entry.content_html)
    credit = split_credit(body or summary)
    link = canonical_url(entry.link, base=feed_url) if entry.link else None
    guid = (entry.guid or "").strip() or None
    title_key, match_text = matching_form(title, summary, body, credit)
    language = detect_language(f"{title}\n{credit.text}", entry.language or feed_language)
    return NormalisedArticle(
        guid=guid[:2000] if guid else None,
        url=entry.link,
        canonical_url=link,
        title=title,
        title_key=title_key,
        summary=summary,
        body=body,
        match_text=match_text,
        language=language,
        author=(entry.author or "").strip() or None,
        published_at=_published(entry, seen_at),
        content_hash=content_hash(title, summary, body),
        credit=credit.line,
        origin=credit.origin or wire_origin,
    )
