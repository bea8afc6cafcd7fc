"""monitor.text: visible text, boilerplate, folded matching form (tables in tests/data/text/)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from lxml import etree

from monitor.text import (
    MAX_INPUT_CHARS,
    clean_text,
    fold,
    html_to_text,
    is_boilerplate_line,
    strip_boilerplate,
    words,
)

DATA = Path(__file__).resolve().parent / "data" / "text"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
ALNAS = CORPUS / "real" / "alnas-repost-2022-07-19.txt"


def table(name: str) -> list[Any]:
    cases = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["id"]) for case in cases]


def corpus_descriptions() -> list[str]:
    """Every item description and title of the real feeds in the shared corpus."""
    texts: list[str] = []
    for path in sorted((CORPUS / "real").rglob("*.xml")):
        root = etree.parse(str(path), etree.XMLParser(recover=True)).getroot()
        for el in root.iter("description", "title"):
            if el.text:
                texts.append(el.text)
    return texts


# --- fold -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", table("fold.yaml"))
def test_fold(case: dict[str, str]) -> None:
    assert fold(case["in"]) == case["out"]


@pytest.mark.parametrize("case", table("fold.yaml"))
def test_fold_is_idempotent(case: dict[str, str]) -> None:
    once = fold(case["in"])
    assert fold(once) == once


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("a\ud800b", "ab"),  # lone high surrogate
        ("a\udfffb", "ab"),  # lone low surrogate
        ("a\x00b\x07c\x7fd", "abcd"),  # C0 controls and DEL
        ("a\x85b", "a b"),  # NEL is whitespace
        ("\U0001f3f4\U000e0067\U000e0062\U000e007fx", "x"),  # flag emoji with tag characters
        ("x\u0301\u0327", "x"),  # stacked combining marks on their own
    ],
    ids=["lone-high", "lone-low", "controls", "nel", "emoji-tags", "stray-marks"],
)
def test_fold_odd_code_points(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_fold_variants_meet() -> None:
    """Spellings a repost may use for the same words fold to one form."""
    groups = [
        ["مسؤول", "مسئول", "مُسْؤُول", "مسـؤول"],
        ["إسرائيل", "اسرائيل", "إسـرائـيـل", "إِسْرَائِيل"],
        ["المدرسة", "المدرسه"],
        ["على", "علي"],
        ["٢٠٢٢", "۲۰۲۲", "2022", "２０２２"],
        ['צה"ל', "צה״ל", "צָה״ל", "צה”ל", "צהל"],
        ["ג'ורג'", "ג׳ורג׳", "גורג"],
        ["l'armée", "L’ARMÉE", "armee", "l‘armée"],
        ["cœur", "coeur", "CŒUR"],
        ["Israel's", "Israel’s", "ISRAEL"],
        ["Maroc–Israël", "Maroc-Israël", "maroc israel", "Maroc — Israel"],
    ]
    for group in groups:
        assert len({fold(variant) for variant in group}) == 1, group


def test_fold_keeps_distinct_words_distinct() -> None:
    # Folding is lossy on purpose, but not so lossy that different words collide.
    pairs = [
        ("سؤال", "سوال"),  # hamza on waw is not a plain waw
        ("قائد", "قايد"),
        ("שלום", "שלומ"),  # final letters are not folded
        ("paris", "pari"),
    ]
    for a, b in pairs:
        assert fold(a) != fold(b)


def test_words_splits_folded_text() -> None:
    assert words(fold("Le chef d’état-major de Tsahal, à Rabat.")) == [
        "le",
        "chef",
        "etat",
        "major",
        "de",
        "tsahal",
        "a",
        "rabat",
    ]
    assert words(fold("وقال الجيش الإسرائيلي: “تاريخية”")) == [
        "وقال",
        "الجيش",
        "الاسراءيلي",
        "تاريخيه",
    ]
    assert words(fold("צה״ל הודיע: בית־ספר")) == ["צהל", "הודיע", "בית", "ספר"]
    assert words("") == []
    assert words(fold("🚀 \u200f")) == []


def test_fold_on_every_corpus_text() -> None:
    texts = corpus_descriptions()
    if not texts:
        pytest.skip("shared corpus absent")
    for text in texts:
        folded = fold(clean_text(text))
        assert folded == fold(folded)
        assert "  " not in folded
        assert folded == folded.strip()
        assert not any(ch in folded for ch in "'\"«»“”.,:;!?()")


# --- html_to_text -----------------------------------------------------------------------


@pytest.mark.parametrize("case", table("html.yaml"))
def test_html_to_text(case: dict[str, str]) -> None:
    assert html_to_text(case["in"]) == case["out"]


def test_html_to_text_joins_surrogate_pairs_and_drops_lone_ones() -> None:
    assert html_to_text("<p>ok \ud83d\ude00 and \ud800 lone</p>") == "ok 😀 and lone"


def test_html_to_text_deep_nesting_keeps_text() -> None:
    depth = 100_000
    markup = "<div>" * depth + "deep text" + "</div>" * depth
    assert html_to_text(markup) == "deep text"


def test_html_to_text_bounds_huge_input() -> None:
    paragraph = "<p>" + "كلمة " * 200 + "</p>"
    markup = paragraph * (3 * MAX_INPUT_CHARS // len(paragraph))
    text = html_to_text(markup)
    assert text.startswith("كلمة كلمة")
    assert len(text) <= MAX_INPUT_CHARS
    assert set(text.split()) == {"كلمة"}


def test_html_to_text_huge_plain_input_is_cut() -> None:
    text = html_to_text("a" * (MAX_INPUT_CHARS + 10))
    assert text == "a" * MAX_INPUT_CHARS


def test_html_to_text_never_raises_on_garbage() -> None:
    rng = random.Random(20220719)
    alphabet = (
        "<>&;#/!-[]\"' =\n\r\t\x00\x01\x0b\x0c\x1f\x7f\x85\u2028\u2029\ufeff\ufffe\uffff"
        "abcpdivscript<p></p><br><![CDATA[]]>&amp;&#1575;&#x5d0;&bogus;"
        "المغربשלוםé\u200f\u202e\ud800\udc00"
    )
    for _ in range(300):
        garbage = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
        text = html_to_text(garbage)
        assert isinstance(text, str)
        assert not any(ch in text for ch in "\x00\x01\x0b\x0c\x1f\x7f\ufffe\uffff\ud800\udc00\r")
        assert text == text.strip()
        assert "\n\n\n" not in text


# --- strip_boilerplate / clean_text ------------------------------------------------------


@pytest.mark.parametrize("case", table("boilerplate.yaml"))
def test_clean_text(case: dict[str, str]) -> None:
    assert clean_text(case["in"]) == case["out"]


def test_strip_boilerplate_is_idempotent() -> None:
    for param in table("boilerplate.yaml"):
        once = strip_boilerplate(param.values[0]["in"])
        assert strip_boilerplate(once) == once


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("0 132", True),
        ("١٣٢", True),
        ("1.65%", False),
        ("2 > 1", False),
        ("12 vues 3 commentaires", True),
        ("   ", False),
        ("Website", True),
        ("الاسم *", True),
        ("Reuters", False),
        ("الناس/متابعة", False),
        ("وهذه أول زيارة رسمية لرئيس أركان الجيش الإسرائيلي للمغرب.", False),
        ("x" * 300 + " subscribe now", False),  # long lines are never boilerplate
    ],
)
def test_is_boilerplate_line(line: str, expected: bool) -> None:
    assert is_boilerplate_line(line) is expected


def test_alnas_page_is_cleaned() -> None:
    if not ALNAS.exists():
        pytest.skip("shared corpus absent")
    raw = ALNAS.read_text(encoding="utf-8")
    text = clean_text(raw)
    paragraphs = text.split("\n\n")
    assert paragraphs[0].startswith("الاتفاق يشمل التدريب والعمليات والتجسس")
    assert paragraphs[-1] == "الناس/متابعة"
    body = paragraphs[1:-1]
    assert len(body) == 20
    assert body[0].startswith("بدأ رئيس الأركان الإسرائيلي")
    assert body[-1].startswith("وتنص الاتفاقية بشكل خاص")
    assert "0 132" not in text
    assert "اشترك" not in text
    assert "أترك ردّاً" not in text
    assert "بريدك الإلكتروني" not in text
    # Every article paragraph of the page survives verbatim.
    for paragraph in body:
        assert paragraph in raw


def test_hespress_footers_are_stripped() -> None:
    path = CORPUS / "real" / "hespress.xml"
    if not path.exists():
        pytest.skip("shared corpus absent")
    root = etree.parse(str(path)).getroot()
    descriptions = [el.text or "" for el in root.iter("description")][1:]  # skip the channel's
    assert len(descriptions) == 10
    for description in descriptions:
        assert "appeared first on" in description
        text = clean_text(description)
        assert "appeared first on" not in text
        assert "The post" not in text
        assert "[…]" not in text
        assert text.endswith("…")
        assert len(text) > 100


def test_html_to_text_unterminated_attribute_keeps_later_text() -> None:
    # How libxml2 recovers the broken tag is its business; the following text must survive.
    assert html_to_text('<p class="x>Text</p><p>More</p>').endswith("More")


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("مسو\u0654ول", "مسءول"),  # waw + combining hamza = ؤ
        ("ا\u0653لة", "اله"),  # alef + combining madda = آ
        ("ا\u0655سرائيل", "اسراءيل"),  # alef + combining hamza below = إ
        ("Ǿ ǿ", "o o"),  # accent stripped, then ø -> o
        ("l´armée", "armee"),  # acute accent typed as an apostrophe
    ],
    ids=["waw-hamza", "alef-madda", "alef-hamza-below", "o-stroke-acute", "acute-apostrophe"],
)
def test_fold_composes_before_folding(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_footer_at_the_end_of_a_long_paragraph_is_stripped() -> None:
    paragraph = "وقال الوزير إن التعاون مستمر. " * 300
    text = paragraph + "The post عنوان appeared first on Hespress."
    assert strip_boilerplate(text) == paragraph.strip()


def test_adversarial_footer_starts_are_left_alone() -> None:
    # Many footer openings and no footer: nothing to strip, and the regexes stay linear.
    text = "The post " * 50_000 + "ends here"
    assert strip_boilerplate(text) == text.strip()
