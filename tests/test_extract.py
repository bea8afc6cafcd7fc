"""monitor.extract: article text and metadata from pages written for the tests.

`tests/data/pages/NAME.html` is a page in one outlet's layout (WordPress themes, a Times of
Israel-like, a Ynet-like, a Drupal-like and a table-layout page; Arabic and Hebrew pages
right-to-left, two in windows-1256/-1255), full of the furniture real pages carry.
`NAME.json` holds the URL it is served at and the expected metadata (or the expected
failure), `NAME.txt` the expected text: the golden test per layout.
"""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.extract import ExtractError, ExtractFailure, ExtractLimits, extract

PAGES = Path(__file__).parent / "data" / "pages"
NAMES = sorted(p.stem for p in PAGES.glob("*.html"))
ARTICLES = [n for n in NAMES if (PAGES / f"{n}.txt").exists()]


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def test_every_layout_and_language_is_covered() -> None:
    langs = {expected(n)["language"] for n in ARTICLES}
    assert langs == {"ar", "fr", "he", "en"}
    assert {n.split("-")[0] for n in ARTICLES} >= {"wp", "toi", "ynet", "i24", "alnas", "maariv"}
    rtl = [
        n for n in ARTICLES if 'dir="rtl"' in (PAGES / f"{n}.html").read_bytes().decode("latin-1")
    ]
    assert len(rtl) >= 4
    assert len(NAMES) - len(ARTICLES) >= 2  # pages without an article


@pytest.mark.parametrize("name", ARTICLES)
def test_golden_text_and_metadata(name: str) -> None:
    want = expected(name)
    got = extract((PAGES / f"{name}.html").read_bytes(), url=want["url"])
    assert got.text == (PAGES / f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")
    assert got.title == want["title"]
    assert got.author == want["author"]
    assert got.canonical_url == want["canonical_url"]
    assert got.credit == want["credit"]
    assert got.origin == want["origin"]
    assert got.language == want["language"]
    assert got.published == datetime.fromisoformat(want["published"])
    assert got.published is not None and got.published.tzinfo is UTC


# Furniture each page carries, by the words a reader would see; none may reach the text.
BOILERPLATE = {
    "wp-ar-hespress": [
        "شارك هذا المقال",
        "فيسبوك",
        "اقرأ أيضا",
        "مقالات ذات صلة",
        "اشترك في النشرة البريدية",
        "أضف تعليقك",
        "لن يتم نشر عنوان بريدك",
        "خطوة مهمة لتقوية",  # a reader's comment
        "عدد المشاهدات",
        "الأكثر قراءة",
        "الوسوم",
        "جميع الحقوق محفوظة",
        "صحافي متخصص",  # author box
        "عاجل",
    ],
    "wp-fr-le360": [
        "Partager",
        "Lire aussi",
        "African Lion",
        "newsletter",
        "Articles similaires",
        "Laisser un commentaire",
        "ne sera pas publiée",
        "Les plus lus",
        "cookies",
        "Temps de lecture",
        "Mots-clés",
    ],
    "toi-en": [
        "Daily Edition",
        "Sign Up",
        "dedicated reader",
        "Join Our Community",
        "Share on",
        "Related Topics",
        "Most Read",
        "Comments",
        "Read more about",
        "Flash90",
        "all rights reserved",
    ],
    "ynet-he": [
        "שתפו",
        "תגובות",
        "הוספת תגובה",
        "חדשות טובות לתעשייה",  # a talkback
        "קראו עוד",
        "הרמטכ״ל המרוקאי",
        "כתבות נוספות",
        "הירשמו לניוזלטר",
        "פרסומת",
        "צילום",
        "הכי נקראות",
        "מבזקים",
        "פורסם",
    ],
    "i24-fr": [
        "À LIRE AUSSI",
        "Maroc-Israël : un accord",
        "Copier le lien",
        "Contenus sponsorisés",
        "Les plus vus",
        "Je m'inscris",
        "Tags",
        "Diplomatie",
    ],
    "alnas-ar-cp1256": [
        "شارك",
        "أرسل لصديق",
        "أخبار ذات صلة",
        "التعليقات",
        "الأكثر قراءة",
        "استطلاع الرأي",
        "قراءات",
        "جميع الحقوق محفوظة",
        "|",
    ],
    "maariv-he-cp1255": [
        "פרסומת",
        "שתפו",
        "עוד בנושא",
        "הצטרפו לערוץ",
        "הנקראים ביותר",
        "כל הזכויות שמורות",
    ],
    "wp-en-jns": [
        "Donate",
        "Facebook",
        "Subscribe to The JNS Daily Syndicate",
        "Related posts",
        "Disqus",
        "Recent Posts",
        "Tags",
        "Skip to content",
    ],
}


@pytest.mark.parametrize("name", ARTICLES)
def test_boilerplate_is_removed_and_paragraphs_kept(name: str) -> None:
    want = expected(name)
    got = extract((PAGES / f"{name}.html").read_bytes(), url=want["url"])
    for phrase in BOILERPLATE[name]:
        assert phrase not in got.text, phrase
    paragraphs = got.text.split("\n\n")
    assert len(paragraphs) >= 4
    assert all(p == p.strip() and "\n" not in p for p in paragraphs)
    # The headline is metadata, not the first paragraph.
    assert paragraphs[0] != want["title"]


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ARTICLES])
def test_pages_without_an_article(name: str) -> None:
    want = expected(name)
    with pytest.raises(ExtractError) as caught:
        extract((PAGES / f"{name}.html").read_bytes(), url=want["url"])
    assert caught.value.reason is ExtractFailure(want["failure"])


def page(body: str, head: str = "", lang: str = "en") -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">{head}</head>'
        f"<body><article>{body}</article></body></html>"
    )


PARAGRAPHS = "".join(
    f"<p>Paragraph {i} of a report on naval cooperation between Morocco and Israel, "
    f"long enough to be article prose rather than a caption or a link.</p>"
    for i in range(4)
)


@pytest.mark.parametrize(
    ("head", "url", "canonical"),
    [
        (
            '<link rel="canonical" href="/a/1?x=1">',
            "https://site.example/feed-link",
            "https://site.example/a/1?x=1",
        ),
        (
            '<link rel="Canonical" href="https://other.example/a">',
            "https://site.example/b",
            "https://other.example/a",
        ),
        (
            '<meta property="og:url" content="https://site.example/og">',
            "https://site.example/b",
            "https://site.example/og",
        ),
        (
            '<link rel="canonical" href="javascript:void(0)">'
            '<meta property="og:url" content="//site.example/og">',
            "https://site.example/b",
            "https://site.example/og",
        ),
        (
            '<link rel="canonical amphtml" href="https://site.example/&amp;c">',
            "https://site.example/b",
            "https://site.example/&c",
        ),
        ("", "https://site.example/b", None),
    ],
)
def test_canonical_url(head: str, url: str, canonical: str | None) -> None:
    assert extract(page(PARAGRAPHS, head), url=url).canonical_url == canonical


@pytest.mark.parametrize(
    ("head", "published"),
    [
        (
            '<meta property="article:published_time" content="2024-03-01T10:00:00+01:00">',
            datetime(2024, 3, 1, 9, tzinfo=UTC),
        ),
        (
            '<meta itemprop="datePublished" content="2024-03-01T10:00:00Z">',
            datetime(2024, 3, 1, 10, tzinfo=UTC),
        ),
        (
            '<script type="application/ld+json">{"@graph": [{"@type": "WebPage"}, '
            '{"@type": "NewsArticle", "datePublished": "2024-03-01T23:30:00-04:00"}]}</script>',
            datetime(2024, 3, 2, 3, 30, tzinfo=UTC),
        ),
        # No offset, or no time: the feed's own time is better than a guess.
        ('<meta property="article:published_time" content="2024-03-01T10:00:00">', None),
        ('<meta property="article:published_time" content="2024-03-01">', None),
        ('<meta property="article:published_time" content="yesterday">', None),
        ('<script type="application/ld+json">{not json</script>', None),
    ],
)
def test_published_time_only_with_an_offset(head: str, published: datetime | None) -> None:
    assert extract(page(PARAGRAPHS, head), url="https://site.example/a").published == published


def test_time_element_in_the_article() -> None:
    body = '<time class="entry-date published" datetime="2024-05-05T08:00:00+03:00">5 May</time>'
    got = extract(page(body + PARAGRAPHS), url="https://site.example/a")
    assert got.published == datetime(2024, 5, 5, 5, tzinfo=UTC)


def test_container_named_like_furniture_is_kept_when_it_holds_the_article() -> None:
    html = (
        '<html><body><div class="post-share-meta">' + PARAGRAPHS + "</div>"
        '<div class="share-bar">Share on Facebook</div></body></html>'
    )
    got = extract(html, url="https://site.example/a")
    assert got.text.count("Paragraph") == 4
    assert "Facebook" not in got.text


def test_data_table_inside_the_article_stays_a_table() -> None:
    table = (
        "<table><tr><th>Year</th><th>System</th><th>Contracts</th></tr>"
        "<tr><td>2022</td><td>Drones</td><td>3</td></tr>"
        "<tr><td>2023</td><td>Air defence</td><td>5</td></tr></table>"
    )
    got = extract(page(PARAGRAPHS + table), url="https://site.example/a")
    rows = [line for line in got.text.splitlines() if "2023" in line]
    assert len(rows) == 1
    assert rows[0].split("|")[1:4] == [" 2023 ", " Air defence ", " 5 "]
    assert got.text.count("Paragraph") == 4


def test_charset_from_http_header_wins_over_a_wrong_meta() -> None:
    html = page(
        "<p>"
        + "وقع المغرب وإسرائيل اتفاقية جديدة للتعاون العسكري تشمل التكوين وتبادل الخبرات. " * 3
        + "</p>",
        head='<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">',
        lang="ar",
    ).replace('<meta charset="utf-8">', "")
    got = extract(
        html.encode("cp1256"),
        url="https://site.example/a",
        content_type="text/html; charset=windows-1256",
    )
    assert got.text.startswith("وقع المغرب وإسرائيل")


def test_undeclared_legacy_encoding_is_sniffed() -> None:
    hebrew = (
        "<p>"
        + "משלחת של קצינים ממרוקו ביקרה במפעל ביטחוני בישראל ונפגשה עם מהנדסים ומנהלים. " * 4
        + "</p>"
    )
    html = f'<html dir="rtl"><head></head><body><article>{hebrew}</article></body></html>'
    got = extract(html.encode("cp1255"), url="https://site.example/a")
    assert "משלחת של קצינים ממרוקו" in got.text


@pytest.mark.parametrize(
    ("body", "limits", "reason"),
    [
        (b"", ExtractLimits(), ExtractFailure.NOT_HTML),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
            ExtractLimits(),
            ExtractFailure.NOT_HTML,
        ),
        (page(PARAGRAPHS).encode(), ExtractLimits(max_bytes=100), ExtractFailure.TOO_LARGE),
        (
            page(PARAGRAPHS + "<span>x</span>" * 500).encode(),
            ExtractLimits(max_elements=300),
            ExtractFailure.TOO_LARGE,
        ),
        (
            page("<p>Only a headline and one short sentence.</p>").encode(),
            ExtractLimits(),
            ExtractFailure.NO_ARTICLE,
        ),
        (b'{"json": "not a page"}', ExtractLimits(), ExtractFailure.NOT_HTML),
    ],
)
def test_failures_are_named(body: bytes, limits: ExtractLimits, reason: ExtractFailure) -> None:
    with pytest.raises(ExtractError) as caught:
        extract(body, url="https://site.example/a", limits=limits)
    assert caught.value.reason is reason


BIG = page(
    PARAGRAPHS * 400
    + "".join(f"<div class='c{i}'><span>cell {i}</span></div>" for i in range(3000))
)


def test_deadline_interrupts_a_long_extraction_and_restores_the_signal() -> None:
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(ExtractError) as caught:
        extract(BIG, url="https://site.example/a", limits=ExtractLimits(deadline_seconds=1e-4))
    assert caught.value.reason is ExtractFailure.TIMEOUT
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    # The same page within the default bounds extracts.
    assert extract(BIG, url="https://site.example/a").text.count("Paragraph 3") == 400


def test_deadline_outside_the_main_thread_is_checked_between_stages() -> None:
    outcome: list[BaseException | str] = []

    def run() -> None:
        try:
            extract(BIG, url="https://site.example/a", limits=ExtractLimits(deadline_seconds=1e-4))
        except ExtractError as exc:
            outcome.append(exc.reason)
        except BaseException as exc:  # pragma: no cover - reported by the assert
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert outcome == [ExtractFailure.TIMEOUT]


def test_someone_elses_alarm_handler_is_left_alone() -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        got = extract(page(PARAGRAPHS), url="https://site.example/a")
        assert got.text.count("Paragraph") == 4
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert fired == []
    finally:
        signal.signal(signal.SIGALRM, previous)
