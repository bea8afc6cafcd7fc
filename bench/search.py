"""Search latency over a large synthetic archive, SQLite FTS5 and PostgreSQL tsvector,
beside a LIKE '%…%' scan baseline measured in the same run on the same data.

    python bench/search.py --articles 200000    # the reference size (~8 min)
    python bench/search.py                      # 50k, both databases (~2 min)

Articles mix Arabic, Hebrew, French and English text with the spelling variants the
search folds (hamza forms, clitics, niqqud, accents). Each query is parsed and rendered
exactly as `monitor search` does, then run through db.search.search (top 50, ranked).
The baseline looks for the query's first word, folded, with LIKE over the same folded
columns (no clitics, no ranking: less work than the search does). Prints p50/p95 per
database and the ratio baseline / search. PostgreSQL uses a scratch database it drops.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.engine import get_engine, session_factory, upgrade
from db.models import Article, Feed, Outlet
from db.search import SearchExpression, search
from monitor.search_query import parse, to_fts5, to_tsquery
from monitor.text import fold, words

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
VOCAB = {
    "ar": [
        "المغرب",
        "الرباط",
        "وزير",
        "الدفاع",
        "الإسرائيلي",
        "وإسرائيل",
        "بإسرائيل",
        "للإسرائيليين",
        "التعاون",
        "العسكري",
        "الأمن",
        "اتفاقية",
        "الجيش",
        "القوات",
        "المسلحة",
        "الملكية",
        "زيارة",
        "رئيس",
        "الحكومة",
        "الصحراء",
        "الاقتصاد",
        "التجارة",
        "مراكش",
        "الدار",
        "البيضاء",
        "الملك",
        "البرلمان",
        "الانتخابات",
        "كوخافى",
        "غانتس",
    ],
    "he": [
        "ישראל",
        "בישראל",
        "והישראלים",
        "מרוקו",
        "במרוקו",
        "שר",
        "הביטחון",
        "צה״ל",
        "הצבא",
        "הסכם",
        "ביקור",
        "רבאט",
        "ממשלה",
        "כנסת",
        "בחירות",
        "כַּלְכָּלָה",
        "שָׁלוֹם",
        "כוכבי",
        "גנץ",
        "חיל",
        "האוויר",
        "תעשייה",
        "ביטחונית",
    ],
    "fr": [
        "Maroc",
        "Rabat",
        "ministre",
        "la",
        "Défense",
        "israélienne",
        "l'armée",
        "coopération",
        "militaire",
        "accord",
        "visite",
        "gouvernement",
        "Sahara",
        "économie",
        "commerce",
        "Marrakech",
        "Casablanca",
        "roi",
        "parlement",
        "élections",
        "Gantz",
        "Forces",
        "Armées",
        "Royales",
        "drones",
    ],
    "en": [
        "Morocco",
        "Rabat",
        "minister",
        "Defense",
        "Israeli",
        "army",
        "cooperation",
        "military",
        "agreement",
        "visit",
        "government",
        "Sahara",
        "economy",
        "trade",
        "Marrakech",
        "Casablanca",
        "king",
        "parliament",
        "elections",
        "Gantz",
        "Royal",
        "Armed",
        "Forces",
        "drones",
        "security",
        "pact",
    ],
}
FILLER = {
    "ar": [
        "في",
        "من",
        "على",
        "إلى",
        "عن",
        "مع",
        "هذا",
        "التي",
        "الذي",
        "قال",
        "أن",
        "بعد",
        "قبل",
        "يوم",
        "عام",
    ],
    "he": ["של", "את", "על", "עם", "זה", "כי", "אשר", "אמר", "היום", "שנה", "לפני", "אחרי", "גם"],
    "fr": [
        "le",
        "la",
        "les",
        "de",
        "des",
        "du",
        "et",
        "en",
        "un",
        "une",
        "pour",
        "sur",
        "avec",
        "dans",
        "par",
    ],
    "en": [
        "the",
        "a",
        "of",
        "to",
        "and",
        "in",
        "for",
        "on",
        "with",
        "by",
        "from",
        "at",
        "is",
        "was",
    ],
}
# Rare names: about one article in a thousand carries one.
RARE = {"ar": "لوديي", "he": "הרצי", "fr": "Loudiyi", "en": "Halevi"}
QUERIES = [
    "اسرائيل",
    "كوخافي",
    '"وزير الدفاع"',
    "المغرب -الجزائر",
    "لوديي",
    "ישראל",
    'צה"ל',
    "כוכבי OR גנץ",
    "הרצי",
    "défense",
    '"forces armées royales"',
    "Loudiyi",
    "Gantz",
    "drones AND Morocco",
    "Halevi",
]


def articles(count: int, outlet_ids: list[int], feed_ids: list[int]) -> Iterator[dict[str, object]]:
    rng = random.Random(7)
    folded = {
        lang: {w: " ".join(words(fold(w))) for w in VOCAB[lang] + FILLER[lang]} for lang in VOCAB
    }
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for n in range(count):
        lang = rng.choice(("ar", "ar", "he", "fr", "en"))
        pool = VOCAB[lang] * 1 + FILLER[lang] * 3
        body = [rng.choice(pool) for _ in range(rng.randint(40, 120))]
        if rng.random() < 0.001:
            body.insert(rng.randrange(len(body)), RARE[lang])
        title = [rng.choice(VOCAB[lang]) for _ in range(rng.randint(5, 10))]
        when = start + timedelta(minutes=n * 3)
        fold_all = folded[lang]
        k = rng.randrange(len(outlet_ids))
        yield {
            "outlet_id": outlet_ids[k],
            "feed_id": feed_ids[k],
            "guid": f"g{n}",
            "canonical_url": f"https://example.org/{n}",
            "title": " ".join(title),
            "title_key": " ".join(fold_all.get(w) or fold(w) for w in title)[:200],
            "summary": "",
            "body": " ".join(body),
            "match_text": " ".join(fold_all.get(w) or fold(w) for w in body),
            "language": lang,
            "published_at": when,
            "first_seen_at": when,
            "updated_at": when,
            "revision": 1,
            "content_hash": f"{n:064x}",
        }


def load(url: str, count: int) -> float:
    """Fill a migrated database; return seconds taken."""
    began = time.perf_counter()
    engine = get_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        outlet_ids, feed_ids = [], []
        for i in range(12):
            oid = connection.execute(
                insert(Outlet)
                .values(
                    slug=f"o{i}", name=f"Outlet {i}", country="MA" if i < 8 else "IL", is_wire=False
                )
                .returning(Outlet.id)
            ).scalar_one()
            fid = connection.execute(
                insert(Feed)
                .values(
                    slug=f"f{i}",
                    outlet_id=oid,
                    url=f"http://127.0.0.1/{i}",
                    language="ar",
                    interval_seconds=900,
                    created_at=now,
                    updated_at=now,
                    consecutive_errors=0,
                )
                .returning(Feed.id)
            ).scalar_one()
            outlet_ids.append(oid)
            feed_ids.append(fid)
    batch: list[dict[str, object]] = []
    for row in articles(count, outlet_ids, feed_ids):
        batch.append(row)
        if len(batch) == 5000:
            with engine.begin() as connection:
                connection.execute(insert(Article), batch)
            batch = []
    if batch:
        with engine.begin() as connection:
            connection.execute(insert(Article), batch)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    return time.perf_counter() - began


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm the cache: we measure steady state, not the first disk read
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def measure(
    url: str, repeat: int
) -> tuple[list[float], list[float], dict[str, tuple[float, float]]]:
    engine = get_engine(url)
    like_sql = text(
        "SELECT id FROM articles WHERE title_key LIKE :p OR match_text LIKE :p "
        "ORDER BY published_at DESC LIMIT 50"
    )
    fts: list[float] = []
    scan: list[float] = []
    per_query: dict[str, tuple[float, float]] = {}
    with session_factory(engine)() as session:
        for query in QUERIES:
            node = parse(query)
            expression = SearchExpression(
                to_fts5(node), to_tsquery(node), to_tsquery(node, proclitics=1)
            )
            found = timed(lambda e=expression: search(session, e, limit=50), repeat)
            first = words(fold(query.replace('"', " ").split()[0]))[0]
            baseline = timed(
                lambda f=first: session.execute(like_sql, {"p": f"%{f}%"}).all(), repeat
            )
            fts += found
            scan += baseline
            per_query[query] = (statistics.median(found), statistics.median(baseline))
    return fts, scan, per_query


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(
    name: str, fts: list[float], scan: list[float], per_query: dict[str, tuple[float, float]]
) -> None:
    p50, p95, b50, b95 = pct(fts, 0.5), pct(fts, 0.95), pct(scan, 0.5), pct(scan, 0.95)
    print(
        f"{name:10} search p50 {p50:8.2f} ms  p95 {p95:8.2f} ms | LIKE scan p50 {b50:8.2f} ms"
        f"  p95 {b95:8.2f} ms | LIKE/search p50 x{b50 / p50:.1f}  p95 x{b95 / p95:.1f}"
    )
    for query, (ms, like_ms) in per_query.items():
        print(f"           {ms:8.2f} ms  (LIKE {like_ms:8.2f} ms)  {query}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--articles", type=int, default=50_000, help="200000 for the full run (~8 min)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per query (15 queries)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"{args.articles} articles, {len(QUERIES)} queries x {args.repeat} runs, top 50")
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/bench.db"
        upgrade(url)
        print(f"sqlite     loaded in {load(url, args.articles):.0f} s")
        report("sqlite", *measure(url, args.repeat))
        get_engine(url).dispose()
    if args.no_postgres:
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"monitor_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        print(f"postgresql loaded in {load(url, args.articles):.0f} s")
        report("postgresql", *measure(url, args.repeat))
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
