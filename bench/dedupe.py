"""Syndication lookup cost: time per new article to find and verify its story, by history size.

A SQLite database (migrated with the real schema) is filled with synthetic articles, about
3,000 a day, 15 % of them edited copies of a recent article from another outlet, each with
its real LSH keys in `dedupe_buckets`. Then, in a fresh child process (so that its peak RSS
is the lookup's own, not the build's), new articles -- half copies of recent ones, half
fresh texts -- go through the real `Clusterer.decide` (fingerprint, SQL candidate lookup
within the 7-day window, verification): that is the figure. Beside it, in the same run and
at the smallest size, the brute-force baseline: every article of the window verified
against the new one, with all their fingerprints computed beforehand and held in memory (its
best case). The history then grows to the next size and the queries run again.

    python bench/dedupe.py                 # 10k and 30k earlier articles (about 1.5 minutes)
    python bench/dedupe.py --full          # 10k, 100k and 500k (half an hour to build)
    python bench/dedupe.py --sizes 10000 50000 --queries 400
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

from db.engine import get_engine, session_factory, upgrade
from monitor.dedupe import WINDOW, Entry, best_match, story_fingerprint
from monitor.pipelines.cluster import Clusterer

PER_DAY = 3000
COPY_SHARE = 0.15
OUTLETS = 40
VOCABULARY = 40_000
START = datetime(2025, 1, 1, tzinfo=UTC)
WARM_UP = 20  # lookups run before timing starts
STEP = timedelta(days=1) / PER_DAY


def _sqlite_time(value: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME text form, so raw inserts compare like the ORM's values.
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MiB.

    VmHWM, not getrusage: Linux carries the parent's high-water mark into a child's
    ru_maxrss across fork and exec, which would charge the build to the measurement.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Texts:
    """Synthetic matching texts: Zipf-distributed pseudo-words, 120-400 words long."""

    def __init__(self, seed: int, stream: int) -> None:
        # One vocabulary per seed; each stream (the history, the new articles) draws its
        # own words from it, so a "fresh" new article never repeats an old one.
        vocabulary = np.random.default_rng(seed)
        self.rng = np.random.default_rng([seed, stream])
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        lengths = vocabulary.integers(3, 10, VOCABULARY)
        self.words = np.array(
            ["".join(vocabulary.choice(letters, n)) for n in lengths], dtype=object
        )
        weights = 1.0 / np.arange(1, VOCABULARY + 1) ** 1.05
        self.cdf = np.cumsum(weights / weights.sum())

    def fresh(self, n_words: int | None = None) -> str:
        n = int(n_words or self.rng.integers(120, 400))
        ids = np.searchsorted(self.cdf, self.rng.random(n))
        return " ".join(self.words[np.minimum(ids, VOCABULARY - 1)])

    def copy_of(self, source: str) -> str:
        """A repost: an intro added or a stretch dropped, and a footer of its own."""
        words = source.split()
        if self.rng.random() < 0.5:
            cut = int(self.rng.integers(0, max(len(words) // 2, 1)))
            span = len(words) // 5
            words = words[:cut] + words[cut + span :]
        else:
            words = self.fresh(25).split() + words
        return " ".join(words + self.fresh(10).split())


class History:
    """The growing database of earlier articles."""

    def __init__(self, path: Path, seed: int) -> None:
        self.url = f"sqlite:///{path}"
        upgrade(self.url)
        self.engine = get_engine(self.url)
        self.sessions = session_factory(self.engine)
        self.texts = Texts(seed, 1)
        self.rng = np.random.default_rng(seed + 1)
        self.count = 0
        self.recent: deque[tuple[int, int, str]] = deque(maxlen=2 * PER_DAY)  # id, outlet, text
        self.fingerprint_seconds = 0.0
        self._outlets()

    def _outlets(self) -> None:
        raw: Any = self.engine.raw_connection()
        # The full-text search triggers index every inserted article: most of the build
        # time, and no part of a dedupe lookup. This database is for this benchmark only.
        triggers = raw.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'articles'"
        ).fetchall()
        for (name,) in triggers:
            raw.execute(f'DROP TRIGGER "{name}"')
        now = _sqlite_time(START)
        for i in range(1, OUTLETS + 1):
            raw.execute(
                "INSERT INTO outlets (id, slug, name, country, is_wire) VALUES (?, ?, ?, ?, 0)",
                (i, f"outlet-{i}", f"Outlet {i}", "MA" if i % 2 else "IL"),
            )
            raw.execute(
                "INSERT INTO feeds (id, slug, outlet_id, url, language, enabled, fulltext,"
                " interval_seconds, consecutive_errors, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 'ar', 1, 0, 900, 0, ?, ?)",
                (i, f"feed-{i}", i, f"https://outlet-{i}.example/feed", now, now),
            )
        raw.commit()
        raw.close()

    def time_of(self, index: int) -> datetime:
        return START + STEP * index

    def _next(self) -> tuple[int, int, str]:
        outlet = int(self.rng.integers(1, OUTLETS + 1))
        if self.recent and self.rng.random() < COPY_SHARE:
            _, source_outlet, source = self.recent[int(self.rng.integers(0, len(self.recent)))]
            outlet = source_outlet % OUTLETS + 1  # another outlet
            return outlet, 1, self.texts.copy_of(source)
        return outlet, 0, self.texts.fresh()

    def grow(self, size: int, batch: int = 5000) -> None:
        """Add articles until the history holds `size`, with their real index keys."""
        raw: Any = self.engine.raw_connection()
        # Bulk load only: no fsync, and a page cache big enough for the random-key index
        # inserts. The lookups below use the application's own engine settings.
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute("PRAGMA cache_size=-1000000")
        while self.count < size:
            articles, buckets = [], []
            for _ in range(min(batch, size - self.count)):
                self.count += 1
                article_id = self.count
                outlet, _, text = self._next()
                when = _sqlite_time(self.time_of(article_id))
                started = time.perf_counter()
                fp = story_fingerprint("", text, has_body=True, lang="ar")
                self.fingerprint_seconds += time.perf_counter() - started
                articles.append(
                    (article_id, outlet, outlet, f"t{article_id}", text, text, when, when, when)
                )
                buckets += [(band, bucket, article_id, when) for band, bucket in fp.bands]
                self.recent.append((article_id, outlet, text))
            raw.executemany(
                "INSERT INTO articles (id, outlet_id, feed_id, title, summary, body, match_text,"
                " language, published_at, first_seen_at, updated_at, revision, content_hash,"
                " fulltext_attempts) VALUES (?, ?, ?, ?, '', ?, ?, 'ar', ?, ?, ?, 1, '', 0)",
                articles,
            )
            raw.executemany(
                "INSERT INTO dedupe_buckets (band, bucket, article_id, seen_at) VALUES (?,?,?,?)",
                buckets,
            )
            raw.commit()
        raw.execute("ANALYZE")
        raw.commit()
        raw.close()


# ---------------------------------------------------------------------------------------
# Measuring, in a child process that only opens the database
# ---------------------------------------------------------------------------------------


class Workload:
    """New articles right after the history: half copies of its last two days, half fresh."""

    def __init__(self, path: Path, seed: int) -> None:
        self.url = f"sqlite:///{path}"
        self.sessions = session_factory(get_engine(self.url))
        self.texts = Texts(seed, 2)
        self.rng = np.random.default_rng(seed + 2)
        with self.sessions() as session:
            self.count = session.execute(text("SELECT count(*) FROM articles")).scalar_one()
            self.recent = session.execute(
                text("SELECT id, outlet_id, match_text FROM articles ORDER BY id DESC LIMIT :n"),
                {"n": 2 * PER_DAY},
            ).all()
        self.when = START + STEP * (self.count + 1)

    def articles(self, count: int) -> Iterator[tuple[str, int, int | None]]:
        """(text, outlet, id of the copied article or None)."""
        for i in range(count):
            if i % 2 == 0:
                source_id, source_outlet, source = self.recent[
                    int(self.rng.integers(0, len(self.recent)))
                ]
                yield self.texts.copy_of(source), source_outlet % OUTLETS + 1, source_id
            else:
                yield self.texts.fresh(), int(self.rng.integers(1, OUTLETS + 1)), None


def measure_lsh(work: Workload, count: int) -> dict[str, Any]:
    """The cluster stage's read side for each new article, as the crawl runs it."""
    clusterer = Clusterer()
    times, candidates, found, copies, false = [], [], 0, 0, 0
    with work.sessions() as session:
        for number, (body, outlet, source) in enumerate(work.articles(count + WARM_UP)):
            started = time.perf_counter()
            decision = clusterer.decide(
                session,
                article_id=None,
                outlet_id=outlet,
                published_at=work.when,
                title_key="",
                match_text=body,
                has_body=True,
                language="ar",
            )
            if number < WARM_UP:  # a fresh process: first the OS and SQLite caches fill
                continue
            times.append(time.perf_counter() - started)
            candidates.append(decision.candidates)
            if source is not None:
                copies += 1
                found += decision.match_id is not None
            else:
                false += decision.match_id is not None
    return {
        "mean_ms": statistics.fmean(times) * 1000,
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": sorted(times)[int(0.95 * len(times))] * 1000,
        "candidates": statistics.fmean(candidates),
        "found": found / copies,
        "false": false,
    }


def measure_brute_force(work: Workload, count: int) -> dict[str, Any]:
    """Each new article verified against every article of the window, held in memory."""
    started = time.perf_counter()
    pool = []
    with work.sessions() as session:
        rows = session.execute(
            text(
                "SELECT id, outlet_id, match_text, published_at FROM articles"
                " WHERE published_at >= :since"
            ),
            {"since": _sqlite_time(work.when - WINDOW)},
        ).all()
    for article_id, outlet, body, published in rows:
        fp = story_fingerprint("", body, has_body=True, lang="ar", index=False)
        seen = datetime.fromisoformat(published).replace(tzinfo=UTC)
        pool.append(Entry(f"{article_id:012d}", str(outlet), seen, fp))
    prepared = time.perf_counter() - started
    times, found, copies = [], 0, 0
    for body, outlet, source in work.articles(count):
        started = time.perf_counter()
        fp = story_fingerprint("", body, has_body=True, lang="ar", index=False)
        match = best_match(Entry("new", str(outlet), work.when, fp), pool)
        times.append(time.perf_counter() - started)
        if source is not None:
            copies += 1
            found += match is not None
    return {
        "mean_ms": statistics.fmean(times) * 1000,
        "median_ms": statistics.median(times) * 1000,
        "window": len(pool),
        "prepare_s": prepared,
        "found": found / copies,
    }


def _child(path: Path, mode: str, queries: int, seed: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", mode, "--db", str(path)]
    done = subprocess.run(
        [*command, "--queries", str(queries), "--seed", str(seed)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="10k, 100k and 500k articles")
    parser.add_argument("--sizes", type=int, nargs="+", help="history sizes, ascending")
    parser.add_argument("--queries", type=int, default=300, help="new articles per size")
    parser.add_argument("--baseline-queries", type=int, default=40)
    parser.add_argument("--seed", type=int, default=20241)
    parser.add_argument("--db", type=Path, help="build the database here and keep it")
    parser.add_argument("--measure", choices=["lsh", "brute"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        work = Workload(args.db, args.seed)
        measure = measure_lsh if args.measure == "lsh" else measure_brute_force
        result = measure(work, args.queries)
        result["rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return
    sizes = args.sizes or ([10_000, 100_000, 500_000] if args.full else [10_000, 30_000])
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        history = History(path, args.seed)
        results: dict[int, dict[str, Any]] = {}
        print(
            f"{'articles':>9} {'build s':>8} {'mean ms':>8} {'median':>7} {'p95':>7} "
            f"{'cands':>6} {'found':>6} {'false':>5} {'DB MB':>7} {'RSS MB':>7}"
        )
        for size in sizes:
            started = time.perf_counter()
            history.grow(size)
            built = time.perf_counter() - started
            r = results[size] = _child(path, "lsh", args.queries, args.seed)
            print(
                f"{size:>9,} {built:>8.1f} {r['mean_ms']:>8.2f} {r['median_ms']:>7.2f} "
                f"{r['p95_ms']:>7.2f} {r['candidates']:>6.1f} {r['found']:>6.0%} "
                f"{r['false']:>5} {path.stat().st_size / 2**20:>7.0f} {r['rss_mb']:>7.0f}",
                flush=True,
            )
            if size == sizes[0]:
                b = _child(path, "brute", args.baseline_queries, args.seed)
                print(
                    f"  brute force at {size:,}: {b['mean_ms']:.1f} ms mean, "
                    f"{b['median_ms']:.1f} ms median per article against {b['window']:,} "
                    f"articles of the window, fingerprints prepared beforehand in "
                    f"{b['prepare_s']:.1f} s and held in memory (peak RSS {b['rss_mb']:.0f} MB; "
                    f"found {b['found']:.0%}): LSH is {b['mean_ms'] / r['mean_ms']:.0f}x "
                    f"faster (mean), {b['median_ms'] / r['median_ms']:.0f}x (median)",
                    flush=True,
                )
        first, last = sizes[0], sizes[-1]
        mean = results[last]["mean_ms"] / results[first]["mean_ms"]
        median = results[last]["median_ms"] / results[first]["median_ms"]
        print(
            f"growth {first:,} -> {last:,} articles: {mean:.2f}x mean, {median:.2f}x median "
            f"per article (target < 2x); RSS is the measuring process's peak; fingerprinting "
            f"while building: {history.fingerprint_seconds / history.count * 1e6:.0f} us "
            "per article"
        )


if __name__ == "__main__":
    main()
