"""Credit lines: who an item says it came from (``(MAP)``, ``الناس/متابعة``, ``By X, JNS``).

:func:`split_credit` finds the credit an outlet put at the end of an item (a line of its
own, or a parenthesised agency closing the last paragraph) and at its start (a dateline
such as ``الرباط (و م ع) -`` or a ``By X, JNS`` line), returns the text without it, the
credit as published, and a normalised ``origin`` slug. Only the first and last lines are
ever considered, and a line only counts when all of it is a credit: a sentence that
mentions an agency (``وقالت وكالة المغرب العربي للأنباء إن …``) is never touched.

Matching runs on :func:`monitor.text.fold` forms, so ``و.م.ع``, ``(و م ع)``, ``- و م ع``
and ``(ومع)`` need one entry each at most, and case, hamza and ta marbuta variants are free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from monitor.text import fold

__all__ = ["AGENCY_ORIGINS", "Credit", "origin_of", "split_credit"]


@dataclass(frozen=True, slots=True)
class Credit:
    """An item's text split from its credit.

    ``text``: the item without its credit line(s) (unchanged otherwise);
    ``line``: the credit as published (leading and trailing credits joined by a newline,
    in text order), or ``None``; ``origin``: the normalised source slug, or ``None``.
    """

    text: str
    line: str | None
    origin: str | None


# Folded spellings of each source. Wire agencies first, then the two generic credits
# ("agencies": several wires; "compilation": the outlet compiled it from others), then
# outlets that are named as a source ("המקור: ynet").
_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "map": (
        "map",
        "و م ع",
        "ومع",
        "وكاله المغرب العربي للانباء",
        "lamap",
        "لاماب",
        "maghreb arabe presse",
        "agence maghreb arabe presse",
    ),
    "afp": (
        "afp",
        "ا ف ب",
        "اف ب",
        "فرانس برس",
        "وكاله فرانس برس",
        "وكاله الانباء الفرنسيه",
        "agence france presse",
        "france presse",
        "סוכנות הידיעות הצרפתית",
    ),
    "reuters": ("reuters", "رويترز", "وكاله رويترز", "רויטרס", "סוכנות הידיעות רויטרס"),
    "ap": (
        "ap",
        "associated press",
        "the associated press",
        "اسوشيتد برس",
        "اسوشيتيد برس",
        "وكاله اسوشيتد برس",
        "אי פי",
    ),
    "efe": ("efe", "ايفي", "وكاله ايفي", "agence efe"),
    "jta": ("jta", "jewish telegraphic agency"),
    "jns": ("jns", "jns org", "jewish news syndicate"),
    "tps": ("tps", "tazpit press service", "tazpit", "tps il"),
    "i24news": ("i24news", "i24 news", "i24"),
    "ynet": ("ynet", "ynetnews", "ווינט", "ידיעות אחרונות"),
    "agencies": ("وكالات", "agences", "agencies", "wires", "סוכנויות", "סוכנויות הידיעות"),
    "compilation": ("متابعه", "متابعات"),
}
_OUTLET_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "walla": ("walla", "וואלה"),
    "maariv": ("maariv", "מעריב"),
    "haaretz": ("haaretz", "הארץ"),
    "israel-hayom": ("israel hayom", "ישראל היום"),
    "kan": ("kan", "כאן", "כאן חדשות"),
    "n12": ("n12", "mako", "חדשות 12"),
    "jpost": ("jpost", "jerusalem post", "the jerusalem post"),
    "times-of-israel": ("times of israel", "the times of israel"),
    "hespress": ("hespress", "هسبريس"),
    "le360": ("le360",),
    "alnas": ("alnas", "الناس"),
    "barlamane": ("barlamane", "برلمان كوم", "برلمان"),
    "alyaoum24": ("alyaoum24", "اليوم 24"),
    "telquel": ("telquel",),
    "medias24": ("medias24",),
}
#: Every wire or generic origin slug this module can return (outlet slugs aside).
AGENCY_ORIGINS: Final = frozenset(_ALIASES)
_BY_ALIAS: Final = {a: slug for slug, names in _ALIASES.items() for a in names}
_OUTLET_BY_ALIAS: Final = {a: slug for slug, names in _OUTLET_ALIASES.items() for a in names}
# "compilation" and "agencies" say less than a named wire: a named wire wins.
_GENERIC: Final = frozenset({"agencies", "compilation"})


def _alternation(names: list[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


_AG: Final = _alternation(list(_BY_ALIAS))
_CONNECT: Final = r"(?:avec|with|via|et|and|&)"
_AG_LIST: Final = rf"(?:{_AG})(?:(?: {_CONNECT})? (?:{_AG}))*"
_SOURCE_WORD: Final = r"(?:source|sources|credit|المصدر|المصادر|המקור|מקור|מקורות)"

# Whole-line credits, on the folded line.
_LINE_AGENCY: Final = re.compile(rf"^(?:{_SOURCE_WORD} )?(?:{_CONNECT} )?(?P<ag>{_AG_LIST})$")
_LINE_OUTLET_WITH: Final = re.compile(rf"^\S+(?: \S+)? (?:avec|with) (?P<ag>{_AG_LIST})$")
_LINE_OUTLET_AGENCY: Final = re.compile(rf"^\S+(?: \S+)? (?P<ag>{_AG_LIST})$")
_LINE_BYLINE: Final = re.compile(rf"^(?:by|par|بقلم|מאת) (?:\S+ ){{1,5}}?(?P<ag>{_AG_LIST})$")
_LINE_CONTRIBUTED: Final = re.compile(
    rf"^(?P<ag>{_AG_LIST}) contributed (?:to this report|reporting)$"
)
_LINE_REUTERS_STYLE: Final = re.compile(r"^(?:additional )?reporting by .{1,120} editing by .+$")
_LINE_COMPILATION: Final = re.compile(r"^(?:\S+ ){0,2}(?:متابعه|متابعات)(?: \S+){0,2}$")
_LINE_SOURCE_NAMED: Final = re.compile(rf"^{_SOURCE_WORD} (?P<name>\S+(?: \S+){{0,3}})$")
# Raw-line cues that make a short line a credit rather than prose.
_SEPARATOR: Final = re.compile(r"[/|:\-–—،,(]")
_MAX_CREDIT_LINE: Final = 100

# Raw spellings of a parenthesised or dashed agency inside a paragraph.
_RAW_AG: Final = (
    r"و\s*\.?\s*م\s*\.?\s*ع|ومع|MAP|AFP|Reuters|REUTERS|AP|EFE|JTA|JNS|TPS|i24NEWS|i24news"
    r"|رويترز|[أا]\s*\.?\s*ف\s*\.?\s*ب|وكالات|Agences|agencies|ynet"
)
# A dateline opening the text: "الرباط (و م ع) -", "RABAT, 19 juil. (MAP) –", "(Reuters) -".
_DATELINE: Final = re.compile(
    rf"\A\s*(?P<c>[^\n()]{{0,60}}?\(\s*(?:{_RAW_AG})\s*\)\s*[-–—:]+)[ \t]*"
    rf"|\A\s*(?P<d>[^\n()\-–—.]{{1,40}}?\s[-–—]\s*(?:و\s*\.?\s*م\s*\.?\s*ع|ومع)\s*[-–—:]+)[ \t]*"
)
# An agency closing the last paragraph after its final punctuation: "… الزيارة. (و م ع)".
_TRAILING_INLINE: Final = re.compile(
    rf"(?<=[.!?؟»”\"…)\]])(?P<c>\s*[-–—]?\s*\(\s*(?:{_RAW_AG})\s*\)\s*\.?"
    rf"|\s*[-–—]\s*(?:{_RAW_AG})\s*\.?)\s*\Z"
)


def _slug(name: str) -> str:
    return name.replace(" ", "-")


def origin_of(credit: str) -> str | None:
    """The origin slug named by a credit as published (``"(و م ع)"`` -> ``"map"``), if any.

    Returns the first named wire agency; failing that ``"agencies"`` or ``"compilation"``;
    failing that a known outlet's slug; ``None`` when nothing is recognised.
    """
    folded = fold(credit)
    generic: str | None = None
    for match in re.finditer(rf"(?:^| )({_AG})(?= |$)", folded):
        slug = _BY_ALIAS[match.group(1)]
        if slug not in _GENERIC:
            return slug
        generic = generic or slug
    if generic is not None:
        return generic
    for alias, slug in _OUTLET_BY_ALIAS.items():
        if re.search(rf"(?:^| ){re.escape(alias)}(?= |$)", folded):
            return slug
    return None


def _line_origin(raw: str) -> str | None:
    """The origin if the whole line is a credit line, else ``None``."""
    raw = raw.strip()
    if not raw or len(raw) > _MAX_CREDIT_LINE:
        return None
    folded = fold(raw)
    if not folded:
        return None
    for pattern in (_LINE_AGENCY, _LINE_CONTRIBUTED):
        m = pattern.match(folded)
        if m:
            return origin_of(m.group("ag"))
    m = _LINE_OUTLET_WITH.match(folded)
    if m:
        return origin_of(m.group("ag"))
    has_separator = _SEPARATOR.search(raw) is not None
    if has_separator:
        # "هسبريس - و.م.ع", "Hespress / AFP", "By Jane Doe, JNS": the separator marks
        # the agency as a credit, not the end of a sentence.
        m = _LINE_OUTLET_AGENCY.match(folded) or _LINE_BYLINE.match(folded)
        if m:
            return origin_of(m.group("ag"))
    if _LINE_REUTERS_STYLE.match(folded):
        return "reuters"
    if _LINE_COMPILATION.match(folded) and (has_separator or len(folded.split()) == 1):
        return "compilation"
    if ":" in raw:
        m = _LINE_SOURCE_NAMED.match(folded)
        if m:
            name = m.group("name")
            return origin_of(name) or _slug(name)
    return None


def _pick(origins: list[str]) -> str | None:
    for origin in origins:
        if origin not in _GENERIC:
            return origin
    for generic in ("agencies", "compilation"):
        if generic in origins:
            return generic
    return None


def split_credit(text: str) -> Credit:
    """Split the credit from an item's text (best run on :func:`monitor.text.clean_text`).

    Trailing: up to two last lines that are wholly a credit (``الناس/متابعة``, ``و.م.ع``,
    ``(MAP)``, ``Le360 (avec MAP)``, ``By X, JNS``, ``Reuters contributed to this report``,
    ``המקור: ynet`` …), or a parenthesised/dashed agency after the last paragraph's final
    punctuation. Leading: a dateline (``الرباط (و م ع) -``, ``RABAT (MAP) -``) or a first
    line that is wholly a credit. Origin: a named wire beats ``agencies``, which beats
    ``compilation``; the leading (original wire) credit is preferred among wires.
    """
    lines = text.split("\n")
    leading: list[str] = []
    trailing: list[str] = []
    origins: list[str] = []

    # Leading: a whole first line, or a dateline prefix of the first paragraph.
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None:
        origin = _line_origin(lines[first])
        if origin is not None and any(line.strip() for line in lines[first + 1 :]):
            leading.append(lines[first].strip())
            origins.append(origin)
            lines[first] = ""
        else:
            m = _DATELINE.match(lines[first])
            if m and m.end() < len(lines[first]):
                credit = (m.group("c") or m.group("d")).strip()
                origin = origin_of(credit)
                if origin is not None:
                    leading.append(credit)
                    origins.append(origin)
                    lines[first] = lines[first][m.end() :]

    # Trailing: whole lines (at most two), else an agency closing the last paragraph.
    for _ in range(2):
        last = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip()), None)
        if last is None:
            break
        origin = _line_origin(lines[last])
        if origin is None:
            if not trailing:
                m = _TRAILING_INLINE.search(lines[last])
                if m and m.start() > 0:
                    credit = m.group("c").strip()
                    origin = origin_of(credit)
                    if origin is not None:
                        trailing.insert(0, credit)
                        origins.append(origin)
                        lines[last] = lines[last][: m.start()]
            break
        trailing.insert(0, lines[last].strip())
        origins.append(origin)
        del lines[last:]

    if not leading and not trailing:
        return Credit(text=text, line=None, origin=None)
    rest = "\n".join(lines).strip()
    return Credit(text=rest, line="\n".join(leading + trailing), origin=_pick(origins))
