"""Named outcomes shared by the crawler, the scheduler and the reports."""

from __future__ import annotations

from enum import StrEnum


class FetchOutcome(StrEnum):
    """What one fetch of a feed came to; stored on `fetches.outcome` and `feeds.last_outcome`."""

    OK = "ok"  # 200, parsed, items processed
    NOT_MODIFIED = "not_modified"  # 304 to a conditional GET
    UNCHANGED = "unchanged"  # 200 whose body hash equals the last one
    HTTP_ERROR = "http_error"  # 4xx/5xx other than 429 (status on the fetch row)
    RATE_LIMITED = "rate_limited"  # 429 (or 503 with Retry-After)
    NETWORK_ERROR = "network_error"  # connection refused/reset, TLS failure
    DNS_ERROR = "dns_error"  # host name did not resolve
    TIMEOUT = "timeout"  # no complete answer within the download timeout
    PARSE_ERROR = "parse_error"  # body is not a feed we can read
    TOO_LARGE = "too_large"  # body over the size limit (or a decompression bomb)
    ROBOTS_DENIED = "robots_denied"  # robots.txt forbids the feed URL
    REDIRECT_ERROR = "redirect_error"  # redirect loop, too many hops, or a forbidden target
    STORE_ERROR = "store_error"  # fetched and parsed, but some items could not be stored

    @property
    def is_success(self) -> bool:
        return self in {FetchOutcome.OK, FetchOutcome.NOT_MODIFIED, FetchOutcome.UNCHANGED}


class StoryRole(StrEnum):
    """An article's place in its syndication cluster."""

    ORIGINAL = "original"  # earliest member of the story
    COPY = "copy"  # a later repost of the same text
