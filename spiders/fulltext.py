"""Article pages for `fulltext` feeds: the request, and what its answer becomes (issue 9).

`page_request` builds the request the enrichment stage schedules once an article of a
`fulltext: true` feed is stored from its feed. It goes through the same downloader as feeds
(robots.txt, one request at a time per host, User-Agent, timeout), with a page-sized cap,
a low priority so feeds go first, the outlet's hosts for the address guard
(`spiders.middlewares.NetGuardMiddleware`) and a cookie jar of the outlet's own.

The callback turns the page into an `ArticleItem` carrying the feed entry with the page's
text as its content: that item runs through the same pipeline stages as a feed item
(normalise, identify, cluster, tag, store), so the article is re-normalised, re-clustered
and re-tagged by the same code. Any failure becomes a `PageFailed` item instead, recorded on
the article by `monitor.pipelines.enrich`; the feed's text stays.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from twisted.python.failure import Failure

from monitor.extract import Extracted, ExtractError, ExtractLimits, extract
from monitor.items import PAGE_FETCH_PREFIX, ArticleItem, FeedRef
from monitor.parsing import FeedEntry
from spiders.feeds import classify_failure
from spiders.middlewares import NetGuardRefused

# Below feed requests (priority 0): a crawl's feeds are all fetched before its pages.
PAGE_PRIORITY = -10
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "text/plain")
ERROR_TEXT_LIMIT = 500


class PageFailure(StrEnum):
    """Why a page gave no text; stored (with detail) in `articles.fulltext_error`."""

    HTTP_ERROR = "http_error"  # 4xx/5xx
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    DNS_ERROR = "dns_error"
    TOO_LARGE = "too_large"
    ROBOTS_DENIED = "robots_denied"
    REFUSED = "refused"  # the address guard: not the outlet's host nor a public address
    REDIRECT_ERROR = "redirect_error"  # a loop, too many hops, or a scheme without handler
    NOT_HTML = "not_html"
    NO_ARTICLE = "no_article"
    EXTRACT_TIMEOUT = "extract_timeout"

    @property
    def is_permanent(self) -> bool:
        """Failures a retry cannot fix: the guard and robots.txt say no on purpose."""
        return self in {PageFailure.REFUSED, PageFailure.ROBOTS_DENIED}


@dataclass(frozen=True)
class PageTask:
    """What a page request is for: one revision of one stored article."""

    article_id: int
    revision: int  # the article's revision when the page was asked for
    content_hash: str  # the feed's content hash of that revision
    feed_body_chars: int  # length of the text the feed gave
    feed: FeedRef
    entry: FeedEntry


@dataclass(frozen=True)
class PageEnrichment:
    """Carried in `ArticleItem.notes["fulltext"]` of an item built from a page."""

    task: PageTask
    extracted: Extracted
    final_url: str  # after redirects


@dataclass(frozen=True)
class PageFailed:
    """An item saying the page of `task` gave no text, and why."""

    task: PageTask
    reason: PageFailure
    detail: str


def page_request(
    task: PageTask, *, outlet_hosts: frozenset[str], max_bytes: int, url: str
) -> Request:
    """The request for the article page at `url` (the entry's link)."""
    return Request(
        url,
        callback=parse_page,
        errback=page_failed,
        priority=PAGE_PRIORITY,
        # Our own bookkeeping makes it once per revision; the dupefilter must not drop it
        # silently (the article would stay "pending" without a recorded outcome).
        dont_filter=True,
        headers={"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"},
        meta={
            "fulltext": task,
            "netguard_hosts": outlet_hosts,
            # Only used when COOKIES_ENABLED: one jar per outlet, never shared between them.
            "cookiejar": f"outlet:{task.feed.outlet_id}",
            "download_maxsize": max_bytes,
            "download_warnsize": max_bytes,
            "handle_httpstatus_list": list(range(400, 600)),
        },
    )


def parse_page(response: Response) -> Iterator[Any]:
    """The page's text as an enrichment item, or a `PageFailed`."""
    task: PageTask = response.meta["fulltext"]
    if response.status >= 400:
        yield PageFailed(task, PageFailure.HTTP_ERROR, f"HTTP {response.status}")
        return
    content_type = _header(response, "Content-Type")
    if content_type and not content_type.split(";")[0].strip().lower().startswith(HTML_TYPES):
        yield PageFailed(task, PageFailure.NOT_HTML, content_type[:100])
        return
    limits = ExtractLimits(max_bytes=response.meta.get("download_maxsize") or 4 * 1024 * 1024)
    try:
        page = extract(response.body, url=response.url, content_type=content_type, limits=limits)
    except ExtractError as exc:
        reason = {
            "not_html": PageFailure.NOT_HTML,
            "too_large": PageFailure.TOO_LARGE,
            "timeout": PageFailure.EXTRACT_TIMEOUT,
        }.get(exc.reason, PageFailure.NO_ARTICLE)
        yield PageFailed(task, reason, exc.detail[:ERROR_TEXT_LIMIT])
        return
    yield ArticleItem(
        feed=task.feed,
        entry=enriched_entry(task.entry, page),
        seen_at=datetime.now(UTC),
        fetch_key=f"{PAGE_FETCH_PREFIX}{task.article_id}:{task.revision}",
        notes={"fulltext": PageEnrichment(task, page, response.url)},
    )


def page_failed(failure: Failure) -> Iterator[PageFailed]:
    """Network failures, timeouts, robots.txt and guard refusals, named."""
    request = failure.request  # type: ignore[attr-defined]
    task: PageTask = request.meta["fulltext"]
    exc = failure.value
    if isinstance(exc, NetGuardRefused):
        yield PageFailed(task, PageFailure.REFUSED, str(exc)[:ERROR_TEXT_LIMIT])
        return
    if isinstance(exc, IgnoreRequest) and "robots.txt" in str(exc):
        yield PageFailed(task, PageFailure.ROBOTS_DENIED, str(exc)[:ERROR_TEXT_LIMIT])
        return
    outcome, text = classify_failure(failure)
    reason = {
        "timeout": PageFailure.TIMEOUT,
        "dns_error": PageFailure.DNS_ERROR,
        "too_large": PageFailure.TOO_LARGE,
        "redirect_error": PageFailure.REDIRECT_ERROR,
    }.get(str(outcome), PageFailure.NETWORK_ERROR)
    yield PageFailed(task, reason, text)


def enriched_entry(entry: FeedEntry, page: Extracted) -> FeedEntry:
    """The feed entry with the page's text as its content. The feed's title, link, guid
    and dates stay (they carry the article's identity); the page fills what the feed left
    empty (author, date)."""
    content = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in page.text.split("\n\n"))
    return replace(
        entry,
        content_html=content,
        author=entry.author or page.author,
        published=entry.published or page.published,
    )


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1").strip() if value else None
