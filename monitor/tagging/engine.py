"""Score an article against compiled rules: which tags it gets, and why.

Scoring (the README's "Tag rules" section says the same for rule authors):

* A tag's rule for the article's language is its shared block merged with that language's
  block. An article whose language is unknown (or not one the rules cover) is scored with
  each language's rule and keeps the best result.
* Conditions first: every ``all`` entry must hold, each ``any`` group must have at least
  one (or ``min``) of its entries, and no ``none`` entry may hold, in the title or the body.
* Then the score: each weighted term or proximity clause found counts its weight once per
  field, times ``title_weight`` in the title (a term in both title and body counts both).
  Negative weights subtract. The tag is given when the score reaches the threshold.
* A tag with a ``parent`` also gives the parent (its evidence and ``via``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.tagging.model import (
    FIELDS,
    Field,
    Found,
    Match,
    Rule,
    Rules,
    Tag,
    TagHit,
    Term,
)
from monitor.text import fold, words

# Evidence keeps this many positions per entry and field: enough to highlight, bounded in
# size for long articles that repeat a name fifty times.
_MAX_POSITIONS = 12


def find_terms(title: str, body: str, rules: Rules) -> Found:
    """Fold both fields, scan them once, and group the phrase hits by term."""
    tokens: dict[Field, list[str]] = {"title": words(fold(title)), "body": words(fold(body))}
    spans: dict[Field, dict[int, list[tuple[int, int]]]] = {}
    for name in FIELDS:
        by_term: dict[int, list[tuple[int, int]]] = {}
        for hit in rules.matcher.scan(tokens[name]):
            for term in rules.phrase_terms[hit.phrase]:
                by_term.setdefault(term, []).append((hit.start, hit.end))
        for term, occ in by_term.items():
            # Two variants of one term starting on the same word ("israeli", "israeli
            # military") are one occurrence: keep the longest.
            occ.sort(key=lambda span: (span[0], -span[1]))
            by_term[term] = [s for k, s in enumerate(occ) if k == 0 or occ[k - 1][0] != s[0]]
        spans[name] = by_term
    return Found(spans=spans, tokens=tokens)


@dataclass(frozen=True, slots=True)
class _Scored:
    score: float
    evidence: tuple[Match, ...]


def _text(tokens: Sequence[str], span: tuple[int, int]) -> str:
    return " ".join(tokens[span[0] : span[1]])


def _score(rule: Rule, found: Found, title_weight: float) -> _Scored | None:
    """The rule's score and evidence for ``found``, or None when a condition fails."""
    if any(cond.holds(found) for cond in rule.exclude):
        return None
    if not all(cond.holds(found) for cond in rule.require):
        return None
    total = 0.0
    evidence: list[Match] = []
    for entry in rule.weighted:
        what = entry.what
        for name in FIELDS:
            factor = title_weight if name == "title" else 1.0
            toks = found.tokens[name]
            if isinstance(what, Term):
                occ = found.spans[name].get(what.term)
                if not occ:
                    continue
                positions = tuple(s for s, _ in occ[:_MAX_POSITIONS])
                text = _text(toks, occ[0])
            else:
                window = what.window(found.spans[name])
                if window is None:
                    continue
                positions = tuple(s for s, _ in window)
                text = " … ".join(_text(toks, span) for span in window)
            points = round(entry.weight * factor, 3)
            total += points
            evidence.append(Match(what.label, name, positions, text, points))
    # Strongest first: readers (the digest) list the leading terms; subtractions come last.
    evidence.sort(key=lambda m: -m.points)
    return _Scored(round(total, 3), tuple(evidence))


def _best(tag: Tag, lang: str | None, found: Found) -> _Scored | None:
    """Score ``tag`` in the article's language, or in every language when it is unknown."""
    if lang is not None and lang in tag.rules:
        candidates = [tag.rules[lang]]
    else:
        candidates = list(tag.rules.values())
    best: _Scored | None = None
    for rule in candidates:
        scored = _score(rule, found, tag.title_weight)
        if scored is None or scored.score < rule.threshold:
            continue
        if best is None or scored.score > best.score:
            best = scored
    return best


def tags_for(title: str, body: str, lang: str | None, rules: Rules) -> list[TagHit]:
    """The tags ``rules`` give an article, in rule-file order, each with score and evidence.

    ``title`` and ``body`` are display text (not folded: this folds them); ``lang`` is the
    article's language code (``ar``, ``fr``, ``he``, ``en``) or None when unknown.
    """
    found = find_terms(title, body, rules)
    own: dict[str, _Scored] = {}
    for tag in rules.tags:
        scored = _best(tag, lang, found)
        if scored is not None:
            own[tag.slug] = scored
    return _with_parents(rules, own)


def _with_parents(rules: Rules, own: dict[str, _Scored]) -> list[TagHit]:
    """Add the tags implied by ``parent`` links (transitively) to the directly given ones."""
    parent_of = {tag.slug: tag.parent for tag in rules.tags}
    via: dict[str, list[str]] = {}
    for slug in own:
        parent = parent_of.get(slug)
        while parent is not None:
            via.setdefault(parent, []).append(slug)
            parent = parent_of.get(parent)
    hits: list[TagHit] = []
    for tag in rules.tags:
        children = via.get(tag.slug, [])
        mine = own.get(tag.slug)
        if mine is None and not children:
            continue
        if mine is not None:
            score, evidence = mine.score, mine.evidence
            score = max([score, *(own[c].score for c in children)])
        else:
            # Implied only: the best child's score, the children's evidence without repeats.
            score = max(own[c].score for c in children)
            seen: dict[tuple[str, str], Match] = {}
            for child in children:
                for m in own[child].evidence:
                    seen.setdefault((m.rule, m.field), m)
            evidence = tuple(seen.values())
        hits.append(TagHit(tag.slug, score, evidence, rules.version, tuple(children)))
    return hits
