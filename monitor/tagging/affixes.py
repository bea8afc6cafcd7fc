"""Prefixes that Arabic and Hebrew glue onto a word, so a term can match the bare word.

Both scripts write conjunctions, prepositions and the article as part of the next word:
Arabic ``وللمغرب`` is و + ل + (ا)ل + مغرب, Hebrew ``ובצה"ל`` is ו + ב + צה"ל. Tag terms are
written bare (``المغرب``, ``צה"ל``); :func:`stems` gives every reading of a folded article
word with a run of such prefixes removed, and the matcher looks each reading up.

Only prefixes are handled: suffixes (plural, possessive) differ per word and the rule author
lists them as variants or with a trailing ``*``.
"""

from __future__ import annotations

from typing import Final

_ARTICLE: Final = "ال"
_MIN_STEM: Final = 2


def _arabic_prefixes() -> tuple[tuple[str, bool], ...]:
    """Every proclitic run, longest first, with whether it ends in the article.

    A run is an optional conjunction (و ف), an optional preposition (ب ك ل) and an optional
    article (ال); ل followed by ال is written لل (للمغرب = ل + المغرب).
    """
    runs: dict[str, bool] = {}
    for conj in ("", "و", "ف"):
        for prep in ("", "ب", "ك", "ل"):
            for article in ("", _ARTICLE):
                # ل before ال drops the alif: ل + المغرب = للمغرب
                run = conj + "لل" if prep == "ل" and article else conj + prep + article
                if run:
                    runs[run] = bool(article)
    return tuple(sorted(runs.items(), key=lambda kv: -len(kv[0])))


def _hebrew_prefixes() -> tuple[str, ...]:
    """Every run of Hebrew prefix letters in their grammatical order, longest first.

    Order: ו (and), then ש or כש (that, when), then one of ב ל מ כ (in, to, from, as), then ה
    (the): ושבה, וכשמה, מה, שב, וה ...
    """
    runs = {
        conj + rel + prep + article
        for conj in ("", "ו")
        for rel in ("", "ש", "כש")
        for prep in ("", "ב", "ל", "מ", "כ")
        for article in ("", "ה")
    }
    runs.discard("")
    return tuple(sorted(runs, key=lambda r: -len(r)))


ARABIC_PREFIXES: Final = _arabic_prefixes()
HEBREW_PREFIXES: Final = _hebrew_prefixes()


def _is_arabic(ch: str) -> bool:
    return "\u0600" <= ch <= "\u06ff"


def _is_hebrew(ch: str) -> bool:
    return "\u0590" <= ch <= "\u05ff"


def stems(word: str) -> tuple[str, ...]:
    """The folded ``word`` itself, then each form with an Arabic or Hebrew prefix run removed.

    Arabic: the article stripped as part of a run is also offered back (``بالمغرب`` gives
    ``المغرب`` and ``مغرب``; ``للقوات`` gives ``القوات``), so terms written with or without
    the article both match. A stem keeps at least two letters. Latin words give only
    themselves: French elisions are already removed by ``fold``.
    """
    if not word:
        return ()
    first = word[0]
    out: list[str] = [word]
    if _is_arabic(first):
        for run, has_article in ARABIC_PREFIXES:
            if len(word) - len(run) >= _MIN_STEM and word.startswith(run):
                stem = word[len(run) :]
                out.append(stem)
                if has_article:
                    out.append(_ARTICLE + stem)
    elif _is_hebrew(first):
        for run in HEBREW_PREFIXES:
            if len(word) - len(run) >= _MIN_STEM and word.startswith(run):
                out.append(word[len(run) :])
    if len(out) == 1:
        return (word,)
    return tuple(dict.fromkeys(out))
