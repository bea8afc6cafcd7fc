"""Feed bytes to safe UTF-8 XML: the encoding decision and the entity guard.

`prepare(body, content_type)` returns the body decoded, cleaned and re-encoded as UTF-8 with
an XML declaration that says so, plus notes on every repair. The parser module hands the
result to feedparser; nothing here imports feedparser.

Encoding, in this order (first that applies wins):

1. a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE), or the zero-byte pattern of an
   unmarked UTF-16/32 document (XML 1.0 appendix F);
2. the body is valid UTF-8: it is UTF-8, whatever the declarations say (a single-byte Arabic,
   Hebrew or French text is practically never valid UTF-8, while servers that label UTF-8 as
   ISO-8859-1 are common);
3. the HTTP ``charset``, then the XML declaration's ``encoding``, when the codec is known,
   ASCII-compatible, and decodes the body without error (ISO-8859-1 and US-ASCII are read
   as windows-1252, as browsers do);
4. mostly UTF-8 (at least as many valid non-ASCII characters as invalid sequences: text in
   a single-byte encoding is nearly all invalid sequences): UTF-8 with the invalid sequences
   replaced by U+FFFD;
5. the language the feed declares (``<language>``, ``xml:lang``, ``dc:language``): Hebrew
   windows-1255, Arabic windows-1256;
6. the candidate among windows-1252, -1255 and -1256 whose decoding gives the most words
   written in one script (see `_script_score`), then ISO-8859-1, which never fails.

Entities: a DOCTYPE is rewritten before any XML parser sees it. Only internal general
entities whose value is short plain text or one character reference survive; external
entities (XXE), parameter entities and entities that refer to other entities (billion
laughs) are dropped, so a reference to them stays an undefined entity and expands to
nothing. Characters XML 1.0 forbids (C0 controls other than tab/CR/LF, U+FFFE, U+FFFF) are
removed. Line numbers are preserved, so a parser's error position still points into the
body as served.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["PreparedBody", "prepare"]

_UTF8_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'

# Longest BOM first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Labels whose web meaning differs from Python's codec of the same name (WHATWG Encoding).
_LABEL_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-8-i": "iso8859-8",
    "iso-8859-8-e": "iso8859-8",
    "logical": "iso8859-8",
    "visual": "iso8859-8",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
}

_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_DECLARATION_RE = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_LANGUAGE_RE = re.compile(
    rb"""(?:<(?:[a-z]+:)?language>\s*|xml:lang\s*=\s*["'])([a-zA-Z]{2,3})""", re.IGNORECASE
)
_LANGUAGE_CODECS = {b"he": "cp1255", b"iw": "cp1255", b"ar": "cp1256"}
_GUESS_CODECS = ("cp1252", "cp1255", "cp1256")

_FORBIDDEN_CHARS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_LEADING_DECLARATION_RE = re.compile(r"\A[\s\ufeff]*(?:<\?xml\b[^>]*\?>)?")
_WORD_RE = re.compile(r"[^\W\d_]+")

# Entity guard limits: a surviving entity may expand a reference at most this much.
_MAX_ENTITY_VALUE = 64
_MAX_ENTITIES = 200
_SAFE_ENTITY_RE = re.compile(r"""\A<!ENTITY\s+([A-Za-z_][\w.-]*)\s+(["'])(.*)\2\s*>\Z""", re.DOTALL)
_CHAR_REF_RE = re.compile(r"\A&#(?:[0-9]{1,7}|x[0-9A-Fa-f]{1,6});\Z")


@dataclass(frozen=True)
class PreparedBody:
    """A feed body ready for an XML parser."""

    data: bytes  # UTF-8, starting with an XML declaration that says utf-8
    encoding: str  # Python codec name the body was decoded with
    notes: tuple[str, ...]  # every repair made, in words; empty when the body was clean


def prepare(body: bytes, content_type: str | None) -> PreparedBody:
    """Decode `body` (see the module docstring for the order), clean it and re-encode it."""
    notes: list[str] = []
    text, encoding = _decode(body, content_type, notes)
    text, removed = _FORBIDDEN_CHARS_RE.subn("", text)
    if removed:
        notes.append(f"{removed} characters not allowed in XML removed")
    text = _replace_declaration(text)
    text = _guard_doctype(text, notes)
    return PreparedBody(text.encode("utf-8"), encoding, tuple(notes))


def _decode(body: bytes, content_type: str | None, notes: list[str]) -> tuple[str, str]:
    sniffed = _sniff_unicode(body)
    if sniffed is not None:
        codec, skip = sniffed
        text = body[skip:].decode(codec, "replace")
        if "\ufffd" in text:
            notes.append(f"invalid {codec} sequences replaced")
        return text, codec

    declared = _declared(body, content_type)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if not body.isascii():
            for source, label, codec in declared:
                if codec != "utf-8":
                    notes.append(f"declared {label} ({source}) but decoded as utf-8")
                break
        return text, "utf-8"

    for _source, _label, codec in declared:
        if codec == "utf-8":
            continue
        try:
            return body.decode(codec), codec
        except UnicodeDecodeError:
            continue

    described = ", ".join(f"{label} ({source})" for source, label, _ in declared) or "nothing"
    lenient = body.decode("utf-8", "replace")
    invalid = lenient.count("\ufffd")
    valid = sum(1 for ch in lenient if ord(ch) > 0x7F) - invalid
    if valid >= invalid:
        notes.append(f"{invalid} invalid utf-8 sequences replaced (declared {described})")
        return lenient, "utf-8"

    codec = _guess_single_byte(body)
    notes.append(f"declared {described}, decoded as {codec}")
    return body.decode(codec), codec


def _sniff_unicode(body: bytes) -> tuple[str, int] | None:
    """Codec and BOM length for a BOM or an unmarked UTF-16/32 document, else None."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, len(bom)
    head = body[:4]
    if len(head) == 4:
        if head[1:] == b"\0\0\0" and head[0]:
            return "utf-32-le", 0
        if head[:3] == b"\0\0\0" and head[3]:
            return "utf-32-be", 0
        if head[1] == 0 and head[3] == 0 and head[0] and head[2]:
            return "utf-16-le", 0
        if head[0] == 0 and head[2] == 0 and head[1] and head[3]:
            return "utf-16-be", 0
    return None


def _declared(body: bytes, content_type: str | None) -> list[tuple[str, str, str]]:
    """(source, label as written, usable codec) for the HTTP charset and the XML declaration."""
    found: list[tuple[str, str]] = []
    if content_type and (match := _CHARSET_RE.search(content_type)):
        found.append(("HTTP", match.group(1)))
    if match_bytes := _DECLARATION_RE.match(body[:512]):
        found.append(("XML declaration", match_bytes.group(1).decode("ascii")))
    usable = []
    for source, label in found:
        codec = _codec(label)
        if codec is not None:
            usable.append((source, label.lower(), codec))
    return usable


def _codec(label: str) -> str | None:
    """Python codec for an encoding label, or None if unknown or not ASCII-compatible.

    UTF-16/32 labels are refused here: without a BOM or zero bytes (already sniffed) such a
    declaration is wrong, and decoding ASCII bytes as UTF-16 "succeeds" with garbage.
    """
    name = label.strip().lower()
    name = _LABEL_ALIASES.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    try:
        compatible = "<?xml encoding".encode(codec) == b"<?xml encoding"
    except (UnicodeError, LookupError):
        return None
    return codec if compatible else None


def _guess_single_byte(body: bytes) -> str:
    if match := _LANGUAGE_RE.search(body[:8192]):
        codec = _LANGUAGE_CODECS.get(match.group(1).lower())
        if codec is not None:
            try:
                body.decode(codec)
            except UnicodeDecodeError:
                pass
            else:
                return codec
    best, best_score = "latin-1", None
    for codec in _GUESS_CODECS:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        score = _script_score(text)
        if best_score is None or score > best_score:
            best, best_score = codec, score
    return best


def _script_score(text: str) -> int:
    """Words in one script minus words mixing scripts, over words with a non-ASCII letter.

    Hebrew read as windows-1252 gives words made only of accented Latin letters, and read as
    windows-1256 gives words mixing Arabic and Latin letters: both count against.
    """
    score = 0
    for word in _WORD_RE.findall(text):
        if word.isascii():
            continue
        hebrew = sum(1 for ch in word if "\u0590" <= ch <= "\u05ff")
        arabic = sum(1 for ch in word if "\u0600" <= ch <= "\u06ff")
        latin = len(word) - hebrew - arabic
        ascii_letters = sum(1 for ch in word if ch.isascii())
        one_script = len(word) in (hebrew, arabic)
        plain_latin = latin == len(word) and 2 * ascii_letters >= len(word)
        if one_script or plain_latin:
            score += 1
        else:
            score -= 1
    return score


def _replace_declaration(text: str) -> str:
    """Put a utf-8 declaration first, keeping the line count of what it replaces."""
    match = _LEADING_DECLARATION_RE.match(text)
    removed = match.group(0) if match else ""
    return _UTF8_DECLARATION + "\n" * removed.count("\n") + text[len(removed) :]


def _guard_doctype(text: str, notes: list[str]) -> str:
    span = _find_doctype(text)
    if span is None:
        return text
    start, subset_start, subset_end, end = span
    if subset_start < 0:
        # Nothing declared inline; an external DTD is never loaded (feedparser turns external
        # entities off and drops the DOCTYPE), and its public id tells RSS 0.91 apart.
        return text
    kept: list[str] = []
    dropped = 0
    for declaration in _declarations(text[subset_start:subset_end]):
        if len(kept) < _MAX_ENTITIES and _is_safe_entity(declaration):
            kept.append(declaration)
        elif declaration.startswith("<!ENTITY"):
            dropped += 1
    if dropped:
        notes.append(f"{dropped} unsafe entity declarations removed from the DOCTYPE")
    head = text[start : subset_start - 1].rstrip()
    # One declaration per line: feedparser's own DOCTYPE handling expects that layout.
    replacement = f"{head} [\n" + "\n".join(kept) + "\n]>" if kept else f"{head}>"
    padding = text.count("\n", start, end) - replacement.count("\n")
    rest = text[end:]
    while padding < 0 and rest.startswith("\n"):  # keep later line numbers where we can
        rest, padding = rest[1:], padding + 1
    return text[:start] + replacement + "\n" * max(padding, 0) + rest


def _find_doctype(text: str) -> tuple[int, int, int, int] | None:
    """(start, subset start or -1, subset end, end) of the prolog's DOCTYPE, or None."""
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text.startswith("<?", i):
            close = text.find("?>", i + 2)
            if close < 0:
                return None
            i = close + 2
        elif text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            if close < 0:
                return None
            i = close + 3
        elif text[i : i + 9].upper() == "<!DOCTYPE":
            return _doctype_extent(text, i)
        else:
            return None
    return None


def _doctype_extent(text: str, start: int) -> tuple[int, int, int, int]:
    i, n = start + 9, len(text)
    subset_start = subset_end = -1
    quote = ""
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "[" and subset_start < 0:
            subset_start = i + 1
            subset_end = _subset_end(text, subset_start)
            i = subset_end
            continue
        elif ch == ">":
            return start, subset_start, subset_end, i + 1
        i += 1
    return start, subset_start, subset_end, n


def _subset_end(text: str, i: int) -> int:
    """Index of the `]` closing the internal subset starting at `i`, skipping quotes/comments."""
    n = len(text)
    while i < n:
        if text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            i = n if close < 0 else close + 3
            continue
        ch = text[i]
        if ch in "\"'":
            close = text.find(ch, i + 1)
            i = n if close < 0 else close + 1
            continue
        if ch == "]":
            return i
        i += 1
    return n


def _declarations(subset: str) -> list[str]:
    """Markup declarations (`<!...>`) of an internal subset; comments and PIs are left out."""
    found: list[str] = []
    i, n = 0, len(subset)
    while i < n:
        if subset.startswith("<!--", i):
            close = subset.find("-->", i + 4)
            i = n if close < 0 else close + 3
        elif subset.startswith("<!", i):
            j, quote = i + 2, ""
            while j < n and (quote or subset[j] != ">"):
                if quote and subset[j] == quote:
                    quote = ""
                elif not quote and subset[j] in "\"'":
                    quote = subset[j]
                j += 1
            found.append(subset[i : j + 1])
            i = j + 1
        else:
            i += 1
    return found


def _is_safe_entity(declaration: str) -> bool:
    match = _SAFE_ENTITY_RE.match(declaration)
    if match is None:  # parameter (%), external (SYSTEM/PUBLIC) or malformed
        return False
    quote, value = match.group(2), match.group(3)
    if quote in value:
        return False
    if _CHAR_REF_RE.match(value):
        return True
    return len(value) <= _MAX_ENTITY_VALUE and not any(c in value for c in "&%<")
