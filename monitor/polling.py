"""Per-feed polling schedule: when to fetch a feed next, and why.

Pure: values in, values out. The crawler calls `plan_next_poll` after every fetch and stores
the decision on the feed (`next_poll_at`, the adapted `interval`, and `reason` for
`monitor feeds list`); the daemon's clock only ticks and polls the feeds that are due.

Policy, in order:

* **Success** (200, 304, unchanged body): the interval adapts to the publication rate seen by
  this fetch. The aim is about one new item per poll: several new items shrink the interval
  (by 1/n, at most halving per poll), none grows it by a quarter, exactly one keeps it. The
  result is clamped to [min_interval, max_interval].
* **Publisher hints** then act as floors, each capped at max_interval so a feed is still
  polled at least that often: RSS `<ttl>` and `Cache-Control: max-age` are cache lifetimes the
  publisher asked for and are always honoured. `sy:updatePeriod`/`sy:updateFrequency` is a
  claim about how often the channel changes: it is honoured while observation agrees, and
  set aside for a fetch that brought several new items (WordPress prints "hourly" on feeds
  that publish every few minutes; obeying it there would let items scroll out unseen).
* **Errors** back off exponentially from a per-class first delay, measured in units of
  min_interval (so a test that shrinks min_interval shrinks the whole ladder), doubled per
  consecutive error, jittered downwards by at most 20 % (each retry still waits at least as
  long as the one before), and capped at `max_backoff` (24 h): a failing feed is retried at
  least daily, never abandoned. Errors say nothing about the publication rate, so the
  remembered interval is kept, except on 429, which doubles it: we were asking too often.
* **Retry-After** on 429 and 503 (delay-seconds or HTTP-date, RFC 9110 §10.2.3) replaces the
  backoff: the server said when to come back. Never earlier than min_interval, never later
  than max_backoff.

Successful polls get a small positive jitter (up to 10 %) so feeds that share an interval do
not fire in lockstep; positive so that no floor is undercut.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from itertools import pairwise
from typing import NamedTuple

from monitor.outcomes import FetchOutcome

MIN_INTERVAL = timedelta(minutes=5)
MAX_INTERVAL = timedelta(hours=6)
MAX_BACKOFF = timedelta(hours=24)
UNCONDITIONAL_EVERY = timedelta(hours=12)
# Publisher hints (Retry-After, max-age) beyond a year are nonsense; capping them before they
# become timedeltas keeps a hostile header from overflowing date arithmetic.
HINT_CEILING_SECONDS = 366 * 86400

GROW_FACTOR = 1.25  # nothing new: poll a little less often
MAX_SHRINK = 0.5  # many new: at most halve per poll, so one burst does not pin a feed at the floor
SUCCESS_JITTER = 0.10  # up to +10 % on successful polls
ERROR_JITTER = 0.20  # up to -20 % on backoff delays

# First retry delay per error class, in units of min_interval (5 min by default).
# Transient faults (network blip, 5xx) retry soon; faults that rarely heal by themselves
# (a 404, a body we cannot parse, robots.txt) start further out.
ERROR_CLASSES: dict[str, int] = {
    "network": 1,
    "5xx": 1,
    "store": 1,  # our database refused items: the feed is fine, retry soon
    "timeout": 2,
    "429": 3,
    "http": 3,
    "dns": 6,
    "parse": 6,
    "4xx": 12,
    "too_large": 12,
    "redirect": 12,
    "robots": 72,
}


@dataclass(frozen=True)
class PollInput:
    """What the crawler knows right after one fetch of one feed."""

    now: datetime  # aware UTC
    base_interval: timedelta  # from the registry (feeds.interval)
    outcome: FetchOutcome
    http_status: int | None
    consecutive_errors: int  # counting this fetch if it failed, 0 after a success
    new_items: int  # new articles stored by this fetch
    previous_interval: timedelta | None  # adapted interval in force before this fetch
    retry_after: str | None  # raw Retry-After header (seconds or HTTP-date)
    cache_control: str | None  # raw Cache-Control header
    feed_ttl: timedelta | None  # RSS <ttl>
    feed_update_period: timedelta | None  # sy:updatePeriod / sy:updateFrequency


@dataclass(frozen=True)
class PollDecision:
    """When to poll next, the adapted interval to remember, and a one-line explanation."""

    next_poll_at: datetime
    interval: timedelta  # adapted interval to remember on the feed
    reason: str  # one human-readable line: why this time


def plan_next_poll(
    inp: PollInput,
    *,
    rng: random.Random | None = None,
    min_interval: timedelta = MIN_INTERVAL,
    max_interval: timedelta = MAX_INTERVAL,
    max_backoff: timedelta = MAX_BACKOFF,
) -> PollDecision:
    """Decide the next poll of a feed after a fetch (see the module docstring for the policy).

    Guarantees: `interval` lies in [min_interval, max_interval]; `next_poll_at` lies in
    [now + min_interval, now + max(max_interval, max_backoff)]. Raises ValueError on a naive
    `now` or on bounds that contradict each other.
    """
    if inp.now.tzinfo is None or inp.now.utcoffset() is None:
        raise ValueError("PollInput.now must be timezone-aware")
    if not timedelta(0) < min_interval <= max_interval <= max_backoff:
        raise ValueError("need 0 < min_interval <= max_interval <= max_backoff")
    rng = rng or random.Random()
    now = inp.now.astimezone(UTC)
    previous = _clamp(inp.previous_interval or inp.base_interval, min_interval, max_interval)
    bounds = _Bounds(min_interval, max_interval, max_backoff)
    if inp.outcome.is_success:
        return _after_success(inp, now, previous, rng, bounds)
    return _after_error(inp, now, previous, rng, bounds)


def needs_unconditional(
    last_unconditional_at: datetime | None, now: datetime, every: timedelta = UNCONDITIONAL_EVERY
) -> bool:
    """True when the next fetch must skip ETag/Last-Modified: validators lie, so a full
    fetch happens at least `every` (12 h by default), and always for a feed never fetched so."""
    return last_unconditional_at is None or now - last_unconditional_at >= every


def error_class(outcome: FetchOutcome, http_status: int | None) -> str:
    """The backoff class of a failed fetch: a key of ERROR_CLASSES."""
    match outcome:
        case FetchOutcome.RATE_LIMITED:
            return "429"
        case FetchOutcome.NETWORK_ERROR:
            return "network"
        case FetchOutcome.DNS_ERROR:
            return "dns"
        case FetchOutcome.TIMEOUT:
            return "timeout"
        case FetchOutcome.PARSE_ERROR:
            return "parse"
        case FetchOutcome.TOO_LARGE:
            return "too_large"
        case FetchOutcome.ROBOTS_DENIED:
            return "robots"
        case FetchOutcome.REDIRECT_ERROR:
            return "redirect"
        case FetchOutcome.STORE_ERROR:
            return "store"
    if http_status == 429:
        return "429"
    if http_status is not None and 500 <= http_status <= 599:
        return "5xx"
    if http_status is not None and 400 <= http_status <= 499:
        return "4xx"
    return "http"


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After as a delay from `now`: delay-seconds or an HTTP-date (a past date is 0).
    None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return timedelta(seconds=min(int(text), HINT_CEILING_SECONDS))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" and asctime dates: HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def parse_max_age(cache_control: str | None) -> timedelta | None:
    """The `max-age` freshness lifetime of a Cache-Control header (RFC 9111 §5.2.2.1), or None
    when absent, unreadable, or cancelled by `no-cache`/`no-store` (revalidate every time)."""
    if not cache_control:
        return None
    max_age: timedelta | None = None
    for directive in cache_control.split(","):
        name, _, arg = directive.strip().partition("=")
        name = name.strip().lower()
        if name in {"no-cache", "no-store"}:
            return None
        arg = arg.strip().strip('"')
        if name == "max-age" and max_age is None and arg.isascii() and arg.isdigit():
            max_age = timedelta(seconds=min(int(arg), HINT_CEILING_SECONDS))
    return max_age


def format_duration(delta: timedelta) -> str:
    """Compact human form: 45s, 7m30s, 1h, 2h5m, 1d2h (seconds dropped above an hour)."""
    total = max(round(delta.total_seconds()), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days or hours:
        parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    else:
        parts = [(minutes, "m"), (seconds, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return text or "0s"


def _after_success(
    inp: PollInput,
    now: datetime,
    previous: timedelta,
    rng: random.Random,
    bounds: _Bounds,
) -> PollDecision:
    min_interval, max_interval = bounds.min_interval, bounds.max_interval
    n = max(inp.new_items, 0)
    if n == 0:
        adapted, why = previous * GROW_FACTOR, "nothing new"
    elif n == 1:
        adapted, why = previous, "1 new item"
    else:
        adapted, why = previous * max(MAX_SHRINK, 1 / n), f"{n} new items"
    label = {
        FetchOutcome.NOT_MODIFIED: "not modified",
        FetchOutcome.UNCHANGED: "unchanged",
    }.get(inp.outcome, "ok")
    interval = _clamp(adapted, min_interval, max_interval)
    parts = [f"{label}, {why}: interval {format_duration(previous)} → {format_duration(interval)}"]
    if interval != adapted:
        parts[0] += " (at the " + ("floor" if interval == min_interval else "ceiling") + ")"

    floors: list[tuple[timedelta, str]] = []
    if inp.feed_ttl is not None and inp.feed_ttl > timedelta(0):
        floors.append((inp.feed_ttl, "RSS ttl"))
    max_age = parse_max_age(inp.cache_control)
    if max_age is not None and max_age > timedelta(0):
        floors.append((max_age, "Cache-Control max-age"))
    period = inp.feed_update_period
    if period is not None and period > timedelta(0):
        if n >= 2 and period > interval:
            parts.append(
                f"sy:updatePeriod {format_duration(period)} set aside: {n} new items arrived"
            )
        else:
            floors.append((period, "sy:updatePeriod"))
    for floor, name in sorted(floors, key=lambda f: f[0], reverse=True)[:1]:
        capped = min(floor, max_interval)
        if capped > interval:
            interval = capped
            cap_note = " (capped)" if floor > max_interval else ""
            parts.append(f"raised to {name} {format_duration(floor)}{cap_note}")

    delay = min(interval * (1 + SUCCESS_JITTER * rng.random()), max_interval)
    delay = max(delay, interval)  # jitter only ever adds
    parts.append(f"next in {format_duration(delay)}")
    return PollDecision(_at(now, delay), interval, "; ".join(parts))


def _after_error(
    inp: PollInput,
    now: datetime,
    previous: timedelta,
    rng: random.Random,
    bounds: _Bounds,
) -> PollDecision:
    min_interval, max_interval, max_backoff = bounds
    kind = error_class(inp.outcome, inp.http_status)
    status = f" (HTTP {inp.http_status})" if inp.http_status else ""
    count = max(inp.consecutive_errors, 1)
    interval = previous
    head = f"{kind} error{status}, {_ordinal(count)} in a row"
    if kind == "429":
        interval = _clamp(previous * 2, min_interval, max_interval)
        head += f"; interval {format_duration(previous)} → {format_duration(interval)}"

    retry_after = None
    if kind == "429" or inp.http_status in {429, 503}:
        retry_after = parse_retry_after(inp.retry_after, now)
    if retry_after is not None:
        delay = _clamp(retry_after, min_interval, max_backoff)
        note = f"Retry-After {format_duration(retry_after)} honoured"
        if delay != retry_after:
            note += f" as {format_duration(delay)}"
        return PollDecision(_at(now, delay), interval, f"{head}; {note}")

    # In seconds with a bounded exponent: timedelta overflows long before 2**1000.
    units = ERROR_CLASSES[kind] * 2.0 ** min(count - 1, 60)
    raw_seconds = min(min_interval.total_seconds() * units, max_backoff.total_seconds())
    raw = min(timedelta(seconds=raw_seconds), max_backoff)
    delay = max(raw * (1 - ERROR_JITTER * rng.random()), min_interval)
    capped = " (cap)" if raw == max_backoff else ""
    reason = f"{head}; backoff {format_duration(raw)}{capped}, retry in {format_duration(delay)}"
    return PollDecision(_at(now, delay), interval, reason)


class _Bounds(NamedTuple):
    min_interval: timedelta
    max_interval: timedelta
    max_backoff: timedelta


def _clamp(value: timedelta, low: timedelta, high: timedelta) -> timedelta:
    return min(max(value, low), high)


def _at(now: datetime, delay: timedelta) -> datetime:
    return now + delay


def _ordinal(n: int) -> str:
    if n % 100 in {11, 12, 13}:
        return f"{n}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


SILENCE_MIN_DAYS = 5  # a feed "normally publishes" when items arrived on this many days
SILENCE_FLOOR = timedelta(hours=6)  # never call a feed silent sooner than this
SILENCE_FACTOR = 2.0  # "far longer than usual": twice the usual longest quiet spell


@dataclass(frozen=True)
class Silence:
    """Whether a feed that normally publishes has gone quiet far longer than usual."""

    silent: bool
    quiet_for: timedelta | None  # since the last new item; None when there never was one
    usual_quiet: timedelta | None  # the usual longest quiet spell of a day; None: too little data
    reason: str


def silence(arrivals: Sequence[datetime], now: datetime) -> Silence:
    """Judge a feed's silence from the times its new items arrived (any order, any span).

    The usual quiet spell is the median, over the days that had items, of each day's longest
    gap between consecutive items (a gap counts for the day it ends): for a busy outlet that
    is its night, for a twice-a-day one about half a day. Silent means quiet for more than
    SILENCE_FACTOR times that, and at least SILENCE_FLOOR, for a feed with items on at least
    SILENCE_MIN_DAYS distinct days; anything less is "not enough history", never silent.
    """
    ordered = sorted(arrivals)
    if not ordered:
        return Silence(False, None, None, "no items yet")
    quiet_for = max(now - ordered[-1], timedelta(0))
    days = {moment.astimezone(UTC).date() for moment in ordered}
    if len(days) < SILENCE_MIN_DAYS:
        return Silence(
            False, quiet_for, None, f"items on {len(days)} days only: too early to judge"
        )
    longest: dict[date, timedelta] = {}
    for earlier, later in pairwise(ordered):
        day = later.astimezone(UTC).date()
        longest[day] = max(longest.get(day, timedelta(0)), later - earlier)
    spells = sorted(longest.values())
    usual = spells[len(spells) // 2]
    threshold = max(SILENCE_FLOOR, usual * SILENCE_FACTOR)
    described = f"quiet {format_duration(quiet_for)}, usually at most {format_duration(usual)}"
    return Silence(quiet_for > threshold, quiet_for, usual, described)
