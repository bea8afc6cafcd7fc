"""May the crawler fetch this URL for an article page? (issues 8 and 9, "Safety")

A feed item's link, or a redirect on the way to it, is chosen by someone else. Fetching it
blindly would let a feed make the crawler read our own network: the database, Redis, a
cloud metadata service on 169.254.169.254, an admin page on 127.0.0.1. The rule:

* only ``http`` and ``https``, with a host and without credentials in the URL;
* a host registered for the outlet (the hosts of its feed URLs in the registry, port
  included when it is not the default one, ``www.`` folded) is trusted wherever it
  resolves: that is the outlet's own choice, and it is what lets tests run on loopback;
* any other host must resolve, and every address it resolves to must be public: not
  loopback, private, link-local, carrier-grade NAT, multicast, reserved, documentation or
  unspecified, including those addresses wrapped in IPv6 (``::ffff:10.0.0.1``, 6to4, NAT64).

The decision runs on addresses, not on spellings, so ``127.1``, ``2130706433`` or a name
whose DNS record says 10.0.0.5 are caught once resolved. The resolver is a parameter: the
crawler's middleware resolves asynchronously and calls :func:`judge` on the result; tests
pass a table. Pure: no sockets are opened here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "Decision",
    "GuardReason",
    "Lookup",
    "Resolver",
    "check_url",
    "classify",
    "host_key",
    "is_public_address",
    "judge",
    "registered_hosts",
]

# host name -> the addresses it resolves to, as strings; raises OSError when it does not.
Resolver = Callable[[str], Sequence[str]]

_SCHEMES: Final = frozenset({"http", "https"})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052, RFC 8215).
_NAT64: Final = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
)
_SHARED_V4: Final = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598


class GuardReason(StrEnum):
    """Why a URL was allowed or refused; refusals are recorded on the article."""

    OUTLET_HOST = "outlet_host"  # allowed: a host registered for the outlet
    PUBLIC_ADDRESS = "public_address"  # allowed: resolves only to public addresses
    BAD_SCHEME = "bad_scheme"  # refused: not http or https (file:, data:, ftp:, gopher:)
    BAD_URL = "bad_url"  # refused: no host, credentials in the URL, unparseable
    UNRESOLVED = "unresolved"  # refused: the host did not resolve
    PRIVATE_ADDRESS = "private_address"  # refused: resolves to a non-public address


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one URL, with the host and the addresses it was judged on."""

    allowed: bool
    reason: GuardReason
    host: str = ""
    addresses: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for logs and the article's failure record."""
        where = f" {self.host}" if self.host else ""
        addresses = f" ({', '.join(self.addresses)})" if self.addresses else ""
        return f"{self.reason}{where}{addresses}"


@dataclass(frozen=True, slots=True)
class Lookup:
    """The URL alone does not decide: resolve ``host``, then call :func:`judge`."""

    host: str


def host_key(url: str) -> str | None:
    """The host identity of an http(s) URL: ``host`` or ``host:port`` for a non-default
    port, lower case, IDNA-encoded, trailing dot and ``www.`` removed. None when the URL has no
    usable host or is not http(s)."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = _normal_host(parts.hostname or "")
        port = parts.port
    except (ValueError, UnicodeError):
        return None
    if not host or scheme not in _SCHEMES:
        return None
    host = host.removeprefix("www.")
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return host
    return f"{host}:{port}"


def registered_hosts(urls: Iterable[str]) -> frozenset[str]:
    """The trusted host keys of an outlet, from its registered (feed) URLs."""
    return frozenset(key for key in map(host_key, urls) if key)


def classify(url: str, outlet_hosts: frozenset[str]) -> Decision | Lookup:
    """Decide what the URL alone decides; otherwise say which host to resolve."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        raw_host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return Decision(False, GuardReason.BAD_URL)
    if scheme not in _SCHEMES:
        return Decision(False, GuardReason.BAD_SCHEME)
    if parts.username is not None or parts.password is not None:
        return Decision(False, GuardReason.BAD_URL, raw_host)
    try:
        host = _normal_host(raw_host)
    except UnicodeError:
        return Decision(False, GuardReason.BAD_URL, raw_host)
    if not host or not _plausible_host(host):
        return Decision(False, GuardReason.BAD_URL, raw_host)
    if host_key(url) in outlet_hosts:
        return Decision(True, GuardReason.OUTLET_HOST, host)
    literal = _ip_literal(raw_host)
    if literal is not None:
        return judge(Lookup(host), [literal])
    return Lookup(host)


def judge(lookup: Lookup, addresses: Sequence[str]) -> Decision:
    """Allow a host that is not the outlet's only if it resolved, and only to public
    addresses (one private address is enough to refuse: the connection may pick it)."""
    found = tuple(dict.fromkeys(a.strip() for a in addresses if a.strip()))
    if not found:
        return Decision(False, GuardReason.UNRESOLVED, lookup.host)
    if all(is_public_address(a) for a in found):
        return Decision(True, GuardReason.PUBLIC_ADDRESS, lookup.host, found)
    return Decision(False, GuardReason.PRIVATE_ADDRESS, lookup.host, found)


def check_url(url: str, *, outlet_hosts: frozenset[str], resolve: Resolver) -> Decision:
    """:func:`classify`, then resolve with ``resolve`` and :func:`judge` when needed."""
    step = classify(url, outlet_hosts)
    if isinstance(step, Decision):
        return step
    try:
        addresses = resolve(step.host)
    except (OSError, UnicodeError):
        return Decision(False, GuardReason.UNRESOLVED, step.host)
    return judge(step, addresses)


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address; False for anything else, including
    text that is not an address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and any(ip in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(str(embedded))
        if ip.is_site_local:
            return False
    elif ip in _SHARED_V4:
        return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback
    )


def _normal_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if host and not host.isascii():
        host = host.encode("idna").decode("ascii")
    return host


def _plausible_host(host: str) -> bool:
    # Letters, digits, dots, hyphens, underscores; colons only inside an IPv6 literal.
    return all(c.isalnum() or c in ".-_:" for c in host) and host.isascii()


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return None
