"""An article's language, from its text, checked against what its feed declares.

Feeds lie about their language (Hespress and TelQuel as republished declare ``en``), so
the text decides when it can: the script says Arabic or Hebrew outright; Latin text is
French or English by counting each language's stopwords (plus French-only accented
letters). The declared language is the fallback when the text is too short to tell.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["detect_language", "normalise_language"]

_ARABIC: Final = re.compile(
    "[\u0620-\u064a\u0671-\u06d3\u06fa-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufefc]"
)
_HEBREW: Final = re.compile("[\u05d0-\u05ea\u05f0-\u05f2\ufb1d-\ufb4f]")
_LATIN: Final = re.compile("[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]")
_FRENCH_LETTERS: Final = re.compile("[éèêëàâçùûüôîïœÉÈÊÀÂÇÔÎ]")
_LATIN_WORD: Final = re.compile("[a-zà-öø-ÿœ]+")


def _wordset(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# Frequent function words that the other language does not use as words (so "a", "on",
# "en", "par" and "plus", shared or ambiguous, are left out). Elided forms appear as
# single letters after splitting on the apostrophe ("l'armée" -> "l", "armée").
_FRENCH: Final = _wordset(
    "le la les des du de et est une un dans pour que qui sur au aux ce cette ces il elle "
    "ils elles ont sont avec ne pas se son sa ses leur leurs nous vous été être mais où "
    "aussi selon lors entre après avant depuis très fait peut sans sous chez l d qu n s c "
    "j m t"
)
_ENGLISH: Final = _wordset(
    "the of and to in is that for with as was by at from it be are this have has an "
    "which were been not but or its their said will would they he she his her who after "
    "than also about over into more other"
)
_DECLARED: Final = {
    "ar": "ar",
    "ara": "ar",
    "arabic": "ar",
    "he": "he",
    "iw": "he",
    "heb": "he",
    "hebrew": "he",
    "fr": "fr",
    "fre": "fr",
    "fra": "fr",
    "french": "fr",
    "en": "en",
    "eng": "en",
    "english": "en",
}
_RTL: Final = frozenset({"ar", "he"})
_SAMPLE_CHARS: Final = 20_000  # the opening of a long text says as much as all of it
_MIN_LETTERS: Final = 3  # fewer letters than this: nothing to go on
_MIN_LATIN_EVIDENCE: Final = 2  # a stopword lead smaller than this is not decisive alone


def normalise_language(declared: str | None) -> str | None:
    """``"fr-FR"`` -> ``"fr"``, ``"iw"``/``"he-IL"`` -> ``"he"``, ``"EN_us"`` -> ``"en"``.

    Other languages keep their primary subtag in lower case; empty input gives ``None``.
    """
    if not declared:
        return None
    primary = re.split(r"[-_\s]", declared.strip().lower(), maxsplit=1)[0]
    if not primary:
        return None
    return _DECLARED.get(primary, primary)


def _latin_language(text: str, declared: str | None) -> str | None:
    tokens = _LATIN_WORD.findall(text.lower())
    fr = sum(1 for t in tokens if t in _FRENCH) + min(2, len(_FRENCH_LETTERS.findall(text)))
    en = sum(1 for t in tokens if t in _ENGLISH)
    if fr == en:
        return declared
    winner, lead, loser = ("fr", fr - en, en) if fr > en else ("en", en - fr, fr)
    if lead >= _MIN_LATIN_EVIDENCE or loser == 0 or declared not in ("fr", "en"):
        return winner
    return declared


def detect_language(text: str, declared: str | None = None) -> str | None:
    """The language of ``text``: ``"ar"``, ``"he"``, ``"fr"``, ``"en"``, or the fallback.

    The script with the most letters decides between Arabic, Hebrew and Latin, so an
    Arabic article quoting ``(MAP)`` is Arabic and a feed declaring ``en`` over Arabic text
    gets ``"ar"``. Latin text is French or English by stopword counts (French accented
    letters count for French); a narrow lead keeps a declared ``fr``/``en``. The declared
    language (normalised: ``fr-FR`` -> ``fr``, ``iw`` -> ``he``) is returned when the
    text has under three letters or the Latin evidence is a tie; a declared Arabic or
    Hebrew never labels Latin text (a tie then gives ``None``), and a declared language
    other than these four keeps Latin text (a Spanish feed stays ``es``). Only the first
    20,000 characters are read.
    """
    lang = normalise_language(declared)
    text = text[:_SAMPLE_CHARS]
    arabic = len(_ARABIC.findall(text))
    hebrew = len(_HEBREW.findall(text))
    latin = len(_LATIN.findall(text))
    if arabic + hebrew + latin < _MIN_LETTERS:
        return lang
    if arabic >= latin and arabic >= hebrew:
        return "ar"
    if hebrew >= latin:
        return "he"
    if lang is not None and lang not in _RTL and lang not in ("fr", "en"):
        return lang
    return _latin_language(text, lang if lang not in _RTL else None)
