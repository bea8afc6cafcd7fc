"""The feed registry (`feeds.yaml`, DESIGN §6): parsed and validated into typed specs.

Every complaint names the file and line of the entry at fault, so the person editing the
file can act on it; nothing is loaded when any entry is wrong.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

KEYS_REQUIRED = ("id", "outlet", "country", "language", "url")
KEYS_OPTIONAL = ("interval", "fulltext", "wire", "enabled")
LANGUAGES = ("ar", "fr", "he", "en")
DEFAULT_INTERVAL = 15 * 60
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class RegistryError(ValueError):
    """The registry file is wrong; the message names the file, line and entry."""


@dataclass(frozen=True)
class FeedSpec:
    id: str
    outlet: str
    country: str
    language: str
    url: str
    interval_seconds: int = DEFAULT_INTERVAL
    fulltext: bool = False
    wire: bool = False
    enabled: bool = True
    line: int = 0

    @property
    def outlet_slug(self) -> str:
        return outlet_slug(self.outlet)


def outlet_slug(name: str) -> str:
    """A stable slug for an outlet name ('Médias24' -> 'medias24')."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug or "outlet-" + name.encode().hex()[:12]


def parse_interval(value: object) -> int:
    """'15m', '2h', '90s', '1d' or a number of seconds -> seconds (at least 60)."""
    match = _INTERVAL.match(str(value))
    if not match:
        raise ValueError(f"interval {value!r} is not like 15m, 2h, 90s or 1d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 60:
        raise ValueError(f"interval {value!r} is shorter than a minute")
    return seconds


def _check_url(url: object) -> str:
    if not isinstance(url, str):
        raise ValueError(f"url must be text, got {url!r}")
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"url {url!r} is not an http(s) URL with a host")
    return url.strip()


def _spec(node: yaml.MappingNode, entry: dict[str, object], where: str) -> FeedSpec:
    if entry.get("id") not in (None, ""):
        where = f"{where} (id {entry['id']})"
    keys = [key.value for key, _ in node.value]
    doubled = sorted({key for key in keys if keys.count(key) > 1})
    if doubled:
        raise RegistryError(f"{where}: key {doubled[0]!r} given twice")
    unknown = sorted(set(entry) - set(KEYS_REQUIRED) - set(KEYS_OPTIONAL))
    if unknown:
        allowed = ", ".join(KEYS_REQUIRED + KEYS_OPTIONAL)
        raise RegistryError(f"{where}: unknown key {unknown[0]!r} (allowed: {allowed})")
    missing = [key for key in KEYS_REQUIRED if entry.get(key) in (None, "")]
    if missing:
        raise RegistryError(f"{where}: missing {', '.join(missing)}")
    feed_id = str(entry["id"])
    if not _SLUG.match(feed_id):
        raise RegistryError(f"{where}: id must be lower-case letters, digits, '-' or '_'")
    country = str(entry["country"]).upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise RegistryError(f"{where}: country {entry['country']!r} is not a two-letter code")
    language = str(entry["language"]).lower()
    if language not in LANGUAGES:
        raise RegistryError(f"{where}: language {language!r} is not one of {', '.join(LANGUAGES)}")
    flags: dict[str, bool] = {}
    for key, default in (("fulltext", False), ("wire", False), ("enabled", True)):
        value = entry.get(key, default)
        if not isinstance(value, bool):
            raise RegistryError(f"{where}: {key} must be true or false, got {value!r}")
        flags[key] = value
    try:
        url = _check_url(entry["url"])
        interval = parse_interval(entry.get("interval", DEFAULT_INTERVAL))
    except ValueError as exc:
        raise RegistryError(f"{where}: {exc}") from None
    return FeedSpec(
        id=feed_id,
        outlet=str(entry["outlet"]),
        country=country,
        language=language,
        url=url,
        interval_seconds=interval,
        line=node.start_mark.line + 1,
        **flags,
    )


def parse_registry(text: str, source: str = "feeds.yaml") -> list[FeedSpec]:
    """Validate a registry document; raise `RegistryError` naming the first bad entry."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(_yaml_problem(source, exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("feeds"), list):
        raise RegistryError(f"{source}: expected a top-level 'feeds:' list")
    extra = sorted(set(data) - {"feeds"})
    if extra:
        raise RegistryError(f"{source}: unknown top-level key {extra[0]!r}")
    assert isinstance(root, yaml.MappingNode)
    feeds_node = next(value for key, value in root.value if key.value == "feeds")
    specs: list[FeedSpec] = []
    seen: dict[str, int] = {}
    for node, entry in zip(feeds_node.value, data["feeds"], strict=True):
        where = f"{source}:{node.start_mark.line + 1}"
        if not isinstance(entry, dict) or not isinstance(node, yaml.MappingNode):
            raise RegistryError(f"{where}: each feed must be a mapping of keys")
        spec = _spec(node, entry, where)
        if spec.id in seen:
            raise RegistryError(
                f"{where}: duplicate id {spec.id!r} (first defined on line {seen[spec.id]})"
            )
        seen[spec.id] = spec.line
        specs.append(spec)
    _check_outlets(specs, source)
    return specs


def _yaml_problem(source: str, exc: yaml.YAMLError) -> str:
    """One line naming the file and line, instead of PyYAML's multi-line report."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return f"{source}: not valid YAML: {' '.join(str(exc).split())}"
    message = f"{source}:{exc.problem_mark.line + 1}: not valid YAML: {exc.problem}"
    if exc.context and exc.context_mark is not None:
        message += f" ({exc.context} on line {exc.context_mark.line + 1})"
    return message


def _check_outlets(specs: list[FeedSpec], source: str) -> None:
    """Feeds of one outlet share identity, so they must agree on the outlet's country."""
    countries: dict[str, FeedSpec] = {}
    for spec in specs:
        first = countries.setdefault(spec.outlet_slug, spec)
        if first.country != spec.country:
            raise RegistryError(
                f"{source}:{spec.line} (id {spec.id}): outlet {spec.outlet!r} has country "
                f"{spec.country}, but line {first.line} says {first.country}"
            )


def load_registry(path: Path) -> list[FeedSpec]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"cannot read the feed registry {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise RegistryError(f"{path}: not UTF-8 text") from None
    return parse_registry(text, str(path))
