"""canonical_url / url_host: real link patterns of the monitored outlets, table-driven."""

from __future__ import annotations

import pytest

from monitor.urls import canonical_url, url_host

HESPRESS_SLUG = "%D8%A8%D9%8A%D8%AA-%D9%85%D8%A7%D9%84-%D8%A7%D9%84%D9%82%D8%AF%D8%B3-1701642.html"

# (input, expected key): each pair is one rule; comments name the outlet pattern it comes from.
CASES = [
    # Hespress: WordPress percent-encoded Arabic slugs, lower-case hex as served
    (
        "https://www.hespress.com/"
        "%d8%a8%d9%8a%d8%aa-%d9%85%d8%a7%d9%84-%d8%a7%d9%84%d9%82%d8%af%d8%b3-1701642.html",
        f"https://hespress.com/{HESPRESS_SLUG}",
    ),
    # ... the same slug in upper-case hex, over http
    (f"http://hespress.com/{HESPRESS_SLUG}", f"https://hespress.com/{HESPRESS_SLUG}"),
    # ... and as raw Unicode (how a browser or a share button writes it)
    (
        "https://www.hespress.com/بيت-مال-القدس-1701642.html",
        f"https://hespress.com/{HESPRESS_SLUG}",
    ),
    # TelQuel: items link to the mobile. host, sometimes with a trailing slash
    (
        "https://mobile.telquel.ma/2026/03/24/spas-de-luxe-au-maroc_1980215/",
        "https://telquel.ma/2026/03/24/spas-de-luxe-au-maroc_1980215",
    ),
    (
        "https://telquel.ma/2026/03/24/spas-de-luxe-au-maroc_1980215",
        "https://telquel.ma/2026/03/24/spas-de-luxe-au-maroc_1980215",
    ),
    # Yabiladi: utm tags on every feed link
    (
        "https://www.yabiladi.com/articles/details/160123/maroc-israel.html"
        "?utm_source=rss_yabiladi&utm_medium=rss&utm_campaign=rss",
        "https://yabiladi.com/articles/details/160123/maroc-israel.html",
    ),
    # Jerusalem Post: article ids, AMP variant
    (
        "https://www.jpost.com/israel-news/article-732684",
        "https://jpost.com/israel-news/article-732684",
    ),
    (
        "https://www.jpost.com/israel-news/article-732684/amp",
        "https://jpost.com/israel-news/article-732684",
    ),
    # Ynet: case-sensitive article ids are kept as they are
    (
        "https://www.ynet.co.il/news/article/Hyl8j9jbwe#autoplay",
        "https://ynet.co.il/news/article/Hyl8j9jbwe",
    ),
    (
        "https://m.ynet.co.il/news/article/Hyl8j9jbwe?fbclid=IwAR0abc",
        "https://ynet.co.il/news/article/Hyl8j9jbwe",
    ),
    # old Ynet form: commas are sub-delimiters, kept literally
    (
        "http://www.ynet.co.il/articles/0,7340,L-5123456,00.html",
        "https://ynet.co.il/articles/0,7340,L-5123456,00.html",
    ),
    # Hebrew slug, raw and encoded
    ("https://www.maariv.co.il/news/שלום", "https://maariv.co.il/news/%D7%A9%D7%9C%D7%95%D7%9D"),
    (
        "https://www.maariv.co.il/news/%d7%a9%d7%9c%d7%95%d7%9d",
        "https://maariv.co.il/news/%D7%A9%D7%9C%D7%95%D7%9D",
    ),
    # AMP host and AMP query markers
    ("https://amp.le360.ma/politique/article-283451", "https://le360.ma/politique/article-283451"),
    ("https://le360.ma/politique/article-283451?amp", "https://le360.ma/politique/article-283451"),
    (
        "https://le360.ma/politique/article-283451?amp=1",
        "https://le360.ma/politique/article-283451",
    ),
    ("https://fr.le360.ma/a?outputType=amp", "https://fr.le360.ma/a"),
    # feed markers only dropped when the value says "feed"; other values are kept
    ("https://www.medias24.com/a.html?ref=rss", "https://medias24.com/a.html"),
    ("https://www.medias24.com/a.html?from=RSS&source=rss", "https://medias24.com/a.html"),
    ("https://www.medias24.com/a.html?ref=homepage", "https://medias24.com/a.html?ref=homepage"),
    ("https://www.h24info.ma/a/?rss", "https://h24info.ma/a"),
    # AT Internet / Xiti, Mailchimp, campaign ids
    (
        "https://www.i24news.tv/fr/actu/maroc?xtor=RSS-1&at_medium=rss&at_campaign=x&cmpid=9",
        "https://i24news.tv/fr/actu/maroc",
    ),
    ("https://www.timesofisrael.com/a/?mc_cid=1&mc_eid=2&gclid=3", "https://timesofisrael.com/a"),
    # kept query parameters are sorted and their escapes normalised
    (
        "https://en.globes.co.il/en/article?iID=942&did=1001",
        "https://en.globes.co.il/en/article?did=1001&iID=942",
    ),
    ("https://example.com/s?q=%d8%a8&z=1", "https://example.com/s?q=%D8%A8&z=1"),
    ("https://example.com/s?q=ب&z=1", "https://example.com/s?q=%D8%A8&z=1"),
    # case of scheme and host, default ports, dot segments, user info, root path
    ("HTTP://WWW.Example.COM:80/a/./b/../c", "https://example.com/a/c"),
    ("https://example.com:443", "https://example.com/"),
    ("https://user:secret@example.com/x", "https://example.com/x"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
    # an escaped delimiter is not the delimiter; an escaped unreserved character is
    ("https://example.com/a%2Fb", "https://example.com/a%2Fb"),
    ("https://example.com/%7Euser/%41", "https://example.com/~user/A"),
    # internationalised host names: Unicode and punycode give one key
    ("https://www.مثال.إختبار/خبر", "https://xn--mgbh0fb.xn--kgbechtv/%D8%AE%D8%A8%D8%B1"),
    (
        "https://xn--mgbh0fb.xn--kgbechtv/%d8%ae%d8%a8%d8%b1",
        "https://xn--mgbh0fb.xn--kgbechtv/%D8%AE%D8%A8%D8%B1",
    ),
    # two labels stay two labels: m.com is a domain, not a mobile variant
    ("https://m.com/x", "https://m.com/x"),
    # not http(s): returned as is
    ("mailto:desk@example.com", "mailto:desk@example.com"),
    ("javascript:alert(1)", "javascript:alert(1)"),
]


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(("url", "_expected"), CASES)
def test_canonical_url_is_idempotent(url: str, _expected: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_relative_links_resolve_against_base() -> None:
    base = "https://www.hespress.com/feed"
    assert canonical_url("/politique/x-1.html?utm_source=rss", base) == (
        "https://hespress.com/politique/x-1.html"
    )
    assert canonical_url("x-2.html", "https://alnas.ma/news/") == "https://alnas.ma/news/x-2.html"
    assert canonical_url("//www.jpost.com/a", None) == "https://jpost.com/a"


def test_tracking_variants_of_one_article_share_one_key() -> None:
    variants = [
        "https://www.yabiladi.com/articles/details/160123/maroc.html?utm_source=rss_yabiladi",
        "http://yabiladi.com/articles/details/160123/maroc.html",
        "https://m.yabiladi.com/articles/details/160123/maroc.html/#comments",
        "https://www.yabiladi.com/articles/details/160123/maroc.html?fbclid=x&utm_medium=social",
    ]
    assert len({canonical_url(v) for v in variants}) == 1


def test_distinct_articles_keep_distinct_keys() -> None:
    keys = {
        canonical_url("https://www.jpost.com/israel-news/article-732684"),
        canonical_url("https://www.jpost.com/israel-news/article-732685"),
        canonical_url("https://fr.hespress.com/a-1.html"),
        canonical_url("https://www.hespress.com/a-1.html"),
        canonical_url("https://en.globes.co.il/article?iID=942"),
        canonical_url("https://en.globes.co.il/article?iID=943"),
    }
    assert len(keys) == 6


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://mobile.telquel.ma/2026/03/24/x", "telquel.ma"),
        ("https://www.hespress.com/feed", "hespress.com"),
        ("https://fr.hespress.com/feed", "fr.hespress.com"),
        ("http://WWW.YNET.CO.IL:8080/x", "ynet.co.il"),
        ("https://www.مثال.إختبار/", "xn--mgbh0fb.xn--kgbechtv"),
        ("//amp.jpost.com/a", "jpost.com"),
        ("not a url", ""),
        ("", ""),
    ],
)
def test_url_host(url: str, host: str) -> None:
    assert url_host(url) == host
