"""The tagging engine: matching, conditions, scoring, evidence and rule-file validation.

Small rule files written inline exercise one behaviour each; the shipped rules are evaluated
on the labelled set in tests/test_tagging_eval.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from monitor.tagging import Rules, RulesError, TagHit, load_rules, parse_rules, tags_for
from monitor.tagging.affixes import stems
from monitor.text import fold

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"


def rules(body: str, entities: str = "", threshold: float = 1) -> Rules:
    """A rule file with one tag ``t`` whose block is ``body``."""
    text = 'version: "test-1"\n'
    if entities:
        text += "entities:\n" + entities
    text += f"tags:\n  t:\n    label: T\n    threshold: {threshold}\n" + body
    return parse_rules(text, "test.yaml")


def tagged(r: Rules, title: str, body: str = "", lang: str | None = "en") -> dict[str, TagHit]:
    return {hit.tag: hit for hit in tags_for(title, body, lang, r)}


# ------------------------------------------------------------------ Arabic clitics


ARABIC = rules("    terms:\n      المغرب: 1\n      إسرائيل: 1\n      القوات المسلحة الملكية: 1\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("زيارة إلى المغرب", "المغرب"),
        ("والمغرب", "المغرب"),  # and + the
        ("بالمغرب", "المغرب"),  # in + the
        ("للمغرب", "المغرب"),  # to + the, alif dropped
        ("وللمغرب", "المغرب"),  # and + to + the
        ("فالمغرب", "المغرب"),
        ("كالمغرب", "المغرب"),
        ("لإسرائيل", "إسرائيل"),  # hamza seat folded, preposition stripped
        ("وإسرائيل", "إسرائيل"),
        ("بإسرائيل", "إسرائيل"),
        ("وبإسرائيل", "إسرائيل"),
        ("للقوات المسلحة الملكية", "القوات المسلحة الملكية"),
        ("والقوات المسلحة الملكية", "القوات المسلحة الملكية"),
    ],
)
def test_arabic_clitics_in_front_of_a_term_are_allowed(text: str, expected: str) -> None:
    hit = tagged(ARABIC, text, lang="ar")["t"]
    assert [m.rule for m in hit.evidence] == [expected]


@pytest.mark.parametrize("text", ["مغربية", "المغربيات", "المغاربة", "إسرائيليون", "ولوديي"])
def test_arabic_words_that_only_contain_a_term_do_not_match(text: str) -> None:
    assert tagged(ARABIC, text, lang="ar") == {}


def test_arabic_stems_offer_the_article_back() -> None:
    assert {"المغرب", "مغرب"} <= set(stems(fold("بالمغرب")))
    assert "القوات" in stems(fold("للقوات"))
    assert stems("israel") == ("israel",)


# ------------------------------------------------------------------ Hebrew prefixes


HEBREW = rules(
    "    terms:\n      'צה\"ל': 1\n      מרוקו: 1\n"
    "      התעשייה האווירית: 1\n      הגנה אווירית: 1\n"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('צה"ל', 'צה"ל'),
        ("צה״ל", 'צה"ל'),  # gershayim, not ASCII quote
        ('בצה"ל', 'צה"ל'),  # in
        ('ובצה"ל', 'צה"ל'),  # and in
        ('שבצה"ל', 'צה"ל'),  # that in
        ('לצה"ל', 'צה"ל'),
        ("ממרוקו", "מרוקו"),  # from
        ("שבמרוקו", "מרוקו"),
        ("וממרוקו", "מרוקו"),
        ("כשבמרוקו", "מרוקו"),
        ("מהתעשייה האווירית", "התעשייה האווירית"),  # from + the
        ("וההגנה האווירית", "הגנה אווירית"),  # and + the, adjective with the article too
    ],
)
def test_hebrew_prefixes_in_front_of_a_term_are_allowed(text: str, expected: str) -> None:
    hit = tagged(HEBREW, text, lang="he")["t"]
    assert [m.rule for m in hit.evidence] == [expected]


@pytest.mark.parametrize("text", ["מרוקאי", "מרוקאים", "צהלה", "תעשייה"])
def test_hebrew_words_that_only_contain_a_term_do_not_match(text: str) -> None:
    assert tagged(HEBREW, text, lang="he") == {}


# ------------------------------------------------------------------ Latin: case, accents, elisions


LATIN = rules("    terms:\n      armée: 1\n      Israël: 1\n      arms deal: 1\n      coopér*: 1\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("L'ARMÉE", "armée"),
        ("l’armée", "armée"),  # typographic apostrophe
        ("d'Israël", "Israël"),
        ("ISRAEL", "Israël"),
        ("Arms-Deal", "arms deal"),
        ("coopération", "coopér*"),
        ("Cooperation", "coopér*"),
    ],
)
def test_latin_is_case_accent_and_elision_insensitive(text: str, expected: str) -> None:
    hit = tagged(LATIN, text, lang="fr")["t"]
    assert [m.rule for m in hit.evidence] == [expected]


@pytest.mark.parametrize("text", ["armées", "disarmed", "israelite", "arms dealer", "coop"])
def test_latin_terms_match_whole_words_only(text: str) -> None:
    assert tagged(LATIN, text, lang="fr") == {}


# ------------------------------------------------------------------ conditions


def test_none_vetoes_the_tag_even_with_a_high_score() -> None:
    r = rules("    none: [Nadal]\n    terms:\n      Rafael: 5\n")
    assert "t" in tagged(r, "Rafael signs a contract")
    assert tagged(r, "Rafael Nadal in Marrakech") == {}
    assert tagged(r, "Tennis", "Rafael and Nadal") == {}  # body counts too


def test_all_requires_every_condition_and_any_one_of_them() -> None:
    r = rules("    all: [Morocco]\n    any: [visit, delegation]\n    terms:\n      Morocco: 1\n")
    assert "t" in tagged(r, "Morocco", "A delegation arrived")
    assert tagged(r, "Morocco", "Nothing happened") == {}
    assert tagged(r, "A visit", "") == {}


def test_any_with_min_needs_that_many_distinct_conditions() -> None:
    r = rules(
        "    any: {min: 2, of: [Morocco, Israel, Spain]}\n"
        "    terms:\n      Morocco|Israel|Spain: 1\n"
    )
    assert tagged(r, "Morocco and Morocco again") == {}
    assert "t" in tagged(r, "Morocco", "and Spain")


def test_nested_conditions() -> None:
    r = rules(
        "    all:\n      - any: [{all: [Gantz, Rabat]}, {near: [Kochavi, Morocco], within: 3}]\n"
        "    terms:\n      Morocco|Rabat: 1\n"
    )
    assert "t" in tagged(r, "Gantz lands in Rabat")
    assert "t" in tagged(r, "Kochavi visits Morocco")
    assert tagged(r, "Kochavi, who once praised the food of faraway Morocco") == {}


# ------------------------------------------------------------------ proximity


NEAR = rules(
    "    near:\n      - {terms: ['buy*|purchase', 'drone*|missiles'], within: 3, weight: 4}\n"
    "    terms:\n      Morocco: 1\n",
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Morocco buys drones", 5.0 * 2),  # title counts twice
        ("Morocco will purchase Israeli attack drones", (1 + 4) * 2.0),  # 3 words apart
        ("Morocco will purchase new and very advanced drones", 1 * 2.0),  # 5 apart: no
        ("drones that Morocco buys", (1 + 4) * 2.0),  # order does not matter
    ],
)
def test_near_scores_when_the_terms_are_within_n_words(text: str, expected: float) -> None:
    assert tagged(NEAR, text)["t"].score == expected


def test_near_picks_the_tightest_window_and_reports_its_positions() -> None:
    hit = tagged(NEAR, "", "drones were shown . Morocco later said it will buy missiles")["t"]
    near = next(m for m in hit.evidence if "within" in m.rule)
    assert near.positions == (8, 9)  # word indexes in the folded body (the "." is gone)
    assert near.text == "buy … missiles"


def test_near_does_not_count_one_word_twice() -> None:
    r = rules(
        "    near:\n      - {terms: ['Israel Aerospace Industries', 'industr*|factory'], within: 5,"
        " weight: 3}\n    terms:\n      Morocco: 1\n"
    )
    assert [m.rule for m in tagged(r, "Israel Aerospace Industries in Morocco")["t"].evidence] == [
        "Morocco"
    ]
    assert "within" in tagged(r, "Israel Aerospace Industries factory")["t"].evidence[0].rule


# ------------------------------------------------------------------ scoring and evidence


def test_title_counts_title_weight_times_and_negative_weights_subtract() -> None:
    r = rules("    terms:\n      drone*: 2\n      festival: -3\n", threshold=3)
    assert tagged(r, "Drones", "").get("t") is not None  # 2 * 2 = 4
    assert tagged(r, "", "drones") == {}  # 2 < 3
    assert tagged(r, "Drones", "at a festival") == {}  # 4 - 3 = 1


def test_evidence_names_rule_field_positions_text_points_and_version() -> None:
    r = rules(
        "    terms:\n      '@israel': 2\n",
        entities="  israel:\n    kind: place\n    terms:\n      en: [Israel, Israeli*]\n",
    )
    hit = tagged(r, "Israel", "An Israeli firm and Israel again")["t"]
    assert hit.version == "test-1"
    assert hit.score == 2 * 2 + 2
    title, body = hit.evidence
    assert (title.rule, title.field, title.positions, title.text, title.points) == (
        "@israel",
        "title",
        (0,),
        "israel",
        4.0,
    )
    assert (body.field, body.positions, body.text) == ("body", (1, 4), "israeli")
    record = hit.to_json()
    assert json.loads(json.dumps(record)) == record
    assert record["version"] == "test-1"
    assert record["matches"][1]["positions"] == [1, 4]


def test_entities_apply_per_language_and_any_everywhere() -> None:
    r = rules(
        "    terms:\n      '@far': 1\n",
        entities="  far:\n    kind: institution\n    terms:\n      any: [FAR-Maroc]\n"
        "      fr: [FAR]\n",
    )
    assert "t" in tagged(r, "Les FAR", lang="fr")
    assert tagged(r, "So far so good", lang="en") == {}
    assert "t" in tagged(r, "FAR-Maroc", lang="en")
    assert "t" in tagged(r, "Les FAR", lang=None)  # unknown language: every language is tried


def test_language_blocks_add_to_the_shared_block_and_may_override_the_threshold() -> None:
    r = rules(
        "    terms:\n      drone*: 1\n    fr:\n      threshold: 4\n      terms:\n        achat: 1\n"
        "    ar:\n      terms:\n        مسيرات: 1\n"
    )
    assert "t" in tagged(r, "drones", lang="en")
    assert tagged(r, "drones", lang="fr") == {}  # 1 * 2 < 4
    assert "t" in tagged(r, "achat de drones", lang="fr")  # (1 + 1) * 2 >= 4
    assert "t" in tagged(r, "مسيرات", lang="ar")
    assert "t" not in tagged(r, "مسيرات", lang="en")


def test_a_child_tag_implies_its_parent_with_its_evidence() -> None:
    r = parse_rules(
        'version: "v"\ntags:\n'
        "  umbrella:\n    label: U\n    threshold: 5\n    terms:\n      cooperation: 5\n"
        "  deal:\n    label: D\n    parent: umbrella\n    threshold: 1\n    terms:\n      deal: 3\n"
    )
    hits = tagged(r, "", "an arms deal")
    assert list(hits) == ["umbrella", "deal"]  # rule-file order
    assert hits["umbrella"].via == ("deal",)
    assert hits["umbrella"].score == 3.0
    assert hits["umbrella"].evidence == hits["deal"].evidence
    both = tagged(r, "", "cooperation and a deal")
    assert both["umbrella"].score == 5.0
    assert both["umbrella"].via == ("deal",)


# ------------------------------------------------------------------ rule-file errors


def error(text: str) -> str:
    with pytest.raises(RulesError) as info:
        parse_rules(text, "topics.yaml")
    return str(info.value)


TAG = "tags:\n  arms-deal:\n    label: Arms deal\n    threshold: 2\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: [1\n", r"topics\.yaml, line \d+: not valid YAML"),
        ("- a\n- b\n", r"expected a mapping"),
        ("version: 2025\n" + TAG + "    terms: {x: 1}\n", r"version must be a non-empty string"),
        ('version: "v"\nflavour: x\n' + TAG, r"unknown key 'flavour'"),
        ('version: "v"\ntags: {}\n', r"tags must be a non-empty mapping"),
        (
            'version: "v"\n' + TAG + "    terms:\n      buy: high\n",
            r"line 7: tag 'arms-deal'\.terms: the weight of 'buy' must be a number, got 'high'",
        ),
        ('version: "v"\n' + TAG + "    terms:\n      buy: 0\n", r"is 0: remove the term"),
        (
            'version: "v"\n' + TAG + "    terms:\n      buy: 1\n      buy: 2\n",
            r"line 8: 'buy' is listed twice in the mapping that starts on line 7",
        ),
        (
            'version: "v"\n' + TAG + "    terms:\n      '@weapons': 1\n",
            r"tag 'arms-deal'\.terms: unknown entity '@weapons'",
        ),
        ('version: "v"\n' + TAG + "    terms:\n      'a*': 1\n", r"stem needs at least 3 letters"),
        ('version: "v"\n' + TAG + "    terms:\n      'a*b': 1\n", r"'\*' may only end a word"),
        ('version: "v"\n' + TAG + "    terms:\n      'buy||sell': 1\n", r"empty variant"),
        ('version: "v"\n' + TAG + "    terms:\n      '!!': 1\n", r"no letters or digits"),
        ('version: "v"\n' + TAG + "    colour: red\n    terms: {x: 1}\n", r"unknown key 'colour'"),
        ('version: "v"\n' + TAG, r"tag 'arms-deal': .*nothing can score"),
        ('version: "v"\ntags:\n  t:\n    threshold: 1\n    terms: {x: 1}\n', r"needs a label"),
        ('version: "v"\ntags:\n  t:\n    label: T\n    terms: {x: 1}\n', r"needs a threshold"),
        (
            'version: "v"\ntags:\n  t:\n    label: T\n    threshold: -1\n    terms: {x: 1}\n',
            r"threshold must be above 0",
        ),
        (
            'version: "v"\n' + TAG + "    parent: umbrella\n    terms: {x: 1}\n",
            r"parent 'umbrella' is not a tag",
        ),
        (
            'version: "v"\n' + TAG + "    parent: arms-deal\n    terms: {x: 1}\n",
            r"parent links loop: arms-deal -> arms-deal",
        ),
        (
            'version: "v"\n' + TAG + "    near:\n      - {terms: [a], within: 2, weight: 1}\n",
            r"near needs at least two terms",
        ),
        (
            'version: "v"\n' + TAG + "    near:\n      - {terms: [a, b], within: 0, weight: 1}\n",
            r"within must be a whole number of words >= 1",
        ),
        (
            'version: "v"\n' + TAG + "    any: {min: 3, of: [a, b]}\n    terms: {x: 1}\n",
            r"min must be between 1 and 2",
        ),
        (
            'version: "v"\n' + TAG + "    none:\n      - {nearby: [a, b]}\n    terms: {x: 1}\n",
            r"a condition mapping is",
        ),
        ('version: "v"\n' + TAG + "    es:\n      terms: {x: 1}\n", r"unknown key 'es'"),
        (
            'version: "v"\nentities:\n  A:\n    kind: place\n    terms: [a]\n'
            + TAG
            + "    terms: {x: 1}\n",
            r"entity 'A': entity names are lower-case",
        ),
        (
            'version: "v"\nentities:\n  a:\n    kind: planet\n    terms: [a]\n'
            + TAG
            + "    terms: {x: 1}\n",
            r"entity 'a': kind must be one of",
        ),
        (
            'version: "v"\nentities:\n  a:\n    kind: place\n    terms: {es: [a]}\n'
            + TAG
            + "    terms: {x: 1}\n",
            r"terms are grouped by language",
        ),
        (
            'version: "v"\nentities:\n  a:\n    kind: place\n    terms: ["@b"]\n'
            "  b:\n    kind: place\n    terms: ['@a']\n" + TAG + "    terms: {x: 1}\n",
            r"entities refer to each other in a loop: @a -> @b -> @a",
        ),
    ],
)
def test_invalid_rule_files_are_rejected_with_a_message_naming_the_rule(
    text: str, expected: str
) -> None:
    assert re.search(expected, error(text)), error(text)


def test_a_missing_rule_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read the rule file"):
        load_rules(tmp_path / "nope.yaml")


# ------------------------------------------------------------------ the shipped rules


def test_shipped_rules_load_and_name_every_tag_of_the_design() -> None:
    shipped = load_rules()
    assert shipped.slugs() == (
        "defense-cooperation",
        "military-visit",
        "arms-deal",
        "intelligence",
        "joint-exercise",
        "defense-industry",
        "security-agreement",
        "morocco-israel",
    )
    assert shipped.version


@pytest.mark.parametrize(
    ("lang", "title", "tags"),
    [
        (
            "ar",
            "كوخافي يحل بالرباط في أول زيارة رسمية للمغرب",
            {"military-visit", "morocco-israel"},
        ),
        ("he", 'הרמטכ"ל כוכבי נחת ברבאט לביקור רשמי במרוקו', {"military-visit", "morocco-israel"}),
        (
            "fr",
            "Le chef d'état-major de Tsahal en visite officielle au Maroc",
            {"military-visit", "morocco-israel"},
        ),
        ("en", "Israeli tourists flock to Marrakech", {"morocco-israel"}),
        ("ar", "الجيش الإسرائيلي يقصف قطاع غزة", set()),
        # קורס is "course" but also "collapses": a columnist on the region, not a training
        ("he", "יואב גלנט מזהיר: ציר הרשע קורס, וטורקיה ממהרת למלא את הוואקום", set()),
        ("he", 'קצינים מרוקאים השתתפו בקורס מפקדים של צה"ל', {"joint-exercise", "morocco-israel"}),
    ],
)
def test_shipped_rules_on_headlines(lang: str, title: str, tags: set[str]) -> None:
    got = {h.tag for h in tags_for(title, "", lang, load_rules())}
    expected = tags | ({"defense-cooperation"} if tags - {"morocco-israel"} else set())
    assert got == expected


def test_the_alnas_repost_that_started_the_project_is_a_military_visit() -> None:
    path = CORPUS / "alnas-repost-2022-07-19.txt"
    if not path.exists():
        pytest.skip("shared corpus absent")
    title, _, body = path.read_text(encoding="utf-8").partition("\n")
    hits = {h.tag: h for h in tags_for(title, body, "ar", load_rules())}
    assert {"defense-cooperation", "military-visit", "morocco-israel"} <= set(hits)
    visit = hits["military-visit"]
    # the chief of staff is found in the body, the visit to Morocco in the headline
    assert any(m.field == "body" and "كوخافي" in m.text for m in visit.evidence)
    assert any(m.field == "title" and "للمغرب" in m.text for m in visit.evidence)
    assert hits["defense-cooperation"].via[0] == "military-visit"
