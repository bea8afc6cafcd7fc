"""monitor.credits: credit lines and origins (table in tests/data/text/credits.yaml)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.credits import AGENCY_ORIGINS, Credit, origin_of, split_credit
from monitor.text import clean_text

DATA = Path(__file__).resolve().parent / "data" / "text"
ALNAS = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "corpus"
    / "real"
    / ("alnas-repost-2022-07-19.txt")
)


def cases() -> list[Any]:
    rows = yaml.safe_load((DATA / "credits.yaml").read_text(encoding="utf-8"))
    return [pytest.param(row, id=row["id"]) for row in rows]


@pytest.mark.parametrize("case", cases())
def test_split_credit(case: dict[str, Any]) -> None:
    credit = split_credit(case["in"])
    assert credit == Credit(text=case["text"], line=case["line"], origin=case["origin"])


@pytest.mark.parametrize("case", cases())
def test_split_credit_is_stable(case: dict[str, Any]) -> None:
    # The text left after splitting has no credit left to find (one credit per side).
    first = split_credit(case["in"])
    if first.line is None:
        assert first.text == case["in"]
        return
    second = split_credit(first.text)
    assert second.line is None or second.line not in first.line


def test_every_brief_origin_is_known() -> None:
    expected = {
        "map",
        "afp",
        "reuters",
        "ap",
        "efe",
        "jta",
        "jns",
        "tps",
        "i24news",
        "ynet",
        "agencies",
        "compilation",
    }
    assert expected <= AGENCY_ORIGINS


@pytest.mark.parametrize(
    ("credit", "origin"),
    [
        ("(و م ع)", "map"),
        ("و.م.ع", "map"),
        ("وكالة المغرب العربي للأنباء", "map"),
        ("Maghreb Arabe Presse", "map"),
        ("فرانس برس", "afp"),
        ("Agence France-Presse", "afp"),
        ("أسوشيتد برس", "ap"),
        ("إيفي", "efe"),
        ("Jewish Telegraphic Agency", "jta"),
        ("Jewish News Syndicate", "jns"),
        ("Tazpit Press Service", "tps"),
        ("i24 News", "i24news"),
        ("ynetnews", "ynet"),
        ("وكالات", "agencies"),
        ("Agences", "agencies"),
        ("الناس/متابعة", "compilation"),
        ("وكالات ورويترز", "agencies"),  # attached conjunction: the wire is not recognised
        ("AFP / وكالات", "afp"),  # a named wire beats the generic credit
        ("הארץ", "haaretz"),
        ("ישראל היום", "israel-hayom"),
        ("هسبريس", "hespress"),
        ("Le360", "le360"),
        ("somebody", None),
        ("", None),
    ],
)
def test_origin_of(credit: str, origin: str | None) -> None:
    assert origin_of(credit) == origin


def test_credit_is_frozen() -> None:
    credit = split_credit("Body.\n\n(MAP)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        credit.origin = "afp"  # type: ignore[misc]


def test_credit_after_cleaning_html_with_boilerplate() -> None:
    html = (
        "<p>RABAT (MAP) - Le ministre délégué a reçu le chef d'état-major.</p>"
        "<p>Les deux parties ont évoqué la coopération militaire.</p>"
        "<p>Avec MAP</p>"
        "<p>Partager sur Facebook</p>"
        "<div id='respond'><h3>Laisser un commentaire</h3>"
        "<p>Votre adresse e-mail ne sera pas publiée.</p></div>"
    )
    credit = split_credit(clean_text(html))
    assert credit == Credit(
        text="Le ministre délégué a reçu le chef d'état-major.\n\n"
        "Les deux parties ont évoqué la coopération militaire.",
        line="RABAT (MAP) -\nAvec MAP",
        origin="map",
    )


def test_alnas_page_credit() -> None:
    if not ALNAS.exists():
        pytest.skip("shared corpus absent")
    raw = ALNAS.read_text(encoding="utf-8")
    credit = split_credit(clean_text(raw))
    assert credit.line == "الناس/متابعة"
    assert credit.origin == "compilation"
    paragraphs = credit.text.split("\n\n")
    assert len(paragraphs) == 21  # the headline and the twenty paragraphs
    assert paragraphs[-1].startswith("وتنص الاتفاقية بشكل خاص على التعاون بين أجهزة الاستخبارات")
    assert "متابعة" not in credit.text
    assert "0 132" not in credit.text
    assert "اشترك" not in credit.text
    assert "بريدك الإلكتروني" not in credit.text
