"""The demo's loopback feed server: the bundled feeds, dated as if published this morning.

The sample feeds are written with fixed dates. Served as they are, `--since 24h` would find
nothing a week later, so every date in them (RSS ``pubDate``/``lastBuildDate``, Atom
``published``/``updated``) is moved by one offset: the newest sample is then published
`FRESHNESS` before the demo runs, and the spacing between items (who was first, by how much)
is kept exactly. A feed the registry names but the folder lacks answers 404, as a moved feed
would.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

FEEDS_DIR: Final = Path(__file__).resolve().parent / "feeds"
FRESHNESS: Final = timedelta(minutes=20)

_RFC822 = re.compile(r"(<(pubDate|lastBuildDate)>)([^<]+)(</\2>)")
_ISO = re.compile(r"(<(published|updated)>)([^<]+)(</\2>)")


def _dates(text: str) -> list[datetime]:
    found = [parsedate_to_datetime(m.group(3).strip()) for m in _RFC822.finditer(text)]
    found += [datetime.fromisoformat(m.group(3).strip()) for m in _ISO.finditer(text)]
    return found


def offset_to(now: datetime, texts: list[str]) -> timedelta:
    """How far to move the samples' dates so that the newest lands `FRESHNESS` before now."""
    newest = max(date for text in texts for date in _dates(text))
    return (now - FRESHNESS - newest) // timedelta(minutes=1) * timedelta(minutes=1)


def shift_dates(text: str, offset: timedelta) -> str:
    """`text` with every feed date moved by `offset`, each kept in its own UTC offset."""

    def rfc822(match: re.Match[str]) -> str:
        moved = parsedate_to_datetime(match.group(3).strip()) + offset
        return f"{match.group(1)}{format_datetime(moved)}{match.group(4)}"

    def iso(match: re.Match[str]) -> str:
        moved = datetime.fromisoformat(match.group(3).strip()) + offset
        return f"{match.group(1)}{moved.isoformat()}{match.group(4)}"

    return _ISO.sub(iso, _RFC822.sub(rfc822, text))


def demo_feeds(now: datetime | None = None) -> dict[str, bytes]:
    """URL path -> body of every bundled feed, dates moved to `now` (default: the clock)."""
    texts = {f"/{path.name}": path.read_text("utf-8") for path in sorted(FEEDS_DIR.glob("*.xml"))}
    offset = offset_to(now or datetime.now(UTC), list(texts.values()))
    return {name: shift_dates(text, offset).encode("utf-8") for name, text in texts.items()}


def serve_demo_feeds(now: datetime | None = None) -> ThreadingHTTPServer:
    """Serve the bundled feeds on a free loopback port, in a background thread."""
    feeds = demo_feeds(now)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = feeds.get(self.path.partition("?")[0])
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
