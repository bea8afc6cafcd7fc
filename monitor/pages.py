"""Article pages for full text (issue 9): what a page request is for and what it ends as.

The values the two sides of the full-text flow exchange, in a home of their own so that
neither imports the other: the enrichment pipeline (`monitor.pipelines.enrich`) builds a
`PageTask` and reads back a `PageEnrichment` or a `PageFailed`; the spider module that
fetches pages (`spiders.fulltext`) builds those from the response. The pipeline gets the
request itself from the factory named by the ``MONITOR_FULLTEXT_REQUEST`` setting, whose
shape is `PageRequestFactory`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from monitor.items import FeedRef
from monitor.parsing import FeedEntry

if TYPE_CHECKING:  # the extractor (trafilatura) loads only where pages are read
    from monitor.extract import Extracted


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


class PageRequestFactory(Protocol):
    """Builds the (Scrapy) request for the page at ``url``: callbacks turn its answer into
    an enrichment item or a `PageFailed`; ``max_bytes`` caps the download and the
    extraction; ``outlet_hosts`` are the hosts the address guard lets it reach."""

    def __call__(
        self, task: PageTask, *, outlet_hosts: frozenset[str], max_bytes: int, url: str
    ) -> Any: ...
