"""Helpers for tests that drive the real `monitor` command and serve written feeds."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from tests.feedserver import FeedServer

REPO = Path(__file__).resolve().parents[1]


def monitor_env(db_url: str, **extra: str) -> dict[str, str]:
    """Environment for a `monitor` child: this database, no delays, nothing inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(
        MONITOR_DATABASE_URL=db_url,
        MONITOR_DOWNLOAD_DELAY="0",
        MONITOR_DOWNLOAD_TIMEOUT="3",
        PYTHONWARNINGS="ignore",
    )
    env.update(extra)
    return env


def run_monitor(
    args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def rss(
    items: Sequence[Mapping[str, object]],
    *,
    title: str = "Feed",
    lang: str = "en",
    encoding: str = "utf-8",
) -> bytes:
    """An RSS 2.0 document; each item may have guid, link, title, description, pubDate."""
    parts = [
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>"
        f"<language>{lang}</language>"
    ]
    for item in items:
        parts.append("<item>")
        for key in ("title", "link", "guid", "description"):
            if key in item:
                parts.append(f"<{key}>{escape(str(item[key]))}</{key}>")
        when = item.get("pubDate")
        if isinstance(when, datetime):
            parts.append(f"<pubDate>{format_datetime(when)}</pubDate>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode(encoding)


def registry(server: FeedServer, feeds: Sequence[Mapping[str, str]]) -> str:
    """A feeds.yaml whose feeds live on the test server: each needs id, outlet, path."""
    lines = ["feeds:"]
    for feed in feeds:
        lines += [
            f"  - id: {feed['id']}",
            f"    outlet: {feed['outlet']}",
            f"    country: {feed.get('country', 'MA')}",
            f"    language: {feed.get('language', 'en')}",
            f"    url: {server.url(feed['path'])}",
        ]
        for key in ("interval", "fulltext", "wire"):
            if key in feed:
                lines.append(f"    {key}: {feed[key]}")
    return "\n".join(lines) + "\n"
