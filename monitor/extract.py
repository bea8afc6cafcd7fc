"""Article page HTML -> the article's text and metadata (issue 9, "Extract").

The extractor is trafilatura: it is maintained, it scores at the top of the public
main-text extraction benchmarks, it reads the metadata we need (title, author from meta,
JSON-LD and bylines) and it is language-agnostic, which matters for Arabic and Hebrew
pages. It sits behind this module's typed boundary; nothing else imports it.

Around it we add what a crawler fed by the open web needs:

* bounds: a byte cap, an element cap and a wall-clock deadline, so one hostile page
  costs a bounded time and memory;
* decoding by HTTP header, BOM or ``<meta charset>`` (windows-1256 and -1255 pages exist);
* boilerplate removal before extraction (share bars, related articles, newsletter boxes,
  comment and talkback sections, promotions, captions) by class and id names, guarded so
  the element holding the article is never removed, and layout tables unwrapped;
* after extraction: the title line dropped from the text, and the text passed through
  :func:`monitor.text.clean_text` (the same boilerplate rules as feed text);
* the page's own canonical URL (``<link rel=canonical>``, then ``og:url``) and a
  publication time only when the page states it with a UTC offset.

Pure: bytes in, :class:`Extracted` out, or :class:`ExtractError` with a named reason.
"""

from __future__ import annotations

import html
import itertools
import json
import logging
import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import FrameType
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

from charset_normalizer import from_bytes
from lxml import etree
from w3lib.encoding import html_to_unicode

from monitor import optional
from monitor.credits import split_credit
from monitor.text import clean_text, fold

__all__ = [
    "DEFAULT_LIMITS",
    "ExtractError",
    "ExtractFailure",
    "ExtractLimits",
    "Extracted",
    "extract",
]

# The extractor logs each page it gives up on at ERROR level; here that is a named outcome
# (ExtractError) recorded on the article, so its own log lines would only be noise.
for _name in ("trafilatura", "htmldate", "courlan"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


def _trafilatura() -> Any:
    """The extractor, imported on first use: a crawl with no full-text feed never loads it,
    and an install without it fails here with one line (`optional.MissingDependency`)."""
    return optional.load(optional.FULLTEXT)


class ExtractFailure(StrEnum):
    """Why a page gave no article; stored on the article's full-text status."""

    NOT_HTML = "not_html"  # empty, binary, or not parseable as HTML
    TOO_LARGE = "too_large"  # over the byte or element cap
    TIMEOUT = "timeout"  # over the extraction deadline
    NO_ARTICLE = "no_article"  # an index, a wall or a stub: no article text on the page


class ExtractError(Exception):
    """The page could not give an article; ``reason`` says why."""

    def __init__(self, reason: ExtractFailure, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ExtractLimits:
    """Bounds on one extraction. The defaults fit news pages (50-500 kB, < 10k elements)."""

    max_bytes: int = 4 * 1024 * 1024
    max_elements: int = 60_000
    deadline_seconds: float = 5.0
    # Below these the page is a stub, an index or a wall rather than an article.
    min_chars: int = 200
    min_longest_paragraph: int = 80


DEFAULT_LIMITS: Final = ExtractLimits()


@dataclass(frozen=True, slots=True)
class Extracted:
    """An article read from its page.

    ``text`` is display text (paragraphs separated by ``"\\n\\n"``, boilerplate removed,
    credit line kept as published); ``credit``/``origin`` are that credit line and its
    normalised source when there is one. ``published`` is tz-aware UTC, or None when the
    page gives no time with an offset. ``canonical_url`` is absolute http(s), as the page
    declares it (not yet folded by :func:`monitor.urls.canonical_url`).
    """

    text: str
    title: str | None
    author: str | None
    published: datetime | None
    canonical_url: str | None
    credit: str | None = None
    origin: str | None = None
    language: str | None = None  # primary subtag of <html lang>, lower case


def extract(
    body: bytes | str,
    *,
    url: str,
    content_type: str | None = None,
    limits: ExtractLimits = DEFAULT_LIMITS,
) -> Extracted:
    """Extract the article from one page. Raises :class:`ExtractError`, nothing else.

    ``url`` is the page's final URL (relative canonical links resolve against it);
    ``content_type`` the HTTP header, for its charset.
    """
    size = len(body)
    if size > limits.max_bytes:
        raise ExtractError(ExtractFailure.TOO_LARGE, f"{size} bytes")
    if not size:
        raise ExtractError(ExtractFailure.NOT_HTML, "empty body")
    started = time.monotonic()
    try:
        with _deadline(limits.deadline_seconds):
            return _extract(body, url, content_type, limits, started)
    except _DeadlineExceeded:
        raise ExtractError(ExtractFailure.TIMEOUT, f"over {limits.deadline_seconds}s") from None


def _extract(
    body: bytes | str, url: str, content_type: str | None, limits: ExtractLimits, started: float
) -> Extracted:
    text_html = body if isinstance(body, str) else _decode(body, content_type)
    if "\x00" in text_html[:4096]:
        raise ExtractError(ExtractFailure.NOT_HTML, "binary content")
    tree = _trafilatura().load_html(text_html)
    if tree is None or not isinstance(tree.tag, str):
        raise ExtractError(ExtractFailure.NOT_HTML, "no HTML tree")
    elements = sum(1 for _ in tree.iter())
    if elements > limits.max_elements:
        raise ExtractError(ExtractFailure.TOO_LARGE, f"{elements} elements")
    if _is_noindex(tree):
        raise ExtractError(ExtractFailure.NO_ARTICLE, "page asks not to be indexed")

    meta = _trafilatura().extract_metadata(
        tree, default_url=url, date_config={"extensive_search": False, "original_date": True}
    )
    canonical = _canonical_url(tree, url)
    published = _published(tree)
    language = _language(tree)

    _unwrap_layout_tables(tree)
    _prune_boilerplate(tree)
    # A soft check for callers where the hard deadline cannot be armed (not the main thread).
    if time.monotonic() - started > limits.deadline_seconds:
        raise _DeadlineExceeded
    doc = _trafilatura().bare_extraction(
        tree,
        url=url,
        with_metadata=False,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        deduplicate=False,
    )
    raw = getattr(doc, "text", None) or ""
    title = _one_line(meta.title)
    paragraphs = _paragraphs(raw, title)
    text = clean_text("".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs))
    kept = [p for p in text.split("\n\n") if p.strip()]
    if len(text) < limits.min_chars or max(map(len, kept), default=0) < (
        limits.min_longest_paragraph
    ):
        raise ExtractError(ExtractFailure.NO_ARTICLE, f"{len(text)} characters of text")
    credit = split_credit(text)
    return Extracted(
        text=text,
        title=title,
        author=_one_line(meta.author),
        published=published,
        canonical_url=canonical,
        credit=credit.line,
        origin=credit.origin,
        language=language,
    )


# ---------------------------------------------------------------------------------------
# bounds
# ---------------------------------------------------------------------------------------


class _DeadlineExceeded(BaseException):
    """Raised by the alarm handler. A BaseException so that the extractor's own
    ``except Exception`` blocks cannot swallow it."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt the enclosed code after ``seconds`` of wall-clock time.

    Uses a real-time interval timer, which only the main thread can receive; elsewhere, or
    when another component already handles SIGALRM, only the soft check in ``_extract``
    applies. The previous handler and timer state are restored on exit.
    """
    usable = (
        seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN)
    )
    if not usable:
        yield
        return

    def _on_alarm(signum: int, frame: FrameType | None) -> None:
        raise _DeadlineExceeded

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _decode(body: bytes, content_type: str | None) -> str:
    """Decode as a browser would: BOM, HTTP charset, ``<meta>`` declaration, then UTF-8
    when the bytes are valid UTF-8, else a statistical guess (undeclared legacy pages)."""
    _, text = html_to_unicode(content_type, body, auto_detect_fun=_sniff)
    return text


def _sniff(body: bytes) -> str | None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(body[:65536]).best()
        return best.encoding if best is not None else None
    return "utf-8"


# ---------------------------------------------------------------------------------------
# metadata the extractor does not give in the form we need
# ---------------------------------------------------------------------------------------


def _attr_values(tree: Any, xpath: str) -> list[str]:
    return [str(v).strip() for v in tree.xpath(xpath) if str(v).strip()]


def _canonical_url(tree: Any, base: str) -> str | None:
    """``<link rel=canonical>`` first (what the outlet declares), then ``og:url``."""
    candidates = _attr_values(
        tree,
        "//link[contains(concat(' ', translate(@rel, 'CANONIL', 'canonil'), ' '),"
        " ' canonical ')]/@href",
    ) + _attr_values(tree, "//meta[@property='og:url' or @name='og:url']/@content")
    for href in candidates:
        absolute = urljoin(base, html.unescape(href))
        parts = urlsplit(absolute)
        if parts.scheme in ("http", "https") and parts.hostname:
            return absolute
    return None


_PUBLISHED_META: Final = (
    "//meta[@property='article:published_time' or @name='article:published_time'"
    " or @itemprop='datePublished' or @name='pubdate' or @name='publishdate'"
    " or @name='parsely-pub-date' or @name='dc.date.issued' or @name='DC.date.issued']"
    "/@content"
)
_MAX_JSON_LD: Final = 200_000


def _published(tree: Any) -> datetime | None:
    """The publication time the page states with an offset, in UTC.

    Date-only and naive values are ignored: guessing their zone could move an article to
    another day, and the feed's own time is better then.
    """
    candidates = _attr_values(tree, _PUBLISHED_META)
    for script in tree.xpath("//script[@type='application/ld+json']/text()"):
        if len(script) <= _MAX_JSON_LD:
            candidates.extend(_json_ld_dates(script))
    candidates += _attr_values(
        tree,
        "//time[@itemprop='datePublished' or @pubdate or contains(@class,'published')]/@datetime",
    )
    for value in candidates:
        when = _parse_time(value)
        if when is not None:
            return when
    return None


def _json_ld_dates(script: str) -> list[str]:
    try:
        data = json.loads(script)
    except ValueError:
        return []
    found: list[str] = []
    stack: list[Any] = [data]
    while stack and len(found) < 10:
        node = stack.pop()
        if isinstance(node, dict):
            value = node.get("datePublished")
            if isinstance(value, str):
                found.append(value)
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(node[:50])
    return found


def _parse_time(value: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None or when.utcoffset() is None:
        return None
    return when.astimezone(UTC)


def _language(tree: Any) -> str | None:
    for value in _attr_values(tree, "/html/@lang | /html/@xml:lang"):
        primary = value.split("-")[0].split("_")[0].lower()
        if primary.isalpha() and 2 <= len(primary) <= 3:
            return primary
    return None


def _is_noindex(tree: Any) -> bool:
    values = _attr_values(tree, "//meta[translate(@name, 'ROBTS', 'robts')='robots']/@content")
    return any("noindex" in v.lower() for v in values)


def _one_line(value: str | None) -> str | None:
    return " ".join(value.split()) or None if value else None


# ---------------------------------------------------------------------------------------
# boilerplate out of the tree
# ---------------------------------------------------------------------------------------


def _wordset(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# Words in class and id names that mark site furniture, as sites spell them
# (jp-relatedposts, sharedaddy, addtoany, yarpp, ArticleTalkbacksComponent, OUTBRAIN).
_BOILERPLATE_WORDS: Final = _wordset(
    "share shares sharing sharedaddy addtoany social related relatedposts yarpp "
    "newsletter subscribe subscription comment comments respond disqus talkback talkbacks "
    "promo pitch community outbrain taboola breadcrumb breadcrumbs tags cookie consent "
    "advert advertisement ad ads banner sidebar widget caption credit credits views "
    "popular meta date info"
)
# The same as adjacent word pairs (read-also, ReadMore, most_viewed, TopStories).
_BOILERPLATE_PAIRS: Final = frozenset(
    {
        ("read", "also"),
        ("read", "more"),
        ("see", "also"),
        ("most", "read"),
        ("most", "viewed"),
        ("most", "popular"),
        ("top", "stories"),
        ("more", "articles"),
        ("author", "box"),
        ("author", "bio"),
    }
)
_NAME_WORD: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# An element holding this share of the page's text is the article, whatever its name.
_ARTICLE_SHARE: Final = 0.5
# Containers that hold the article itself; never pruned by name.
_KEEP_TAGS: Final = frozenset({"html", "body", "main", "article"})


def _is_furniture_name(value: str) -> bool:
    words = [w.lower() for w in _NAME_WORD.findall(value)]
    if any(w in _BOILERPLATE_WORDS for w in words):
        return True
    return any(pair in _BOILERPLATE_PAIRS for pair in itertools.pairwise(words))


def _text_length(el: Any) -> int:
    return sum(len(t.strip()) for t in el.itertext())


def _prune_boilerplate(tree: Any) -> None:
    """Remove elements whose class or id names them as site furniture, unless they hold
    most of the page's text (a theme may name the article container "post-meta-share")."""
    body = tree.find("body")
    total = _text_length(body if body is not None else tree)
    doomed = []
    for el in tree.iter(etree.Element):
        if el.tag in _KEEP_TAGS:
            continue
        names = f"{el.get('class', '')} {el.get('id', '')}"
        if names.strip() and _is_furniture_name(names):
            doomed.append(el)
    for el in doomed:
        parent = el.getparent()
        if parent is None or _text_length(el) > _ARTICLE_SHARE * total:
            continue
        tail = el.tail
        parent.remove(el)
        if tail and tail.strip():
            # Keep text that followed the element in its parent.
            prev = parent[-1] if len(parent) else None
            if prev is not None:
                prev.tail = (prev.tail or "") + tail
            else:
                parent.text = (parent.text or "") + tail


_LAYOUT_ROWS: Final = "./tr | ./tbody/tr | ./thead/tr | ./tfoot/tr"
_BLOCKS: Final = ".//div | .//p | .//h1 | .//h2 | .//h3 | .//ul | .//ol | .//form | .//table"


def _unwrap_layout_tables(tree: Any) -> None:
    """Turn tables used for page layout (cells holding blocks) into plain blocks, so the
    extractor reads their text as paragraphs instead of as a data table. Data tables
    (cells of inline text) stay tables."""
    for table in list(tree.iter("table")):
        rows = table.xpath(_LAYOUT_ROWS)
        cells = [cell for row in rows for cell in row if cell.tag in ("td", "th")]
        if table.get("role") != "presentation" and not any(c.xpath(_BLOCKS) for c in cells):
            continue
        for el in [table, *table.xpath("./tbody | ./thead | ./tfoot"), *rows, *cells]:
            el.tag = "div"
            for attr in ("colspan", "rowspan", "valign", "width", "cellpadding", "cellspacing"):
                el.attrib.pop(attr, None)


# ---------------------------------------------------------------------------------------
# text
# ---------------------------------------------------------------------------------------


def _paragraphs(raw: str, title: str | None) -> list[str]:
    """The extractor's lines as paragraphs, without leading repeats of the title."""
    lines = [" ".join(line.split()) for line in raw.splitlines()]
    lines = [line for line in lines if line]
    title_key = fold(title) if title else ""
    while lines and title_key and fold(lines[0]) == title_key:
        lines.pop(0)
    return lines
