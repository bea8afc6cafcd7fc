"""The monitor's own configuration: MONITOR_* environment variables, read in one place.

Precedence: environment, then a `.env` file in the working directory, then `monitor.toml`
(section `[monitor]`, keys without the prefix, lower case), then the defaults below. The SMTP
password is read from the environment only, never from a file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PACKAGE_DIR = Path(__file__).resolve().parent

# name -> (default, meaning); the single declaration of every MONITOR_* variable.
VARIABLES: dict[str, tuple[str, str]] = {
    "MONITOR_DATABASE_URL": ("sqlite:///monitor.db", "SQLAlchemy URL of the database"),
    "MONITOR_FEEDS_FILE": (str(PACKAGE_DIR / "feeds.yaml"), "the feed registry (YAML)"),
    "MONITOR_TOPICS_FILE": (str(PACKAGE_DIR / "topics.yaml"), "tag rules (YAML)"),
    "MONITOR_POLL_TICK": ("60", "seconds between the daemon's crawl ticks"),
    "MONITOR_CRAWL_TIMEOUT": ("900", "seconds a crawl child process may run before it is stopped"),
    "MONITOR_DEDUPE_WINDOW_DAYS": ("7", "days within which copies are matched to a story"),
    "MONITOR_DOWNLOAD_DELAY": ("1.0", "seconds between two requests to the same host"),
    "MONITOR_DOWNLOAD_TIMEOUT": ("20", "seconds a feed or page download may take"),
    "MONITOR_USER_AGENT": (
        "media-monitor/0.1 (+https://example.org/media-monitor; feed reader)",
        "User-Agent sent with every request",
    ),
    "MONITOR_SMTP_HOST": ("", "mail server host"),
    "MONITOR_SMTP_PORT": ("", "mail server port (default by security: 587, 465 or 25)"),
    "MONITOR_SMTP_USER": ("", "mail server login"),
    "MONITOR_SMTP_SECURITY": ("starttls", "starttls, ssl or none"),
    "MONITOR_DIGEST_FROM": ("", "digest sender address"),
    "MONITOR_DIGEST_TO": ("", "comma-separated digest recipients"),
    "MONITOR_DIGEST_TIME": ("07:00", "local time the daily digest goes out"),
    "MONITOR_DIGEST_TZ": ("Africa/Casablanca", "time zone of MONITOR_DIGEST_TIME"),
    "MONITOR_DIGEST_TAGS": ("defense-cooperation", "comma-separated tags a story needs"),
    "MONITOR_DIGEST_SEND_EMPTY": ("true", "send a short 'nothing new' digest on empty days"),
    "MONITOR_HEALTH_PORT": ("", "loopback port for /healthz and /metrics (off when empty)"),
    "MONITOR_MIN_INTERVAL": ("300", "shortest seconds between two polls of a feed"),
    "MONITOR_MAX_INTERVAL": ("21600", "longest seconds between two polls of a healthy feed"),
}
SECRET_VARIABLES = ("MONITOR_SMTP_PASSWORD",)
DAY = 86400


class ConfigError(ValueError):
    """A configuration value a person has to fix; the message names the variable."""


@dataclass(frozen=True)
class Config:
    database_url: str
    feeds_file: Path
    topics_file: Path
    poll_tick: int
    crawl_timeout: int
    dedupe_window_days: int
    user_agent: str
    download_delay: float
    download_timeout: int
    smtp_host: str
    smtp_port: int | None
    smtp_user: str
    smtp_password: str = field(repr=False)
    smtp_security: str
    digest_from: str
    digest_to: tuple[str, ...]
    digest_time: time
    digest_tz: ZoneInfo
    digest_tags: tuple[str, ...]
    digest_send_empty: bool
    health_port: int | None
    min_interval: int = 300
    max_interval: int = 21600


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            raise ConfigError(f"{path}:{number}: expected NAME=value, got {raw!r}")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _read_toml(path: Path) -> dict[str, str]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    section = data.get("monitor", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [monitor] must be a table")
    return {f"MONITOR_{key.upper()}": str(value) for key, value in section.items()}


def _int(name: str, value: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {number}")
    return number


def _float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number < 0:
        raise ConfigError(f"{name} must not be negative, got {number}")
    return number


def _bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def load_config(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Config:
    """Read the configuration; unknown MONITOR_* names and bad values raise `ConfigError`."""
    env = dict(os.environ if environ is None else environ)
    here = cwd or Path.cwd()
    merged: dict[str, str] = {}
    origin: dict[str, Path] = {}  # the file a setting came from, to name it in errors
    for path, read in ((here / "monitor.toml", _read_toml), (here / ".env", _read_dotenv)):
        if path.is_file():
            values = read(path)
            merged.update(values)
            origin.update(dict.fromkeys(values, path))
    if "MONITOR_SMTP_PASSWORD" in merged:  # secrets come from the environment only
        raise ConfigError(
            "MONITOR_SMTP_PASSWORD may only be set in the environment, not in .env or "
            "monitor.toml: remove it from the file and export it instead"
        )
    from_env = {k: v for k, v in env.items() if k.startswith("MONITOR_")}
    merged.update(from_env)
    known = set(VARIABLES) | set(SECRET_VARIABLES) | {"MONITOR_TEST_PG_URL"}
    unknown = sorted(set(merged) - known)
    if unknown:
        name = unknown[0]
        where = f" in {origin[name]}" if name in origin and name not in from_env else ""
        raise ConfigError(
            f"unknown setting {name}{where}; known settings: {', '.join(sorted(VARIABLES))}"
        )

    def get(name: str) -> str:
        return merged.get(name) or VARIABLES[name][0]

    security = get("MONITOR_SMTP_SECURITY").lower()
    if security not in {"starttls", "ssl", "none"}:
        raise ConfigError(f"MONITOR_SMTP_SECURITY must be starttls, ssl or none, not {security!r}")
    digest_time_text = get("MONITOR_DIGEST_TIME")
    try:
        digest_time = time.fromisoformat(digest_time_text)
    except ValueError:
        raise ConfigError(f"MONITOR_DIGEST_TIME must be HH:MM, got {digest_time_text!r}") from None
    tz_name = get("MONITOR_DIGEST_TZ")
    try:
        digest_tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"MONITOR_DIGEST_TZ is not a known time zone: {tz_name!r}") from None
    port_text = get("MONITOR_SMTP_PORT")
    health_text = get("MONITOR_HEALTH_PORT")
    return Config(
        database_url=get("MONITOR_DATABASE_URL"),
        feeds_file=Path(get("MONITOR_FEEDS_FILE")),
        topics_file=Path(get("MONITOR_TOPICS_FILE")),
        poll_tick=_int("MONITOR_POLL_TICK", get("MONITOR_POLL_TICK")),
        crawl_timeout=_int("MONITOR_CRAWL_TIMEOUT", get("MONITOR_CRAWL_TIMEOUT")),
        dedupe_window_days=_int("MONITOR_DEDUPE_WINDOW_DAYS", get("MONITOR_DEDUPE_WINDOW_DAYS")),
        user_agent=get("MONITOR_USER_AGENT"),
        download_delay=_float("MONITOR_DOWNLOAD_DELAY", get("MONITOR_DOWNLOAD_DELAY")),
        download_timeout=_int("MONITOR_DOWNLOAD_TIMEOUT", get("MONITOR_DOWNLOAD_TIMEOUT")),
        smtp_host=get("MONITOR_SMTP_HOST"),
        smtp_port=_int("MONITOR_SMTP_PORT", port_text) if port_text else None,
        smtp_user=get("MONITOR_SMTP_USER"),
        smtp_password=env.get("MONITOR_SMTP_PASSWORD", ""),
        smtp_security=security,
        digest_from=get("MONITOR_DIGEST_FROM"),
        digest_to=_split(get("MONITOR_DIGEST_TO")),
        digest_time=digest_time,
        digest_tz=digest_tz,
        digest_tags=_split(get("MONITOR_DIGEST_TAGS")),
        digest_send_empty=_bool("MONITOR_DIGEST_SEND_EMPTY", get("MONITOR_DIGEST_SEND_EMPTY")),
        health_port=_int("MONITOR_HEALTH_PORT", health_text) if health_text else None,
        min_interval=_int("MONITOR_MIN_INTERVAL", get("MONITOR_MIN_INTERVAL"), maximum=DAY),
        # A healthy feed is polled at least daily, like a failing one (backoff is capped there).
        max_interval=_int(
            "MONITOR_MAX_INTERVAL",
            get("MONITOR_MAX_INTERVAL"),
            minimum=_int("MONITOR_MIN_INTERVAL", get("MONITOR_MIN_INTERVAL")),
            maximum=DAY,
        ),
    )
