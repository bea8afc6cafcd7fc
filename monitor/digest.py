"""The daily digest, built from values and rendered to a subject, a text part and an HTML part.

`build_digest(stories, window, tags_filter, settings)` takes the stories that gained a member in
the window (the caller selects them) and returns a `Digest`: one entry per story, grouped under
its strongest subtopic tag, ordered by importance, with counts per country and language.
`render_digest(digest)` turns it into a `RenderedDigest`. Nothing here reads a database, the
clock or the network; sending lives in `monitor.mail`.

Feed text is untrusted. Titles and excerpts become plain text (`monitor.text` drops every
tag, and the content of script-like ones; excerpts lose site boilerplate too), bounded in
length, stripped of control and bidi-override characters; links survive only as http/https.
The HTML template autoescapes, and its body goes through nh3 once more with a small
allowlist, so a template slip cannot smuggle markup.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
import nh3

from monitor.credits import split_credit
from monitor.text import clean_text, html_to_text

# Subtopic tags in display order; a story goes under the one with its highest score.
SUBTOPICS: dict[str, str] = {
    "military-visit": "Military visits",
    "arms-deal": "Arms deals",
    "intelligence": "Intelligence",
    "joint-exercise": "Joint exercises",
    "defense-industry": "Defence industry",
    "security-agreement": "Security agreements",
}
OTHER = "other"
OTHER_LABEL = "Other defence cooperation"
UMBRELLA = "defense-cooperation"

COUNTRY_NAMES = {"MA": "Morocco", "IL": "Israel"}
ORIGIN_NAMES = {
    "map": "MAP",
    "afp": "AFP",
    "ap": "AP",
    "reuters": "Reuters",
    "efe": "EFE",
    "jta": "JTA",
    "jns": "JNS",
    "tps": "TPS",
    "i24news": "i24NEWS",
    "ynet": "Ynet",
}
LANGUAGE_NAMES = {"ar": "Arabic", "he": "Hebrew", "fr": "French", "en": "English"}
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "yi"})

Direction = Literal["rtl", "auto"]


@dataclass(frozen=True, slots=True)
class TagHit:
    """One tag on one article: its score and the evidence terms that matched."""

    slug: str
    score: float
    terms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Member:
    """One article of a story, as the digest needs it (feed text, untrusted)."""

    outlet: str
    country: str
    lang: str | None
    title: str
    url: str
    seen_at: datetime  # first_seen_at: when we saw it, always known
    published_at: datetime | None = None
    credit: str | None = None
    origin: str | None = None
    excerpt: str = ""  # summary or body, HTML or text
    is_original: bool = False
    tags: tuple[TagHit, ...] = ()

    @property
    def when(self) -> datetime:
        """Publication time, unless missing or later than we saw it (then it lies)."""
        if self.published_at is None or self.published_at > self.seen_at:
            return self.seen_at
        return self.published_at


@dataclass(frozen=True, slots=True)
class Story:
    """A syndication cluster with every member we hold."""

    story_id: int
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class Window:
    """The half-open interval [start, end) of first-seen times this digest covers (UTC)."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class DigestSettings:
    """How the digest is shaped; the defaults suit a daily email."""

    timezone: str = "Africa/Casablanca"
    send_when_empty: bool = True  # a short "nothing new" email, or none at all
    title_chars: int = 240
    excerpt_chars: int = 240
    max_terms: int = 8
    max_carriers: int = 12  # "also carried by" entries shown per story
    max_stories: int = 150  # beyond this the least important are counted, not shown


@dataclass(frozen=True, slots=True)
class Carrier:
    """An outlet that carried the story, cleaned for display."""

    outlet: str
    country: str
    lang: str | None
    url: str | None
    when: datetime  # in the digest's time zone


@dataclass(frozen=True, slots=True)
class Entry:
    """One story in the digest, every text field already plain, bounded and safe."""

    story_id: int
    subtopic: str
    title: str
    lang: str | None
    dir: Direction
    original: Carrier
    credit: str | None
    origin: str | None
    excerpt: str
    excerpt_lang: str | None
    excerpt_dir: Direction
    carriers: tuple[Carrier, ...]  # the other outlets, earliest first
    more_carriers: int  # how many more were left out
    terms: tuple[str, ...]
    outlet_count: int
    countries: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Section:
    slug: str
    label: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """The digest for one date, ready to render."""

    date: date
    window: Window
    timezone: str
    sections: tuple[Section, ...]
    story_count: int
    article_count: int
    by_country: tuple[tuple[str, int], ...]  # articles per country, most first
    by_language: tuple[tuple[str, int], ...]  # articles per language, most first
    omitted: int  # stories left out by `max_stories`
    should_send: bool  # False for an empty digest when empty ones are not sent
    tags_filter: tuple[str, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        return self.story_count == 0

    @property
    def shown_story_ids(self) -> frozenset[int]:
        """The stories that have an entry (those beyond `max_stories` are only counted)."""
        return frozenset(entry.story_id for s in self.sections for entry in s.entries)

    @property
    def local_window(self) -> tuple[datetime, datetime]:
        """The window in the digest's time zone, for display."""
        zone = ZoneInfo(self.timezone)
        return self.window.start.astimezone(zone), self.window.end.astimezone(zone)


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    subject: str
    text: str
    html: str


# --- cleaning untrusted text -------------------------------------------------------------

# Control characters and bidi embeddings/overrides/isolates: a title carrying U+202E could
# reorder the rest of the line; we add our own isolates where we need them.
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f]")
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_RTL_SCRIPTS = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_BODY_CLEANER = nh3.Cleaner(
    tags={"div", "table", "tbody", "tr", "td", "h1", "h2", "h3", "p", "a", "span", "strong", "bdi"},
    attributes={
        "*": {"style", "dir", "lang"},
        "a": {"href"},
        "table": {"role", "width", "cellpadding", "cellspacing", "border"},
    },
    url_schemes={"http", "https"},
)


def plain_text(markup: str, limit: int, *, excerpt: bool = False) -> str:
    """Visible text of untrusted HTML or text on one line, at most `limit` characters.

    `excerpt=True` also drops site furniture (subscribe lines, "The post … appeared first
    on …") and the credit line or dateline (shown apart). The input is cut before parsing so
    a megabyte item costs what a page does.
    """
    head = markup[: limit * 20 + 20_000]
    text = split_credit(clean_text(head)).text if excerpt else html_to_text(head)
    text = _BIDI_CONTROLS.sub("", _CONTROL_CHARS.sub(" ", unicodedata.normalize("NFC", text)))
    return truncate(" ".join(text.split()), limit)


def truncate(text: str, limit: int) -> str:
    """Cut at a word boundary near `limit` and mark the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—،") + "…"


def safe_url(url: str) -> str | None:
    """The URL when it is an absolute http(s) link of sane length, else None."""
    url = url.strip()
    if len(url) > 2048 or _CONTROL_CHARS.search(url) or _BIDI_CONTROLS.search(url):
        return None
    if any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    return url


def direction(lang: str | None, text: str) -> Direction:
    """`rtl` for Arabic/Hebrew (by language, or by script when the language is unknown)."""
    if lang in RTL_LANGUAGES:
        return "rtl"
    if lang is None and (first := _first_strong(text)) is not None and first:
        return "rtl"
    return "auto"


def _first_strong(text: str) -> bool | None:
    """True when the first strongly directional character is right-to-left."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in {"R", "AL"}:
            return True
        if kind == "L":
            return False
    return None


# --- building ----------------------------------------------------------------------------


def build_digest(
    stories: Iterable[Story],
    window: Window,
    tags_filter: Sequence[str],
    settings: DigestSettings,
) -> Digest:
    """Group, order and clean the stories that pass `tags_filter` (any of; empty = all).

    A subtopic tag implies the `defense-cooperation` umbrella when filtering.
    """
    zone = ZoneInfo(settings.timezone)
    wanted = set(tags_filter)
    chosen = [s for s in stories if s.members and (not wanted or wanted & _story_tags(s))]
    chosen.sort(key=_importance)
    shown, omitted = chosen[: settings.max_stories], max(len(chosen) - settings.max_stories, 0)

    grouped: dict[str, list[Entry]] = {slug: [] for slug in (*SUBTOPICS, OTHER)}
    for story in shown:
        entry = _entry(story, zone, settings)
        grouped[entry.subtopic].append(entry)
    labels = {**SUBTOPICS, OTHER: OTHER_LABEL}
    sections = tuple(
        Section(slug, labels[slug], tuple(entries)) for slug, entries in grouped.items() if entries
    )

    members = [m for s in chosen for m in s.members]
    countries = Counter(m.country or "?" for m in members)
    languages = Counter(m.lang or "?" for m in members)
    return Digest(
        date=window.end.astimezone(zone).date(),
        window=window,
        timezone=settings.timezone,
        sections=sections,
        story_count=len(chosen),
        article_count=len(members),
        by_country=_most_first(countries),
        by_language=_most_first(languages),
        omitted=omitted,
        should_send=bool(chosen) or settings.send_when_empty,
        tags_filter=tuple(tags_filter),
    )


def _story_tags(story: Story) -> set[str]:
    slugs = {hit.slug for m in story.members for hit in m.tags}
    if slugs & SUBTOPICS.keys():
        slugs.add(UMBRELLA)
    return slugs


def _importance(story: Story) -> tuple[int, int, float, int]:
    """Sort key: more outlets, more countries, more recent, then a stable id."""
    outlets = {m.outlet for m in story.members}
    countries = {m.country for m in story.members}
    latest = max(m.when for m in story.members).timestamp()
    return (-len(outlets), -len(countries), -latest, story.story_id)


def _most_first(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _original(story: Story) -> Member:
    marked = [m for m in story.members if m.is_original]
    return min(marked or story.members, key=lambda m: (m.when, m.seen_at))


def _subtopic(story: Story) -> str:
    best: dict[str, float] = {}
    for member in story.members:
        for hit in member.tags:
            if hit.slug in SUBTOPICS:
                best[hit.slug] = max(best.get(hit.slug, hit.score), hit.score)
    order = list(SUBTOPICS)
    return min(best, key=lambda s: (-best[s], order.index(s))) if best else OTHER


def _carrier(member: Member, zone: ZoneInfo) -> Carrier:
    return Carrier(
        outlet=plain_text(member.outlet, 80),
        country=plain_text(member.country, 8),
        lang=member.lang,
        url=safe_url(member.url),
        when=member.when.astimezone(zone),
    )


def _entry(story: Story, zone: ZoneInfo, settings: DigestSettings) -> Entry:
    original = _original(story)
    others: list[Member] = []
    seen_outlets = {original.outlet}
    for member in sorted(story.members, key=lambda m: (m.when, m.outlet)):
        if member.outlet not in seen_outlets:
            seen_outlets.add(member.outlet)
            others.append(member)
    source = original if original.excerpt.strip() else _first_with_excerpt(story, original)
    title = plain_text(original.title, settings.title_chars) or "(untitled)"
    excerpt = _without_title(
        plain_text(source.excerpt, settings.excerpt_chars + len(title), excerpt=True), title
    )
    excerpt = truncate(excerpt, settings.excerpt_chars)
    credit = original.credit or next((m.credit for m in story.members if m.credit), None)
    origin = original.origin or next((m.origin for m in story.members if m.origin), None)
    terms: dict[str, None] = {}
    for member in (original, *others):
        for hit in member.tags:
            for term in hit.terms:
                if cleaned := plain_text(term, 60):
                    terms.setdefault(cleaned)
    return Entry(
        story_id=story.story_id,
        subtopic=_subtopic(story),
        title=title,
        lang=original.lang,
        dir=direction(original.lang, title),
        original=_carrier(original, zone),
        credit=plain_text(credit, 120) if credit else None,
        origin=plain_text(origin, 40) if origin else None,
        excerpt=excerpt,
        excerpt_lang=source.lang,
        excerpt_dir=direction(source.lang, excerpt),
        carriers=tuple(_carrier(m, zone) for m in others[: settings.max_carriers]),
        more_carriers=max(len(others) - settings.max_carriers, 0),
        terms=tuple(terms)[: settings.max_terms],
        outlet_count=len(seen_outlets),
        countries=tuple(sorted({m.country for m in story.members})),
    )


_EDGE_PUNCTUATION = " .,;:!?-–—،؛؟«»\"'"


def _without_title(excerpt: str, title: str) -> str:
    """The excerpt without a leading repeat of the headline (many feeds start with it)."""
    if excerpt.casefold().startswith(title.casefold()):
        return excerpt[len(title) :].lstrip(_EDGE_PUNCTUATION)
    return excerpt


def _first_with_excerpt(story: Story, fallback: Member) -> Member:
    return next((m for m in story.members if m.excerpt.strip()), fallback)


# --- rendering ---------------------------------------------------------------------------


def subject_for(digest: Digest) -> str:
    """`Defence digest 2025-03-14: 12 stories, 31 articles (Morocco 20, Israel 11)`."""
    head = f"Defence digest {digest.date.isoformat()}"
    if digest.is_empty:
        return f"{head}: nothing new"
    stories = "story" if digest.story_count == 1 else "stories"
    articles = "article" if digest.article_count == 1 else "articles"
    countries = ", ".join(f"{country_name(c)} {n}" for c, n in digest.by_country)
    return (
        f"{head}: {digest.story_count} {stories}, {digest.article_count} {articles} ({countries})"
    )


def country_name(code: str) -> str:
    return COUNTRY_NAMES.get(code, code)


def origin_name(slug: str) -> str:
    """`map` → `MAP`; slugs that are not agencies (`compilation`, `agencies`) stay as they are."""
    return ORIGIN_NAMES.get(slug, slug)


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def _isolate(text: str) -> str:
    """Wrap in FSI…PDI so an RTL run keeps its own direction inside a plain-text line."""
    return f"\u2068{text}\u2069" if _RTL_SCRIPTS.search(text) else text


def _when(moment: datetime, day: date | None = None) -> str:
    """`07:10` on the digest's date `day`, `13 Mar 22:40` on another day (or with no day)."""
    return moment.strftime("%H:%M" if moment.date() == day else "%d %b %H:%M")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitor", "templates"),
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["country"] = country_name
    env.filters["language"] = language_name
    env.filters["origin"] = origin_name
    env.filters["isolate"] = _isolate
    env.filters["when"] = _when
    return env


_ENV = _environment()


def render_digest(digest: Digest) -> RenderedDigest:
    """Subject, plain-text part and HTML part (a full document with inline styles)."""
    subject = subject_for(digest)
    values = {"digest": digest, "subject": subject}
    text = _ENV.get_template("digest.txt.j2").render(values)
    page = _ENV.get_template("digest.html.j2")
    # The `body` block is rendered on its own, sanitised, then placed in the document shell.
    body = "".join(page.blocks["body"](page.new_context(values)))
    document = page.render({**values, "safe_body": _BODY_CLEANER.clean(body)})
    return RenderedDigest(subject=subject, text=text, html=document)
