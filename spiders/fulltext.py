"""Article pages for `fulltext` feeds: the request, and what its answer becomes (issue 9).

`page_request` builds the request the enrichment stage schedules once an article of a
`fulltext: true` feed is stored from its feed (the stage finds it through the
MONITOR_FULLTEXT_REQUEST setting, and the values both exchange live in `monitor.pages`, so
pipelines import no spider module). It goes through the same downloader as feeds
(robots.txt, one request at a time per host, User-Agent, timeout), with a page-sized cap,
a low priority so feeds go first, the outlet's hosts for the address guard
(`spiders.middlewares.NetGuardMiddleware`) and a cookie jar of the outlet's own.

The callback extracts the page in a worker thread (`monitor.extract` may take seconds, which
must not hold the reactor) and turns it into an `ArticleItem` carrying the feed entry with
the page's text as its content: that item runs through the same pipeline stages as a feed
item (normalise, identify, cluster, tag, store), so the article is re-normalised,
re-clustered and re-tagged by the same code. Any failure becomes a `PageFailed` item
instead, recorded on the article by `monitor.pipelines.enrich`; the feed's text stays.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import DeferredSemaphore
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from monitor.extract import Extracted, ExtractError, ExtractLimits, extract
from monitor.items import PAGE_FETCH_PREFIX, ArticleItem
from monitor.pages import PageEnrichment, PageFailed, PageFailure, PageRequestFactory, PageTask
from monitor.parsing import FeedEntry
from spiders.feeds import classify_failure
from spiders.middlewares import NetGuardRefused

# Below feed requests (priority 0): a crawl's feeds are all fetched before its pages.
PAGE_PRIORITY = -10
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "text/plain")
ERROR_TEXT_LIMIT = 500
# Extraction is CPU-bound Python (one core at a time under the GIL): more threads would not
# go faster, and would hold the reactor's thread pool, which also resolves host names.
EXTRACTIONS = DeferredSemaphore(2)


def page_request(
    task: PageTask, *, outlet_hosts: frozenset[str], max_bytes: int, url: str
) -> Request:
    """The request for the article page at `url` (the entry's link): a
    `monitor.pages.PageRequestFactory`, named in the MONITOR_FULLTEXT_REQUEST setting."""
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


async def parse_page(response: Response) -> AsyncIterator[Any]:
    """The page's text as an enrichment item, or a `PageFailed`."""
    task: PageTask = response.meta["fulltext"]
    if response.status >= 400:
        yield PageFailed(task, PageFailure.HTTP_ERROR, f"HTTP {response.status}")
        return
    content_type = _header(response, "Content-Type")
    if content_type and not content_type.split(";")[0].strip().lower().startswith(HTML_TYPES):
        yield PageFailed(task, PageFailure.NOT_HTML, content_type[:100])
        return
    limits = ExtractLimits(max_bytes=response.meta["download_maxsize"])
    try:
        # In a worker thread: a page may take seconds to extract, and a reactor blocked that
        # long lets the download timeouts of the feeds still in flight expire.
        page = await maybe_deferred_to_future(
            EXTRACTIONS.run(
                deferToThread,
                extract,
                response.body,
                url=response.url,
                content_type=content_type,
                limits=limits,
            )
        )
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


_FACTORY: PageRequestFactory = page_request  # checked by mypy against the protocol
