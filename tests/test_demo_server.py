"""The demo's feeds are served dated as if fresh, with their spacing kept."""

from __future__ import annotations

import re
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from monitor.demo.server import FRESHNESS, demo_feeds, serve_demo_feeds, shift_dates

NOW = datetime(2027, 3, 15, 9, 30, tzinfo=UTC)


def _all_dates(feeds: dict[str, bytes]) -> list[datetime]:
    found = []
    for body in feeds.values():
        text = body.decode("utf-8")
        found += [parsedate_to_datetime(d) for d in re.findall(r"<pubDate>([^<]+)<", text)]
        found += [datetime.fromisoformat(d) for d in re.findall(r"<published>([^<]+)<", text)]
    return found


def test_the_newest_sample_is_published_minutes_before_the_demo_runs() -> None:
    dates = _all_dates(demo_feeds(NOW))
    assert NOW - FRESHNESS - timedelta(minutes=1) < max(dates) <= NOW - FRESHNESS
    assert min(dates) > NOW - timedelta(days=14)  # the whole set within `--since 14d`


def test_spacing_and_offsets_are_kept() -> None:
    rss = (
        "<pubDate>Sun, 29 Nov 2026 10:15:00 +0100</pubDate>"
        "<pubDate>Sun, 29 Nov 2026 10:48:00 +0100</pubDate>"
    )
    atom = "<updated>2026-11-29T11:05:00+01:00</updated>"
    moved = shift_dates(rss + atom, timedelta(days=7, minutes=3))
    assert moved == (
        "<pubDate>Sun, 06 Dec 2026 10:18:00 +0100</pubDate>"
        "<pubDate>Sun, 06 Dec 2026 10:51:00 +0100</pubDate>"
        "<updated>2026-12-06T11:08:00+01:00</updated>"
    )


def test_served_feeds_and_a_missing_one() -> None:
    server = serve_demo_feeds(NOW)
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with urllib.request.urlopen(f"{base}/ynet-he.xml") as answer:
            assert "2027" in answer.read().decode("utf-8")
        try:
            urllib.request.urlopen(f"{base}/walla-he.xml")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
        else:
            raise AssertionError("walla-he.xml should answer 404")
    finally:
        server.shutdown()
        server.server_close()
