"""parse_feed over the samples in tests/data/feeds (see its README) and built hostile inputs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.parsing import (
    MAX_HTML_CHARS,
    MAX_TITLE_CHARS,
    FeedEntry,
    FeedParseError,
    ParsedFeed,
    parse_feed,
)
from monitor.registry import load_registry

FEEDS = Path(__file__).parent / "data" / "feeds"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def parse(name: str, headers: dict[str, str] | None = None) -> ParsedFeed:
    body = (FEEDS / name).read_bytes()
    return parse_feed(body, url=f"https://feeds.example/{name}", headers=headers or {}, now=NOW)


def titles(feed: ParsedFeed) -> list[str]:
    return [entry.title for entry in feed.entries]


def links(feed: ParsedFeed) -> list[str | None]:
    return [entry.link for entry in feed.entries]


def every_text(feed: ParsedFeed) -> str:
    parts = [feed.title, feed.bozo or ""]
    for entry in feed.entries:
        parts += [entry.title, entry.summary_html, entry.content_html, entry.guid or ""]
    return "\n".join(parts)


# --------------------------------------------------------------------------- formats


def test_rss20_arabic_wordpress() -> None:
    feed = parse("rss20-ar-utf8.xml")
    assert (feed.version, feed.title, feed.language) == ("rss20", "هسبريس تجريبي", "ar")
    assert feed.link == "https://www.hespress.example/"
    assert feed.update_period_seconds == 900  # hourly, 4 times
    assert feed.ttl_seconds is None
    assert feed.bozo is None
    assert titles(feed) == [
        "وفد عسكري يزور قاعدة جوية في بنسليمان",
        "أسعار الخضر تستقر في أسواق الدار البيضاء",
    ]
    assert links(feed) == [
        "https://www.hespress.example/%d9%88%d9%81%d8%af-%d8%b9%d8%b3%d9%83%d8%b1%d9%8a-1701001.html",
        "https://www.hespress.example/%D8%A3%D8%B3%D8%B9%D8%A7%D8%B1-1701002.html",
    ]
    first, second = feed.entries
    assert first.guid == "https://www.hespress.example/?p=1701001"
    assert first.author == "هسبريس - و.م.ع"
    assert first.categories == ("سياسة", "دفاع")
    assert first.published == utc(2026, 11, 16, 9, 30)
    assert second.published == utc(2026, 11, 16, 7, 5)  # +0100 converted to UTC
    assert first.summary_html.startswith("<p>حل وفد عسكري رفيع")
    assert "appeared first on" in first.summary_html  # boilerplate is text.py's job
    assert first.content_html == (
        "<p>حل وفد عسكري رفيع بالقاعدة الجوية لبنسليمان في زيارة عمل تدوم ثلاثة أيام.</p>"
        "<p>و.م.ع</p>"
    )
    assert second.content_html == ""
    assert first.language == "ar"


def test_rss20_french_latin1_relative_links_and_ttl() -> None:
    feed = parse("rss20-fr-iso-8859-1.xml")
    assert feed.title == "Le Quotidien d'essai – Maroc"
    assert feed.language == "fr"
    assert feed.ttl_seconds == 1800
    assert feed.link == "https://feeds.example/"  # "/" resolved against the feed URL
    assert titles(feed) == [
        "Rabat : l'équipe nationale prépare la CAN & les éliminatoires",
        "Météo : pluies orageuses attendues sur le Rif",
    ]
    assert links(feed) == [
        "https://feeds.example/sport/equipe-nationale-can-4411.html",
        "https://feeds.example/meteo/pluies-rif-4412.html",
    ]
    assert [e.published for e in feed.entries] == [utc(2026, 11, 17, 18, 45), utc(2026, 11, 17, 6)]
    assert feed.entries[0].summary_html == (
        "Les Lions de l'Atlas entament un stage à Maâmora avant un match « décisif »."
    )
    assert feed.bozo is None


def test_rss20_arabic_windows_1256() -> None:
    feed = parse("rss20-ar-windows-1256.xml")
    assert feed.title == "جريدة الاختبار"
    assert titles(feed) == ["افتتاح معرض الفلاحة بمكناس", "مواقيت الصلاة ليوم الأربعاء"]
    assert links(feed) == ["https://akhbar.example/news/9001", "https://akhbar.example/news/9002"]
    assert [e.published for e in feed.entries] == [utc(2026, 11, 18, 9), utc(2026, 11, 18, 4)]
    assert feed.bozo is None


def test_rss20_hebrew_windows_1255() -> None:
    feed = parse("rss20-he-windows-1255.xml")
    assert feed.title == "חדשות הבדיקה"
    assert titles(feed) == ["משלחת ביטחונית יצאה לרבאט", "תחזית: גשם ברוב אזורי הארץ"]
    assert links(feed) == [
        "https://hadashot.example/article/abc123",
        "https://hadashot.example/article/abc124",
    ]
    assert [e.published for e in feed.entries] == [utc(2026, 11, 19, 10, 30), utc(2026, 11, 19, 4)]
    assert feed.entries[0].summary_html == "משלחת של משרד הביטחון נחתה הבוקר ברבאט לפגישות עבודה."
    assert feed.language == "he"


def test_rss20_hebrew_iso_8859_8_and_opaque_guid() -> None:
    feed = parse("rss20-he-iso-8859-8.xml")
    (entry,) = feed.entries
    assert entry.title == "טיסה ישירה חדשה מתל אביב למרקש"
    assert entry.link == "https://iton.example/tayarut/777"
    assert entry.guid == "iton-777"
    assert entry.published == utc(2026, 11, 20, 7, 15)


def test_rss091_netscape_doctype_and_html_entities() -> None:
    feed = parse("rss091-en.xml")
    assert feed.version == "rss091n"
    assert titles(feed) == [
        "Café owners in Tangier welcome cruise season",
        "Port traffic up 4% in October",
    ]
    assert links(feed) == [
        "http://oldwire.example/stories/101.html",
        "http://oldwire.example/stories/102.html",
    ]
    assert [e.published for e in feed.entries] == [None, None]
    assert [e.guid for e in feed.entries] == [None, None]
    assert feed.entries[0].summary_html == "Harbour cafés expect more visitors this winter."
    assert feed.language == "en"


def test_rss10_rdf() -> None:
    feed = parse("rss10-rdf-fr.xml")
    assert feed.version == "rss10"
    assert feed.title == "Agence d'essai (RDF)"
    assert feed.language == "fr"
    assert feed.update_period_seconds == 21_600  # daily, 4 times
    assert titles(feed) == [
        "Casablanca : ouverture d'un salon de l'aéronautique",
        "Fès : la médina accueille un festival de musiques sacrées",
    ]
    assert links(feed) == [
        "https://agence.example/depeche/501",
        "https://agence.example/depeche/502",
    ]
    # dc:date is a modification date in feedparser's model
    assert [e.updated for e in feed.entries] == [utc(2026, 11, 21, 9), utc(2026, 11, 21, 8, 30)]
    assert feed.entries[0].author == "Rédaction"
    assert feed.entries[0].categories == ("Économie",)


def test_atom10_hebrew_xml_base_and_html_title() -> None:
    feed = parse("atom10-he.xml")
    assert feed.version == "atom10"
    assert feed.title == "יומון הבדיקה"
    assert feed.link == "https://yomon.example/"
    assert feed.language == "he"
    assert titles(feed) == ["שר הביטחון: שיתוף הפעולה עם מרוקו יתרחב", "מכבי ניצחה בדרבי"]
    assert links(feed) == [
        "https://yomon.example/news/2026/11/22/1",
        "https://yomon.example/sport/derby-2026",
    ]
    first, second = feed.entries
    assert first.guid == "tag:yomon.example,2026:1"
    assert (first.published, first.updated) == (utc(2026, 11, 22, 8), utc(2026, 11, 22, 9, 30))
    assert (second.published, second.updated) == (None, utc(2026, 11, 22, 9))
    assert first.author == "כתב מדיני"
    assert first.categories == ("ביטחון",)
    assert first.summary_html == "<p>השר אמר כי ההסכם ייושם בהדרגה.</p>"
    assert first.content_html == (
        '<p>השר אמר כי ההסכם ייושם בהדרגה.</p><p><a href="/news/map">מפה</a></p>'
    )
    assert second.content_html == "<p>ניצחון שני ברציפות.</p>"
    assert [e.language for e in feed.entries] == ["he", "he"]


def test_atom10_english() -> None:
    feed = parse("atom10-en.xml")
    assert feed.title == "Test Times & Review"
    first, second = feed.entries
    assert first.title == "Israeli and Moroccan officers hold joint planning talks"
    assert (
        first.link
        == "https://testtimes.example/joint-planning-talks/?utm_source=rss&utm_medium=feed"
    )
    assert first.guid == "https://testtimes.example/?p=88001"
    assert first.categories == ("Israel & the Region", "Morocco")
    assert first.author == "Staff Writer"
    assert first.published == utc(2026, 11, 23, 7, 15)
    assert second.updated == utc(2026, 11, 23, 11)  # -05:00
    assert second.published is None


# --------------------------------------------------------------------------- encodings


def test_wrong_declaration_utf8_declared_latin1() -> None:
    feed = parse("wrong-declaration-utf8-declared-latin1.xml")
    assert feed.title == "Déclaration fausse"
    assert titles(feed) == ["Les éleveurs d'Azilal célèbrent la transhumance"]
    assert feed.entries[0].summary_html == "Fête à Aït Bouguemez, « une tradition vivante »."
    assert feed.bozo == "declared iso-8859-1 (XML declaration) but decoded as utf-8"


def test_wrong_declaration_1256_declared_utf8() -> None:
    feed = parse("wrong-declaration-1256-declared-utf8.xml")
    assert titles(feed) == ["تدشين محطة لتحلية مياه البحر بأكادير"]
    assert feed.entries[0].published == utc(2026, 11, 21, 10)
    assert feed.bozo == "declared utf-8 (XML declaration), decoded as cp1256"


def test_undeclared_windows_1255_is_recognised() -> None:
    feed = parse("undeclared-windows-1255.xml")
    assert feed.title == "אתר בלי הצהרה"
    assert titles(feed) == ["נמל חיפה מציין שנת שיא"]
    assert feed.entries[0].link == "https://bli.example/item/1"
    assert feed.entries[0].summary_html == "מספר המכולות שעברו בנמל עלה בשנה האחרונה."


def test_utf16_with_bom() -> None:
    feed = parse("utf16le-bom-ar.xml")
    assert feed.title == "نشرة بترميز يونيكود 16"
    (entry,) = feed.entries
    assert entry.title == "الرباط تحتضن ملتقى الصناعات الجوية"
    assert entry.link == "https://nashra.example/n/1"
    assert entry.published == utc(2026, 11, 23, 9)
    assert feed.bozo is None


def test_utf16_big_endian_without_bom() -> None:
    text = (FEEDS / "utf16le-bom-ar.xml").read_bytes()[2:].decode("utf-16-le")
    feed = parse_feed(text.encode("utf-16-be"), url="https://n.example/f", headers={}, now=NOW)
    assert titles(feed) == ["الرباط تحتضن ملتقى الصناعات الجوية"]


def test_utf8_with_bom() -> None:
    feed = parse("utf8-bom-fr.xml")
    assert feed.title == "Journal avec BOM"
    assert titles(feed) == ["Marrakech : ouverture d'une nouvelle ligne de tramway"]
    assert feed.entries[0].published == utc(2026, 11, 23, 8)


def test_http_charset_decides_when_the_body_declares_nothing() -> None:
    body = (FEEDS / "rss20-ar-windows-1256.xml").read_bytes().split(b"?>", 1)[1]
    headers = {"Content-Type": "application/rss+xml; charset=windows-1256"}
    feed = parse_feed(body, url="https://akhbar.example/rss", headers=headers, now=NOW)
    assert titles(feed)[0] == "افتتاح معرض الفلاحة بمكناس"
    assert feed.bozo is None


def test_utf8_body_wins_over_a_latin1_http_charset() -> None:
    body = (FEEDS / "rss20-ar-utf8.xml").read_bytes()
    headers = {"content-type": "text/html; charset=ISO-8859-1"}  # Apache's old default
    feed = parse_feed(body, url="https://h.example/feed", headers=headers, now=NOW)
    assert titles(feed)[0] == "وفد عسكري يزور قاعدة جوية في بنسليمان"
    assert feed.bozo == "declared iso-8859-1 (HTTP) but decoded as utf-8"


def test_iso_8859_8_served_with_http_charset_only() -> None:
    body = (FEEDS / "rss20-he-iso-8859-8.xml").read_bytes().split(b"?>", 1)[1]
    headers = {"content-type": "text/xml; charset=iso-8859-8-i"}
    feed = parse_feed(body, url="https://iton.example/rss", headers=headers, now=NOW)
    assert titles(feed) == ["טיסה ישירה חדשה מתל אביב למרקש"]


def test_content_language_header_is_the_default_language() -> None:
    body = (FEEDS / "utf8-bom-fr.xml").read_bytes()
    feed = parse_feed(body, url="https://b.example/", headers={"Content-Language": "fr-MA"})
    assert feed.language == "fr"
    assert feed.entries[0].language == "fr"


def test_control_characters_and_invalid_utf8() -> None:
    feed = parse("control-chars-invalid-utf8.xml")
    assert feed.title == "Contrôle"
    assert titles(feed) == [
        "Essaouira accueille le festival Gnaoua",
        "Octet invalide \ufffd\ufffd ici",
    ]
    assert links(feed) == ["https://ctrl.example/1", "https://ctrl.example/2"]
    assert feed.entries[0].summary_html == "Programme complet à découvrir."
    assert feed.bozo is not None
    assert "2 invalid utf-8 sequences replaced" in feed.bozo
    assert "2 characters not allowed in XML removed" in feed.bozo


# --------------------------------------------------------------------------- content


def test_entities_and_cdata() -> None:
    feed = parse("entities-cdata-en.xml")
    assert feed.title == "Entities & CDATA — test"
    assert titles(feed) == [
        "Drone maker opens plant & hires 200",
        "Hebrew שלום and Arabic سلام by reference",
        'Double-escaped: Q&A with the minister "live"',
    ]
    assert links(feed) == [
        "https://ent.example/a?id=1&lang=en",
        "https://ent.example/b",
        "https://ent.example/c",
    ]
    first, second, _ = feed.entries
    assert first.summary_html == "<p>The plant &amp; its <em>suppliers</em>.</p>"
    # HTML is returned as published: relative URIs inside it are not rewritten
    assert first.content_html == (
        '<p>Full text with a <a href="/related">relative link</a> &amp; an entity.</p>'
    )
    assert second.summary_html == "Quotes “curly” and an apostrophe’s use."


def test_missing_fields() -> None:
    feed = parse("missing-fields.xml")
    entries = feed.entries
    assert titles(feed) == [
        "No link, guid is a permalink URL",
        "No guid, relative link",
        "Neither link nor guid",
        "Guid is a bare number",
        "Date far in the future",
        "Script link is not a link",
        "",
    ]
    assert links(feed) == [
        "https://manque.example/articles/1",  # the permalink guid stands in
        "https://feeds.example/articles/2",  # relative to the feed URL
        None,
        None,  # "12345" is an identifier, not a relative URL
        "https://manque.example/articles/5",
        None,  # javascript: is never a link
        "https://manque.example/articles/7",
    ]
    assert [e.guid for e in entries] == [
        "https://manque.example/articles/1",
        None,
        None,
        "12345",
        None,
        "manque-6",
        None,
    ]
    assert entries[0].published == utc(2026, 11, 25, 10)
    assert [e.published for e in entries[1:]] == [None] * 6  # missing, unparseable, 2100, 1970
    assert entries[2].summary_html == "Only a title and this text."
    assert entries[6].summary_html == "An item without a title."


def test_ill_formed_feed_still_yields_entries() -> None:
    feed = parse("bozo-ill-formed.xml")
    assert feed.bozo is not None
    assert feed.bozo.startswith("not well-formed XML at line 4")
    assert feed.title == "Mal formé & fier de l'être"
    assert titles(feed) == ["Tanger Med bat un record", "Second item survives"]
    assert links(feed) == ["https://bozo.example/1", "https://bozo.example/2"]
    assert [e.published for e in feed.entries] == [utc(2026, 11, 26, 10), utc(2026, 11, 26, 9)]


def test_feed_without_items_is_a_feed() -> None:
    body = b'<rss version="2.0"><channel><title>Quiet day</title></channel></rss>'
    feed = parse_feed(body, url="https://q.example/feed", headers={})
    assert (feed.version, feed.title, feed.entries) == ("rss20", "Quiet day", ())


def test_values_are_frozen() -> None:
    feed = parse("atom10-en.xml")
    entry: FeedEntry = feed.entries[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.title = "changed"  # type: ignore[misc]


def test_future_dates_are_bounded_by_now() -> None:
    body = (FEEDS / "rss20-he-windows-1255.xml").read_bytes()
    early = datetime(2026, 11, 18, 5, tzinfo=UTC)  # 29.5 h and 23 h before the items
    feed = parse_feed(body, url="https://h.example/", headers={}, now=early)
    assert [e.published for e in feed.entries] == [None, utc(2026, 11, 19, 4)]


# --------------------------------------------------------------------------- sizes


def test_absurd_sizes_are_truncated() -> None:
    title = "ع" * 1_000_000
    body_html = "<p>" + "x" * 300_000 + "</p>"
    body = (
        '<rss version="2.0"><channel><title>t</title><item>'
        f"<title>{title}</title><link>https://s.example/1</link>"
        f"<description><![CDATA[{body_html}]]></description>"
        f"<guid>{'g' * 10_000}</guid>"
        "</item></channel></rss>"
    ).encode()
    (entry,) = parse_feed(body, url="https://s.example/feed", headers={}).entries
    assert entry.title == "ع" * MAX_TITLE_CHARS
    assert len(entry.summary_html) == MAX_HTML_CHARS
    assert entry.guid is not None
    assert len(entry.guid) <= 4096


def test_many_items() -> None:
    items = "".join(
        f"<item><title>خبر {i}</title><link>https://m.example/{i}</link></item>"
        for i in range(3000)
    )
    body = f'<rss version="2.0"><channel><title>m</title>{items}</channel></rss>'.encode()
    feed = parse_feed(body, url="https://m.example/feed", headers={})
    assert len(feed.entries) == 3000
    assert feed.entries[-1].link == "https://m.example/2999"


# --------------------------------------------------------------------------- not feeds


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ((FEEDS / "empty.xml").read_bytes(), "empty body"),
        (b" \r\n\t ", "empty body"),
        ((FEEDS / "not-a-feed.html").read_bytes(), "not a feed: the body is an HTML page"),
        (b"<html><body><p>Moved</p></body></html>", "not a feed: the body is an HTML page"),
        (b'{"version": "https://jsonfeed.org/version/1"}', "not a feed: the body is JSON"),
        (b"<?xml version='1.0'?><sitemap><url/></sitemap>", "not a feed: root element <sitemap>"),
        (bytes(range(256)) * 4, "not a feed: no XML markup"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a feed: no XML markup"),
    ],
)
def test_non_feeds_raise_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(FeedParseError) as caught:
        parse_feed(body, url="https://x.example/feed", headers={"content-type": "text/html"})
    assert str(caught.value).startswith(reason)


# --------------------------------------------------------------------------- hostile


def test_billion_laughs_does_not_expand() -> None:
    feed = parse("billion-laughs.xml")
    text = every_text(feed)
    assert "lollol" not in text
    assert len(text) < 2_000
    assert titles(feed) == ["Expand me &lol9;"]  # the reference stays inert text
    assert feed.bozo is not None
    assert feed.bozo.startswith("9 unsafe entity declarations removed from the DOCTYPE")


def test_billion_laughs_on_one_line_and_in_utf16() -> None:
    text = (FEEDS / "billion-laughs.xml").read_text(encoding="utf-8").replace("\n  <!", "<!")
    for body in (text.encode(), text.encode("utf-16")):
        feed = parse_feed(body, url="https://l.example/", headers={})
        assert "lollol" not in every_text(feed)
        assert titles(feed) == ["Expand me &lol9;"]


def test_xxe_reads_no_local_file() -> None:
    passwd = Path("/etc/passwd")
    feed = parse("xxe-etc-passwd.xml")
    text = every_text(feed)
    assert titles(feed) == ["Leak &passwd;"]
    assert "root:" not in text
    if passwd.exists():
        first_line = passwd.read_text(encoding="utf-8", errors="replace").splitlines()[0]
        assert first_line not in text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_xxe_on_a_local_file_and_through_an_external_dtd(tmp_path: Path, encoding: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-7d41", encoding="utf-8")
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY leak SYSTEM "{secret.as_uri()}">', encoding="utf-8")
    inline = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY leak SYSTEM "{secret.as_uri()}">]>'
        '<rss version="2.0"><channel><title>&leak;</title>'
        "<item><title>a &leak;</title><link>https://e.example/1</link></item></channel></rss>"
    )
    external = (
        f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{dtd.as_uri()}">'
        '<rss version="2.0"><channel><title>&leak;</title>'
        "<item><title>b &leak;</title><link>https://e.example/2</link></item></channel></rss>"
    )
    for doc in (inline, external):
        feed = parse_feed(doc.encode(encoding), url="https://e.example/f", headers={})
        assert "SECRET" not in every_text(feed)
        assert len(feed.entries) == 1


def test_safe_internal_entities_still_work() -> None:
    body = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY outlet "Le Courrier">
<!ENTITY nbsp "&#160;">
]>
<rss version="2.0"><channel><title>&outlet;</title>
<item><title>Dakhla&nbsp;: &outlet; en direct</title><link>https://c.example/1</link></item>
</channel></rss>"""
    feed = parse_feed(body, url="https://c.example/feed", headers={})
    assert feed.title == "Le Courrier"
    assert titles(feed) == ["Dakhla : Le Courrier en direct"]
    assert feed.bozo is None


# --------------------------------------------------------------------------- demo feeds

DEMO = Path(__file__).resolve().parents[1] / "monitor" / "demo"


@pytest.mark.parametrize("path", sorted((DEMO / "feeds").glob("*.xml")), ids=lambda p: p.stem)
def test_bundled_demo_feeds_parse_cleanly(path: Path) -> None:
    feed = parse_feed(path.read_bytes(), url=f"http://127.0.0.1:8000/{path.name}", headers={})
    assert feed.bozo is None
    assert 6 <= len(feed.entries) <= 12
    assert feed.language in {"ar", "fr", "he", "en"}
    assert path.stem.endswith(feed.language)
    for entry in feed.entries:
        assert entry.title
        assert entry.link is not None
        assert entry.link.startswith("https://")
        assert entry.published is not None
        assert (entry.published.year, entry.published.month) == (2026, 11)
        assert entry.summary_html or entry.content_html


def test_demo_registry_names_every_bundled_feed(tmp_path: Path) -> None:
    registry = tmp_path / "feeds.yaml"
    text = (DEMO / "feeds.yaml").read_text(encoding="utf-8")
    registry.write_text(text.replace("{port}", "8123"), encoding="utf-8")
    specs = load_registry(registry)
    served = {p.stem for p in (DEMO / "feeds").glob("*.xml")}
    # Every bundled feed is registered; one more, walla-he, is registered to answer 404.
    assert {spec.id for spec in specs} == served | {"walla-he"}
    assert "walla-he" not in served
    assert all(spec.url == f"http://127.0.0.1:8123/{spec.id}.xml" for spec in specs)
    assert {spec.country for spec in specs} == {"MA", "IL"}
    assert {spec.language for spec in specs} == {"ar", "fr", "he", "en"}
