"""Text from feed HTML: visible text, boilerplate removal, and the folded matching form.

Two forms of an article's text exist and must not be confused:

* the *display* text (:func:`clean_text`): what the outlet published, as plain text with
  paragraphs separated by ``"\\n\\n"`` and site boilerplate (comment forms, subscribe
  prompts, share widgets, "The post … appeared first on …") removed;
* the *matching* form (:func:`fold`): a lossy, orthography-insensitive rendering used by
  dedupe, tagging and search, never shown to anyone.

Everything here is pure: strings in, strings out.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from typing import Final

from lxml import etree
from lxml import html as lxml_html

__all__ = [
    "MAX_INPUT_CHARS",
    "clean_text",
    "fold",
    "html_to_text",
    "is_boilerplate_line",
    "strip_boilerplate",
    "words",
]

#: Input beyond this many characters is cut before parsing, so that a runaway page costs a
#: bounded time (a long news article is ~50k characters of HTML; feeds do not carry books).
MAX_INPUT_CHARS: Final = 2_000_000

# ---------------------------------------------------------------------------------------
# fold: the matching form
# ---------------------------------------------------------------------------------------

_HEBREW_LETTERS = "\u05d0-\u05ea"


# The code points the fold table covers: everything up to the end of the emoji planes, and
# the tag characters of flag emoji.
_TABLE_RANGE: Final = (*range(0x80, 0x20000), *range(0xE0000, 0xE0080))


@functools.cache
def _fold_table() -> dict[int, str | None]:
    """One ``str.translate`` table doing every per-character step of :func:`fold`.

    Built on first use (~0.2 s, so importing this module stays cheap). Scanning the code
    space with :mod:`unicodedata` keeps the table complete (every combining mark, every
    decimal digit, every precomposed letter) without hand-written ranges that miss some.

    NFKC's compatibility mappings are in the table too, one character at a time and already
    folded (``ﻻ`` -> ``لا``, ``ﬁ`` -> ``fi``, ``２`` -> ``2``): running ``normalize`` on
    every text cost more than the rest of :func:`fold`. NFKC's other half, canonical
    composition, is moot because every combining mark is removed anyway; the one sequence
    where it matters (Arabic letter + combining hamza/madda) is composed in :func:`fold`.
    """
    table = dict(_base_table())
    overridden = {ord(ch) for ch in _OVERRIDES}
    for cp in _TABLE_RANGE:
        if 0xD800 <= cp <= 0xDFFF or cp in overridden:
            continue
        ch = chr(cp)
        compat = unicodedata.normalize("NFKC", ch)
        if compat != ch:
            compat = unicodedata.normalize("NFKC", compat.casefold())
            table[cp] = compat.translate(_base_table())
    return table


@functools.cache
def _base_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for cp in _TABLE_RANGE:
        if 0xD800 <= cp <= 0xDFFF:
            table[cp] = None  # lone surrogates: not text
            continue
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat in ("Mn", "Me"):
            # Accents, Arabic harakat and Quranic marks, Hebrew niqqud and cantillation.
            table[cp] = None
        elif cat == "Nd":
            table[cp] = str(unicodedata.digit(ch))  # Arabic-Indic, Persian, ... -> ASCII
        elif cat in {"Cf", "Cc"}:
            # Zero-width (U+200B-D, U+2060, U+FEFF), bidi marks and embeddings (U+200E/F,
            # U+202A-E, U+2066-9, U+061C), soft hyphen: invisible, they only split words.
            # C1 controls vanish too, except NEL, which is a line break.
            table[cp] = " " if ch.isspace() else None
        elif cat.startswith("L"):
            decomposed = unicodedata.normalize("NFD", ch)
            base = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
            if base != decomposed and base:
                table[cp] = base  # é -> e, ç -> c: precomposed Latin (and other) letters
        elif cat[0] in "PSZ":
            table[cp] = " "  # punctuation, symbols (emoji too) and spaces of every script
    # C0 controls other than whitespace vanish; whitespace stays whitespace. ASCII
    # punctuation is a space, except the quotes that steps 3 and 4 of fold() still need.
    for cp in range(0x20):
        table[cp] = " " if chr(cp) in "\t\n\r\x0b\x0c" else None
    table[0x7F] = None
    for ch in "!#$%&()*+,-./:;<=>?@[\\]^_{|}~":
        table[ord(ch)] = " "
    overrides = {ord(ch): repl for ch, repl in _OVERRIDES.items()}
    for cp, repl in table.items():
        if repl:
            table[cp] = repl.translate(overrides)  # ǿ -> ø -> o
    table.update(overrides)
    return table


_OVERRIDES: Final[dict[str, str | None]] = {
    # Arabic: hamza-on-alef variants and wasla are one letter for matching; alef maqsura
    # and ya, ta marbuta and ha are confused in practice (and in Moroccan typing).
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ٲ": "ا",
    "ٳ": "ا",
    "ى": "ي",
    "ة": "ه",
    # Hamza seats on waw and ya vary by regional orthography (مسؤول / مسئول,
    # شؤون / شئون): both fold to the bare hamza, so those spellings meet while
    # words with a plain و or ي stay distinct.
    "ؤ": "ء",
    "ئ": "ء",
    # Persian/Urdu code points typed on non-Arabic keyboards.
    "ی": "ي",
    "ې": "ي",
    "ک": "ك",
    "ھ": "ه",
    "ۀ": "ه",
    "ە": "ه",
    "ـ": None,  # tatweel (kashida): a stretched join, not a letter
    "\u0670": None,  # superscript alef (هٰذا): a vowel mark in effect
    # Latin letters NFD does not decompose.
    "œ": "oe",
    "æ": "ae",
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ħ": "h",
    "ı": "i",
    "ß": "ss",
    # Quotes become ASCII so the elision and geresh rules below see one form each.
    "’": "'",
    "‘": "'",
    "‚": "'",
    "‛": "'",
    "ʼ": "'",
    "′": "'",
    "`": "'",
    "´": "'",
    "׳": "'",  # Hebrew geresh
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "″": '"',
    "״": '"',  # Hebrew gershayim
    "«": '"',
    "»": '"',
    "‹": '"',
    "›": '"',
    "\u05be": " ",  # Hebrew maqaf joins words like a hyphen: split them, as dashes are
    "\u00ad": None,  # soft hyphen
}


# A quote mark right after a Hebrew letter is a geresh or gershayim in an abbreviation or a
# transliteration (צה"ל, ג'ורג'): removed so that צה"ל, צה״ל and צהל meet.
# (Each pattern starts with the quote itself: the regex engine then scans for that one
# character instead of trying the lookbehind at every position, ~5x faster.)
_HEBREW_GERESH: Final = re.compile(f"['\"](?<=[{_HEBREW_LETTERS}]['\"])")
# French elided articles and conjunctions before a word: l'armée -> armée, qu'il -> il.
_FRENCH_ELISION: Final = re.compile(r"\b(?:jusqu|lorsqu|puisqu|qu|[ldjnstmc])'(?=\w)")
_MAYBE_ELISION: Final = re.compile(
    r"'(?=\w)(?:(?<=\b[ldjnstmc]')|(?<=\bqu')|(?<=\bjusqu')|(?<=\blorsqu')|(?<=\bpuisqu'))"
)
# English possessive: Israel's -> israel (the article word must match the tag term).
_ENGLISH_POSSESSIVE: Final = re.compile(r"'(?<=\w')s\b")
# Combining hamza and madda after a letter: composed (و + hamza -> ؤ) before folding.
_ARABIC_COMBINING_HAMZA: Final = ("\u0653", "\u0654", "\u0655")


def fold(text: str) -> str:
    """Return the matching form of ``text``: lossy, orthography-insensitive, space-separated.

    Steps, in order:

    1. ``casefold`` (so ``ß`` -> ``ss``, ``İ`` -> ``i``); a letter followed by a combining
       hamza or madda is composed first (NFC), so ``و`` + U+0654 behaves as ``ؤ``.
    2. One ``str.translate`` pass:

       * Unicode NFKC compatibility mappings (presentation forms, ligatures, full-width
         letters and digits), per character (see ``_fold_table`` for why);
       * combining marks removed (Latin accents, Arabic harakat, Hebrew niqqud and
         cantillation); precomposed accented letters to their base; ``œ æ`` expanded;
       * every decimal digit (Arabic-Indic, Persian ...) to ASCII;
       * Arabic ``أ إ آ ٱ`` -> ``ا``, ``ى`` -> ``ي``, ``ة`` -> ``ه``, tatweel and
         superscript alef removed, Persian ``ی ک ھ`` to their Arabic letters;
         ``ؤ ئ`` -> ``ء``: hamza seats differ between Moroccan and Eastern spelling
         (مسؤول / مسئول, شؤون / شئون), and the bare hamza keeps them apart from words
         with a plain ``و``/``ي`` (سؤال is not سوال);
       * Hebrew maqaf -> space (it joins words as a hyphen does);
       * quote marks of every script (``’ ‘ “ ” „ « » ‹ › ׳ ״``) to ASCII ``'``/``"``;
       * zero-width characters, bidi marks, embeddings and isolates (U+200E/F,
         U+202A-E, U+2066-9, U+061C), soft hyphens, control characters and lone
         surrogates removed;
       * punctuation of every script (Arabic ``، ؛ ؟``), dashes, symbols, emoji, spaces
         and underscore -> space.
    3. A quote right after a Hebrew letter is a geresh/gershayim: removed (צה"ל -> צהל,
       ג'ורג' -> גורג).
    4. French elisions removed (``l' d' j' n' s' t' m' c' qu' jusqu' lorsqu' puisqu'``),
       English possessive ``'s`` removed; remaining quotes -> space.
    5. Whitespace collapsed to single spaces and trimmed.

    Hebrew final letters are kept (their position already makes them consistent), and no
    stemming or clitic removal happens here: tagging handles Arabic and Hebrew prefixes.
    """
    if not text:
        return ""
    if not text.isascii() and any(mark in text for mark in _ARABIC_COMBINING_HAMZA):
        text = unicodedata.normalize("NFC", text)
    text = text.casefold().translate(_fold_table())
    if '"' in text or "'" in text:
        text = _HEBREW_GERESH.sub("", text)
        if "'" in text:
            if _MAYBE_ELISION.search(text):
                text = _FRENCH_ELISION.sub("", text)
            text = _ENGLISH_POSSESSIVE.sub("", text).replace("'", " ")
        text = text.replace('"', " ")
    return " ".join(text.split())


def words(folded: str) -> list[str]:
    """Split a :func:`fold` result into its tokens (it is already space-separated)."""
    return folded.split()


# ---------------------------------------------------------------------------------------
# html_to_text: the visible text
# ---------------------------------------------------------------------------------------


def _wordset(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# Elements whose content is never article text.
_DROP_TAGS: Final = _wordset(
    "script style form iframe noscript nav aside button svg math template "
    "object embed select textarea input head title canvas audio video map "
)
# Elements that start and end a paragraph.
_PARAGRAPH_TAGS: Final = _wordset(
    "p div h1 h2 h3 h4 h5 h6 blockquote section article header footer main "
    "ul ol dl table figure figcaption pre hr address details summary "
    "fieldset center body "
)
# Elements that start a new line inside a paragraph.
_LINE_TAGS: Final = frozenset({"br", "li", "tr", "dt", "dd", "caption", "option"})
# Table cells are separated by a space within their row.
_CELL_TAGS: Final = frozenset({"td", "th"})

# Control characters lxml refuses, lone surrogates, and non-characters: removed before
# parsing. Vertical tab, form feed and the Unicode line/paragraph separators are breaks.
_BAD_CHARS: Final = re.compile("[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_BREAK_CHARS: Final = str.maketrans(
    {"\x0b": "\n", "\x0c": "\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n\n", "\r": "\n"}
)
_CDATA: Final = re.compile(r"<!\[CDATA\[|\]\]>")
_ESCAPED_TAG: Final = re.compile(
    r"&lt;/?(?:p|br|div|a|img|span|strong|em|b|i|ul|li|h[1-6]|blockquote|figure)\b", re.I
)
_LOOKS_LIKE_HTML: Final = re.compile(r"<[a-zA-Z!/?]")
# Fallback tag stripper for markup lxml cannot build a tree from (nesting beyond its depth
# limit): drop script/style bodies, then every tag.
_SCRIPT_BODY: Final = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_TAG: Final = re.compile(r"<[^>]{0,2000}>")

_HSPACE: Final = re.compile(r"[^\S\n]+")
_SPACE_AROUND_NL: Final = re.compile(r" ?\n ?")
_MANY_NL: Final = re.compile(r"\n{3,}")
# Invisible characters that carry nothing in display text either (BOM, zero-width space).
_INVISIBLE: Final = str.maketrans({"\ufeff": None, "\u200b": None})


def _fix_surrogates(s: str) -> str:
    """Join UTF-16 surrogate pairs left in a ``str`` and drop lone surrogates."""
    if not _SURROGATE.search(s):
        return s
    return (
        s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").replace("\ufffd", "")
    )


def _sanitise(s: str) -> str:
    s = _fix_surrogates(s[:MAX_INPUT_CHARS]).translate(_BREAK_CHARS)
    return _BAD_CHARS.sub("", s)


def _tidy(text: str) -> str:
    """Collapse spaces within lines, trim lines, and keep at most one blank line."""
    text = _HSPACE.sub(" ", text.translate(_INVISIBLE))
    text = _SPACE_AROUND_NL.sub("\n", text)
    return _MANY_NL.sub("\n\n", text).strip()


def _walk(root: etree._Element) -> str:
    parts: list[str] = []
    dropping = 0  # depth inside a dropped element
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag
        name = tag.lower() if isinstance(tag, str) else ""
        if event == "start":
            if dropping or name in _DROP_TAGS:
                dropping += 1
                continue
            if name in _PARAGRAPH_TAGS:
                parts.append("\n\n")
            elif name in _LINE_TAGS:
                parts.append("\n")
            elif name in _CELL_TAGS:
                parts.append(" ")
            if name and el.text:  # comments and processing instructions have no text
                parts.append(el.text)
        else:
            if dropping:
                dropping -= 1
                if dropping:
                    continue
            elif name in _PARAGRAPH_TAGS:
                parts.append("\n\n")
            if el.tail and el is not root:
                parts.append(el.tail)
    return "".join(parts)


_PARSER: Final = lxml_html.HTMLParser(huge_tree=True, remove_comments=True, remove_pis=True)


def html_to_text(s: str) -> str:
    """Return the visible text of an HTML fragment or document, or of plain text.

    Entities are decoded; ``script style form iframe noscript nav aside button svg`` (and
    other non-text elements) are dropped with their content; block elements separate
    paragraphs by ``"\\n\\n"``, ``<br>`` and list items start a new line. Plain text keeps
    its own line breaks (``\\r\\n`` normalised). ``<![CDATA[``/``]]>`` leftovers, control
    characters and lone surrogates are removed (surrogate pairs are joined). Input beyond
    :data:`MAX_INPUT_CHARS` is ignored, so the time is bounded by a linear parse of that.
    Never raises on any ``str``.
    """
    if not s:
        return ""
    s = _CDATA.sub("", _sanitise(s))
    if not _LOOKS_LIKE_HTML.search(s):
        if _ESCAPED_TAG.search(s):
            # HTML escaped once more than usual (seen in real feeds): parse the unescaped form.
            s = html.unescape(s)
        else:
            return _tidy(html.unescape(s) if "&" in s else s)
    try:
        root = lxml_html.document_fromstring(s, parser=_PARSER)
    except (etree.ParserError, ValueError):
        root = None
    text = _walk(root) if root is not None else ""
    if not text.strip():
        # lxml gives up beyond its nesting depth limit: fall back to a plain tag strip.
        text = html.unescape(_TAG.sub(" ", _SCRIPT_BODY.sub(" ", s)))
    return _tidy(_sanitise(text))


# ---------------------------------------------------------------------------------------
# strip_boilerplate: site furniture out of the display text
# ---------------------------------------------------------------------------------------

# WordPress "appeared first on" footers (the RSS footer of Yoast and WordPress itself), in
# the languages of our outlets. They often end the last paragraph rather than stand alone.
_APPEARED_FIRST: Final = re.compile(
    r"\s*(?:"
    r"The post .{1,600}? (?:appeared first|first appeared) on .{1,300}?"
    r"|(?:L['’]article|Cet article|L['’]entrée|Le post) .{1,600}? est apparu en premier"
    r" sur .{1,300}?"
    r"|ظهرت (?:المقالة|المقاله|التدوينة) .{1,600}? (?:أولاً|أولا|اولا) (?:على|في) .{1,300}?"
    r"|הפוסט .{1,600}? הופיע (?:לראשונה|ראשון) (?:ב|על) ?-?.{1,300}?"
    r")\s*\.?\s*$",
    re.M,
)
_APPEARED_FIRST_MARKERS: Final = (
    "appeared first",
    "first appeared",
    "apparu en premier",
    "ظهرت",
    "הופיע",
)
_FOOTER_WINDOW: Final = 1200  # longer than any footer below can be
# WordPress's excerpt marker, shown as a plain ellipsis.
_EXCERPT_MORE: Final = re.compile(r"\s*\[(?:…|\.\.\.|&hellip;)\]\s*$", re.M)
# "Continue reading …" and "Read more" at the end of an excerpt.
_READ_MORE_TAIL: Final = re.compile(
    r"(?:^|(?<=[.!?؟…\]»”\"]))[ \t]*"
    r"(?:Continue reading|Read more|Read More|Lire la suite|Lire plus|"
    r"(?:اقرأ|إقرأ|اقرا) المزيد|تابع القراءة|להמשך קריאה|קרא(?:ו)? עוד)"
    r"(?:[ \t]+[^\n.!?؟]{0,200})?[ \t]*[→»…›>]*[ \t]*$",
    re.M,
)

# Whole lines, matched on their folded form (so case, accents, hamza and diacritic
# variants are all covered by one spelling). Only lines up to _MAX_BOILERPLATE_LINE long
# are candidates: a real paragraph that happens to mention "subscribe" is longer.
_MAX_BOILERPLATE_LINE: Final = 220
_BOILERPLATE_LINE: Final = re.compile(
    "|".join(
        f"(?:{p})"
        for p in (
            # comment forms
            r"^(?:leave a (?:reply|comment)|post a comment|add a comment|cancel reply"
            r"|laisser (?:un commentaire|une reponse)|annuler la reponse"
            r"|ajouter un commentaire|publier (?:le|un) commentaire"
            r"|اترك (?:ردا|رد|تعليقا|تعليق)|اضف (?:تعليقك|تعليقا|تعليق|ردا)|الغاء الرد"
            r"|(?:ارسال|ارسل|نشر) (?:التعليق|تعليق)"
            r"|השאר(?:ו|ת)? תגובה|הוסף תגובה|הוספת תגובה|ביטול תגובה|(?:שלח|פרסם) תגובה)\b",
            r"your email address will not be published|required fields are marked"
            r"|you must be logged in to post a comment",
            r"votre adresse (?:e ?mail|de messagerie|courriel) ne sera pas publiee"
            r"|les champs obligatoires sont indiques",
            r"لن يتم نشر عنوان بريدك الالكتروني|الحقول الالزاميه مشار اليها"
            r"|الحقول المطلوبه (?:مشار|عليها)",
            r"כתובת (?:האימייל|הדוא ?ל|המייל) שלך לא תפורסם|שדות החובה מסומנים",
            r"^save my name email and website"
            r"|^enregistrer mon nom mon e ?mail et mon site"
            r"|^احفظ اسمي"
            r"|^שמור (?:בדפדפן זה )?את השם",
            r"^(?:name|email|e mail|website|comment|nom|courriel|site web|commentaire"
            r"|الاسم|البريد الالكتروني|الموقع الالكتروني|الموقع|التعليق"
            r"|שם|אימייל|דוא ?ל|אתר|תגובה|אתר אינטרנט)$",
            # subscribe / newsletter prompts
            r"^(?:subscribe|sign up) (?:now|today|here|to|for)\b"
            r"|\bsubscribe (?:now|today|here)\b|\b(?:to|for) our newsletter\b|^newsletter\b"
            r"|\breal time updates\b",
            r"\babonnez vous\b|\binscrivez vous\b|\ba notre newsletter\b"
            r"|\bmises a jour en temps reel\b",
            r"\bاشترك(?:وا)? (?:الان|معنا|بالنشره|بقناه|لتصلك|ليصلك|في (?:النشره|نشرتنا|قناتنا))"
            r"|\bللاشتراك في\b|النشره البريديه|\bتحديثات في الوقت الفعلي\b",
            r"^(?:הירשמו|הרשמו)\b|\bהצטרפו (?:לערוץ|לקבוצת|לניוזלטר|אלינו)\b|\bלניוזלטר\b",
            # related-article and "read also" lines (a link to another story)
            r"^(?:read (?:also|more)|see also|continue reading|related$"
            r"|related (?:posts|articles|stories)"
            r"|you may also like|more on this"
            r"|lire (?:aussi|egalement|la suite|plus)|a lire (?:aussi|egalement)|voir aussi"
            r"|articles similaires|vous aimerez aussi|sur le meme sujet"
            r"|اقرا (?:ايضا|كذلك|المزيد)|تابع القراءه|مقالات ذات صله|اخبار ذات صله"
            r"|قد يعجبك (?:ايضا)?|المزيد من الاخبار"
            r"|קרא(?:ו)? (?:גם|עוד)|להמשך קריאה|כתבות נוספות|עוד בנושא)\b",
            # tags and copyright
            r"^(?:tags|mots cles|etiquettes|الوسوم|وسوم|الكلمات المفتاحيه|كلمات مفتاحيه"
            r"|תגיות)\b",
            r"\ball rights reserved\b|\btous droits reserves\b|جميع الحقوق محفوظه"
            r"|כל הזכויות שמורות|^copyright\b",
            # a recurring note of one registry outlet (Arutz Sheva's English feed)
            r"^arutz sheva israel national news north american desk\b",
            # "follow us" and share prompts
            r"^(?:follow us|suivez nous|تابعونا|עקבו אחרינו)\b"
            r"|^(?:share this|share on|partager (?:sur|cet article|article)"
            r"|شارك(?:وا)? (?:هذا المقال|هذا الخبر|المقال|الخبر)\b"
            r"|(?:שתפו|שתף)(?: (?:את )?(?:הכתבה|הידיעה|בפייסבוק|בוואטסאפ|בטוויטר))?$)",
        )
    )
)
_SHARE_WORDS: Final = _wordset(
    "facebook twitter x whatsapp telegram linkedin pinterest reddit "
    "messenger email mail print share tweet copy link on via sur partager "
    "imprimer فيسبوك فايسبوك تويتر واتساب واتس اب تلغرام تيليغرام لينكدان "
    "مشاركه شارك طباعه على عبر פייסבוק טוויטר וואטסאפ ווטסאפ טלגרם שתפו שתף "
    "הדפס מייל "
)
_NETWORKS: Final = _wordset(
    "facebook twitter whatsapp telegram linkedin pinterest reddit messenger "
    "فيسبوك فايسبوك تويتر واتساب تلغرام تيليغرام פייסבוק טוויטר וואטסאפ "
    "ווטסאפ טלגרם "
)
# View, comment and reading-time counters: "0 132", "132 vues", "5 min read".
_BARE_COUNTER: Final = re.compile(r"^\d{1,9}(?:[ \t]+\d{1,9}){0,3}$")
_COUNTER_WORDS: Final = _wordset(
    "views view comments comment likes shares reads min mins minutes read "
    "vues vue commentaires commentaire partages lecture de مشاهده مشاهدات "
    "تعليق تعليقات قراءه قراءات دقائق دقيقه צפיות תגובות תגובה דקות קריאה "
)


def is_boilerplate_line(line: str) -> bool:
    """True when one line of display text is site furniture rather than article text.

    Candidates are lines of at most ~220 characters; they are compared in folded form, so
    one spelling of each phrase covers case, accents, hamza and diacritic variants.
    """
    stripped = line.strip()
    if not stripped:
        return False
    if len(stripped) > _MAX_BOILERPLATE_LINE:
        return False
    if "©" in stripped:
        return True
    folded = fold(stripped)
    if not folded:
        # Only punctuation or symbols (separators like "***", lone emoji): not text.
        return True
    tokens = folded.split()
    if any(t.isdigit() for t in tokens) and all(t.isdigit() or t in _COUNTER_WORDS for t in tokens):
        # "132 views", "5 min read"; bare numbers only as a counter widget prints them
        # ("0 132"): a line such as "1.65%" or "2 > 1" is content.
        if len(tokens) > len([t for t in tokens if t.isdigit()]):
            return True
        if _BARE_COUNTER.match(stripped):
            return True
    if all(t in _SHARE_WORDS for t in tokens) and any(t in _NETWORKS for t in tokens):
        return True
    return _BOILERPLATE_LINE.search(folded) is not None


def strip_boilerplate(text: str) -> str:
    """Remove site boilerplate from display text and return it tidied.

    Removes WordPress "The post … appeared first on …" footers (English, French, Arabic,
    Hebrew) even at the end of a paragraph, "Continue reading"/"Read more" tails, and whole
    lines that :func:`is_boilerplate_line` recognises: comment forms and their field labels,
    subscribe and newsletter prompts, share widgets, view/comment counters such as a lone
    "0 132", "read also" and related-article lines, tags and copyright lines. The
    ``[…]`` excerpt marker becomes ``…``. Article sentences are never cut mid-line except
    for those trailing footers.
    """
    if not text:
        return ""
    kept: list[str] = []
    for raw in text.split("\n"):
        # Footers end a line: matching only its tail keeps the cost per line bounded.
        head, tail = raw[:-_FOOTER_WINDOW], raw[-_FOOTER_WINDOW:]
        if any(marker in tail for marker in _APPEARED_FIRST_MARKERS):
            tail = _APPEARED_FIRST.sub("", tail)
        line = head + _EXCERPT_MORE.sub(" …", _READ_MORE_TAIL.sub("", tail))
        if not is_boilerplate_line(line):
            kept.append(line)
    return _tidy("\n".join(kept))


def clean_text(html_or_text: str) -> str:
    """The stored display text: :func:`html_to_text` then :func:`strip_boilerplate`."""
    return strip_boilerplate(html_to_text(html_or_text))
