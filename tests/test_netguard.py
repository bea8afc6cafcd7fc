"""monitor.netguard: which article-page URLs the crawler may fetch."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import pytest

from monitor.netguard import (
    Decision,
    GuardReason,
    Lookup,
    check_url,
    classify,
    host_key,
    is_public_address,
    judge,
    registered_hosts,
)

# A DNS table for the tests: names resolve to what the table says, others fail.
DNS: dict[str, list[str]] = {
    "news.example": ["93.184.216.34"],
    "dual.example": ["93.184.216.34", "2606:2800:220:1::248"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],  # one private answer is enough
    "internal.example": ["10.1.2.3"],
    "metadata.example": ["169.254.169.254"],
    "loop.example": ["127.0.0.1"],
    "mapped.example": ["::ffff:192.168.1.10"],
    "cgnat.example": ["100.64.0.7"],
    "empty.example": [],
    "xn--bcher-kva.example": ["93.184.216.35"],
}
CALLS: list[str] = []


def resolve(host: str) -> Sequence[str]:
    CALLS.append(host)
    if host not in DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return DNS[host]


# The outlet of the tests serves its feed on loopback, as the crawl tests do.
OUTLET = registered_hosts(
    ["http://127.0.0.1:8765/feed.xml", "https://www.hespress.example/feed", "ftp://x/"]
)


def test_registered_hosts_keep_ports_and_fold_www() -> None:
    assert registered_hosts(["http://127.0.0.1:8765/feed.xml"]) <= OUTLET
    assert sorted(OUTLET) == ["127.0.0.1:8765", "hespress.example"]


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://www.Hespress.example/a", "hespress.example"),
        ("https://hespress.example.:443/a", "hespress.example"),
        ("http://hespress.example:80/a", "hespress.example"),
        ("http://hespress.example:8080/a", "hespress.example:8080"),
        ("https://hespress.example:80/a", "hespress.example:80"),
        ("http://[::1]:9000/", "::1:9000"),
        ("https://موقع.example/مقال", "xn--4gbrim.example"),
        ("https://דוגמה.example/", "xn--6dbbec0c.example"),
        ("ftp://hespress.example/a", None),
        ("not a url", None),
        ("http://:80/", None),
    ],
)
def test_host_key(url: str, key: str | None) -> None:
    assert host_key(url) == key


@pytest.mark.parametrize(
    ("url", "allowed", "reason"),
    [
        # The outlet's own hosts are trusted wherever they resolve (loopback in tests).
        ("http://127.0.0.1:8765/article/1", True, GuardReason.OUTLET_HOST),
        ("https://hespress.example/politique/1.html", True, GuardReason.OUTLET_HOST),
        ("http://www.hespress.example/politique/1.html", True, GuardReason.OUTLET_HOST),
        # Same loopback host, another port: another server, so not the outlet.
        ("http://127.0.0.1:6379/", False, GuardReason.PRIVATE_ADDRESS),
        ("http://127.0.0.1/", False, GuardReason.PRIVATE_ADDRESS),
        # A subdomain is not the registered host: judged on its addresses.
        ("https://admin.hespress.example/", False, GuardReason.UNRESOLVED),
        # Other hosts: public addresses only.
        ("https://news.example/story", True, GuardReason.PUBLIC_ADDRESS),
        ("https://dual.example/story", True, GuardReason.PUBLIC_ADDRESS),
        ("https://bücher.example/", True, GuardReason.PUBLIC_ADDRESS),
        ("https://rebind.example/", False, GuardReason.PRIVATE_ADDRESS),
        ("http://internal.example/admin", False, GuardReason.PRIVATE_ADDRESS),
        ("http://metadata.example/latest/meta-data/", False, GuardReason.PRIVATE_ADDRESS),
        ("http://loop.example:8765/article/1", False, GuardReason.PRIVATE_ADDRESS),
        ("http://mapped.example/", False, GuardReason.PRIVATE_ADDRESS),
        ("http://cgnat.example/", False, GuardReason.PRIVATE_ADDRESS),
        ("http://empty.example/", False, GuardReason.UNRESOLVED),
        ("http://nowhere.example/", False, GuardReason.UNRESOLVED),
        # Address literals are judged without a lookup.
        ("http://169.254.169.254/latest/", False, GuardReason.PRIVATE_ADDRESS),
        ("http://[::1]:8765/", False, GuardReason.PRIVATE_ADDRESS),
        ("http://[::ffff:7f00:1]/", False, GuardReason.PRIVATE_ADDRESS),
        ("http://93.184.216.34/", True, GuardReason.PUBLIC_ADDRESS),
        ("http://[2606:2800:220:1::248]/", True, GuardReason.PUBLIC_ADDRESS),
        # Schemes and malformed URLs.
        ("file:///etc/passwd", False, GuardReason.BAD_SCHEME),
        ("data:text/html,<p>x</p>", False, GuardReason.BAD_SCHEME),
        ("ftp://news.example/x", False, GuardReason.BAD_SCHEME),
        ("gopher://127.0.0.1:6379/_INFO", False, GuardReason.BAD_SCHEME),
        ("javascript:alert(1)", False, GuardReason.BAD_SCHEME),
        ("/relative/path", False, GuardReason.BAD_SCHEME),
        ("http:///no-host", False, GuardReason.BAD_URL),
        ("http://user:secret@news.example/", False, GuardReason.BAD_URL),
        ("http://news.example:99999/", False, GuardReason.BAD_URL),
        ("http://bad host.example/", False, GuardReason.BAD_URL),
    ],
)
def test_check_url(url: str, allowed: bool, reason: GuardReason) -> None:
    decision = check_url(url, outlet_hosts=OUTLET, resolve=resolve)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_outlet_hosts_and_literals_need_no_lookup() -> None:
    CALLS.clear()
    check_url("http://127.0.0.1:8765/a", outlet_hosts=OUTLET, resolve=resolve)
    check_url("http://10.0.0.1/a", outlet_hosts=OUTLET, resolve=resolve)
    check_url("file:///etc/passwd", outlet_hosts=OUTLET, resolve=resolve)
    assert CALLS == []
    check_url("https://news.example/a", outlet_hosts=OUTLET, resolve=resolve)
    assert CALLS == ["news.example"]


def test_classify_then_judge_is_the_async_path() -> None:
    step = classify("https://www.news.example/a", OUTLET)
    assert step == Lookup("www.news.example")  # the real name is resolved, www. and all
    assert isinstance(step, Lookup)
    ok = judge(step, ["93.184.216.34", "93.184.216.34"])
    assert ok == Decision(True, GuardReason.PUBLIC_ADDRESS, "www.news.example", ("93.184.216.34",))
    refused = judge(step, ["93.184.216.34", "192.168.0.1"])
    assert not refused.allowed
    assert refused.describe() == "private_address www.news.example (93.184.216.34, 192.168.0.1)"
    assert judge(step, []).reason is GuardReason.UNRESOLVED


def test_system_resolver_catches_numeric_spellings_of_loopback() -> None:
    """`127.1` and `2130706433` are not IP literals to Python but are to getaddrinfo; the
    decision runs on what they resolve to."""

    def system(host: str) -> list[str]:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]

    for url in ("http://127.1/", "http://2130706433/", "http://localhost:8765/"):
        decision = check_url(url, outlet_hosts=OUTLET, resolve=system)
        assert decision.reason is GuardReason.PRIVATE_ADDRESS, url
        assert all(not is_public_address(a) for a in decision.addresses)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("2002:808:808::1", True),  # 6to4 around a public address
        ("64:ff9b::808:808", True),  # NAT64 around a public address
        ("127.0.0.1", False),
        ("127.255.0.9", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("255.255.255.255", False),
        ("224.0.0.251", False),
        ("240.0.0.1", False),
        ("192.0.2.10", False),
        ("198.18.0.1", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 around 10.0.0.1
        ("2001:db8::1", False),
        ("not-an-address", False),
        ("", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public
