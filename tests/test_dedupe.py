"""monitor.dedupe: fingerprints, verification rules and clustering over the labelled set.

The labelled set (tests/data/syndication/*.yaml, README there) is read through the real
normaliser (`monitor.normalise.normalise_entry`: boilerplate, credit line, language, fold),
so these figures are the ones the crawl would get, minus the database.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from monitor import dedupe
from monitor.dedupe import Entry, Fingerprint, fingerprint, is_same_story, story_fingerprint
from monitor.normalise import NormalisedArticle, normalise_entry
from monitor.parsing import FeedEntry

SET_DIR = Path(__file__).resolve().parent / "data" / "syndication"
LANGUAGES = ("ar", "fr", "he", "en")
MIN_PRECISION = 0.95
MIN_RECALL = 0.90


@dataclass(frozen=True)
class Labelled:
    """One item of the labelled set."""

    id: str
    cluster: str
    kind: str
    outlet: str
    country: str
    lang: str
    url: str
    title: str
    published: datetime
    summary: str
    body: str

    def feed_entry(self) -> FeedEntry:
        return FeedEntry(
            guid=self.url,
            link=self.url,
            title=self.title,
            summary_html=self.summary,
            content_html=self.body,
            author=None,
            published=self.published,
            updated=None,
            language=None,
            categories=(),
        )

    def normalised(self) -> NormalisedArticle:
        return normalise_entry(
            self.feed_entry(),
            feed_url=self.url,
            feed_language=self.lang,
            seen_at=self.published + timedelta(minutes=5),
        )


def load_labelled() -> list[Labelled]:
    """Every item of the labelled set, in file order."""
    items: list[Labelled] = []
    for path in sorted(SET_DIR.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]:
            items.append(
                Labelled(
                    id=raw["id"],
                    cluster=raw["cluster"],
                    kind=raw["kind"],
                    outlet=raw["outlet"],
                    country=raw["country"],
                    lang=raw["lang"],
                    url=raw["url"],
                    title=raw["title"],
                    published=datetime.fromisoformat(raw["published"]),
                    summary=raw.get("summary", ""),
                    body=raw.get("body", ""),
                )
            )
    return items


def article_fingerprint(article: NormalisedArticle) -> Fingerprint:
    return story_fingerprint(
        article.title_key or "",
        article.match_text,
        has_body=bool(article.body),
        lang=article.language,
    )


@pytest.fixture(scope="module")
def labelled() -> list[Labelled]:
    return load_labelled()


@pytest.fixture(scope="module")
def fingerprints(labelled: list[Labelled]) -> dict[str, Fingerprint]:
    return {item.id: article_fingerprint(item.normalised()) for item in labelled}


def _entries(labelled: list[Labelled], fingerprints: dict[str, Fingerprint]) -> list[Entry]:
    return [Entry(i.id, i.outlet, i.published, fingerprints[i.id]) for i in labelled]


def report(
    title: str, truth: dict[str, str], predicted: dict[str, str], items: list[Labelled]
) -> None:
    """Print overall and per-language pairwise figures (shown with pytest -s or on failure)."""
    print(f"\n{title}")
    rows = [("all", [i.id for i in items])]
    rows += [(lang, [i.id for i in items if i.lang == lang]) for lang in LANGUAGES]
    for name, keys in rows:
        s = dedupe.pairwise_scores(truth, predicted, keys)
        print(
            f"  {name:>3}: precision {s.precision:.3f}  recall {s.recall:.3f}  "
            f"({s.correct_pairs} correct of {s.predicted_pairs} predicted, {s.true_pairs} labelled)"
        )


# ---------------------------------------------------------------------------------------
# The labelled set itself
# ---------------------------------------------------------------------------------------


def test_labelled_set_covers_what_it_must(labelled: list[Labelled]) -> None:
    sizes = Counter(i.cluster for i in labelled)
    multi = [c for c, n in sizes.items() if n >= 2]
    assert len(multi) >= 25, "at least 25 clusters of copies"
    assert max(sizes.values()) <= 6
    negatives = [i for i in labelled if i.kind in {"independent", "template"}]
    assert len(negatives) >= 20, "at least 20 hard negatives"
    assert {i.lang for i in labelled} == set(LANGUAGES)
    for lang in LANGUAGES:
        assert sum(1 for c in multi if c.startswith(f"{lang}-")) >= 5, lang
    assert len({i.id for i in labelled}) == len(labelled), "ids are unique"
    assert all(i.published.tzinfo is not None for i in labelled)
    assert all(i.body or i.summary for i in labelled)
    # Copies of a cluster come from different outlets, as syndication does.
    for cluster, n in sizes.items():
        assert len({i.outlet for i in labelled if i.cluster == cluster}) == n, cluster


# ---------------------------------------------------------------------------------------
# Fingerprints
# ---------------------------------------------------------------------------------------

SAMPLE = (
    "le maroc et israel ont signe mardi a rabat un accord de cooperation dans le domaine "
    "de la cybersecurite portant sur echange expertise la formation et la protection"
)


def test_bands_fit_a_signed_64_bit_column_and_keep_band_ids_apart() -> None:
    fp = fingerprint(SAMPLE, lang="fr")
    bands = [band for band, _ in fp.bands]
    assert len(fp.bands) == dedupe.FULL_BANDS + dedupe.LEAD_BANDS
    assert bands == list(range(dedupe.FULL_BANDS)) + [
        dedupe.LEAD_BAND_BASE + i for i in range(dedupe.LEAD_BANDS)
    ]
    assert all(-(2**63) <= bucket < 2**63 for _, bucket in fp.bands)
    assert all(0 <= band < 2**15 for band in bands)  # a SmallInteger column


def test_fingerprint_is_the_same_in_another_process() -> None:
    """No ``hash()`` and no RNG: a restarted worker computes the buckets stored earlier."""
    code = (
        "from monitor.dedupe import fingerprint; import sys;"
        "print(repr(fingerprint(sys.argv[1]).bands))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, SAMPLE], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == repr(fingerprint(SAMPLE).bands)


PINNED_BAND_0 = 7296596701361679327


def test_bucket_values_are_pinned() -> None:
    """Changing shingling, hashing or banding must bump SCHEME (and needs a recluster)."""
    fp = fingerprint(SAMPLE)
    assert dedupe.SCHEME == b"dedupe-v1"
    assert fp.bands[0] == (0, PINNED_BAND_0)
    assert fp.bands[-1][0] == dedupe.LEAD_BAND_BASE + dedupe.LEAD_BANDS - 1


def test_short_and_empty_texts_get_no_bands_and_never_match() -> None:
    for text in ("", "maroc", "le maroc et israel signent"):
        fp = fingerprint(text)
        assert fp.bands == ()
        verdict = is_same_story(fp, fp)
        assert not verdict.same
        assert verdict.reason == "too short to compare"


def test_summary_only_item_uses_title_and_summary_with_the_summary_as_lead() -> None:
    title, summary = "el al relance ses vols", SAMPLE
    assert dedupe.story_text(title, summary, has_body=False) == f"{title} {summary}"
    assert dedupe.story_text(title, summary, has_body=True) == summary
    summary_only = story_fingerprint(title, summary, has_body=False)
    plain = fingerprint(summary)
    # Whole-text bands include the title; lead bands are the summary's own.
    lead = {k for k in plain.bands if k[0] >= dedupe.LEAD_BAND_BASE}
    assert lead <= set(summary_only.bands)
    whole = {k for k in summary_only.bands if k[0] < dedupe.LEAD_BAND_BASE}
    assert whole != {k for k in plain.bands if k[0] < dedupe.LEAD_BAND_BASE}


def test_numbers_are_runs_of_digit_tokens() -> None:
    fp = fingerprint("الفجر 05 41 الشروق 07 05 الظهر 13 03 سعر 10 4210 سنة 2025")
    assert fp.numbers == {"5 41", "7 5", "13 3", "10 4210", "2025"}
    assert fp.digit_tokens == 9


# ---------------------------------------------------------------------------------------
# Verification: pairs from the labelled set, table-driven
# ---------------------------------------------------------------------------------------

SAME = [
    # (a, b, what differs)
    ("ar-african-lion-map", "ar-african-lion-hespress", "MAP dateline vs trailing credit"),
    ("ar-african-lion-map", "ar-african-lion-alnas", "أ/ا ة/ه ى/ي spelling, paragraph dropped"),
    ("ar-african-lion-map", "ar-african-lion-hibapress", "harakat and tatweel, footer"),
    ("ar-african-lion-map", "ar-african-lion-barlamane", "intro added, paragraph dropped"),
    ("ar-bluebird-drones-le360", "ar-bluebird-drones-hibapress", "spelling and harakat"),
    ("ar-ram-flights-le360", "ar-ram-flights-hibapress", "full text vs title + excerpt"),
    ("ar-prayer-rabat-0312-hespress", "ar-prayer-rabat-0312-hibapress", "one bulletin twice"),
    ("ar-rates-0304-map", "ar-rates-0304-le360", "one rates table twice"),
    ("fr-african-lion-map", "fr-african-lion-barlamane", "accents, quotes, capitals"),
    ("fr-african-lion-map", "fr-african-lion-hespressfr", "intro added, WhatsApp footer"),
    ("fr-cyber-medias24", "fr-cyber-hespressfr", "'est apparu en premier sur' footer"),
    ("fr-elal-le360", "fr-elal-medias24", "summary-only copy"),
    ("he-minister-visit-tps", "he-minister-visit-jdn", "geresh/gershayim variants"),
    ("he-minister-visit-tps", "he-minister-visit-kikar", "niqqud, intro, Telegram footer"),
    ("he-quake-aid-ynet", "he-quake-aid-israelhayom", 'צה"ל / צה״ל'),
    ("he-elbit-globes", "he-elbit-maariv", "a phrase reworded"),
    ("en-jta-synagogue-jta", "en-jta-synagogue-toi", "'appeared first on' footer, quotes"),
    ("en-tps-drones-tps", "en-tps-drones-jewishpress", "intro and footer added"),
    ("en-satellite-toi", "en-satellite-i24", "summary-only copy"),
    ("en-council-mwn", "en-council-yabiladi", "wording changed in several places"),
]

DIFFERENT = [
    # (a, b, expected reason fragment)
    ("ar-african-lion-map", "fr-african-lion-map", "different languages"),
    ("he-elbit-globes", "en-elbit-ynetnews", "different languages"),
    ("he-minister-visit-tps", "en-mou-tps", "different languages"),
    ("ar-bluebird-drones-le360", "ar-bluebird-drones-alyaoum24", "too little text"),
    ("ar-defense-decrees-alyaoum24", "ar-defense-decrees-lakome", "too little text"),
    ("fr-cyber-medias24", "fr-cyber-telquel", "too little text"),
    ("fr-african-lion-map", "fr-african-lion-lematin", "too little text"),
    ("he-minister-visit-tps", "he-minister-visit-maariv", "too little text"),
    ("en-jta-synagogue-jta", "en-jns-synagogue-jns", "too little text"),
    ("en-mou-tps", "en-mou-toi-report", "too little text"),
    ("en-tps-drones-tps", "en-drones-toi-own", "too little text"),
    ("ar-dams-hespress", "ar-dams-week2-hespress", "different figures"),
    ("ar-prayer-rabat-0312-hespress", "ar-prayer-rabat-0313", "different figures"),
    ("ar-prayer-rabat-0312-hespress", "ar-prayer-sale-0312", "template"),
    ("ar-rates-0304-map", "ar-rates-0305-map", "different figures"),
    ("ar-weather-0306", "ar-weather-0307", ""),
    ("fr-alerte-0910-le360", "fr-alerte-0912-le360", "different figures"),
    ("fr-change-0303", "fr-change-0304", "different figures"),
    ("fr-meteo-0111", "fr-meteo-0112", ""),
    ("he-shabbat-vayakhel", "he-shabbat-pekudei", ""),
    ("he-yatzig-0310", "he-yatzig-0311", ""),
    ("en-shekel-0310", "en-shekel-0311", ""),
    ("en-weather-0119", "en-weather-0120", ""),
]


@pytest.mark.parametrize(("a", "b", "why"), SAME, ids=[f"{a}~{b}" for a, b, _ in SAME])
def test_copies_are_the_same_story(
    fingerprints: dict[str, Fingerprint], a: str, b: str, why: str
) -> None:
    verdict = is_same_story(fingerprints[a], fingerprints[b])
    assert verdict.same, f"{why}: {verdict}"
    assert verdict == is_same_story(fingerprints[b], fingerprints[a]), "symmetric"
    assert verdict.score >= 0.6


@pytest.mark.parametrize(("a", "b", "reason"), DIFFERENT, ids=[f"{a}!{b}" for a, b, _ in DIFFERENT])
def test_not_the_same_story(
    fingerprints: dict[str, Fingerprint], a: str, b: str, reason: str
) -> None:
    verdict = is_same_story(fingerprints[a], fingerprints[b])
    assert not verdict.same, verdict
    assert reason in verdict.reason
    assert verdict == is_same_story(fingerprints[b], fingerprints[a]), "symmetric"


def test_one_changed_figure_in_a_table_is_another_item() -> None:
    base = "cours du dirham euro 10 4210 achat 10 5870 vente dollar 9 9845 achat 10 1432 vente"
    changed = base.replace("10 5870", "10 5871")
    verdict = is_same_story(fingerprint(base), fingerprint(changed))
    assert not verdict.same
    assert "template" in verdict.reason
    assert is_same_story(fingerprint(base), fingerprint(f"voici les cours {base}")).same


def test_unknown_language_does_not_block_a_match(fingerprints: dict[str, Fingerprint]) -> None:
    a = fingerprints["en-tps-drones-tps"]
    b = fingerprints["en-tps-drones-jns"]
    unknown = Fingerprint(a.tokens, a.shingles, a.numbers, a.digit_tokens, a.bands, None)
    assert is_same_story(unknown, b).same


# ---------------------------------------------------------------------------------------
# Clustering over the whole set, in time order
# ---------------------------------------------------------------------------------------


def test_clustering_meets_precision_and_recall_per_language(
    labelled: list[Labelled], fingerprints: dict[str, Fingerprint]
) -> None:
    truth = {i.id: i.cluster for i in labelled}
    predicted = dedupe.cluster(_entries(labelled, fingerprints))
    report("pure clustering (LSH candidates, verified), pairwise:", truth, predicted, labelled)
    for lang in (None, *LANGUAGES):
        keys = [i.id for i in labelled if lang is None or i.lang == lang]
        scores = dedupe.pairwise_scores(truth, predicted, keys)
        assert scores.precision >= MIN_PRECISION, (lang, scores)
        assert scores.recall >= MIN_RECALL, (lang, scores)


def test_the_original_is_the_earliest_member(
    labelled: list[Labelled], fingerprints: dict[str, Fingerprint]
) -> None:
    predicted = dedupe.cluster(_entries(labelled, fingerprints))
    published = {i.id: i.published for i in labelled}
    for key, story in predicted.items():
        assert published[story] <= published[key]
    assert predicted["ar-african-lion-hibapress"] == "ar-african-lion-map"
    assert predicted["he-minister-visit-kikar"] == "he-minister-visit-tps"


def test_clustering_does_not_depend_on_input_order(
    labelled: list[Labelled], fingerprints: dict[str, Fingerprint]
) -> None:
    entries = _entries(labelled, fingerprints)
    expected = dedupe.cluster(entries)
    shuffled = entries[:]
    random.Random(7).shuffle(shuffled)
    assert dedupe.cluster(shuffled) == expected


def test_lsh_finds_what_brute_force_finds(
    labelled: list[Labelled], fingerprints: dict[str, Fingerprint]
) -> None:
    entries = _entries(labelled, fingerprints)
    assert dedupe.cluster(entries) == dedupe.cluster(entries, brute_force=True)


def test_copies_outside_the_window_start_a_new_story(
    fingerprints: dict[str, Fingerprint],
) -> None:
    fp_a, fp_b = fingerprints["fr-cyber-medias24"], fingerprints["fr-cyber-lematin"]
    t0 = datetime.fromisoformat("2024-10-15T11:00:00+00:00")
    near = [Entry("a", "medias24", t0, fp_a), Entry("b", "lematin", t0 + timedelta(days=6), fp_b)]
    far = [Entry("a", "medias24", t0, fp_a), Entry("b", "lematin", t0 + timedelta(days=8), fp_b)]
    assert dedupe.cluster(near) == {"a": "a", "b": "a"}
    assert dedupe.cluster(far) == {"a": "a", "b": "b"}
    assert dedupe.cluster(far, window=timedelta(days=10)) == {"a": "a", "b": "a"}


def test_the_same_outlet_never_copies_itself(fingerprints: dict[str, Fingerprint]) -> None:
    fp = fingerprints["fr-cyber-medias24"]
    t0 = datetime.fromisoformat("2024-10-15T11:00:00+00:00")
    entries = [Entry("a", "medias24", t0, fp), Entry("b", "medias24", t0 + timedelta(hours=1), fp)]
    assert dedupe.cluster(entries) == {"a": "a", "b": "b"}


def test_pairwise_scores() -> None:
    truth = {"a": "x", "b": "x", "c": "x", "d": "y"}
    predicted = {"a": "1", "b": "1", "c": "2", "d": "1"}
    s = dedupe.pairwise_scores(truth, predicted)
    assert (s.true_pairs, s.predicted_pairs, s.correct_pairs) == (3, 3, 1)
    assert s.precision == pytest.approx(1 / 3)
    assert s.recall == pytest.approx(1 / 3)
    assert dedupe.pairwise_scores({"a": "x"}, {"a": "1"}) == (1.0, 1.0, 0, 0, 0)


# ---------------------------------------------------------------------------------------
# Real feeds (../shared/corpus, skipped when absent)
# ---------------------------------------------------------------------------------------


def test_real_israeli_feeds_keep_independent_reports_apart(corpus: Path) -> None:
    """Four polls of eleven Israeli outlets, 28 Feb 2026: the same events recur across
    outlets in their own words, sometimes sharing a quoted sentence; none is a copy."""
    from monitor.parsing import parse_feed

    folder = corpus / "real" / "israel-2026-02-28"
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    seen_at = datetime.fromisoformat("2026-02-28T02:10:00+00:00")
    articles: dict[tuple[str, str], NormalisedArticle] = {}
    for path in sorted(folder.glob("*.xml")):
        outlet = path.name.rsplit("_", 2)[0].split("-")[0]  # jerusalem-post-* is one outlet
        url = f"https://{outlet}.example/feed"
        for entry in parse_feed(path.read_bytes(), url=url, headers={}).entries:
            article = normalise_entry(entry, feed_url=url, feed_language=None, seen_at=seen_at)
            articles[(outlet, article.canonical_url or article.guid or "")] = article
    assert len(articles) > 150
    entries = [
        Entry(f"{outlet}|{key}", outlet, a.published_at, article_fingerprint(a))
        for (outlet, key), a in sorted(articles.items())
    ]
    stories = dedupe.cluster(entries)
    assert stories == dedupe.cluster(entries, brute_force=True)
    assert all(key == story for key, story in stories.items()), "no cross-outlet copy"
    # The closest cross-outlet pairs: Israel Hayom and ynet on the Omani mediator and on
    # Rubio's visit, each sharing a sentence or a quote and little else.
    by_key = {e.key: e for e in entries}
    close = []
    for i, a in enumerate(entries):
        for b in entries[i + 1 :]:
            if a.outlet != b.outlet:
                verdict = is_same_story(a.fingerprint, b.fingerprint)
                if verdict.containment >= 0.3:
                    close.append((a.key, b.key, verdict))
    assert len(close) >= 3
    for key_a, key_b, verdict in close:
        assert {by_key[key_a].outlet, by_key[key_b].outlet} == {"israel", "ynet"}
        assert verdict.reason.startswith("too little text in common"), verdict
