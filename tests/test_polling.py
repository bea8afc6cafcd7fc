"""Table-driven tests for the per-feed schedule (monitor/polling.py)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.outcomes import FetchOutcome as O
from monitor.polling import (
    ERROR_CLASSES,
    PollInput,
    error_class,
    format_duration,
    needs_unconditional,
    parse_max_age,
    parse_retry_after,
    plan_next_poll,
    silence,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)


class FixedRandom(random.Random):
    """A Random whose random() always returns one value: pins the jitter for exact tables."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def make(**overrides: Any) -> PollInput:
    base = PollInput(
        now=NOW,
        base_interval=15 * M,
        outcome=O.OK,
        http_status=200,
        consecutive_errors=0,
        new_items=1,
        previous_interval=None,
        retry_after=None,
        cache_control=None,
        feed_ttl=None,
        feed_update_period=None,
    )
    return replace(base, **overrides)


def http_date(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


# (id, overrides, jitter draw, expected delay, expected remembered interval, reason fragment)
SUCCESS_CASES: list[tuple[str, dict[str, Any], float, timedelta, timedelta, str]] = [
    ("one new item keeps the base", {}, 0.0, 15 * M, 15 * M, "1 new item"),
    (
        "304 grows by a quarter",
        {"outcome": O.NOT_MODIFIED, "http_status": 304, "new_items": 0},
        0.0,
        18.75 * M,
        18.75 * M,
        "not modified, nothing new",
    ),
    (
        "unchanged body grows",
        {"outcome": O.UNCHANGED, "new_items": 0},
        0.0,
        18.75 * M,
        18.75 * M,
        "unchanged",
    ),
    ("ok with nothing new grows", {"new_items": 0}, 0.0, 18.75 * M, 18.75 * M, "ok, nothing new"),
    ("two new halve", {"new_items": 2}, 0.0, 7.5 * M, 7.5 * M, "2 new items"),
    ("three new still only halve", {"new_items": 3}, 0.0, 7.5 * M, 7.5 * M, "3 new items"),
    (
        "a burst shrinks at most by half",
        {"new_items": 10, "previous_interval": 2 * H},
        0.0,
        H,
        H,
        "10 new items",
    ),
    (
        "never below the floor",
        {"new_items": 4, "previous_interval": 6 * M},
        0.0,
        5 * M,
        5 * M,
        "at the floor",
    ),
    (
        "never above the ceiling",
        {"new_items": 0, "previous_interval": 6 * H},
        0.0,
        6 * H,
        6 * H,
        "at the ceiling",
    ),
    ("previous interval wins over base", {"previous_interval": H}, 0.0, H, H, "interval 1h → 1h"),
    ("registry base below floor clamped", {"base_interval": M}, 0.0, 5 * M, 5 * M, "5m"),
    ("registry base above ceiling clamped", {"base_interval": 48 * H}, 0.0, 6 * H, 6 * H, "6h"),
    ("RSS ttl is a floor", {"feed_ttl": H}, 0.0, H, H, "raised to RSS ttl 1h"),
    ("ttl below interval changes nothing", {"feed_ttl": 10 * M}, 0.0, 15 * M, 15 * M, "1 new"),
    ("huge ttl capped at ceiling", {"feed_ttl": 48 * H}, 0.0, 6 * H, 6 * H, "2d (capped)"),
    (
        "Cache-Control max-age is a floor",
        {"cache_control": "public, max-age=1800"},
        0.0,
        30 * M,
        30 * M,
        "Cache-Control max-age 30m",
    ),
    (
        "quoted max-age, odd case",
        {"cache_control": 'Public, MAX-AGE="1200"'},
        0.0,
        20 * M,
        20 * M,
        "max-age 20m",
    ),
    (
        "max-age on a 304 too",
        {
            "outcome": O.NOT_MODIFIED,
            "http_status": 304,
            "new_items": 0,
            "cache_control": "max-age=3600",
        },
        0.0,
        H,
        H,
        "max-age 1h",
    ),
    (
        "no-cache cancels max-age",
        {"cache_control": "no-cache, max-age=3600"},
        0.0,
        15 * M,
        15 * M,
        "1 new",
    ),
    ("max-age=0 is no floor", {"cache_control": "max-age=0"}, 0.0, 15 * M, 15 * M, "1 new"),
    ("unreadable max-age ignored", {"cache_control": "max-age=soon"}, 0.0, 15 * M, 15 * M, "1 new"),
    (
        "sy:updatePeriod honoured while quiet",
        {"feed_update_period": H},
        0.0,
        H,
        H,
        "raised to sy:updatePeriod 1h",
    ),
    (
        "sy:updatePeriod set aside when items pour in",
        {"feed_update_period": H, "new_items": 5},
        0.0,
        7.5 * M,
        7.5 * M,
        "sy:updatePeriod 1h set aside: 5 new items arrived",
    ),
    (
        "ttl still binds when items pour in",
        {"feed_ttl": 20 * M, "new_items": 5},
        0.0,
        20 * M,
        20 * M,
        "raised to RSS ttl 20m",
    ),
    (
        "largest hint wins",
        {"feed_ttl": 30 * M, "cache_control": "max-age=3600", "feed_update_period": 2 * H},
        0.0,
        2 * H,
        2 * H,
        "raised to sy:updatePeriod 2h",
    ),
    ("jitter only adds", {}, 0.5, 15.75 * M, 15 * M, "next in 15m45s"),
    ("no jitter past the ceiling", {"previous_interval": 6 * H}, 0.99, 6 * H, 6 * H, "next in 6h"),
]


@pytest.mark.parametrize(
    ("overrides", "draw", "delay", "interval", "fragment"),
    [case[1:] for case in SUCCESS_CASES],
    ids=[case[0] for case in SUCCESS_CASES],
)
def test_success_schedule(
    overrides: dict[str, Any], draw: float, delay: timedelta, interval: timedelta, fragment: str
) -> None:
    decision = plan_next_poll(make(**overrides), rng=FixedRandom(draw))
    assert decision.next_poll_at - NOW == delay
    assert decision.interval == interval
    assert fragment in decision.reason
    assert "\n" not in decision.reason


def failed(outcome: O, status: int | None, errors: int = 1, **more: Any) -> dict[str, Any]:
    return (
        {"outcome": outcome, "http_status": status, "consecutive_errors": errors}
        | {"new_items": 0}
        | more
    )


# (id, overrides, jitter draw, expected delay, expected remembered interval, reason fragment)
ERROR_CASES: list[tuple[str, dict[str, Any], float, timedelta, timedelta, str]] = [
    ("network, first", failed(O.NETWORK_ERROR, None), 0.0, 5 * M, 15 * M, "network error, 1st"),
    ("network, third doubles twice", failed(O.NETWORK_ERROR, None, 3), 0.0, 20 * M, 15 * M, "3rd"),
    ("dns starts further out", failed(O.DNS_ERROR, None), 0.0, 30 * M, 15 * M, "dns error"),
    ("timeout, second", failed(O.TIMEOUT, None, 2), 0.0, 20 * M, 15 * M, "timeout error, 2nd"),
    ("500 first", failed(O.HTTP_ERROR, 500), 0.0, 5 * M, 15 * M, "5xx error (HTTP 500)"),
    ("502 fifth", failed(O.HTTP_ERROR, 502, 5), 0.0, 80 * M, 15 * M, "5th in a row"),
    ("404 first", failed(O.HTTP_ERROR, 404), 0.0, H, 15 * M, "4xx error (HTTP 404)"),
    ("410 second", failed(O.HTTP_ERROR, 410, 2), 0.0, 2 * H, 15 * M, "4xx"),
    ("403 sixth hits the cap", failed(O.HTTP_ERROR, 403, 6), 0.0, 24 * H, 15 * M, "1d (cap)"),
    ("parse error", failed(O.PARSE_ERROR, 200), 0.0, 30 * M, 15 * M, "parse error"),
    ("too large", failed(O.TOO_LARGE, 200), 0.0, H, 15 * M, "too_large error"),
    ("robots denied", failed(O.ROBOTS_DENIED, None), 0.0, 6 * H, 15 * M, "robots error"),
    ("redirect loop", failed(O.REDIRECT_ERROR, 301), 0.0, H, 15 * M, "redirect error"),
    ("store error retries soon", failed(O.STORE_ERROR, 200, 2), 0.0, 10 * M, 15 * M, "store"),
    ("http error without status", failed(O.HTTP_ERROR, None), 0.0, 15 * M, 15 * M, "http error"),
    ("11th, 12th, 13th", failed(O.NETWORK_ERROR, None, 12), 0.0, 24 * H, 15 * M, "12th"),
    ("a thousand errors: still daily", failed(O.TIMEOUT, None, 1000), 0.0, 24 * H, 15 * M, "cap"),
    ("zero count read as first", failed(O.NETWORK_ERROR, None, 0), 0.0, 5 * M, 15 * M, "1st"),
    (
        "error keeps the adapted interval",
        failed(O.HTTP_ERROR, 500, previous_interval=40 * M),
        0.0,
        5 * M,
        40 * M,
        "5xx",
    ),
    (
        "429 without Retry-After backs off and slows down",
        failed(O.RATE_LIMITED, 429),
        0.0,
        15 * M,
        30 * M,
        "interval 15m → 30m",
    ),
    (
        "429 status with a generic outcome",
        failed(O.HTTP_ERROR, 429, previous_interval=4 * H),
        0.0,
        15 * M,
        6 * H,
        "429 error",
    ),
    (
        "429 Retry-After seconds",
        failed(O.RATE_LIMITED, 429, retry_after="900"),
        0.99,
        15 * M,
        30 * M,
        "Retry-After 15m honoured",
    ),
    (
        "429 Retry-After below the floor",
        failed(O.RATE_LIMITED, 429, retry_after="120"),
        0.0,
        5 * M,
        30 * M,
        "Retry-After 2m honoured as 5m",
    ),
    (
        "429 Retry-After HTTP-date",
        failed(O.RATE_LIMITED, 429, retry_after=http_date(NOW + 2 * H)),
        0.0,
        2 * H,
        30 * M,
        "Retry-After 2h honoured",
    ),
    (
        "429 Retry-After date in the past",
        failed(O.RATE_LIMITED, 429, retry_after=http_date(NOW - H)),
        0.0,
        5 * M,
        30 * M,
        "honoured as 5m",
    ),
    (
        "429 Retry-After of three days capped at one",
        failed(O.RATE_LIMITED, 429, 4, retry_after=str(3 * 86400)),
        0.0,
        24 * H,
        30 * M,
        "Retry-After 3d honoured as 1d",
    ),
    (
        "429 unreadable Retry-After falls back to backoff",
        failed(O.RATE_LIMITED, 429, 2, retry_after="later please"),
        0.0,
        30 * M,
        30 * M,
        "backoff 30m",
    ),
    (
        "503 Retry-After honoured",
        failed(O.HTTP_ERROR, 503, retry_after="600"),
        0.0,
        10 * M,
        15 * M,
        "Retry-After 10m honoured",
    ),
    (
        "500 Retry-After ignored",
        failed(O.HTTP_ERROR, 500, retry_after="7200"),
        0.0,
        5 * M,
        15 * M,
        "backoff 5m",
    ),
    (
        "jitter takes off at most a fifth",
        failed(O.HTTP_ERROR, 500, 3),
        0.5,
        18 * M,
        15 * M,
        "retry in 18m",
    ),
    (
        "jitter never goes under the floor",
        failed(O.NETWORK_ERROR, None),
        0.99,
        5 * M,
        15 * M,
        "retry in 5m",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "draw", "delay", "interval", "fragment"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_error_schedule(
    overrides: dict[str, Any], draw: float, delay: timedelta, interval: timedelta, fragment: str
) -> None:
    decision = plan_next_poll(make(**overrides), rng=FixedRandom(draw))
    assert decision.next_poll_at - NOW == delay
    assert decision.interval == interval
    assert fragment in decision.reason


def test_bounds_scale_the_backoff_ladder() -> None:
    """Short bounds (as the daemon tests use) shrink every delay in proportion."""
    kwargs = {"min_interval": timedelta(seconds=1), "max_interval": timedelta(seconds=10)}
    fast = make(base_interval=timedelta(seconds=2))
    rate_limited = replace(fast, **failed(O.RATE_LIMITED, 429))
    assert plan_next_poll(rate_limited, rng=FixedRandom(0), **kwargs).next_poll_at == NOW + (
        timedelta(seconds=3)
    )
    honoured = replace(rate_limited, retry_after="4")
    assert plan_next_poll(honoured, rng=FixedRandom(0), **kwargs).next_poll_at == NOW + (
        timedelta(seconds=4)
    )
    capped = replace(fast, **failed(O.HTTP_ERROR, 500, 30))
    decision = plan_next_poll(
        capped, rng=FixedRandom(0), max_backoff=timedelta(seconds=20), **kwargs
    )
    assert decision.next_poll_at == NOW + timedelta(seconds=20)


def test_backoff_never_shortens_while_uncapped() -> None:
    """With the worst jitter draws, retry k+1 still waits at least as long as retry k."""
    for kind in (O.NETWORK_ERROR, O.TIMEOUT, O.DNS_ERROR, O.PARSE_ERROR):
        for count in range(1, 8):
            longest = plan_next_poll(make(**failed(kind, None, count)), rng=FixedRandom(0.0))
            shortest_next = plan_next_poll(
                make(**failed(kind, None, count + 1)), rng=FixedRandom(0.999)
            )
            if "(cap)" not in shortest_next.reason:
                assert shortest_next.next_poll_at >= longest.next_poll_at, (kind, count)


def test_invariants_over_random_inputs() -> None:
    """Whatever the fetch, the interval stays in bounds and the next poll is within a day."""
    rng = random.Random(20260301)
    outcomes = list(O)
    for _ in range(3000):
        outcome = rng.choice(outcomes)
        inp = make(
            outcome=outcome,
            http_status=rng.choice([None, 200, 304, 403, 404, 429, 500, 503]),
            consecutive_errors=0 if outcome.is_success else rng.randint(0, 60),
            new_items=rng.randint(0, 40),
            base_interval=timedelta(seconds=rng.randint(1, 200000)),
            previous_interval=rng.choice([None, timedelta(seconds=rng.randint(1, 100000))]),
            retry_after=rng.choice([None, "0", "30", "99999999", http_date(NOW + 3 * H), "x"]),
            cache_control=rng.choice([None, "max-age=600", "max-age=9999999", "no-store"]),
            feed_ttl=rng.choice([None, timedelta(minutes=rng.randint(0, 5000))]),
            feed_update_period=rng.choice([None, timedelta(hours=rng.randint(1, 48))]),
        )
        decision = plan_next_poll(inp, rng=rng)
        assert 5 * M <= decision.interval <= 6 * H
        assert 5 * M <= decision.next_poll_at - NOW <= 24 * H
        if outcome.is_success:
            assert decision.next_poll_at - NOW <= 6 * H


def simulate(
    publish_every: timedelta | None, days: int, outcome: O = O.OK
) -> list[tuple[datetime, int, timedelta]]:
    """Poll a synthetic feed for `days`; returns (poll time, new items, interval) per poll."""
    rng = random.Random(7)
    now, interval, errors = NOW, None, 0
    last_poll = NOW - 15 * M
    polls = []
    while now < NOW + timedelta(days=days):
        new = 0
        if publish_every is not None:
            step = publish_every.total_seconds()
            new = int((now - NOW).total_seconds() // step) - int(
                (last_poll - NOW).total_seconds() // step
            )
        errors = 0 if outcome.is_success else errors + 1
        status = 200 if outcome.is_success else 500
        inp = make(
            now=now,
            outcome=outcome,
            http_status=status,
            new_items=new,
            previous_interval=interval,
            consecutive_errors=errors,
        )
        decision = plan_next_poll(inp, rng=rng)
        polls.append((now, new, decision.interval))
        last_poll, now, interval = now, decision.next_poll_at, decision.interval
    return polls


def test_interval_converges_on_the_publication_rate() -> None:
    polls = simulate(timedelta(minutes=40), days=3)
    settled = [interval for _, _, interval in polls[len(polls) // 2 :]]
    average = sum(settled, timedelta(0)) / len(settled)
    assert 20 * M <= average <= 60 * M
    # Close to one new item per poll on average, so items rarely pile up between polls.
    assert sum(new for _, new, _ in polls[len(polls) // 2 :]) / len(settled) <= 2


def test_busy_feed_is_polled_at_the_floor() -> None:
    polls = simulate(timedelta(minutes=1), days=1)
    assert all(interval == 5 * M for _, _, interval in polls[10:])


def test_quiet_feed_drifts_to_the_ceiling_and_back() -> None:
    polls = simulate(None, days=3)
    assert polls[-1][2] == 6 * H
    quiet = polls[-1][2]
    burst = plan_next_poll(make(new_items=6, previous_interval=quiet), rng=FixedRandom(0)).interval
    assert burst == 3 * H


def test_failing_feed_is_never_abandoned() -> None:
    polls = simulate(None, days=14, outcome=O.HTTP_ERROR)
    gaps = [later - earlier for (earlier, _, _), (later, _, _) in pairwise(polls)]
    assert max(gaps) <= 24 * H
    assert len(polls) >= 14  # at least daily for two weeks
    assert gaps[0] < H  # the first retry is soon: most failures are blips


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_next_poll(make(now=datetime(2026, 3, 1, 12, 0)))  # noqa: DTZ001


def test_contradictory_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="min_interval"):
        plan_next_poll(make(), min_interval=H, max_interval=M)


def test_non_utc_now_is_normalised() -> None:
    paris = NOW.astimezone(ZoneInfo("Europe/Paris"))
    decision = plan_next_poll(make(now=paris), rng=FixedRandom(0))
    assert decision.next_poll_at == NOW + 15 * M
    assert decision.next_poll_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("last", "now", "every", "expected"),
    [
        (None, NOW, 12 * H, True),
        (NOW - 11 * H, NOW, 12 * H, False),
        (NOW - 12 * H, NOW, 12 * H, True),
        (NOW - 30 * H, NOW, 12 * H, True),
        (NOW - 2 * H, NOW, H, True),
        (NOW, NOW, 12 * H, False),
    ],
)
def test_needs_unconditional(
    last: datetime | None, now: datetime, every: timedelta, expected: bool
) -> None:
    assert needs_unconditional(last, now, every) is expected


def test_needs_unconditional_default_is_twelve_hours() -> None:
    assert not needs_unconditional(NOW - 11 * H, NOW)
    assert needs_unconditional(NOW - 13 * H, NOW)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", timedelta(seconds=120)),
        (" 120 ", timedelta(seconds=120)),
        ("0", timedelta(0)),
        ("-5", None),
        ("1.5", None),
        ("", None),
        (None, None),
        ("٣٠", None),  # Arabic-Indic digits are not delay-seconds
        ("Sun, 01 Mar 2026 13:30:00 GMT", timedelta(minutes=90)),  # IMF-fixdate
        ("Sunday, 01-Mar-26 13:30:00 GMT", timedelta(minutes=90)),  # obsolete RFC 850
        ("Sun Mar  1 13:30:00 2026", timedelta(minutes=90)),  # obsolete asctime
        ("Sun, 01 Mar 2026 11:00:00 GMT", timedelta(0)),  # past
        ("tomorrow", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=300", timedelta(seconds=300)),
        ("public, max-age=300, must-revalidate", timedelta(seconds=300)),
        ('max-age="60"', timedelta(seconds=60)),
        ("s-maxage=900", None),  # for shared caches; we are a private one
        ("max-age=60, max-age=600", timedelta(seconds=60)),
        ("no-store", None),
        ("private, no-cache", None),
        ("max-age=-1", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_max_age(value: str | None, expected: timedelta | None) -> None:
    assert parse_max_age(value) == expected


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=7, seconds=30), "7m30s"),
        (H, "1h"),
        (timedelta(hours=2, minutes=5, seconds=9), "2h5m"),
        (timedelta(days=1, hours=2), "1d2h"),
        (timedelta(seconds=-3), "0s"),
    ],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


@pytest.mark.parametrize(
    ("outcome", "status", "kind"),
    [
        (O.HTTP_ERROR, 500, "5xx"),
        (O.HTTP_ERROR, 503, "5xx"),
        (O.HTTP_ERROR, 404, "4xx"),
        (O.HTTP_ERROR, 429, "429"),
        (O.HTTP_ERROR, None, "http"),
        (O.RATE_LIMITED, 503, "429"),
        (O.DNS_ERROR, None, "dns"),
        (O.NETWORK_ERROR, None, "network"),
        (O.TIMEOUT, None, "timeout"),
        (O.PARSE_ERROR, 200, "parse"),
        (O.TOO_LARGE, 200, "too_large"),
        (O.ROBOTS_DENIED, None, "robots"),
        (O.REDIRECT_ERROR, 302, "redirect"),
        (O.STORE_ERROR, 200, "store"),
    ],
)
def test_error_class(outcome: O, status: int | None, kind: str) -> None:
    assert error_class(outcome, status) == kind


def daily(days: int, times: list[tuple[int, int]], start: datetime = NOW) -> list[datetime]:
    """Arrival times on `days` consecutive days before `start`'s date, at (hour, minute) UTC."""
    first = start.replace(hour=0, minute=0) - timedelta(days=days)
    return [
        first + timedelta(days=day, hours=hour, minutes=minute)
        for day in range(days)
        for hour, minute in times
    ]


DAYTIME = [(hour, minute) for hour in range(6, 22) for minute in (0, 20, 40)]  # 06:00-21:40
LAST_DAY = NOW.replace(hour=0, minute=0) - timedelta(days=1)  # the last day with items

# (id, arrivals, now, silent?, reason fragment)
SILENCE_CASES: list[tuple[str, list[datetime], datetime, bool, str]] = [
    ("no items at all", [], NOW, False, "no items yet"),
    ("three days are too few", daily(3, [(9, 0)]), NOW, False, "3 days only"),
    (
        "busy outlet at night is not silent",
        daily(14, DAYTIME),
        LAST_DAY + timedelta(hours=23, minutes=30),
        False,
        "usually at most 8h20m",
    ),
    (
        "busy outlet quiet the next afternoon is still within twice its night",
        daily(14, DAYTIME),
        LAST_DAY + timedelta(hours=38),
        False,
        "quiet 16h20m",
    ),
    (
        "busy outlet quiet into a second evening is silent",
        daily(14, DAYTIME),
        LAST_DAY + timedelta(hours=42),
        True,
        "quiet 20h20m",
    ),
    (
        "twice a day, quiet 20 h",
        daily(10, [(8, 0), (20, 0)]),
        LAST_DAY + timedelta(hours=40),
        False,
        "usually at most 12h",
    ),
    (
        "twice a day, quiet 30 h",
        daily(10, [(8, 0), (20, 0)]),
        LAST_DAY + timedelta(hours=50),
        True,
        "quiet 1d6h",
    ),
    (
        "round the clock every 5 min, quiet 5 h: under the floor",
        daily(7, [(hour, minute) for hour in range(24) for minute in range(0, 60, 5)]),
        LAST_DAY + timedelta(hours=23, minutes=55) + timedelta(hours=5),
        False,
        "usually at most 5m",
    ),
    (
        "round the clock every 5 min, quiet 7 h",
        daily(7, [(hour, minute) for hour in range(24) for minute in range(0, 60, 5)]),
        LAST_DAY + timedelta(hours=23, minutes=55) + timedelta(hours=7),
        True,
        "quiet 7h",
    ),
    (
        "weekly column, quiet ten days",
        [NOW - timedelta(days=7 * week + 10) for week in range(10)],
        NOW,
        False,
        "usually at most 7d",
    ),
    (
        "weekly column, quiet three weeks",
        [NOW - timedelta(days=7 * week + 21) for week in range(10)],
        NOW,
        True,
        "quiet 21d",
    ),
]


@pytest.mark.parametrize(
    ("arrivals", "now", "silent", "fragment"),
    [case[1:] for case in SILENCE_CASES],
    ids=[case[0] for case in SILENCE_CASES],
)
def test_silence(arrivals: list[datetime], now: datetime, silent: bool, fragment: str) -> None:
    shuffled = list(arrivals)
    random.Random(3).shuffle(shuffled)  # order of the input does not matter
    verdict = silence(shuffled, now)
    assert verdict.silent is silent
    assert fragment in verdict.reason


def test_every_failure_outcome_has_a_backoff_class() -> None:
    for outcome in O:
        if not outcome.is_success:
            assert error_class(outcome, None) in ERROR_CLASSES


@pytest.mark.parametrize(
    "hint",
    [
        {"cache_control": "max-age=99999999999999999999"},
        {
            "retry_after": "99999999999999999999",
            "outcome": O.RATE_LIMITED,
            "http_status": 429,
            "consecutive_errors": 1,
        },
    ],
)
def test_absurd_publisher_hints_are_capped_not_fatal(hint: dict[str, Any]) -> None:
    decision = plan_next_poll(make(**hint), rng=FixedRandom(0.5))
    assert NOW < decision.next_poll_at <= NOW + timedelta(days=1)  # still polled daily
    assert parse_max_age("max-age=99999999999999999999") == timedelta(days=366)
