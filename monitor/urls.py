"""Canonical article URLs: one key for every way an outlet links the same page.

`canonical_url(url, base=None)` folds the variants that point to one article (DESIGN §5,
Identity); `url_host(url)` gives the folded host alone. Rules, in order:

* Resolved against `base` when relative; surrounding whitespace removed. Anything that is not
  an http(s) URL with a host is returned unchanged (stripped): it is not ours to fold.
* Scheme: ``http`` and ``https`` are one site; the key says ``https``.
* Host: lower case, trailing dot removed, internationalised names in their ASCII (punycode)
  form, the leading labels of `HOST_PREFIXES` (``www.``, ``m.``, ``mobile.``, ``amp.``) removed
  while two labels remain (``mobile.telquel.ma`` and ``www.telquel.ma`` are ``telquel.ma``).
  User name, password and default ports (80, 443) dropped; other ports kept.
* Path: dot segments resolved; percent-encoding normalised to one form (UTF-8, upper-case
  hex, unreserved characters never encoded), so ``%d8%a8``, ``%D8%A8`` and a raw ``ب`` give
  the same key while an encoded delimiter such as ``%2F`` stays encoded; case otherwise kept
  (Ynet's article ids are case-sensitive). An AMP suffix (``/amp``, ``/amp/``) is removed.
  Trailing slash rule: a trailing ``/`` is removed from every path except the root, which is
  ``/`` (WordPress and most CMSs serve or redirect both forms to one page).
* Query: parameters in `TRACKING_PARAMS`, with a prefix in `TRACKING_PREFIXES`, or marking
  the visit as coming from a feed or AMP (`MARKER_PARAMS` with a value in `MARKER_VALUES`)
  are dropped; the others are kept, normalised like the path, and sorted.
* Fragment dropped.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

__all__ = [
    "HOST_PREFIXES",
    "MARKER_PARAMS",
    "MARKER_VALUES",
    "TRACKING_PARAMS",
    "TRACKING_PREFIXES",
    "canonical_url",
    "url_host",
]

# Leading host labels that name a variant of the same site (mobile, AMP, "www").
HOST_PREFIXES: frozenset[str] = frozenset({"www", "m", "mobile", "amp"})

# Query parameters that only say how the reader arrived (compared in lower case).
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",  # Facebook click id
        "gclid",  # Google Ads click ids
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",  # Microsoft Ads
        "yclid",  # Yandex
        "igshid",  # Instagram share
        "twclid",  # X/Twitter
        "mc_cid",  # Mailchimp campaign / recipient
        "mc_eid",
        "xtor",  # AT Internet (Xiti), common on French outlets
        "xtref",
        "cmpid",  # campaign ids
        "cmp",
        "ocid",
        "icid",
        "ncid",
        "s_cid",
        "ito",
        "_ga",  # Google Analytics cross-domain linker
        "_gl",
        "_hsenc",  # HubSpot
        "_hsmi",
        "rss",  # bare feed marker (?rss, ?rss=1)
        "amp",  # AMP marker (?amp, ?amp=1)
        "dicbo",  # Outbrain
        "obOrigUrl",
        "__twitter_impression",
        "sr_share",
    }
)
TRACKING_PREFIXES: tuple[str, ...] = (
    "utm_",  # Google Analytics campaign tags (Yabiladi: utm_source=rss_yabiladi)
    "at_",  # AT Internet campaign tags (at_medium, at_campaign …)
    "mtm_",  # Matomo
    "pk_",  # Piwik
    "hsa_",  # HubSpot ads
    "oly_",  # Omeda
)
# Parameters dropped only when their value marks a feed or AMP visit (ref=rss, from=rss …).
MARKER_PARAMS: frozenset[str] = frozenset(
    {"ref", "from", "source", "src", "via", "origin", "feed", "channel", "outputtype", "output"}
)
MARKER_VALUES = re.compile(r"(?:rss|feed|feeds|atom|rssfeed|feedburner|amp)(?:[-_.].*)?", re.I)

_DEFAULT_PORTS = {"80", "443"}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE = _UNRESERVED | frozenset("!$'()*+,;:@/?")  # "&" and "=" stay escaped inside a pair
_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")


def canonical_url(url: str, base: str | None = None) -> str:
    """The identity key of an article URL (rules in the module docstring)."""
    text = url.strip()
    if base:
        try:
            text = urljoin(base.strip(), text)
        except ValueError:
            return text
    if text.startswith("//"):
        text = "https:" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # bad port or IPv6 literal: leave it alone
        return text
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return text
    host = _fold_host(parts.hostname)
    if port is not None and str(port) not in _DEFAULT_PORTS:
        host = f"{host}:{port}"
    path = _fold_path(parts.path)
    query = _fold_query(parts.query)
    return f"https://{host}{path}" + (f"?{query}" if query else "")


def url_host(url: str) -> str:
    """The folded host of `url` (``www.``/``m.``/… removed, lower case, ASCII), "" if none."""
    text = url.strip()
    if text.startswith("//"):
        text = "https:" + text
    try:
        hostname = urlsplit(text).hostname
    except ValueError:
        return ""
    return _fold_host(hostname) if hostname else ""


def _fold_host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        return f"[{host}]"
    labels = [_ascii_label(label) for label in host.split(".")]
    while len(labels) > 2 and labels[0] in HOST_PREFIXES:
        labels.pop(0)
    return ".".join(labels)


def _ascii_label(label: str) -> str:
    if label.isascii():
        return label
    try:
        return label.encode("idna").decode("ascii")
    except UnicodeError:
        return label


def _fold_path(path: str) -> str:
    path = _normalise_escapes(path, _PATH_SAFE)
    path = _remove_dot_segments(path or "/")
    if path.endswith("/amp/"):
        path = path[:-4]
    elif path.endswith("/amp"):
        path = path[:-3]
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return path if path.startswith("/") else "/" + path


def _fold_query(query: str) -> str:
    kept: list[tuple[str, str]] = []
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        name = _unescape_ascii(key).lower()
        if name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES):
            continue
        if name in MARKER_PARAMS and MARKER_VALUES.fullmatch(_unescape_ascii(value)):
            continue
        kept.append((_normalise_escapes(key, _QUERY_SAFE), _normalise_escapes(value, _QUERY_SAFE)))
    kept.sort()
    return "&".join(f"{key}={value}" if value else key for key, value in kept)


def _unescape_ascii(text: str) -> str:
    """Percent-escapes of ASCII bytes decoded (enough to compare parameter names and values)."""
    return _ESCAPE_RE.sub(_ascii_escape, text)


def _ascii_escape(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return chr(code) if code < 0x80 else match.group(0)


def _normalise_escapes(text: str, safe: frozenset[str]) -> str:
    """One spelling per URL component: escapes of unreserved characters decoded, every other
    escape in upper case, and characters outside `safe` (spaces, non-ASCII) escaped as UTF-8."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and i + 2 < n and _is_hex(text[i + 1 : i + 3]):
            decoded = chr(int(text[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1 : i + 3].upper())
            i += 3
            continue
        if ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, for paths that carry ``.`` or ``..`` segments."""
    segments = path.split("/")
    if "." not in segments and ".." not in segments:
        return path
    output: list[str] = []
    for segment in segments[1:] if path.startswith("/") else segments:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if segments[-1] in {".", ".."}:
        output.append("")
    return "/" + "/".join(output)
