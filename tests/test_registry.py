"""The feed registry: valid files load; every mistake is named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.registry import (
    RegistryError,
    load_registry,
    outlet_slug,
    parse_interval,
    parse_registry,
)

GOOD = """\
feeds:
  - id: hespress-ar
    outlet: Hespress
    country: MA
    language: ar
    url: https://www.hespress.com/feed
    interval: 15m
  - id: ynet-he
    outlet: Ynet
    country: il
    language: he
    url: https://www.ynet.co.il/Integration/StoryRss2.xml
    fulltext: true
"""


def test_good_registry_loads_with_lines() -> None:
    specs = parse_registry(GOOD)
    assert [(s.id, s.country, s.interval_seconds, s.fulltext, s.line) for s in specs] == [
        ("hespress-ar", "MA", 900, False, 2),
        ("ynet-he", "IL", 900, True, 8),
    ]


def test_shipped_registry_covers_both_countries_and_four_languages() -> None:
    specs = load_registry(Path(__file__).resolve().parents[1] / "settings" / "feeds.yaml")
    assert {s.country for s in specs} == {"MA", "IL"}
    assert {s.language for s in specs} == {"ar", "fr", "he", "en"}
    assert len({s.id for s in specs}) == len(specs)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("    interval: 15m", "    intervall: 15m"),
            ":2 (id hespress-ar): unknown key 'intervall'",
        ),
        (
            ("id: ynet-he", "id: hespress-ar"),
            ":8: duplicate id 'hespress-ar' (first defined on line 2)",
        ),
        (("https://www.hespress.com/feed", "ftp://hespress.com/feed"), "is not an http(s) URL"),
        (("https://www.hespress.com/feed", "hespress.com/feed"), ":2 (id hespress-ar): url"),
        (("language: he", "language: de"), ":8 (id ynet-he): language 'de'"),
        (("country: il", "country: Israel"), "is not a two-letter code"),
        (("interval: 15m", "interval: often"), "interval 'often' is not like 15m"),
        (("interval: 15m", "interval: 10s"), "shorter than a minute"),
        (("fulltext: true", "fulltext: maybe"), "fulltext must be true or false"),
        (("    outlet: Ynet\n", ""), ":8 (id ynet-he): missing outlet"),
        (
            ("country: il", "country: IL\n    outlet: Ynet"),
            ":8 (id ynet-he): key 'outlet' given twice",
        ),
    ],
)
def test_mistakes_are_named(change: tuple[str, str], message: str) -> None:
    text = GOOD.replace(*change)
    with pytest.raises(RegistryError) as caught:
        parse_registry(text, "feeds.yaml")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("feeds: [", "not valid YAML"),
        ("- id: a", "expected a top-level 'feeds:' list"),
        ("feeds:\n  - just a string\n", "feeds.yaml:2: each feed must be a mapping"),
        ("feeds: []\nextra: 1\n", "unknown top-level key 'extra'"),
    ],
)
def test_document_shape_errors(text: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message.replace("[", r"\[")):
        parse_registry(text, "feeds.yaml")


def test_outlet_country_must_agree() -> None:
    text = GOOD + GOOD.split("feeds:\n", 1)[1].replace("hespress-ar", "hespress-fr").replace(
        "ynet-he", "ynet-en"
    ).replace("country: MA", "country: IL")
    with pytest.raises(RegistryError, match="outlet 'Hespress' has country IL"):
        parse_registry(text)


def test_helpers() -> None:
    assert outlet_slug("Médias24") == "medias24"
    assert outlet_slug("Times of Israel") == "times-of-israel"
    assert outlet_slug("الناس").startswith("outlet-")
    assert parse_interval("2h") == 7200 and parse_interval(600) == 600


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read the feed registry"):
        load_registry(tmp_path / "nope.yaml")
