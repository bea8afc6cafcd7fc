"""Feed parsing: the only module that imports feedparser.

`parse_feed(body, url=..., headers=...)` turns the bytes of an HTTP response into a frozen
`ParsedFeed`, or raises `FeedParseError` when the body is not a feed at all (an HTML page, an
empty body, garbage). A feed that is merely ill-formed still yields its entries, with the
problem described in `ParsedFeed.bozo` (data for the fetch record, not an exception).

Choices, with the reasons:

* feedparser gets bytes in an `io.BytesIO`, never a string: a string may make it fetch a URL
  or open a local file.
* The bytes are first decoded, cleaned and guarded by `monitor.feedbytes` (encoding chosen
  there, DOCTYPE entities neutralised against billion-laughs and XXE), so feedparser always
  receives UTF-8 and a matching `content-type`.
* feedparser's HTML sanitiser and relative-URI rewriting inside HTML are OFF (they take most of
  its time: `bench/parse_options.py` measures it). `summary_html` and `content_html` are
  therefore raw publisher HTML: sanitise (nh3) wherever HTML is shown. Entry and feed links are
  still resolved here, against `xml:base` and then the feed URL.
* No base URL is given to feedparser, so a guid such as ``12345`` is kept as published instead
  of being turned into a URL; a guid only stands in for a missing link when it is an absolute
  http(s) URL.
* Values are bounded: titles at `MAX_TITLE_CHARS`, HTML at `MAX_HTML_CHARS`, URLs and guids at
  `MAX_URL_CHARS` (a longer link is dropped, a longer guid cut).
* Dates are tz-aware UTC; one before `EARLIEST_DATE` or more than `FUTURE_TOLERANCE` after
  `now` is treated as unparseable (None), so the caller falls back to first-seen.
"""

from __future__ import annotations

import calendar
import html
import io
import re
import time
import xml.sax
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from monitor.feedbytes import prepare

__all__ = [
    "EARLIEST_DATE",
    "FUTURE_TOLERANCE",
    "MAX_HTML_CHARS",
    "MAX_TITLE_CHARS",
    "MAX_URL_CHARS",
    "FeedEntry",
    "FeedParseError",
    "ParsedFeed",
    "parse_feed",
]

MAX_TITLE_CHARS = 2_000
MAX_HTML_CHARS = 200_000
MAX_URL_CHARS = 4_096
MAX_CATEGORIES = 50
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)

# sy:updatePeriod values (RSS 1.0 syndication module), in seconds.
_PERIODS = {"hourly": 3600, "daily": 86_400, "weekly": 604_800, "monthly": 2_592_000}
_PERIODS["yearly"] = 365 * 86_400
_MAX_INTERVAL = 366 * 86_400

_TAG_RE = re.compile(r"<(?:/?[A-Za-z][^<>]*|!--.*?--)>", re.DOTALL)
_SPACE_RE = re.compile(r"\s+")
_PROLOG_NOISE_RE = re.compile(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>", re.DOTALL)
_ESCAPED_TAG_RE = re.compile(r"&lt;/?[A-Za-z][A-Za-z0-9]*(?:\s|/?&gt;)")


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed, as published (HTML unsanitised), with bounded sizes."""

    guid: str | None
    link: str | None  # absolute http(s) URL (resolved against xml:base / feed URL), else None
    title: str  # plain text, entities decoded, tags stripped
    summary_html: str  # description / atom summary, "" if none
    content_html: str  # content:encoded / atom content, "" if none
    author: str | None
    published: datetime | None  # tz-aware UTC
    updated: datetime | None  # tz-aware UTC
    language: str | None  # primary subtag, lower case ("ar"); the item's own, else the feed's
    categories: tuple[str, ...]


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed: its channel-level facts and its entries in document order."""

    version: str  # feedparser's version, e.g. "rss20", "atom10", "rss10"; "" if unknown
    title: str
    link: str | None
    language: str | None
    ttl_seconds: int | None  # RSS <ttl>
    update_period_seconds: int | None  # sy:updatePeriod / sy:updateFrequency
    bozo: str | None  # well-formedness or encoding problem described, None when clean
    entries: tuple[FeedEntry, ...]


class FeedParseError(ValueError):
    """The body is not a feed (HTML page, empty, garbage); the message says why."""


def parse_feed(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str],
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse the body of a response for the feed at `url`.

    `headers` are the response headers (any case); `content-type` informs the encoding and
    `content-language` the default language. `now` (default: the current time) bounds
    future dates. Raises `FeedParseError` if the body holds no feed.
    """
    if not body.strip():
        raise FeedParseError("empty body")
    lower = {key.lower(): value for key, value in headers.items()}
    prepared = prepare(body, lower.get("content-type"))
    response_headers = {"content-type": "application/xml; charset=utf-8"}
    if lower.get("content-language"):
        response_headers["content-language"] = lower["content-language"]
    try:
        result = feedparser.parse(
            io.BytesIO(prepared.data),
            response_headers=response_headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # an untyped library: whatever it raises, the feed is unreadable
        raise FeedParseError(f"feedparser failed: {type(exc).__name__}: {exc}") from exc
    version = str(result.get("version") or "")
    raw_entries = result.get("entries") or []
    if not version and not raw_entries:
        raise FeedParseError(_not_a_feed_reason(prepared.data))

    feed = result.get("feed") or {}
    problems = list(prepared.notes)
    if result.get("bozo"):
        problems.append(_describe(result.get("bozo_exception")))
    feed_language = _language(feed.get("language") or lower.get("content-language"))
    feed_link = _link(feed.get("link"), url)
    clock = now or datetime.now(UTC)
    entries = tuple(_entry(raw, url, feed_language, clock) for raw in raw_entries)
    return ParsedFeed(
        version=version,
        title=_plain(feed.get("title"), MAX_TITLE_CHARS),
        link=feed_link,
        language=feed_language,
        ttl_seconds=_ttl(feed.get("ttl")),
        update_period_seconds=_update_period(
            feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")
        ),
        bozo="; ".join(problems) or None,
        entries=entries,
    )


def _entry(
    raw: Mapping[str, Any], base: str, feed_language: str | None, now: datetime
) -> FeedEntry:
    guid = _text(raw.get("id"))
    link_source = raw.get("link")
    if raw.get("guidislink") and link_source == raw.get("id") and not _is_absolute(guid):
        link_source = None  # a guid like "12345" is an identifier, not a relative URL
    detail = raw.get("title_detail") or {}
    language = (
        _language(raw.get("language"))
        or _language(detail.get("language") if isinstance(detail, Mapping) else None)
        or feed_language
    )
    return FeedEntry(
        guid=guid[:MAX_URL_CHARS] if guid else None,
        link=_link(link_source, base),
        title=_plain(raw.get("title"), MAX_TITLE_CHARS),
        summary_html=_summary(raw),
        content_html=_content(raw),
        author=_plain(raw.get("author"), 500) or None,
        published=_date(raw.get("published_parsed"), now),
        # dict.get: FeedParserDict would fall back to the publication date (with a warning)
        updated=_date(dict.get(raw, "updated_parsed") if isinstance(raw, dict) else None, now),
        language=language,
        categories=_categories(raw.get("tags")),
    )


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    return stripped or None


def _plain(value: object, limit: int) -> str:
    """Visible text of a short HTML-or-text field: tags stripped, entities decoded, one line."""
    if not isinstance(value, str):
        return ""
    text = _TAG_RE.sub(" ", value) if "<" in value else value
    if "&" in text:
        text = html.unescape(text)
    return _SPACE_RE.sub(" ", text).strip()[:limit]


def _summary(raw: Mapping[str, Any]) -> str:
    # feedparser copies content into `summary` when there is no description: only a real
    # description / atom:summary (which has `summary_detail`) counts as a summary.
    detail = raw.get("summary_detail")
    if not isinstance(detail, Mapping):
        return ""
    value = detail.get("value")
    return _html(value) if isinstance(value, str) else ""


def _content(raw: Mapping[str, Any]) -> str:
    for part in raw.get("content") or ():
        value = part.get("value") if isinstance(part, Mapping) else None
        if isinstance(value, str) and value.strip():
            return _html(value)
    return ""


def _html(value: str) -> str:
    """Bounded HTML; markup escaped twice by the publisher (``&lt;p&gt;``) is unescaped once."""
    value = value.strip()
    if "<" not in value and _ESCAPED_TAG_RE.search(value):
        value = html.unescape(value)
    return value[:MAX_HTML_CHARS]


def _categories(tags: object) -> tuple[str, ...]:
    if not isinstance(tags, Iterable):
        return ()
    seen: dict[str, None] = {}
    for tag in tags:
        term = _plain(tag.get("term") if isinstance(tag, Mapping) else None, 200)
        if term and len(seen) < MAX_CATEGORIES:
            seen.setdefault(term, None)
    return tuple(seen)


def _is_absolute(value: str | None) -> bool:
    return bool(value) and urlsplit(value or "").scheme.lower() in {"http", "https"}


def _link(value: object, base: str) -> str | None:
    """An absolute http(s) URL for `value` resolved against `base`, or None."""
    text = _text(value)
    if text is None or len(text) > MAX_URL_CHARS:
        return None
    try:
        resolved = urljoin(base, text)
        parts = urlsplit(resolved)
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return resolved


def _language(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    primary = re.split(r"[-_\s]", text.lower(), maxsplit=1)[0]
    if not primary.isalpha() or not 2 <= len(primary) <= 3:
        return None
    return "he" if primary == "iw" else primary


def _date(parsed: object, now: datetime) -> datetime | None:
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        value = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if value < EARLIEST_DATE or value > now + FUTURE_TOLERANCE:
        return None
    return value


def _ttl(value: object) -> int | None:
    text = _text(value)
    if text is None or not text.isdigit():
        return None
    seconds = int(text) * 60
    return seconds if 0 < seconds <= _MAX_INTERVAL else None


def _update_period(period: object, frequency: object) -> int | None:
    text = _text(period)
    if text is None:
        return None
    seconds = _PERIODS.get(text.lower())
    if seconds is None:
        return None
    freq_text = _text(frequency) or "1"
    freq = int(freq_text) if freq_text.isdigit() else 1
    return max(seconds // max(freq, 1), 60)


def _describe(exc: object) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        return (
            f"not well-formed XML at line {exc.getLineNumber()}, "
            f"column {exc.getColumnNumber()}: {exc.getMessage()}"
        )
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return "ill-formed feed"


def _not_a_feed_reason(data: bytes) -> str:
    head = data[:8192].decode("utf-8", "replace")
    head = _PROLOG_NOISE_RE.sub("", head).lstrip()
    lowered = head[:4096].lower()
    if "<html" in lowered or "<!doctype html" in lowered or lowered.startswith(("<head", "<body")):
        return "not a feed: the body is an HTML page"
    if not head:
        return "not a feed: the document has no elements"
    if head.startswith(("{", "[")):
        return "not a feed: the body is JSON, not RSS or Atom"
    root = re.match(r"<([A-Za-z_][\w:.-]*)", head)
    if root:
        return f"not a feed: root element <{root.group(1)}> is not rss, rdf:RDF or feed"
    snippet = _SPACE_RE.sub(" ", head[:40])
    return f"not a feed: no XML markup (the body starts with {snippet!r})"
