"""monitor.digest: building (filter, group, order, count) and rendering (text, safe HTML)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import lxml.html
import pytest

from monitor.digest import (
    OTHER,
    Digest,
    DigestSettings,
    Member,
    Story,
    TagHit,
    Window,
    build_digest,
    plain_text,
    render_digest,
    safe_url,
    truncate,
)

END = datetime(2025, 6, 11, 6, 0, tzinfo=UTC)  # 07:00 in Casablanca (UTC+1 outside Ramadan)
WINDOW = Window(END - timedelta(days=1), END)
SETTINGS = DigestSettings()
FILTER = ["defense-cooperation"]


def member(
    outlet: str,
    country: str,
    lang: str,
    title: str,
    hours_ago: float,
    *tags: TagHit,
    **extra: object,
) -> Member:
    seen = END - timedelta(hours=hours_ago)
    url = f"https://{outlet.lower().replace(' ', '')}.example/{abs(hash(title)) % 10**8}"
    fields: dict[str, object] = {
        "outlet": outlet,
        "country": country,
        "lang": lang,
        "title": title,
        "url": url,
        "seen_at": seen,
        "published_at": seen - timedelta(minutes=10),
        "tags": tags,
        **extra,
    }
    return Member(**fields)  # type: ignore[arg-type]


def umbrella(*terms: str) -> TagHit:
    return TagHit("defense-cooperation", 2.0, terms)


AR_VISIT = "رئيس أركان الجيش الإسرائيلي يزور الرباط لبحث التعاون العسكري"
HE_DEAL = "ישראל ומרוקו חתמו על עסקת לוויין ריגול בשווי מיליארד דולר"
FR_EXERCISE = "Les FAR et Tsahal participent à l'exercice African Lion"
EN_INDUSTRY = "Elbit opens a drone factory near Casablanca"


def sample_stories() -> list[Story]:
    """Four tagged stories in four languages, one untagged, one only umbrella-tagged."""
    visit = Story(
        1,
        (
            member(
                "Hespress",
                "MA",
                "ar",
                AR_VISIT,
                20,
                umbrella("التعاون العسكري"),
                TagHit("military-visit", 3.0, ("رئيس أركان", "يزور")),
                credit="و.م.ع",
                origin="map",
                is_original=True,
                excerpt="<p>حلّ رئيس أركان الجيش الإسرائيلي <b>بالرباط</b> في زيارة رسمية.</p>",
            ),
            member("Le360", "MA", "ar", AR_VISIT, 19, credit="و.م.ع", origin="map"),
            member("Barlamane", "MA", "ar", AR_VISIT, 18, origin="map"),
            member("Times of Israel", "IL", "en", "IDF chief visits Rabat", 10),
        ),
    )
    deal = Story(
        2,
        (
            member(
                "Ynet",
                "IL",
                "he",
                HE_DEAL,
                5,
                umbrella("עסקת"),
                TagHit("arms-deal", 2.5, ("עסקת לוויין",)),
                TagHit("intelligence", 3.5, ("לוויין ריגול",)),
                excerpt="ישראל ומרוקו חתמו על עסקה למכירת לוויין תצפית.",
            ),
            member("Maariv", "IL", "he", HE_DEAL, 4),
        ),
    )
    exercise = Story(
        3,
        (
            member(
                "Le360",
                "MA",
                "fr",
                FR_EXERCISE,
                2,
                umbrella("Tsahal"),
                TagHit("joint-exercise", 4.0, ("exercice", "African Lion")),
                excerpt="L'exercice réunit des unités marocaines et israéliennes.",
            ),
        ),
    )
    industry = Story(
        4,
        (
            member(
                "Globes",
                "IL",
                "en",
                EN_INDUSTRY,
                1,
                TagHit("defense-industry", 2.0, ("drone factory",)),
            ),
        ),
    )
    weather = Story(5, (member("Yabiladi", "MA", "fr", "Météo : chaleur à Marrakech", 3),))
    general = Story(
        6,
        (member("i24news", "IL", "fr", "Coopération Maroc-Israël : bilan", 6, umbrella("bilan")),),
    )
    return [weather, industry, exercise, deal, visit, general]


def build(stories: list[Story] | None = None, **settings: object) -> Digest:
    chosen = sample_stories() if stories is None else stories
    return build_digest(chosen, WINDOW, FILTER, replace(SETTINGS, **settings))  # type: ignore[arg-type]


def entries_by_id(digest: Digest) -> dict[int, tuple[str, int]]:
    """story id -> (section slug, position in that section)."""
    return {
        entry.story_id: (section.slug, index)
        for section in digest.sections
        for index, entry in enumerate(section.entries)
    }


# --- building ----------------------------------------------------------------------------


def test_stories_are_grouped_under_their_strongest_subtopic() -> None:
    placed = entries_by_id(build())
    assert placed[1][0] == "military-visit"
    assert placed[2][0] == "intelligence"  # 3.5 beats arms-deal's 2.5
    assert placed[3][0] == "joint-exercise"
    assert placed[4][0] == "defense-industry"  # a subtopic tag implies the umbrella
    assert placed[6][0] == OTHER
    assert 5 not in placed  # untagged
    sections = [s.slug for s in build().sections]
    assert sections == [
        "military-visit",
        "intelligence",
        "joint-exercise",
        "defense-industry",
        OTHER,
    ]


def test_equal_scores_follow_the_subtopic_order() -> None:
    tie = Story(
        9,
        (
            member(
                "Hespress",
                "MA",
                "ar",
                "صفقة أسلحة وزيارة",
                3,
                TagHit("security-agreement", 2.0),
                TagHit("arms-deal", 2.0),
            ),
        ),
    )
    assert entries_by_id(build([tie]))[9][0] == "arms-deal"


def test_tag_filter() -> None:
    assert set(entries_by_id(build_digest(sample_stories(), WINDOW, [], SETTINGS))) == {
        1,
        2,
        3,
        4,
        5,
        6,
    }
    only_visits = build_digest(sample_stories(), WINDOW, ["military-visit"], SETTINGS)
    assert set(entries_by_id(only_visits)) == {1}
    assert build_digest(sample_stories(), WINDOW, ["no-such-tag"], SETTINGS).is_empty


def test_importance_orders_by_outlets_then_countries_then_recency() -> None:
    def story(story_id: int, hours_ago: float, *outlets: tuple[str, str]) -> Story:
        hit = TagHit("arms-deal", 1.0)
        return Story(
            story_id,
            tuple(member(o, c, "fr", f"Story {story_id}", hours_ago, hit) for o, c in outlets),
        )

    stories = [
        story(1, 1, ("Le360", "MA")),  # one outlet, newest
        story(2, 9, ("Le360", "MA"), ("Hespress", "MA")),  # two outlets, one country
        story(3, 12, ("Le360", "MA"), ("Ynet", "IL")),  # two outlets, both countries
        story(4, 20, ("Le360", "MA"), ("Ynet", "IL"), ("Hespress", "MA")),  # three outlets
        story(5, 2, ("Hespress", "MA")),  # one outlet, older than story 1
    ]
    (section,) = build(stories).sections
    assert [e.story_id for e in section.entries] == [4, 3, 2, 1, 5]


def test_entry_has_original_carriers_credit_excerpt_and_evidence() -> None:
    digest = build()
    entry = next(e for s in digest.sections for e in s.entries if e.story_id == 1)
    assert entry.original.outlet == "Hespress"
    assert entry.title == AR_VISIT
    assert (entry.lang, entry.dir) == ("ar", "rtl")
    assert [c.outlet for c in entry.carriers] == ["Le360", "Barlamane", "Times of Israel"]
    assert entry.outlet_count == 4
    assert entry.countries == ("IL", "MA")
    assert (entry.credit, entry.origin) == ("و.م.ع", "map")
    assert entry.excerpt == "حلّ رئيس أركان الجيش الإسرائيلي بالرباط في زيارة رسمية."
    assert entry.terms == ("التعاون العسكري", "رئيس أركان", "يزور")
    # Times are shown in the digest's zone: 20 h before 06:00 UTC is 11:00 in Casablanca.
    assert entry.original.when.strftime("%d %H:%M") == "10 10:50"


def test_earliest_member_is_the_original_when_none_is_marked() -> None:
    late = member("Le360", "MA", "fr", "Accord", 1, umbrella())
    early = member("Hespress", "MA", "fr", "Accord", 5, umbrella())
    (section,) = build([Story(7, (late, early))]).sections
    assert section.entries[0].original.outlet == "Hespress"
    assert [c.outlet for c in section.entries[0].carriers] == ["Le360"]


def test_a_publication_time_in_the_future_does_not_count() -> None:
    liar = member(
        "Hespress", "MA", "fr", "Accord", 5, umbrella(), published_at=END + timedelta(days=30)
    )
    assert liar.when == liar.seen_at


def test_carriers_are_bounded_and_one_per_outlet() -> None:
    members = [
        member(f"Outlet {i:02}", "MA", "ar", "خبر", 20 - i / 10, umbrella()) for i in range(30)
    ]
    members.append(
        member("Outlet 05", "MA", "ar", "خبر", 1, umbrella())
    )  # second item, same outlet
    (section,) = build([Story(8, tuple(members))], max_carriers=12).sections
    entry = section.entries[0]
    assert len(entry.carriers) == 12
    assert entry.more_carriers == 29 - 12
    assert entry.outlet_count == 30


def test_counts_per_country_and_language() -> None:
    digest = build()
    assert digest.story_count == 5
    assert digest.article_count == 9
    assert dict(digest.by_country) == {"MA": 4, "IL": 5}
    assert dict(digest.by_language) == {"ar": 3, "he": 2, "en": 2, "fr": 2}
    assert digest.by_country[0] == ("IL", 5)  # most first


def test_digest_date_is_the_local_date_of_the_window_end() -> None:
    late = Window(
        datetime(2025, 6, 10, 23, 30, tzinfo=UTC) - timedelta(days=1),
        datetime(2025, 6, 10, 23, 30, tzinfo=UTC),
    )
    digest = build_digest([], late, FILTER, SETTINGS)
    assert digest.date.isoformat() == "2025-06-11"  # 00:30 in Casablanca


def test_too_many_stories_are_counted_not_shown() -> None:
    stories = [
        Story(i, (member("Le360", "MA", "fr", f"Accord {i}", i / 10, umbrella()),))
        for i in range(1, 11)
    ]
    digest = build(stories, max_stories=4)
    assert digest.story_count == 10
    assert digest.omitted == 6
    assert [e.story_id for e in digest.sections[0].entries] == [1, 2, 3, 4]
    assert "6 less prominent stories not shown" in render_digest(digest).text
    # Only the shown ones count as mailed: a later copy may still bring the others.
    assert digest.shown_story_ids == {1, 2, 3, 4}


@pytest.mark.parametrize(("send_when_empty", "expected"), [(True, True), (False, False)])
def test_nothing_new(send_when_empty: bool, expected: bool) -> None:
    digest = build([], send_when_empty=send_when_empty)
    assert digest.is_empty
    assert digest.should_send is expected
    rendered = render_digest(digest)
    assert rendered.subject == "Defence digest 2025-06-11: nothing new"
    assert "Nothing new" in rendered.text
    assert "Nothing new" in rendered.html
    assert len(rendered.text) < 600


# --- rendering ---------------------------------------------------------------------------


def test_subject_has_the_date_and_counts() -> None:
    assert render_digest(build()).subject == (
        "Defence digest 2025-06-11: 5 stories, 9 articles (Israel 5, Morocco 4)"
    )


def test_text_part_lists_each_story_once_in_its_language() -> None:
    text = render_digest(build()).text
    for title in (AR_VISIT, HE_DEAL, FR_EXERCISE, EN_INDUSTRY):
        assert text.count(title) == 1, title
    assert "Météo" not in text
    assert "\u2068" + AR_VISIT + "\u2069" in text  # isolated so it stays RTL in a LTR line
    assert "\u2068" + HE_DEAL + "\u2069" in text
    assert "\u2068" + FR_EXERCISE not in text
    assert "By country: Israel 5, Morocco 4" in text
    assert "== Military visits (1) ==" in text
    assert "credit \u2068و.م.ع\u2069 · from MAP" in text
    assert "Also carried by:" in text


def test_html_marks_direction_and_language_per_headline() -> None:
    document = lxml.html.document_fromstring(render_digest(build()).html)
    headlines = {h.text_content().strip(): h for h in document.iter("h3")}
    assert set(headlines) >= {AR_VISIT, HE_DEAL, FR_EXERCISE, EN_INDUSTRY}
    for title, lang, direction in [
        (AR_VISIT, "ar", "rtl"),
        (HE_DEAL, "he", "rtl"),
        (FR_EXERCISE, "fr", "auto"),
        (EN_INDUSTRY, "en", "auto"),
    ]:
        assert headlines[title].get("lang") == lang
        assert headlines[title].get("dir") == direction
    excerpts = [p for p in document.iter("p") if p.get("lang") in {"ar", "he"}]
    assert len(excerpts) == 2 and all(p.get("dir") == "rtl" for p in excerpts)
    assert document.get("dir") == "ltr"
    # Inline styles only: mail clients drop <style> blocks.
    assert not document.xpath("//style") and not document.xpath("//link")
    assert "max-width:640px" in document.xpath("//table")[0].get("style")


def test_html_links_each_outlet() -> None:
    document = lxml.html.document_fromstring(render_digest(build()).html)
    links = {a.text_content(): a.get("href") for a in document.iter("a")}
    assert links["Le360"].startswith("https://le360.example/")
    assert links["Barlamane"].startswith("https://barlamane.example/")
    assert links[HE_DEAL].startswith("https://ynet.example/")


HOSTILE_TITLE = '<script>alert("t")</script><img src=x onerror=alert(1)>Accord<iframe src="//evil">'
HOSTILE_EXCERPT = (
    '<a href="javascript:alert(1)" onclick="steal()">clic</a>'
    "<svg onload=alert(1)><script>document.cookie</script></svg>"
    "<style>body{display:none}</style>\u202eevil\u202c"
    + "<p>"
    + "مرحبا " * 200_000
    + "</p>"  # ~1.4 MB
)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
        "//evil.example/x",
        "https://ok.example/\u202egpj.exe",
    ],
)
def test_hostile_item_comes_out_inert_and_bounded(url: str) -> None:
    hostile = Story(
        66,
        (
            member(
                "Evil<b>Outlet</b>",
                "MA",
                "fr",
                HOSTILE_TITLE,
                1,
                umbrella("<i>terme</i>", "x" * 500),
                excerpt=HOSTILE_EXCERPT,
                credit="<script>alert(2)</script>MAP",
            ),
        ),
    )
    hostile = Story(66, (replace(hostile.members[0], url=url),))
    rendered = render_digest(build([hostile, *sample_stories()]))
    document = lxml.html.document_fromstring(rendered.html)
    for element in document.iter():
        assert element.tag not in {"script", "iframe", "img", "svg", "style", "object"}
        assert not [a for a in element.attrib if a.lower().startswith("on")], element.tag
    hrefs = [a.get("href") for a in document.iter("a")]
    assert hrefs and all(re.match(r"https://[a-z0-9.-]+/", h) for h in hrefs), hrefs
    assert "javascript" not in rendered.html.lower()
    assert "\u202e" not in rendered.html and "\u202e" not in rendered.text
    assert "Accord" in rendered.text and "alert" not in rendered.text
    assert len(rendered.html) < 40_000 and len(rendered.text) < 10_000
    entry = next(e for s in build([hostile]).sections for e in s.entries)
    assert entry.title == "Accord"
    assert len(entry.excerpt) <= SETTINGS.excerpt_chars
    assert entry.excerpt.startswith("clicevil")  # the bidi override is gone
    assert entry.excerpt.endswith("مرحبا…")
    assert entry.original.url is None
    assert entry.original.outlet == "EvilOutlet"
    assert entry.credit == "MAP"


@pytest.mark.parametrize(
    ("markup", "limit", "expected"),
    [
        ("Le Maroc &amp; Isra&euml;l", 100, "Le Maroc & Israël"),
        ("<p>שלום</p><p>עולם</p>", 100, "שלום עולם"),
        ("وَفْدٌ  عَسْكَرِيٌّ\n\tيزور", 100, "وَفْدٌ عَسْكَرِيٌّ يزور"),  # harakat kept for display
        ("one two three four five six", 15, "one two three…"),
        ("a" * 50, 10, "a" * 9 + "…"),
        ("Prix &lt; 5 % &amp; plus", 100, "Prix < 5 % & plus"),
    ],
)
def test_plain_text(markup: str, limit: int, expected: str) -> None:
    assert plain_text(markup, limit) == expected
    assert len(plain_text(markup, limit)) <= limit


def test_markup_characters_in_a_title_are_escaped_in_the_html() -> None:
    story = Story(70, (member("Le360", "MA", "fr", "Prix &lt; 5 % &amp; plus", 1, umbrella()),))
    rendered = render_digest(build([story]))
    assert "Prix &lt; 5 % &amp; plus</a>" in rendered.html
    assert "Prix < 5 % & plus" in rendered.text


def test_excerpt_loses_site_boilerplate() -> None:
    excerpt = (
        "<p>Les deux armées ont signé un accord.</p>"
        "<p>The post Accord militaire appeared first on Le360.</p>"
    )
    story = Story(71, (member("Le360", "MA", "fr", "Accord", 1, umbrella(), excerpt=excerpt),))
    (section,) = build([story]).sections
    assert section.entries[0].excerpt == "Les deux armées ont signé un accord."


@pytest.mark.parametrize(
    ("excerpt", "expected"),
    [
        ("الرباط (و م ع) - جرى اليوم تدشين وحدة صناعية.", "جرى اليوم تدشين وحدة صناعية."),
        ("RABAT (MAP) - Une unité a été inaugurée.", "Une unité a été inaugurée."),
        ("<p>המפעל נחנך היום.</p><p>המקור: ynet</p>", "המפעל נחנך היום."),
    ],
)
def test_excerpt_leaves_the_credit_out(excerpt: str, expected: str) -> None:
    story = Story(73, (member("Le360", "MA", "fr", "Titre", 1, umbrella(), excerpt=excerpt),))
    (section,) = build([story]).sections
    assert section.entries[0].excerpt == expected


def test_origin_is_named_like_the_agency() -> None:
    story = Story(74, (member("Le360", "MA", "fr", "Titre", 1, umbrella(), origin="map"),))
    assert "· from MAP" in render_digest(build([story])).text
    story = Story(75, (member("Alnas", "MA", "ar", "عنوان", 1, umbrella(), origin="compilation"),))
    assert "· from compilation" in render_digest(build([story])).text


@pytest.mark.parametrize(
    ("title", "excerpt", "expected"),
    [
        ("وفد عسكري يزور الرباط", "وفد عسكري يزور الرباط.", ""),
        ("ישראל ומרוקו", "ישראל ומרוקו: העסקה נחתמה", "העסקה נחתמה"),
        ("Accord signé", "accord signé - les détails", "les détails"),
        ("Accord", "Un accord a été signé", "Un accord a été signé"),
    ],
)
def test_excerpt_does_not_repeat_the_headline(title: str, excerpt: str, expected: str) -> None:
    story = Story(72, (member("Le360", "MA", "fr", title, 1, umbrella(), excerpt=excerpt),))
    (section,) = build([story]).sections
    assert section.entries[0].excerpt == expected
    text = render_digest(build([story])).text
    assert text.count(title) == 1


def test_truncate_keeps_short_text() -> None:
    assert truncate("court", 10) == "court"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.hespress.com/a-1.html?x=1", True),
        ("http://le360.ma/", True),
        ("HTTPS://Ynet.co.il/x", True),
        ("ftp://example.org/", False),
        ("https:///nohost", False),
        ("https://exa mple.org/", False),
        ("https://example.org/" + "a" * 3000, False),
    ],
)
def test_safe_url(url: str, expected: bool) -> None:
    assert (safe_url(url) is not None) is expected
