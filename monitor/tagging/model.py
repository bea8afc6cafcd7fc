"""The compiled rule set and what tagging returns.

Terms are numbered once for the whole rule set (a *term* is one expression as written in the
rules, such as ``"buy*|purchase|@weapons"``); conditions and weighted entries refer to term
numbers, and an article's matches are looked up by term number. See ``settings/topics.yaml``
for the rule language and :func:`monitor.tagging.tags_for` for the scoring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from monitor.tagging.matcher import Matcher

Field = Literal["title", "body"]
FIELDS: tuple[Field, ...] = ("title", "body")
LANGUAGES: tuple[str, ...] = ("ar", "fr", "he", "en")

# term number -> start/end word spans of its occurrences in one field, in text order
Spans = Mapping[int, Sequence[tuple[int, int]]]


@dataclass(frozen=True, slots=True)
class Found:
    """Where each term occurs in an article's folded title and body words."""

    spans: Mapping[Field, Spans]
    tokens: Mapping[Field, Sequence[str]]

    def has(self, term: int) -> bool:
        return term in self.spans["title"] or term in self.spans["body"]


@dataclass(frozen=True, slots=True)
class Term:
    """A term condition: the expression occurs in the title or the body."""

    term: int
    label: str

    def holds(self, found: Found) -> bool:
        return found.has(self.term)


def _inside(span: tuple[int, int], k: int, lists: list[Sequence[tuple[int, int]] | None]) -> bool:
    """True when ``span`` (of term ``k``) lies within an occurrence of another term.

    Of two identical spans only the later term's is dropped, so one of them still counts.
    """
    for j, occ in enumerate(lists):
        if j == k or not occ:
            continue
        for other in occ:
            if other[0] <= span[0] and span[1] <= other[1] and (other != span or j < k):
                return True
    return False


@dataclass(frozen=True, slots=True)
class Near:
    """All ``terms`` occur in one field with their first words at most ``within`` apart."""

    terms: tuple[int, ...]
    within: int
    label: str

    def window(self, spans: Spans) -> tuple[tuple[int, int], ...] | None:
        """The tightest set of occurrences (one per term) that fits, or None.

        The terms must match different words: an occurrence lying inside another term's
        occurrence does not count (in "Israel Aerospace Industries" the company is not also
        the word "industries").
        """
        lists = [spans.get(t) for t in self.terms]
        if any(not occ for occ in lists):
            return None
        lists = [[s for s in occ if not _inside(s, k, lists)] for k, occ in enumerate(lists) if occ]
        if any(not occ for occ in lists):
            return None
        # Merge occurrences labelled by term, then slide a window that holds every label.
        events = sorted(
            (span[0], k, span) for k, occ in enumerate(lists) if occ is not None for span in occ
        )
        need = len(self.terms)
        held: dict[int, int] = {}
        best: tuple[int, int, int] | None = None  # (width, left index, right index)
        left = 0
        for right, (start, label, _) in enumerate(events):
            held[label] = held.get(label, 0) + 1
            while len(held) == need:
                width = start - events[left][0]
                if best is None or width < best[0]:
                    best = (width, left, right)
                gone = events[left][1]
                held[gone] -= 1
                if not held[gone]:
                    del held[gone]
                left += 1
        if best is None or best[0] > self.within:
            return None
        chosen: dict[int, tuple[int, int]] = {}
        for _, label, span in events[best[1] : best[2] + 1]:
            chosen.setdefault(label, span)
        return tuple(sorted(chosen.values()))

    def holds(self, found: Found) -> bool:
        return any(self.window(found.spans[f]) is not None for f in FIELDS)


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least ``least`` of ``parts`` hold (1 by default: plain ``any``)."""

    parts: tuple[Condition, ...]
    least: int = 1

    def holds(self, found: Found) -> bool:
        count = 0
        for part in self.parts:
            if part.holds(found):
                count += 1
                if count >= self.least:
                    return True
        return False


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every one of ``parts`` holds."""

    parts: tuple[Condition, ...]

    def holds(self, found: Found) -> bool:
        return all(part.holds(found) for part in self.parts)


Condition = Term | Near | AnyOf | AllOf


@dataclass(frozen=True, slots=True)
class Weighted:
    """A scoring entry: a term or a proximity clause, and the points it is worth."""

    what: Term | Near
    weight: float


@dataclass(frozen=True, slots=True)
class Rule:
    """A tag's rule for one language: the shared block merged with that language's block."""

    threshold: float
    weighted: tuple[Weighted, ...]
    require: tuple[Condition, ...]
    exclude: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Tag:
    """One tag: slug, label, optional parent tag it implies, and its rule per language."""

    slug: str
    label: str
    parent: str | None
    title_weight: float
    rules: Mapping[str, Rule]


@dataclass(frozen=True, slots=True)
class Rules:
    """A validated, compiled rule file (build it with :func:`monitor.tagging.load_rules`)."""

    version: str
    tags: tuple[Tag, ...]
    matcher: Matcher
    phrase_terms: tuple[tuple[int, ...], ...]  # phrase id -> the terms it belongs to
    source: str = "<rules>"

    def slugs(self) -> tuple[str, ...]:
        return tuple(tag.slug for tag in self.tags)

    def labels(self) -> dict[str, str]:
        return {tag.slug: tag.label for tag in self.tags}


@dataclass(frozen=True, slots=True)
class Match:
    """Evidence: a rule entry that scored, where it matched and what it added (negative for
    a subtracting entry; a hit's evidence is ordered by points, strongest first).

    ``positions`` are word indexes in the field's folded words
    (``words(fold(field_text))``), one per occurrence (for a proximity clause, one per
    member of the matching window); ``text`` is the article's folded words at the first
    occurrence.
    """

    rule: str
    field: Field
    positions: tuple[int, ...]
    text: str
    points: float

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "field": self.field,
            "positions": list(self.positions),
            "text": self.text,
            "points": self.points,
        }


@dataclass(frozen=True, slots=True)
class TagHit:
    """A tag given to an article: score, the evidence, the rules version, and ``via``.

    ``via`` names the narrower tags that implied this one (an ``arms-deal`` article is also a
    ``defense-cooperation`` article); their evidence is included.
    """

    tag: str
    score: float
    evidence: tuple[Match, ...]
    version: str
    via: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        """The evidence record stored with the article's tag (JSON-serialisable)."""
        return {
            "version": self.version,
            "score": self.score,
            "via": list(self.via),
            "matches": [m.to_json() for m in self.evidence],
        }
