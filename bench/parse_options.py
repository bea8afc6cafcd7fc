"""What feedparser's HTML sanitiser and relative-URI rewriting cost, on real feeds.

Parses every real feed under ../shared/corpus/real (or the files given) with feedparser in
four configurations and with `monitor.parsing.parse_feed`, and prints items/s and the ratio
to feedparser's defaults (both options on) measured in the same run.

    python bench/parse_options.py            # ~30 s (CPU time, best of 5 interleaved rounds)
    python bench/parse_options.py --rounds 10 FILE...
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from pathlib import Path

import feedparser

from monitor.parsing import FeedParseError, parse_feed

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"
HEADERS = {"content-type": "application/rss+xml"}


def _bodies(paths: list[Path]) -> list[bytes]:
    if not paths:
        paths = sorted(p for p in CORPUS.rglob("*.xml") if p.is_file())
    return [p.read_bytes() for p in paths]


def _time(run: Callable[[bytes], int], bodies: list[bytes]) -> tuple[float, int]:
    # CPU time of this process: other work on a shared machine does not count against us
    start = time.process_time()
    items = sum(run(body) for body in bodies)
    return time.process_time() - start, items


def _feedparser(sanitize: bool, resolve: bool) -> Callable[[bytes], int]:
    def run(body: bytes) -> int:
        result = feedparser.parse(
            io.BytesIO(body),
            response_headers=HEADERS,
            sanitize_html=sanitize,
            resolve_relative_uris=resolve,
        )
        return len(result.entries)

    return run


def _ours(body: bytes) -> int:
    try:
        return len(parse_feed(body, url="https://example.com/feed", headers=HEADERS).entries)
    except FeedParseError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=5, help="best of N (default 5)")
    args = parser.parse_args()
    bodies = _bodies(args.files)
    if not bodies:
        raise SystemExit(f"no feeds found (looked in {CORPUS})")
    size = sum(len(b) for b in bodies)
    print(f"{len(bodies)} feeds, {size / 1e6:.1f} MB, best of {args.rounds} rounds")
    runs: list[tuple[str, Callable[[bytes], int]]] = [
        ("feedparser defaults (sanitize+resolve)", _feedparser(True, True)),
        ("feedparser sanitize only", _feedparser(True, False)),
        ("feedparser resolve only", _feedparser(False, True)),
        ("feedparser neither", _feedparser(False, False)),
        ("monitor.parsing.parse_feed (neither)", _ours),
    ]
    # Rounds interleave the configurations so a slow spell hits all of them alike.
    best = dict.fromkeys((name for name, _ in runs), float("inf"))
    items = dict.fromkeys(best, 0)
    for _ in range(args.rounds):
        for name, run in runs:
            seconds, items[name] = _time(run, bodies)
            best[name] = min(best[name], seconds)
    baseline = best[runs[0][0]]
    for name, _ in runs:
        seconds = best[name]
        print(
            f"{name:40s} {seconds:7.3f} s  {items[name] / seconds:9.0f} items/s  "
            f"{baseline / seconds:5.2f}x vs defaults"
        )


if __name__ == "__main__":
    main()
