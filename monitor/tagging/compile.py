"""Validate a parsed rule file and compile it into :class:`~monitor.tagging.model.Rules`.

Every problem is a :class:`RulesError` naming the file, the line, the rule (tag, language
block, entry) and what is wrong, so an analyst editing ``settings/topics.yaml`` can fix it
without reading code. The rule language itself is documented at the top of that file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from monitor.tagging.loader import LineDict, LineList, RulesError
from monitor.tagging.matcher import Matcher, Phrase, Piece
from monitor.tagging.model import (
    LANGUAGES,
    AllOf,
    AnyOf,
    Condition,
    Near,
    Rule,
    Rules,
    Tag,
    Term,
    Weighted,
)
from monitor.text import fold, words

_SLUG: Final = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_TOP_KEYS: Final = frozenset({"version", "title_weight", "entities", "tags"})
_ENTITY_KEYS: Final = frozenset({"label", "kind", "terms"})
_ENTITY_KINDS: Final = frozenset(
    {"person", "institution", "weapon", "company", "place", "group", "concept"}
)
_BLOCK_KEYS: Final = frozenset({"terms", "near", "all", "any", "none"})
_TAG_KEYS: Final = frozenset({"label", "description", "parent", "threshold", "title_weight"})
_MIN_STEM: Final = 3


@dataclass(frozen=True, slots=True)
class _Where:
    """Where a value sits in the file, for messages: source, line, and a rule path."""

    source: str
    line: int
    path: str

    def at(self, node: object, more: str = "") -> _Where:
        line = getattr(node, "line", 0) or self.line
        return _Where(self.source, line, f"{self.path}{more}")

    def fail(self, problem: str) -> RulesError:
        line = f", line {self.line}" if self.line else ""
        return RulesError(f"{self.source}{line}: {self.path}: {problem}")


def _number(value: object, where: _Where, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise where.fail(f"{what} must be a number, got {value!r}")
    return float(value)


def _mapping(value: object, where: _Where, allowed: frozenset[str]) -> LineDict:
    if not isinstance(value, LineDict):
        raise where.fail(f"expected a mapping, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise where.fail(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return value


def _strings(value: object, where: _Where, what: str) -> list[str]:
    if not isinstance(value, LineList) or not value:
        raise where.fail(f"{what} must be a non-empty list")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise where.fail(f"{what}: every entry must be a non-empty string, got {item!r}")
    return list(value)


class _Terms:
    """Numbers term expressions and their phrases; expands ``@entity`` references."""

    def __init__(self, entities: Mapping[str, _Entity]) -> None:
        self._entities = entities
        self._entity_phrases: dict[tuple[str, str], frozenset[int]] = {}
        self._expanding: list[str] = []
        self.phrases: list[Phrase] = []
        self._phrase_ids: dict[Phrase, int] = {}
        self.term_phrases: list[frozenset[int]] = []
        self._term_ids: dict[tuple[str, str], int] = {}

    def _phrase(self, variant: str, where: _Where) -> int:
        pieces: list[Piece] = []
        for raw in variant.split():
            is_stem = raw.endswith("*")
            core = raw.rstrip("*")
            if "*" in core:
                raise where.fail(f"{variant!r}: '*' may only end a word")
            folded = words(fold(core))
            if not folded:
                continue
            pieces.extend((w, False) for w in folded[:-1])
            if is_stem and len(folded[-1]) < _MIN_STEM:
                raise where.fail(
                    f"{variant!r}: a '*' stem needs at least {_MIN_STEM} letters, "
                    f"got {folded[-1]!r}"
                )
            pieces.append((folded[-1], is_stem))
        if not pieces:
            raise where.fail(f"{variant!r} has no letters or digits to match")
        phrase = tuple(pieces)
        if phrase not in self._phrase_ids:
            self._phrase_ids[phrase] = len(self.phrases)
            self.phrases.append(phrase)
        return self._phrase_ids[phrase]

    def _entity(self, name: str, lang: str, where: _Where) -> frozenset[int]:
        """The phrases of entity ``name`` for articles in ``lang`` (its ``lang`` and ``any``
        spellings)."""
        key = (name, lang)
        if key in self._entity_phrases:
            return self._entity_phrases[key]
        if name not in self._entities:
            raise where.fail(f"unknown entity '@{name}'")
        if name in self._expanding:
            cycle = " -> ".join(f"@{n}" for n in [*self._expanding, name])
            raise where.fail(f"entities refer to each other in a loop: {cycle}")
        self._expanding.append(name)
        entity = self._entities[name]
        found: set[int] = set()
        for group in (lang, "any"):
            for expr in entity.terms.get(group, ()):
                found |= self._expression(expr, lang, entity.where)
        self._expanding.pop()
        self._entity_phrases[key] = frozenset(found)
        return self._entity_phrases[key]

    def _expression(self, expr: str, lang: str, where: _Where) -> set[int]:
        found: set[int] = set()
        for raw in expr.split("|"):
            variant = raw.strip()
            if not variant:
                raise where.fail(f"{expr!r} has an empty variant (check the '|')")
            if variant.startswith("@"):
                found |= self._entity(variant[1:], lang, where)
            else:
                found.add(self._phrase(variant, where))
        return found

    def term(self, expr: object, lang: str, where: _Where) -> Term:
        """The :class:`Term` for expression ``expr`` in articles of language ``lang``."""
        if not isinstance(expr, str) or not expr.strip():
            raise where.fail(f"a term must be a non-empty string, got {expr!r}")
        label = " ".join(expr.split())
        key = (label, lang)
        if key not in self._term_ids:
            phrases = frozenset(self._expression(label, lang, where))
            self._term_ids[key] = len(self.term_phrases)
            self.term_phrases.append(phrases)
        return Term(self._term_ids[key], label)

    def check_entities(self) -> None:
        """Expand every entity, so a broken one is reported even if no tag uses it."""
        for name, entity in self._entities.items():
            for lang in LANGUAGES:
                self._entity(name, lang, entity.where)

    def phrase_terms(self) -> tuple[tuple[int, ...], ...]:
        out: list[list[int]] = [[] for _ in self.phrases]
        for term, phrases in enumerate(self.term_phrases):
            for pid in phrases:
                out[pid].append(term)
        return tuple(tuple(t) for t in out)


def _near(exprs: object, within: object, terms: _Terms, lang: str, where: _Where) -> Near:
    items = _strings(exprs, where, "near terms")
    if len(items) < 2:
        raise where.fail("near needs at least two terms")
    if isinstance(within, bool) or not isinstance(within, int) or within < 1:
        raise where.fail(f"within must be a whole number of words >= 1, got {within!r}")
    ids = tuple(terms.term(e, lang, where).term for e in items)
    label = " ~ ".join(" ".join(e.split()) for e in items) + f" within {within}"
    return Near(ids, within, label)


def _condition(value: object, terms: _Terms, lang: str, where: _Where) -> Condition:
    """A condition: a term string, ``{any: [...]}`` / ``{any: {min, of}}``, ``{all: [...]}``,
    or ``{near: [...], within: N}``."""
    if isinstance(value, str):
        return terms.term(value, lang, where)
    if not isinstance(value, LineDict):
        raise where.fail(f"a condition must be a term or a mapping, got {value!r}")
    here = where.at(value)
    keys = set(value)
    if keys == {"near", "within"}:
        return _near(value["near"], value["within"], terms, lang, here)
    if keys == {"all"}:
        return AllOf(_conditions(value["all"], terms, lang, here.at(value, ".all")))
    if keys == {"any"}:
        return _any(value["any"], terms, lang, here.at(value, ".any"))
    raise here.fail(
        f"a condition mapping is {{any: ...}}, {{all: ...}} or {{near: [...], within: N}}; "
        f"got keys {sorted(map(str, keys))}"
    )


def _conditions(value: object, terms: _Terms, lang: str, where: _Where) -> tuple[Condition, ...]:
    if not isinstance(value, LineList) or not value:
        raise where.fail("expected a non-empty list of conditions")
    return tuple(_condition(item, terms, lang, where.at(value)) for item in value)


def _any(value: object, terms: _Terms, lang: str, where: _Where) -> AnyOf:
    if isinstance(value, LineDict):
        _mapping(value, where, frozenset({"min", "of"}))
        parts = _conditions(value.get("of"), terms, lang, where.at(value, " of"))
        least = value.get("min", 1)
        if isinstance(least, bool) or not isinstance(least, int) or not 1 <= least <= len(parts):
            raise where.at(value).fail(f"min must be between 1 and {len(parts)}, got {least!r}")
        return AnyOf(parts, least)
    return AnyOf(_conditions(value, terms, lang, where))


@dataclass(frozen=True, slots=True)
class _Block:
    threshold: float | None
    weighted: tuple[Weighted, ...]
    require: tuple[Condition, ...]
    exclude: tuple[Condition, ...]


_EMPTY: Final = _Block(None, (), (), ())


def _weighted_terms(raw: object, terms: _Terms, lang: str, where: _Where) -> list[Weighted]:
    if not isinstance(raw, LineDict) or not raw:
        raise where.fail("terms must be a mapping of term: weight")
    out: list[Weighted] = []
    for expr, weight in raw.items():
        w = _number(weight, where, f"the weight of {expr!r}")
        if w == 0:
            raise where.fail(f"the weight of {expr!r} is 0: remove the term instead")
        out.append(Weighted(terms.term(expr, lang, where), w))
    return out


def _weighted_near(raw: object, terms: _Terms, lang: str, where: _Where) -> list[Weighted]:
    if not isinstance(raw, LineList) or not raw:
        raise where.fail("near must be a list of {terms: [...], within: N, weight: W}")
    out: list[Weighted] = []
    for item in raw:
        iw = where.at(item)
        _mapping(item, iw, frozenset({"terms", "within", "weight"}))
        clause = _near(item.get("terms"), item.get("within"), terms, lang, iw)
        out.append(Weighted(clause, _number(item.get("weight"), iw, "weight")))
    return out


def _block(node: LineDict, terms: _Terms, lang: str, where: _Where) -> _Block:
    """One block (a tag's shared part, or one language) compiled for articles in ``lang``."""
    weighted: list[Weighted] = []
    if "terms" in node:
        weighted += _weighted_terms(node["terms"], terms, lang, where.at(node["terms"], ".terms"))
    if "near" in node:
        weighted += _weighted_near(node["near"], terms, lang, where.at(node["near"], ".near"))
    require: list[Condition] = []
    if "all" in node:
        require += _conditions(node["all"], terms, lang, where.at(node["all"], ".all"))
    if "any" in node:
        require.append(_any(node["any"], terms, lang, where.at(node["any"], ".any")))
    exclude: tuple[Condition, ...] = ()
    if "none" in node:
        exclude = _conditions(node["none"], terms, lang, where.at(node["none"], ".none"))
    threshold = None
    if "threshold" in node:
        threshold = _number(node["threshold"], where, "threshold")
        if threshold <= 0:
            raise where.fail(f"threshold must be above 0, got {threshold}")
    return _Block(threshold, tuple(weighted), tuple(require), exclude)


def _tag(slug: str, node: object, terms: _Terms, where: _Where, title_weight: float) -> Tag:
    allowed = _TAG_KEYS | _BLOCK_KEYS | frozenset(LANGUAGES)
    node = _mapping(node, where, allowed)
    label = node.get("label")
    if not isinstance(label, str) or not label.strip():
        raise where.fail("a tag needs a label (the name analysts see)")
    if "threshold" not in node:
        raise where.fail("a tag needs a threshold (the score an article must reach)")
    base_threshold = _number(node["threshold"], where, "threshold")
    weight = _number(node.get("title_weight", title_weight), where, "title_weight")
    parent = node.get("parent")
    if parent is not None and not isinstance(parent, str):
        raise where.fail(f"parent must be a tag slug, got {parent!r}")
    shared_node = LineDict((k, v) for k, v in node.items() if k in _BLOCK_KEYS | {"threshold"})
    shared_node.line = node.line
    lang_nodes: dict[str, LineDict] = {}
    for lang in LANGUAGES:
        if lang in node:
            lw = where.at(node[lang], f", {lang}")
            lang_nodes[lang] = _mapping(node[lang], lw, _BLOCK_KEYS | {"threshold"})
    rules: dict[str, Rule] = {}
    for lang in LANGUAGES:
        shared = _block(shared_node, terms, lang, where)
        lang_node = lang_nodes.get(lang)
        lw = where.at(lang_node, f", {lang}")
        own = _block(lang_node, terms, lang, lw) if lang_node is not None else _EMPTY
        shared_labels = {w.what.label for w in shared.weighted}
        twice = [w.what.label for w in own.weighted if w.what.label in shared_labels]
        if twice:
            raise lw.fail(f"{twice[0]!r} is already weighted in the tag's shared terms")
        rules[lang] = Rule(
            threshold=own.threshold if own.threshold is not None else base_threshold,
            weighted=shared.weighted + own.weighted,
            require=shared.require + own.require,
            exclude=shared.exclude + own.exclude,
        )
    if not any(rule.weighted for rule in rules.values()):
        raise where.fail("the tag has no weighted terms or near clauses: nothing can score")
    return Tag(slug, label.strip(), parent, weight, rules)


@dataclass(frozen=True, slots=True)
class _Entity:
    """An entity's spellings, grouped by article language (``any``: every language)."""

    terms: Mapping[str, tuple[str, ...]]
    where: _Where


def _entities(node: object, where: _Where) -> dict[str, _Entity]:
    if node is None:
        return {}
    if not isinstance(node, LineDict):
        raise where.fail("entities must be a mapping of name: {kind, terms}")
    out: dict[str, _Entity] = {}
    for name, raw_spec in node.items():
        ew = _Where(where.source, getattr(raw_spec, "line", node.line), f"entity '{name}'")
        if not isinstance(name, str) or not _SLUG.match(name):
            raise ew.fail("entity names are lower-case letters, digits and '-'")
        spec = _mapping(raw_spec, ew, _ENTITY_KEYS)
        if spec.get("kind") not in _ENTITY_KINDS:
            raise ew.fail(f"kind must be one of {', '.join(sorted(_ENTITY_KINDS))}")
        raw = spec.get("terms")
        groups: dict[str, tuple[str, ...]] = {}
        if isinstance(raw, LineDict):
            for key, items in raw.items():
                if key not in (*LANGUAGES, "any"):
                    raise ew.fail(
                        f"terms are grouped by language ({', '.join(LANGUAGES)}) or 'any', "
                        f"got {key!r}"
                    )
                groups[key] = tuple(_strings(items, ew.at(items), f"terms.{key}"))
        else:
            groups["any"] = tuple(_strings(raw, ew, "terms"))
        out[name] = _Entity(groups, ew)
    return out


def compile_rules(data: object, source: str = "<rules>") -> Rules:
    """Validate the parsed YAML ``data`` and compile it; raise :class:`RulesError`."""
    top = _Where(source, 0, "rule file")
    if not isinstance(data, LineDict):
        raise top.fail("expected a mapping with version, entities and tags")
    _mapping(data, top, _TOP_KEYS)
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise top.fail('version must be a non-empty string (quote it: version: "2025.1")')
    title_weight = _number(data.get("title_weight", 2.0), top, "title_weight")
    terms = _Terms(_entities(data.get("entities"), top.at(data.get("entities"), ": entities")))
    terms.check_entities()
    raw_tags = data.get("tags")
    if not isinstance(raw_tags, LineDict) or not raw_tags:
        raise top.fail("tags must be a non-empty mapping of slug: rule")
    tags: list[Tag] = []
    for slug, node in raw_tags.items():
        tw = _Where(source, getattr(node, "line", raw_tags.line), f"tag '{slug}'")
        if not isinstance(slug, str) or not _SLUG.match(slug):
            raise tw.fail("tag slugs are lower-case letters, digits and '-'")
        tags.append(_tag(slug, node, terms, tw, title_weight))
    _check_parents(tags, raw_tags, source)
    return Rules(
        version=version.strip(),
        tags=tuple(tags),
        matcher=Matcher(terms.phrases),
        phrase_terms=terms.phrase_terms(),
        source=source,
    )


def _check_parents(tags: list[Tag], raw: LineDict, source: str) -> None:
    slugs = {tag.slug: tag for tag in tags}
    for tag in tags:
        where = _Where(source, getattr(raw[tag.slug], "line", 0), f"tag '{tag.slug}'")
        seen = [tag.slug]
        parent = tag.parent
        while parent is not None:
            if parent not in slugs:
                raise where.fail(f"parent '{parent}' is not a tag in this file")
            if parent in seen:
                raise where.fail(f"parent links loop: {' -> '.join([*seen, parent])}")
            seen.append(parent)
            parent = slugs[parent].parent
