"""Downloader middleware: every request and every redirect hop judged by `monitor.netguard`.

Which hosts a request may reach:

* an article page request carries its outlet's registered hosts in
  ``meta["netguard_hosts"]`` (set by `spiders.fulltext.page_request`): it may go there, or
  to hosts that resolve only to public addresses;
* any other request that is a redirect hop (``meta["redirect_urls"]``, set by Scrapy's
  RedirectMiddleware) may stay on the host it started from, or go to public addresses;
* requests the crawl starts itself (feed URLs from the registry, robots.txt of a host
  already judged) are the registry's choice and pass.

A redirected request is scheduled again from the top of the middleware chain, so each hop
comes through here before robots.txt is asked or a connection is opened. The middleware
sits before RobotsTxtMiddleware (100) so that a refused host does not even get a robots.txt
request.

Names are resolved with the reactor's own resolver, the one the download will connect
with: Scrapy's caching resolver answers the connection from the entry this check filled, so
a name cannot resolve to a public address here and to a private one a moment later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Self

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHostResolution, IResolutionReceiver
from zope.interface import implementer  # type: ignore[import-untyped]

from monitor.netguard import Decision, classify, judge, registered_hosts

AsyncResolver = Callable[[str], Awaitable[list[str]]]


class NetGuardRefused(IgnoreRequest):
    """The guard refused the request; `decision` says which host and addresses, and why."""

    def __init__(self, url: str, decision: Decision, *, redirect: bool) -> None:
        hop = "redirect to " if redirect else ""
        super().__init__(f"netguard refused {hop}{url}: {decision.describe()}")
        self.decision = decision


@implementer(IResolutionReceiver)
class _Addresses:
    """Collects the addresses of one name resolution into a Deferred."""

    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.done: Deferred[list[str]] = Deferred()

    def resolutionBegan(self, resolution: IHostResolution) -> None:
        return None

    def addressResolved(self, address: Any) -> None:
        host = getattr(address, "host", None)
        if isinstance(host, str):
            self.addresses.append(host)

    def resolutionComplete(self) -> None:
        self.done.callback(self.addresses)


async def reactor_resolve(host: str) -> list[str]:
    """Resolve with the running reactor's resolver (Scrapy installs its caching one); a
    failed lookup gives no addresses."""
    from twisted.internet import reactor  # the running reactor; never installed from here

    receiver = _Addresses()
    reactor.nameResolver.resolveHostName(receiver, host, portNumber=0)
    return await maybe_deferred_to_future(receiver.done)


class NetGuardMiddleware:
    """Refuse requests to hosts that are neither the outlet's nor public (see module doc)."""

    def __init__(self, stats: Any, resolve: AsyncResolver = reactor_resolve) -> None:
        self.stats = stats
        self.resolve = resolve

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        # No switch of its own: a safety check should not be one undeclared setting away
        # from off (DOWNLOADER_MIDDLEWARES can still remove it, visibly).
        return cls(crawler.stats)

    async def process_request(self, request: Request) -> None:
        hosts: frozenset[str] | None = request.meta.get("netguard_hosts")
        redirects: list[str] = request.meta.get("redirect_urls") or []
        if hosts is None:
            if not redirects:
                return None
            hosts = registered_hosts(redirects[:1])
        step = classify(request.url, hosts)
        decision = (
            step if isinstance(step, Decision) else judge(step, await self.resolve(step.host))
        )
        self.stats.inc_value(f"monitor/netguard/{'allowed' if decision.allowed else 'refused'}")
        if not decision.allowed:
            self.stats.inc_value(f"monitor/netguard/refused/{decision.reason}")
            raise NetGuardRefused(request.url, decision, redirect=bool(redirects))
        return None
