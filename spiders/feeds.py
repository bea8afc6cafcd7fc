"""The `feeds` spider: poll due feeds with conditional GET and hand entries to the pipelines.

Every fetch ends as exactly one `FetchItem` with a named outcome, yielded after the fetch's
article items; network failures come through the errback, HTTP errors through the callback
(`handle_httpstatus_list`), so nothing is silently dropped by Scrapy's middlewares.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

from scrapy import Request, Spider
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    NotSupported,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.error import DNSLookupError, TCPTimedOutError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from db.engine import get_engine, session_factory
from db.feeds import due_feeds
from monitor.items import ArticleItem, FeedRef, FetchItem
from monitor.outcomes import FetchOutcome
from monitor.parsing import FeedParseError, parse_feed
from monitor.polling import needs_unconditional

# Statuses the callback sees instead of Scrapy's HttpError filter: 304 and every error.
# Redirects (3xx) stay with RedirectMiddleware.
HANDLED_STATUSES = [304, *range(400, 600)]
ERROR_TEXT_LIMIT = 500


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1").strip() if value else None


def classify_failure(failure: Failure) -> tuple[FetchOutcome, str]:
    """Name what went wrong with a request that produced no usable response."""
    exc = failure.value
    text = f"{exc.__class__.__name__}: {exc}"[:ERROR_TEXT_LIMIT]
    if isinstance(exc, CannotResolveHostError | DNSLookupError):
        return FetchOutcome.DNS_ERROR, text
    if isinstance(exc, DownloadTimeoutError | TwistedTimeoutError | TCPTimedOutError):
        return FetchOutcome.TIMEOUT, text
    if isinstance(exc, DownloadCancelledError):
        return FetchOutcome.TOO_LARGE, text
    if isinstance(exc, HttpError) and 300 <= exc.response.status < 400:
        # RedirectMiddleware hands back a redirect it will not follow (file:, data:, ftp:):
        # the feed points somewhere we must not go.
        location = _header(exc.response, "Location") or ""
        return FetchOutcome.REDIRECT_ERROR, f"redirect to {location} refused"[:ERROR_TEXT_LIMIT]
    if isinstance(exc, IgnoreRequest):
        message = str(exc)
        if "robots.txt" in message:
            return FetchOutcome.ROBOTS_DENIED, text
        if "DOWNLOAD_MAXSIZE" in message or "max size" in message:
            return FetchOutcome.TOO_LARGE, text
        if "redirect" in message:
            return FetchOutcome.REDIRECT_ERROR, text
        return FetchOutcome.NETWORK_ERROR, text
    if isinstance(exc, UnsupportedURLSchemeError | NotSupported):
        return FetchOutcome.REDIRECT_ERROR, text
    if isinstance(
        exc, DownloadConnectionRefusedError | DownloadFailedError | ResponseDataLossError
    ):
        return FetchOutcome.NETWORK_ERROR, text
    return FetchOutcome.NETWORK_ERROR, text


class FeedsSpider(Spider):
    name = "feeds"

    async def start(self) -> AsyncIterator[Any]:
        for feed in self._due_feeds():
            yield self.feed_request(feed)

    def _due_feeds(self) -> list[tuple[FeedRef, Any]]:
        settings = self.crawler.settings
        sessions = session_factory(get_engine(settings.get("MONITOR_DATABASE_URL")))
        now = datetime.now(UTC)
        with sessions() as session:
            rows = due_feeds(
                session,
                now,
                slugs=settings.getlist("MONITOR_CRAWL_FEEDS"),
                everything=settings.getbool("MONITOR_CRAWL_ALL"),
            )
            due = []
            for feed, outlet in rows:
                ref = FeedRef.of(feed, outlet)
                validators = {
                    "etag": feed.etag,
                    "last_modified": feed.last_modified,
                    "body_hash": feed.body_hash,
                    "unconditional": needs_unconditional(feed.last_unconditional_at, now),
                }
                due.append((ref, validators))
        self.logger.info("%d feeds due", len(due))
        return due

    def feed_request(self, due: tuple[FeedRef, Any]) -> Request:
        feed, validators = due
        headers: dict[str, str] = {
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
            "text/xml;q=0.8, */*;q=0.1",
        }
        if not validators["unconditional"]:
            if validators["etag"]:
                headers["If-None-Match"] = validators["etag"]
            if validators["last_modified"]:
                headers["If-Modified-Since"] = validators["last_modified"]
        started_at = datetime.now(UTC)
        return Request(
            feed.url,
            callback=self.parse_feed_response,
            errback=self.on_error,
            headers=headers,
            dont_filter=True,
            meta={
                "feed": feed,
                "previous_hash": validators["body_hash"],
                "conditional": "If-None-Match" in headers or "If-Modified-Since" in headers,
                "started_at": started_at,
                "started": time.monotonic(),
                "fetch_key": f"{feed.id}:{started_at.isoformat()}",
                "handle_httpstatus_list": HANDLED_STATUSES,
            },
        )

    def _fetch(self, meta: dict[str, Any], outcome: FetchOutcome, **fields: Any) -> FetchItem:
        return FetchItem(
            feed=meta["feed"],
            fetch_key=meta["fetch_key"],
            started_at=meta["started_at"],
            duration_ms=int((time.monotonic() - meta["started"]) * 1000),
            outcome=outcome,
            conditional=meta["conditional"],
            **fields,
        )

    async def parse_feed_response(self, response: Response) -> AsyncIterator[Any]:
        meta = response.meta
        status = response.status
        common: dict[str, Any] = {
            "http_status": status,
            "bytes": len(response.body),
            "retry_after": _header(response, "Retry-After"),
            "cache_control": _header(response, "Cache-Control"),
        }
        if status == 304:
            yield self._fetch(meta, FetchOutcome.NOT_MODIFIED, **common)
            return
        if status == 429 or (status == 503 and common["retry_after"]):
            yield self._fetch(meta, FetchOutcome.RATE_LIMITED, error=f"HTTP {status}", **common)
            return
        if status >= 400:
            yield self._fetch(meta, FetchOutcome.HTTP_ERROR, error=f"HTTP {status}", **common)
            return
        body_hash = hashlib.sha256(response.body).hexdigest()
        common.update(
            etag=_header(response, "ETag"),
            last_modified=_header(response, "Last-Modified"),
            body_hash=body_hash,
        )
        if body_hash == meta["previous_hash"]:
            yield self._fetch(meta, FetchOutcome.UNCHANGED, **common)
            return
        headers = {
            key.decode("latin-1").lower(): b", ".join(values).decode("latin-1")
            for key, values in response.headers.items()
        }
        try:
            # In a worker thread: a feed of 20,000 items takes seconds to parse, and a reactor
            # blocked that long lets the download timeouts of the other feeds expire.
            parsed = await maybe_deferred_to_future(
                deferToThread(parse_feed, response.body, url=response.url, headers=headers)
            )
        except Exception as exc:  # a parser bug must not cost the fetch its record either
            common["body_hash"] = None  # parse again next time, whatever the body
            error = str(exc) if isinstance(exc, FeedParseError) else f"parser failed: {exc!r}"
            yield self._fetch(
                meta, FetchOutcome.PARSE_ERROR, error=error[:ERROR_TEXT_LIMIT], **common
            )
            return
        feed: FeedRef = meta["feed"]
        seen_at = datetime.now(UTC)
        for entry in parsed.entries:
            yield ArticleItem(feed=feed, entry=entry, seen_at=seen_at, fetch_key=meta["fetch_key"])
        yield self._fetch(
            meta,
            FetchOutcome.OK,
            items_seen=len(parsed.entries),
            feed_ttl_seconds=parsed.ttl_seconds,
            update_period_seconds=parsed.update_period_seconds,
            bozo=parsed.bozo,
            **common,
        )

    def on_error(self, failure: Failure) -> Iterator[FetchItem]:
        outcome, text = classify_failure(failure)
        request = failure.request  # type: ignore[attr-defined]
        self.logger.warning("%s %s: %s", request.meta["feed"].slug, outcome, text)
        yield self._fetch(request.meta, outcome, error=text)
