"""Analyst search queries: parse once, render for SQLite FTS5 and PostgreSQL, match in Python.

Syntax (what an analyst types):

- words: ``Gantz``, ``إسرائيل``, ``כוכבי``; adjacent terms are ANDed;
- phrases in quotes: ``"وزير الدفاع"``, ``“Royal Moroccan Army”``, ``«défense marocaine»``;
  a double quote between two Hebrew letters is a gershayim (``צה"ל``), not a quote;
- ``AND``, ``OR``, ``NOT`` (upper case; lower-case ``or`` is a word), parentheses,
  ``-word`` / ``-"phrase"`` / ``-(group)`` for NOT; precedence NOT > AND > OR;
- ``word*`` for an explicit prefix search.

Every word goes through :func:`monitor.text.fold`, the same folding that produced
``articles.match_text``, so spelling variants meet: ``إسرائيل`` = ``اسرائيل``,
``كوخافى`` = ``كوخافي``, pointed Hebrew = unpointed, ``défense`` = ``defense``,
``Gantz`` = ``gantz``.

Arabic clitics and Hebrew prefixes are handled on the query side, by expansion, so
the index stays the plain folded text (kept in step by SQL triggers, readable by any
SQL client, no Python needed at write time). A word in Arabic or Hebrew script:

1. loses a typed definite article when at least three letters remain (Arabic
   ``ال``/``وال``/``بال``/``لل``…, Hebrew ``ה``), so ``الجيش`` searches like ``جيش``;
2. is looked for with each proclitic in front of it (Arabic ``و ف`` + ``ب ك ل`` + ``ال``,
   ``لل``; Hebrew ``ו`` + ``ש``/``כש`` + ``ב כ ל מ`` + ``ה``), so ``اسرائيل`` finds
   ``واسرائيل`` and ``بالاسرائيلي``, ``ישראל`` finds ``בישראל`` and ``והישראלים``;
3. is matched as a prefix (three letters or more) so suffixes are allowed:
   ``اسرائيل`` finds ``اسرائيلي``/``اسرائيليه``, ``ישראל`` finds ``ישראלים``; a folded
   ``ة`` (``ه``) may also appear as ``ت`` before a suffix and a Hebrew final letter as
   its medial form (``حكومه`` → ``حكومته``, ``שלום`` → ``שלומו``).

Latin-script words match whole folded words only (``art`` does not find ``article``);
add ``*`` to ask for a prefix. Words the analyst already wrote with a proclitic other
than the article (``وإسرائيل``) are searched as typed: stripping ``و``/``ב``/``ל`` from
the query would turn ``لبنان`` into ``بنان``.

In SQLite a multi-word phrase is rendered as an OR of FTS5 phrases over the product of
each word's forms; to keep that bounded the product is cut to :data:`PHRASE_BUDGET`
alternatives, dropping the rarest proclitics first (PostgreSQL and :func:`matches` keep
all forms, since ``<->`` accepts an OR group on each side).

User text never reaches SQL or FTS syntax: each form is emitted as a quoted FTS5
string or a quoted tsquery lexeme, and the whole expression is passed as a bound
parameter (``... MATCH :q``, ``to_tsquery('simple', :q)``).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from monitor.text import fold, words

__all__ = [
    "PHRASE_BUDGET",
    "And",
    "Form",
    "Node",
    "Not",
    "Or",
    "QueryError",
    "Term",
    "forms",
    "matches",
    "parse",
    "positive_terms",
    "snippet",
    "to_fts5",
    "to_tsquery",
]

MAX_QUERY_CHARS = 1000
MAX_TERMS = 32
PHRASE_BUDGET = 64


class QueryError(ValueError):
    """A query an analyst typed cannot be searched; the message says why and where."""


@dataclass(frozen=True, slots=True)
class Term:
    """Folded words to find next to each other (one word, or a phrase).

    ``prefix`` marks an explicit ``*`` on the last word.
    """

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = Term | And | Or | Not


@dataclass(frozen=True, slots=True)
class Form:
    """One surface form a query word may take in the folded text."""

    text: str
    prefix: bool  # True: any folded word starting with ``text`` matches


# ---------------------------------------------------------------- tokenising

_OPEN_QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»", "”": "”"}
_OPERATORS = frozenset({"AND", "OR", "NOT"})
_HEBREW = re.compile(r"[\u0590-\u05ff\ufb1d-\ufb4f]")
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "word", "phrase", "op", "(", ")", "-"
    text: str
    pos: int


def _is_gershayim(query: str, i: int) -> bool:
    """A ``"`` between two Hebrew letters abbreviates (צה"ל) rather than quotes."""
    return (
        0 < i < len(query) - 1
        and bool(_HEBREW.match(query[i - 1]))
        and bool(_HEBREW.match(query[i + 1]))
    )


def _tokens(query: str) -> Iterator[_Tok]:
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            yield _Tok(ch, ch, i)
            i += 1
        elif ch == "-" and i + 1 < n and not query[i + 1].isspace():
            yield _Tok("-", ch, i)
            i += 1
        elif ch in _OPEN_QUOTES:
            close = _OPEN_QUOTES[ch]
            end = i + 1
            while end < n and not (query[end] in (close, '"') and not _is_gershayim(query, end)):
                end += 1
            if end >= n:
                raise QueryError(f"unclosed quote {ch} at position {i + 1}: add the closing quote")
            yield _Tok("phrase", query[i + 1 : end], i)
            i = end + 1
        else:
            end = i
            while end < n and not query[end].isspace() and query[end] not in "()":
                if query[end] in _OPEN_QUOTES and not _is_gershayim(query, end):
                    break
                end += 1
            text = query[i:end]
            yield _Tok("op" if text in _OPERATORS else "word", text, i)
            i = end


# ---------------------------------------------------------------- parsing


class _Parser:
    """Recursive descent: or := and (OR and)*; and := unary+; unary := (NOT|-) unary | atom."""

    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.i = 0
        self.terms = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self) -> Node:
        node = self.or_()
        tok = self.peek()
        if tok is not None:
            raise QueryError(f"unexpected ')' at position {tok.pos + 1}: no '(' opens it")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while (tok := self.peek()) is not None and tok.kind == "op" and tok.text == "OR":
            self.i += 1
            items.append(self.and_(after=tok))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self, after: _Tok | None = None) -> Node:
        items: list[Node] = []
        while (tok := self.peek()) is not None and tok.kind != ")":
            if tok.kind == "op" and tok.text == "OR":
                break
            if tok.kind == "op" and tok.text == "AND":
                if not items:
                    raise _missing_operand(tok)
                self.i += 1
                after = tok
                nxt = self.peek()
                if nxt is None or nxt.kind == ")" or (nxt.kind == "op" and nxt.text != "NOT"):
                    raise _missing_operand(tok)
                continue
            items.append(self.unary())
            after = None
        if not items:
            culprit = after or self.peek()
            if culprit is None or culprit.kind == ")":
                raise QueryError("empty query or group: type at least one word to look for")
            raise _missing_operand(culprit)
        if after is not None:
            raise _missing_operand(after)
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        tok = self.toks[self.i]
        if tok.kind == "-" or (tok.kind == "op" and tok.text == "NOT"):
            self.i += 1
            nxt = self.peek()
            if nxt is None or nxt.kind == ")" or (nxt.kind == "op" and nxt.text != "NOT"):
                raise _missing_operand(tok)
            return Not(self.unary())
        if tok.kind == "(":
            self.i += 1
            inner = self.peek()
            if inner is None:
                raise QueryError(f"missing ')' for the '(' at position {tok.pos + 1}")
            if inner.kind == ")":
                raise QueryError(f"empty parentheses at position {tok.pos + 1}")
            node = self.or_()
            close = self.peek()
            if close is None or close.kind != ")":
                raise QueryError(f"missing ')' for the '(' at position {tok.pos + 1}")
            self.i += 1
            return node
        self.i += 1
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(f"too many words: a query may hold at most {MAX_TERMS}")
        return _term(tok)


def _missing_operand(tok: _Tok) -> QueryError:
    return QueryError(
        f"{tok.text} at position {tok.pos + 1} needs a word or phrase "
        + ("on both sides" if tok.text in {"AND", "OR"} else "after it")
    )


_EMPTY = Term(())


def _term(tok: _Tok) -> Term:
    raw = tok.text
    prefix = tok.kind == "word" and raw.endswith("*")
    folded = tuple(words(fold(raw.rstrip("*") if prefix else raw)))
    if tok.kind == "phrase" and not folded:
        raise QueryError(f"the quoted phrase at position {tok.pos + 1} has no words in it")
    return Term(folded, prefix=prefix and bool(folded))


def _prune(node: Node) -> Node | None:
    """Drop terms that folded to nothing (a lone ``,`` or ``*``) and simplify."""
    if isinstance(node, Term):
        return node if node.words else None
    if isinstance(node, Not):
        inner = _prune(node.item)
        if inner is None:
            return None
        return inner.item if isinstance(inner, Not) else Not(inner)
    kept = [p for p in (_prune(c) for c in node.items) if p is not None]
    if not kept:
        return None
    if len(kept) == 1:
        return kept[0]
    flat: list[Node] = []
    for k in kept:  # (a AND b) AND c == a AND b AND c
        same = isinstance(k, And) if isinstance(node, And) else isinstance(k, Or)
        flat.extend(k.items if same and isinstance(k, And | Or) else (k,))
    return And(tuple(flat)) if isinstance(node, And) else Or(tuple(flat))


def _check_positive(node: Node, where: str = "the query") -> None:
    """FTS5 and tsquery can only exclude from something: every branch must look for a word."""
    if isinstance(node, Term):
        return
    if isinstance(node, Not):
        raise QueryError(
            f"{where} only excludes words (NOT/-): add a word to look for, e.g. 'Gantz -Hamas'"
        )
    if isinstance(node, Or):
        for item in node.items:
            _check_positive(item, "a side of OR")
        return
    positives = [i for i in node.items if not isinstance(i, Not)]
    if not positives:
        _check_positive(node.items[0], where)
    for item in node.items:
        _check_positive(item.item if isinstance(item, Not) else item, "a NOT group")


def parse(query: str) -> Node:
    """Parse an analyst's query into an AST of folded terms; raise :class:`QueryError`."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"query too long: at most {MAX_QUERY_CHARS} characters")
    text = unicodedata.normalize("NFKC", query)
    if not text.strip():
        raise QueryError("empty query: type at least one word to look for")
    node = _Parser(list(_tokens(text))).parse()
    pruned = _prune(node)
    if pruned is None:
        raise QueryError(f"nothing to search for in {query.strip()!r}: it has no letters or digits")
    _check_positive(pruned)
    return pruned


# ---------------------------------------------------------------- word forms

_AR_ARTICLES = ("وال", "فال", "بال", "كال", "ولل", "فلل", "لل", "ال")
# Ordered by how often they occur in news text, so a phrase budget drops the rarest.
_AR_PROCLITICS = (
    *("", "ال", "و", "وال", "ب", "بال", "ل", "لل", "ف", "فال", "ك", "كال"),
    *("ول", "ولل", "وب", "وبال", "فل", "فلل", "فب", "فبال", "وك", "وكال"),
)
_HE_COMMON = ("", "ה", "ו", "ב", "ל", "מ", "ש", "וה", "וב", "ול", "ומ", "מה", "שה", "כ", "וש")
_HE_PROCLITICS = _HE_COMMON + tuple(
    c
    for c in (
        "".join(p)
        for p in itertools.product(("", "ו"), ("", "ש", "כש"), ("", "ב", "כ", "ל", "מ"), ("", "ה"))
    )
    if c not in _HE_COMMON
)
# Hebrew drops the article after ב כ ל: ה+בית → בבית, so a word typed with ה is also
# looked for without it behind those letters (and not bare: הגנה is not גנה).
_HE_ELIDING = tuple(c for c in _HE_PROCLITICS if c[-1:] in {"ב", "כ", "ל"})
_HE_FINALS = {"ך": "כ", "ם": "מ", "ן": "נ", "ף": "פ", "ץ": "צ"}
_MIN_STEM = 3


def _stems(word: str) -> list[tuple[list[Form], tuple[str, ...]]]:
    """Forms of ``word`` without proclitics, each with the proclitics that may precede it."""
    if _ARABIC.search(word):
        base = word
        for art in _AR_ARTICLES:
            if word.startswith(art) and len(word) - len(art) >= _MIN_STEM:
                base = word[len(art) :]
                break
        long_ = len(base) >= _MIN_STEM
        stems = [Form(base, long_)]
        if long_ and base.endswith("ه"):  # ة folded to ه is written ت before a suffix
            stems.append(Form(base[:-1] + "ت", True))
        return [(stems, _AR_PROCLITICS)]
    if _HEBREW.search(word):
        long_ = len(word) >= _MIN_STEM
        stems = [Form(word, long_)]
        if long_ and word[-1] in _HE_FINALS:  # a final letter turns medial before a suffix
            stems.append(Form(word[:-1] + _HE_FINALS[word[-1]], True))
        out = [(stems, _HE_PROCLITICS)]
        if word.startswith("ה") and len(word) > _MIN_STEM:
            out.append(([Form(s.text[1:], s.prefix) for s in stems], _HE_ELIDING))
        return out
    return [([Form(word, False)], ("",))]


def forms(word: str, *, prefix: bool = False, proclitics: int | None = None) -> tuple[Form, ...]:
    """Every surface form a folded query word may take in folded article text.

    ``prefix`` forces prefix matching (the analyst typed ``*``); ``proclitics`` keeps only
    the first N proclitics of each list (most frequent first) for phrase budgets.
    """
    seen: dict[str, bool] = {}
    for stems, clitics in _stems(word):
        kept = clitics if proclitics is None else clitics[: max(1, proclitics)]
        for clitic in kept:
            for stem in stems:
                text = clitic + stem.text
                seen[text] = seen.get(text, False) or stem.prefix or prefix
    return tuple(Form(t, p) for t, p in seen.items())


def _phrase_forms(term: Term, budget: int) -> list[tuple[Form, ...]]:
    """Per-word form lists whose product stays within ``budget`` (longest list cut first)."""
    last = len(term.words) - 1
    caps = [max(len(c) for _, c in _stems(w)) for w in term.words]
    while True:
        lists = [
            forms(w, prefix=term.prefix and i == last, proclitics=caps[i])
            for i, w in enumerate(term.words)
        ]
        total = 1
        for lst in lists:
            total *= len(lst)
        if total <= budget or max(caps) <= 1:
            return lists
        caps[caps.index(max(caps))] -= 1


# ---------------------------------------------------------------- rendering


def _fts_string(form: Form) -> str:
    return '"' + form.text.replace('"', '""') + '"' + ("*" if form.prefix else "")


def to_fts5(node: Node, *, budget: int = PHRASE_BUDGET) -> str:
    """Render as an SQLite FTS5 MATCH expression (bind it; every form is a quoted string)."""
    if isinstance(node, Term):
        if len(node.words) == 1:
            alts = [_fts_string(f) for f in forms(node.words[0], prefix=node.prefix)]
        else:
            lists = _phrase_forms(node, budget)
            combos = itertools.product(*lists)
            alts = [" + ".join(_fts_string(f) for f in combo) for combo in combos]
        return alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(to_fts5(i, budget=budget) for i in node.items) + ")"
    if isinstance(node, Not):  # only reached inside And: _check_positive guarantees it
        return to_fts5(node.item, budget=budget)
    pos = [to_fts5(i, budget=budget) for i in node.items if not isinstance(i, Not)]
    neg = [to_fts5(i, budget=budget) for i in node.items if isinstance(i, Not)]
    expr = pos[0] if len(pos) == 1 else "(" + " AND ".join(pos) + ")"
    if neg:  # parenthesised: FTS5 NOT is binary and binds tighter than AND/OR
        expr = "(" + expr + " NOT " + (neg[0] if len(neg) == 1 else "(" + " OR ".join(neg) + ")")
        expr += ")"
    return expr


def _ts_lexeme(form: Form) -> str:
    quoted = "'" + form.text.replace("\\", "\\\\").replace("'", "''") + "'"
    return quoted + (":*" if form.prefix else "")


def _ts_word(word: str, prefix: bool, proclitics: int | None) -> str:
    alts = [_ts_lexeme(f) for f in forms(word, prefix=prefix, proclitics=proclitics)]
    return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"


def to_tsquery(node: Node, *, proclitics: int | None = None) -> str:
    """Render for ``to_tsquery('simple', :q)`` over ``to_tsvector('simple', match_text)``.

    ``proclitics=1`` keeps each word's bare forms only: a short query for ranking, since
    ts_rank's cost grows with the number of query items.
    """
    if isinstance(node, Term):
        last = len(node.words) - 1
        parts = [
            _ts_word(w, node.prefix and i == last, proclitics) for i, w in enumerate(node.words)
        ]
        return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"
    if isinstance(node, Not):
        return "!" + to_tsquery(node.item, proclitics=proclitics)
    joiner = " & " if isinstance(node, And) else " | "
    return "(" + joiner.join(to_tsquery(i, proclitics=proclitics) for i in node.items) + ")"


# ---------------------------------------------------------------- matching in Python


def _word_matches(doc_word: str, alts: Sequence[Form]) -> bool:
    return any(doc_word.startswith(f.text) if f.prefix else doc_word == f.text for f in alts)


def term_positions(term: Term, doc: Sequence[str]) -> Iterator[int]:
    """Start indexes in the folded word list ``doc`` where ``term`` occurs."""
    last = len(term.words) - 1
    per_word = [forms(w, prefix=term.prefix and i == last) for i, w in enumerate(term.words)]
    for start in range(len(doc) - last):
        if all(_word_matches(doc[start + j], alts) for j, alts in enumerate(per_word)):
            yield start


def matches(node: Node, folded_text: str) -> bool:
    """Whether folded text satisfies the query: the reference for both SQL renderings."""
    return _eval(node, words(folded_text))


def _eval(node: Node, doc: Sequence[str]) -> bool:
    if isinstance(node, Term):
        return next(term_positions(node, doc), None) is not None
    if isinstance(node, Not):
        return not _eval(node.item, doc)
    if isinstance(node, And):
        return all(_eval(i, doc) for i in node.items)
    return any(_eval(i, doc) for i in node.items)


def positive_terms(node: Node) -> Iterator[Term]:
    """Terms the query looks for (not those it excludes): what a snippet highlights."""
    if isinstance(node, Term):
        yield node
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from positive_terms(item)


def snippet(
    node: Node,
    text: str,
    *,
    size: int = 24,
    mark: tuple[str, str] = ("[", "]"),
    require_hit: bool = False,
) -> str:
    """A window of about ``size`` words of display ``text`` around the best run of hits.

    Hits are the words the query looks for, found the way search finds them (folded,
    with clitics and suffixes) and shown as written, wrapped in ``mark``. Without a hit
    the text's first words are returned, or "" when ``require_hit``.
    """
    chunks = text.split()
    if not chunks:
        return ""
    doc: list[str] = []
    owner: list[int] = []  # folded word index -> chunk index
    for ci, chunk in enumerate(chunks):
        for w in words(fold(chunk)):
            doc.append(w)
            owner.append(ci)
    hit = [False] * len(chunks)
    for term in positive_terms(node):
        for start in term_positions(term, doc):
            for j in range(start, start + len(term.words)):
                hit[owner[j]] = True
    hits = [i for i, h in enumerate(hit) if h]
    if require_hit and not hits:
        return ""
    begin = 0
    if hits:  # the window holding the most hits, its first hit a few words in
        best = max(hits, key=lambda h: sum(1 for x in hits if h <= x < h + size))
        begin = max(0, min(best - size // 4, len(chunks) - size))
    window = range(begin, min(len(chunks), begin + size))
    shown = [mark[0] + chunks[i] + mark[1] if hit[i] else chunks[i] for i in window]
    return (
        ("… " if begin > 0 else "") + " ".join(shown) + (" …" if window.stop < len(chunks) else "")
    )
