"""Near-duplicate detection: the same text carried by several outlets is one story.

Pure: values in, values out. The input is an article's *matching text*: folded by
:func:`monitor.text.fold`, with the credit line and site boilerplate already removed (see
:func:`story_text` for which fields make it up).

Pipeline, per article:

1. **Shingles.** Word 3-grams of the folded text (:data:`SHINGLE_WORDS`), each hashed once to
   64 bits (words are hashed with BLAKE2b and cached, shingles combine word hashes).
2. **MinHash.** :data:`NUM_PERM` minima of the shingle hashes under multiply-shift hash
   functions whose constants come from BLAKE2b of a fixed label: signatures are identical
   on every machine and in every process (no ``hash()``, no RNG). numpy does the
   arithmetic (wrapping uint64) for all shingles and functions at once.
3. **LSH bands.** The signature is cut into :data:`FULL_BANDS` bands of :data:`BAND_ROWS`
   rows; each band becomes a ``(band, bucket)`` key, bucket a signed 64-bit integer, stored
   in SQL (``dedupe_buckets``). Two texts with Jaccard similarity J share at least one band
   with probability ``1 - (1 - J**3)**20``: 0.42 at J=0.3, 0.93 at J=0.5, 0.998 at J=0.7.
   :data:`LEAD_BANDS` more bands (ids from :data:`LEAD_BAND_BASE`) are cut from a signature
   of the first :data:`LEAD_WORDS` words only, so a summary-only item (title + excerpt) finds
   the full text it was cut from, whose whole-text Jaccard with it is low.
4. **Verification** of every candidate (:func:`is_same_story`), because LSH only estimates:
   see the function for the rules and :class:`Thresholds` for the figures.

Candidates come from other outlets within :data:`WINDOW` (7 days) of the article's time.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_THRESHOLDS",
    "WINDOW",
    "BandKey",
    "Entry",
    "Fingerprint",
    "PairScores",
    "Thresholds",
    "Verdict",
    "best_match",
    "cluster",
    "fingerprint",
    "is_same_story",
    "pairwise_scores",
    "story_fingerprint",
    "story_text",
]

#: Only articles this close in time are compared (either direction: feeds are polled late).
WINDOW: Final = timedelta(days=7)

SHINGLE_WORDS: Final = 3
BAND_ROWS: Final = 3
FULL_BANDS: Final = 20
NUM_PERM: Final = FULL_BANDS * BAND_ROWS
LEAD_WORDS: Final = 50
LEAD_BANDS: Final = 12
LEAD_BAND_BASE: Final = 100  # band ids 100..111: the lead's bands, never mixed with 0..19
#: Changing shingling, hashing or banding changes every bucket: bump this and run
#: ``monitor recluster`` (buckets of two schemes never meet, so nothing wrong is found).
SCHEME: Final = b"dedupe-v1"

# Odd 64-bit multipliers for combining the word hashes of a shingle (order-sensitive) and
# the rows of a band.
_K: Final = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
_BAND_SEED: Final = np.uint64(0x27D4EB2F165667C5)

BandKey = tuple[int, int]  # (band, bucket): bucket fits a signed 64-bit column


def _u64(label: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(label, digest_size=8, person=SCHEME).digest(), "big")


# Multiply-shift hashing, h(x) = ((a*x + b) mod 2**64) >> 32 with a odd: a universal family
# (Dietzfelbinger et al. 1997) that numpy computes with wrapping uint64 arithmetic.
_PERM_A: Final = np.array([_u64(b"a%d" % i) | 1 for i in range(NUM_PERM)], dtype=np.uint64)
_PERM_B: Final = np.array([_u64(b"b%d" % i) for i in range(NUM_PERM)], dtype=np.uint64)
_EMPTY_MIN: Final = (1 << 32) - 1
_U64 = npt.NDArray[np.uint64]


# Word hashes, computed once per word: a plain dict (a news vocabulary is some 10**5 words),
# emptied when it outgrows _WORD_CACHE_MAX so that memory stays bounded.
_WORD_CACHE: dict[str, int] = {}
_WORD_CACHE_MAX: Final = 1 << 19


def _word_hashes(tokens: Sequence[str]) -> _U64:
    cache = _WORD_CACHE
    try:  # the common case: every word seen before
        return np.fromiter(map(cache.__getitem__, tokens), dtype=np.uint64, count=len(tokens))
    except KeyError:
        pass
    missing = [t for t in set(tokens) if t not in cache]
    if len(cache) + len(missing) > _WORD_CACHE_MAX:
        cache.clear()
        missing = list(set(tokens))
    for token in missing:
        cache[token] = _u64(token.encode("utf-8"))
    return np.fromiter(map(cache.__getitem__, tokens), dtype=np.uint64, count=len(tokens))


def _mix64(x: _U64) -> _U64:
    """SplitMix64's finaliser, elementwise: spreads combined hashes over all 64 bits."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _shingle_hashes(tokens: Sequence[str]) -> _U64:
    """64-bit hashes of the word 3-grams, in text order (a shorter text is one shingle).

    Words are hashed once (BLAKE2b, cached); a shingle combines its three word hashes with
    odd multipliers, wrapping modulo 2**64, and mixes the sum.
    """
    words = _word_hashes(tokens)
    if words.size >= SHINGLE_WORDS:
        combined = words[:-2] * _K[0] + words[1:-1] * _K[1] + words[2:] * _K[2]
    elif words.size:
        combined = (words * _K[: words.size]).sum(keepdims=True, dtype=np.uint64)
    else:
        return words
    return _mix64(combined)


def _minhash(values: _U64) -> _U64:
    if values.size == 0:
        return np.full(NUM_PERM, _EMPTY_MIN, dtype=np.uint64)
    permuted = values[None, :] * _PERM_A[:, None] + _PERM_B[:, None]
    result: _U64 = (permuted >> np.uint64(32)).min(axis=1)
    return result


_BAND_IDS: Final = np.concatenate(
    [
        np.arange(FULL_BANDS, dtype=np.uint64),
        np.arange(LEAD_BAND_BASE, LEAD_BAND_BASE + LEAD_BANDS, dtype=np.uint64),
    ]
)


def _bands(full: _U64, lead: _U64) -> list[BandKey]:
    """Band keys: :data:`FULL_BANDS` from the whole text's minima, :data:`LEAD_BANDS` from
    the lead's (each band is :data:`BAND_ROWS` consecutive minima).

    A bucket mixes the band id with its rows, so equal rows in two bands never collide.
    """
    rows = np.concatenate(
        [
            full[: FULL_BANDS * BAND_ROWS].reshape(FULL_BANDS, BAND_ROWS),
            lead[: LEAD_BANDS * BAND_ROWS].reshape(LEAD_BANDS, BAND_ROWS),
        ]
    )
    ids = _BAND_IDS
    bucket = _mix64(ids * _BAND_SEED)
    for r in range(BAND_ROWS):
        bucket = _mix64((bucket ^ rows[:, r]) * _K[r])
    return list(zip(ids.tolist(), bucket.view(np.int64).tolist(), strict=True))


def _number_runs(tokens: Sequence[str]) -> tuple[frozenset[str], int]:
    """The numbers of a text as runs of adjacent digit tokens ("05 41", "10 4210").

    A run keeps a time or a decimal whole (folding split it at the colon or comma), so two
    days' prayer times share almost no run even though their digits overlap. Returns the
    runs and the count of digit tokens.
    """
    runs: set[str] = set()
    current: list[str] = []
    digits = 0
    for token in tokens:
        if token.isdigit():
            current.append(token.lstrip("0") or "0")
            digits += 1
        elif current:
            runs.add(" ".join(current))
            current = []
    if current:
        runs.add(" ".join(current))
    return frozenset(runs), digits


@dataclass(frozen=True, slots=True, eq=False)
class Fingerprint:
    """What dedupe knows of one text: its shingles, numbers, MinHash bands and language."""

    tokens: tuple[str, ...]
    shingles: frozenset[int]
    numbers: frozenset[str]
    digit_tokens: int
    bands: tuple[BandKey, ...]
    lang: str | None = None

    @property
    def data_dense(self) -> bool:
        """A table-like text (rates, prayer times, temperatures) rather than prose."""
        return self.digit_tokens >= 6 and self.digit_tokens >= 0.15 * len(self.tokens)


def fingerprint(
    text: str, *, lang: str | None = None, lead: str | None = None, index: bool = True
) -> Fingerprint:
    """Fingerprint a matching text (already folded; words are separated by spaces).

    The lead bands are cut from the first :data:`LEAD_WORDS` words of ``lead`` (default: of
    ``text``). Texts too short to judge (fewer than :attr:`Thresholds.min_shingles`
    shingles) get no bands: they are never candidates, and never find any. With
    ``index=False`` no bands are computed at all (enough to verify a candidate).
    """
    tokens = tuple(text.split())
    hashes = _shingle_hashes(tokens)
    shingles = frozenset(hashes.tolist())
    numbers, digits = _number_runs(tokens)
    bands: list[BandKey] = []
    if index and len(shingles) >= DEFAULT_THRESHOLDS.min_shingles:
        full = _minhash(hashes)
        if lead is None and len(tokens) <= LEAD_WORDS:
            lead_signature = full  # the whole text is its own lead
        elif lead is None:
            lead_signature = _minhash(hashes[: LEAD_WORDS - SHINGLE_WORDS + 1])
        else:
            lead_signature = _minhash(_shingle_hashes(lead.split()[:LEAD_WORDS]))
        bands = _bands(full, lead_signature)
    return Fingerprint(
        tokens=tokens,
        shingles=shingles,
        numbers=numbers,
        digit_tokens=digits,
        bands=tuple(bands),
        lang=lang,
    )


def story_text(title: str, match_text: str, *, has_body: bool) -> str:
    """The text compared for syndication: the body's matching text, or title + summary.

    A body is compared without its headline, since reposts rewrite headlines. A summary-only
    item (no body) has too little text without its title, so the folded title is prepended.
    ``title`` and ``match_text`` are both folded already.
    """
    if has_body or not title:
        return match_text
    return f"{title} {match_text}".strip()


def story_fingerprint(
    title: str, match_text: str, *, has_body: bool, lang: str | None = None, index: bool = True
) -> Fingerprint:
    """Fingerprint an article from its folded title and matching text (see :func:`story_text`).

    A summary-only item's lead bands come from its summary alone: the excerpt is the start
    of the full text some other outlet carries, under another headline.
    """
    text = story_text(title, match_text, has_body=has_body)
    lead = None if text == match_text else match_text
    return fingerprint(text, lang=lang, lead=lead, index=index)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The verification figures, in one place (tuned on tests/data/syndication)."""

    min_shingles: int = 8  # below this (under ~10 words) a text is too short to judge
    short_shingles: int = 40  # a text this short (title + excerpt) follows the short rule
    containment: float = 0.6  # share of the shorter text found in the longer one
    min_shared: int = 20  # ...and at least this many shingles in common
    short_containment: float = 0.65  # the short rule: most of a short text must be shared
    short_min_shared: int = 8
    numbers_containment: float = 0.5  # share of the figures of the text with fewer figures
    numbers_min_runs: int = 2  # the figures rule applies when both texts have this many
    paragraph_tokens: int = 12  # an inserted/deleted block this long is an edit, not a value


DEFAULT_THRESHOLDS: Final = Thresholds()


class Verdict(NamedTuple):
    """The answer of :func:`is_same_story`; ``score`` ranks candidates (higher is closer)."""

    same: bool
    score: float
    reason: str
    containment: float = 0.0
    jaccard: float = 0.0
    shared: int = 0


def _interior_edits(a: Sequence[str], b: Sequence[str], paragraph_tokens: int) -> int:
    """Tokens changed inside the common text, ignoring edits at its ends and whole paragraphs.

    Reposts change the ends (an intro, a footer) or drop or add a paragraph; a templated
    item changes a value here and there in the middle (a place, a figure).
    """
    ops = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    while ops and ops[0][0] != "equal":
        ops.pop(0)
    while ops and ops[-1][0] != "equal":
        ops.pop()
    changed = 0
    for tag, i1, i2, j1, j2 in ops:
        size = max(i2 - i1, j2 - j1)
        if tag == "replace" or (tag != "equal" and size < paragraph_tokens):
            changed += size
    return changed


def is_same_story(
    a: Fingerprint, b: Fingerprint, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> Verdict:
    """Decide whether two texts are copies of one story, and say why.

    Rules, in order:

    1. Texts in different known languages are never copies (a translation is another story).
    2. A text with fewer than ``min_shingles`` shingles is too short to judge.
    3. Containment — shared shingles over the shingles of the *shorter* text — must reach
       ``containment`` with at least ``min_shared`` shingles in common; a short text (fewer
       than ``short_shingles``: a title + excerpt) needs ``short_containment`` and
       ``short_min_shared``. Containment, unlike Jaccard, is untouched by an intro added to
       one copy, a paragraph dropped from another or a footer changed; independent reports
       of one event share names and quotes, not most of their sentences.
    4. Figures: when both texts carry at least ``numbers_min_runs`` numbers, at least
       ``numbers_containment`` of the numbers of one must appear in the other. Templated
       daily items (weather, exchange rates, dam levels) share their wording, not their
       figures.
    5. Table-like texts (prayer times, rates) must match exactly inside their common part:
       any changed value or place there makes another day's or another city's item.
    """
    if a.lang and b.lang and a.lang != b.lang:
        first, second = sorted((a.lang, b.lang))
        return Verdict(False, 0.0, f"different languages ({first}, {second})")
    small = min(len(a.shingles), len(b.shingles))
    if small < thresholds.min_shingles:
        return Verdict(False, 0.0, "too short to compare")
    shared = len(a.shingles & b.shingles)
    containment = shared / small
    jaccard = shared / (len(a.shingles) + len(b.shingles) - shared)
    score = round(containment + jaccard / 100, 6)  # Jaccard only breaks ties

    def verdict(same: bool, reason: str) -> Verdict:
        return Verdict(same, score, reason, round(containment, 4), round(jaccard, 4), shared)

    short = small < thresholds.short_shingles
    need, need_shared = (
        (thresholds.short_containment, thresholds.short_min_shared)
        if short
        else (thresholds.containment, thresholds.min_shared)
    )
    if containment < need or shared < need_shared:
        return verdict(False, f"too little text in common ({containment:.0%} of the shorter)")
    fewer = min(len(a.numbers), len(b.numbers))
    if fewer >= thresholds.numbers_min_runs:
        common = len(a.numbers & b.numbers) / fewer
        if common < thresholds.numbers_containment:
            return verdict(False, f"different figures ({common:.0%} shared): a templated item")
    if a.data_dense or b.data_dense:
        x, y = sorted((a.tokens, b.tokens))  # difflib is not symmetric: fix an order
        edits = _interior_edits(x, y, thresholds.paragraph_tokens)
        if edits:
            return verdict(False, f"table-like text with {edits} value(s) changed: a template")
    return verdict(True, f"near-duplicate text ({containment:.0%} of the shorter shared)")


# ---------------------------------------------------------------------------------------
# Clustering in memory: the reference algorithm, for evaluation and benchmarks
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One article as the clustering sees it."""

    key: str
    outlet: str
    time: datetime
    fingerprint: Fingerprint


def best_match(
    entry: Entry,
    candidates: Iterable[Entry],
    *,
    window: timedelta = WINDOW,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> tuple[Entry, Verdict] | None:
    """The candidate `entry` copies, if any: other outlet, within `window`, verified.

    The highest score wins; ties go to the earlier candidate, then the smaller key, so the
    result does not depend on the order candidates come in.
    """
    best: tuple[Entry, Verdict] | None = None
    for other in candidates:
        if other.outlet == entry.outlet or abs(other.time - entry.time) > window:
            continue
        verdict = is_same_story(entry.fingerprint, other.fingerprint, thresholds)
        if not verdict.same:
            continue
        if best is None or (-verdict.score, other.time, other.key) < (
            -best[1].score,
            best[0].time,
            best[0].key,
        ):
            best = (other, verdict)
    return best


@dataclass
class _Index:
    buckets: dict[BandKey, list[Entry]] = field(default_factory=lambda: defaultdict(list))

    def candidates(self, fp: Fingerprint) -> list[Entry]:
        seen: dict[str, Entry] = {}
        for key in fp.bands:
            for other in self.buckets.get(key, ()):
                seen.setdefault(other.key, other)
        return list(seen.values())

    def add(self, entry: Entry) -> None:
        for key in entry.fingerprint.bands:
            self.buckets[key].append(entry)


def cluster(
    entries: Iterable[Entry],
    *,
    window: timedelta = WINDOW,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    brute_force: bool = False,
) -> dict[str, str]:
    """Assign every entry to a story, in time order; returns entry key -> story key.

    A story's key is the key of its first (original) member. Each entry joins the story of
    its best verified candidate (:func:`best_match`) among earlier entries sharing an LSH
    band, or starts a story. ``brute_force`` compares with every earlier entry instead
    (the baseline the LSH index is measured against).
    """
    ordered = sorted(entries, key=lambda e: (e.time, e.key))
    index = _Index()
    story: dict[str, str] = {}
    for position, entry in enumerate(ordered):
        pool = ordered[:position] if brute_force else index.candidates(entry.fingerprint)
        match = best_match(entry, pool, window=window, thresholds=thresholds)
        story[entry.key] = story[match[0].key] if match else entry.key
        index.add(entry)
    return story


class PairScores(NamedTuple):
    precision: float
    recall: float
    true_pairs: int  # pairs in one labelled cluster
    predicted_pairs: int  # pairs in one predicted story
    correct_pairs: int


def _pairs(groups: Mapping[str, str], keys: Iterable[str]) -> set[tuple[str, str]]:
    by_group: dict[str, list[str]] = defaultdict(list)
    for key in sorted(keys):
        by_group[groups[key]].append(key)
    return {
        (x, y)
        for members in by_group.values()
        for i, x in enumerate(members)
        for y in members[i + 1 :]
    }


def pairwise_scores(
    truth: Mapping[str, str], predicted: Mapping[str, str], keys: Iterable[str] | None = None
) -> PairScores:
    """Pairwise precision and recall of a clustering against labels, over `keys` (default all).

    Precision: share of the predicted same-story pairs that are labelled so; recall: share of
    the labelled pairs that were predicted. With no pairs on a side, that figure is 1.0.
    """
    chosen = list(truth if keys is None else keys)
    true = _pairs(truth, chosen)
    found = _pairs(predicted, chosen)
    correct = len(true & found)
    return PairScores(
        precision=correct / len(found) if found else 1.0,
        recall=correct / len(true) if true else 1.0,
        true_pairs=len(true),
        predicted_pairs=len(found),
        correct_pairs=correct,
    )
