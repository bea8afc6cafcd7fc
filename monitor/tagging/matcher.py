"""Find every rule term in a folded text in one pass over its words.

A term's *variant* is a phrase of folded words; a word written with a trailing ``*`` in the
rules matches any word that starts with it (``coopér*``). All variants of all terms of all
tags are compiled once into one :class:`Matcher`: a dictionary from first word (or first
word stem, for ``*`` words) to the phrases starting there. Scanning a text looks each of its
words up once (with its Arabic/Hebrew prefix readings, see :mod:`.affixes`), so the cost
grows with the text, not with the number of terms. What a word can start is cached per
distinct word, since news text repeats its words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from monitor.tagging.affixes import stems

# One word of a phrase: its folded text, and whether it is a stem (``*``: starts-with).
Piece = tuple[str, bool]
# A phrase: its words in order.
Phrase = tuple[Piece, ...]

# Bound on the per-word lookup cache; cleared when exceeded (a daemon tags for months).
_CACHE_LIMIT: Final = 200_000


@dataclass(frozen=True, slots=True)
class Hit:
    """One phrase found in a text: its id, and the word span ``[start, end)``."""

    phrase: int
    start: int
    end: int


class Matcher:
    """Compiled phrases; :meth:`scan` returns where each occurs in a list of folded words."""

    def __init__(self, phrases: Sequence[Phrase]) -> None:
        """Index ``phrases`` (phrase id = position in the sequence) by their first word."""
        self.phrases: tuple[Phrase, ...] = tuple(phrases)
        self._exact: dict[str, list[int]] = {}
        self._stem: dict[str, list[int]] = {}
        for pid, phrase in enumerate(self.phrases):
            text, is_stem = phrase[0]
            (self._stem if is_stem else self._exact).setdefault(text, []).append(pid)
        self._stem_lengths = tuple(sorted({len(s) for s in self._stem}))
        self._starts: dict[str, tuple[int, ...]] = {}
        self._readings: dict[str, tuple[str, ...]] = {}

    def _reading(self, word: str) -> tuple[str, ...]:
        """The forms of ``word`` a term word may equal (itself and prefix-stripped stems)."""
        got = self._readings.get(word)
        if got is None:
            if len(self._readings) > _CACHE_LIMIT:
                self._readings.clear()
            got = self._readings[word] = stems(word)
        return got

    def _starting_at(self, word: str) -> tuple[int, ...]:
        """Ids of the phrases whose first word matches ``word`` (cached per word)."""
        got = self._starts.get(word)
        if got is not None:
            return got
        found: list[int] = []
        for form in self._reading(word):
            found.extend(self._exact.get(form, ()))
            for length in self._stem_lengths:
                if length > len(form):
                    break
                found.extend(self._stem.get(form[:length], ()))
        got = tuple(dict.fromkeys(found))
        if len(self._starts) > _CACHE_LIMIT:
            self._starts.clear()
        self._starts[word] = got
        return got

    def _piece_matches(self, piece: Piece, word: str) -> bool:
        text, is_stem = piece
        if is_stem:
            return any(form.startswith(text) for form in self._reading(word))
        return text in self._reading(word)

    def scan(self, tokens: Sequence[str]) -> list[Hit]:
        """Every occurrence of every phrase in ``tokens`` (folded words), in text order.

        Later words of a phrase may carry prefixes too (Hebrew and Arabic adjectives repeat
        the article: ``ההגנה האווירית``, ``الدفاع الجوي``).
        """
        hits: list[Hit] = []
        n = len(tokens)
        for i, word in enumerate(tokens):
            for pid in self._starting_at(word):
                phrase = self.phrases[pid]
                size = len(phrase)
                if size == 1:
                    hits.append(Hit(pid, i, i + 1))
                elif i + size <= n and all(
                    self._piece_matches(phrase[k], tokens[i + k]) for k in range(1, size)
                ):
                    hits.append(Hit(pid, i, i + size))
        return hits


def phrase_text(phrase: Iterable[Piece]) -> str:
    """The phrase as the rules would write it (folded), for messages."""
    return " ".join(text + ("*" if is_stem else "") for text, is_stem in phrase)
