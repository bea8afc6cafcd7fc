"""monitor.lang: language from script and stopwords (table in tests/data/text/lang.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lxml import etree

from monitor.lang import detect_language, normalise_language
from monitor.text import clean_text

DATA = Path(__file__).resolve().parent / "data" / "text"
REAL = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"


def cases() -> list[Any]:
    rows = yaml.safe_load((DATA / "lang.yaml").read_text(encoding="utf-8"))
    return [pytest.param(row, id=row["id"]) for row in rows]


@pytest.mark.parametrize("case", cases())
def test_detect_language(case: dict[str, Any]) -> None:
    assert detect_language(case["text"], case["declared"]) == case["out"]


@pytest.mark.parametrize(
    ("declared", "normalised"),
    [
        ("fr-FR", "fr"),
        ("fr_MA", "fr"),
        ("FR", "fr"),
        ("he-IL", "he"),
        ("iw", "he"),
        ("heb", "he"),
        ("ar-MA", "ar"),
        ("ara", "ar"),
        ("en-US", "en"),
        ("English", "en"),
        (" en ", "en"),
        ("es-ES", "es"),
        ("", None),
        (None, None),
        ("-", None),
    ],
)
def test_normalise_language(declared: str | None, normalised: str | None) -> None:
    assert normalise_language(declared) == normalised


def items(path: Path) -> tuple[str | None, list[tuple[str, str]]]:
    """(declared language, [(link, title + cleaned description)]) of one feed file."""
    root = etree.parse(str(path), etree.XMLParser(recover=True)).getroot()
    declared = root.findtext("channel/language")
    out = []
    for item in root.iter("item"):
        text = (
            (item.findtext("title") or "") + "\n\n" + clean_text(item.findtext("description") or "")
        )
        out.append((item.findtext("link") or "", text))
    return declared, out


def test_hespress_declared_en_is_arabic() -> None:
    path = REAL / "hespress.xml"
    if not path.exists():
        pytest.skip("shared corpus absent")
    declared, rows = items(path)
    assert declared == "en"
    assert len(rows) == 10
    for _link, text in rows:
        assert detect_language(text, declared) == "ar"


def test_telquel_declared_en_is_french() -> None:
    path = REAL / "telquel.xml"
    if not path.exists():
        pytest.skip("shared corpus absent")
    declared, rows = items(path)
    assert declared == "en"
    found = {link: detect_language(text, declared) for link, text in rows}
    english = {link for link in found if "south-korean-industry" in link}
    assert len(english) == 1  # TelQuel's one English article
    for link, lang in found.items():
        assert lang == ("en" if link in english else "fr"), link


def test_israeli_feeds_match_their_declaration() -> None:
    folder = REAL / "israel-2026-02-28"
    if not folder.exists():
        pytest.skip("shared corpus absent")
    checked = 0
    for path in sorted(folder.glob("*.xml")):
        declared, rows = items(path)
        assert declared in ("he", "en")
        for link, text in rows:
            assert detect_language(text, declared) == declared, (path.name, link)
            checked += 1
    assert checked > 500
