"""Full-text search on SQLite (FTS5) and PostgreSQL (tsvector): variants in four languages,
filters, ranking, snippets, the command line, and the index kept in step with the articles.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.engine import get_engine, session_factory
from db.models import Article, ArticleTag, Feed, Outlet, Story, Tag
from db.queries import ArticleFilter
from monitor.cli import cli
from monitor.cli.search import search_records
from monitor.text import fold
from tests.feedserver import FeedServer, Route
from tests.helpers import monitor_env, registry, rss, run_monitor

BASE = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Doc:
    key: str
    outlet: str
    lang: str
    title: str
    body: str
    hours: float = 0.0  # published BASE + hours
    tags: Sequence[str] = ()
    story: int | None = None  # story number; the earliest member is the original


OUTLETS = {  # slug: (name, country)
    "hespress": ("Hespress", "MA"),
    "barlamane": ("Barlamane", "MA"),
    "le360": ("Le360", "MA"),
    "map": ("MAP", "MA"),
    "ynet": ("Ynet", "IL"),
    "jpost": ("Jerusalem Post", "IL"),
}

DOCS = [
    Doc(
        "ar1",
        "hespress",
        "ar",
        "وزير الدفاع الإسرائيلي يزور الرباط",
        "وصل وزير الدفاع الإسرائيلي بيني غانتس إلى الرباط لتوقيع مذكرة تفاهم أمني مع المغرب.",
        1,
        ("defense-cooperation", "morocco-israel"),
        story=1,
    ),
    Doc(
        "ar2",
        "barlamane",
        "ar",
        "غانتس في المغرب",
        "ووزير الدفاع الاسرائيلى يلتقي لوديي في الرباط لبحث التعاون العسكري.",
        3,
        ("defense-cooperation",),
        story=1,
    ),
    Doc(
        "ar3",
        "hespress",
        "ar",
        "رئيس الأركان كوخافى يستقبل وفدا مغربيا",
        "استقبل رئيس الأركان أفيف كوخافى وفدا عسكريا مغربيا.",
        5,
    ),
    Doc("ar4", "map", "ar", "سياحة", "زيارة للإسرائيليين إلى مراكش هذا الأسبوع.", 7),
    Doc("ar5", "hespress", "ar", "أخبار من لبنان", "وصل وفد من بنان إلى بيروت.", 9),
    Doc(
        "he1",
        "ynet",
        "he",
        "שר הביטחון גנץ נחת במרוקו",
        "בני גנץ חתם ברבאט על הסכם ביטחוני עם מרוקו. צה״ל ישתף פעולה עם הצבא המרוקאי.",
        2,
        ("defense-cooperation", "morocco-israel"),
        story=2,
    ),
    Doc("he2", "ynet", "he", "כּוֹכָבִי בְּמָרוֹקוֹ", 'הָרַמַטְכָּ"ל כּוֹכָבִי נִפְגַּשׁ עִם עָמִיתוֹ.', 6),
    Doc("he3", "ynet", "he", "ישראל ומרוקו", "והישראלים הגיעו לטקס.", 8),
    Doc(
        "fr1",
        "le360",
        "fr",
        "La Défense israélienne à Rabat",
        "Benny Gantz, ministre de la Défense, est arrivé à Rabat. Les Forces Armées Royales "
        "l'ont accueilli.",
        4,
        ("defense-cooperation",),
        story=2,
    ),
    Doc("fr2", "le360", "fr", "Coopération militaire", "l'armée marocaine et d’Israël.", 10),
    Doc(
        "en1",
        "jpost",
        "en",
        "Gantz lands in Morocco",
        "Defense Minister Benny GANTZ signed a security pact in Rabat.",
        2.5,
        ("defense-cooperation",),
    ),
    Doc("en2", "jpost", "en", "Art exhibition", "An article about art in Tel Aviv.", 11),
]


@dataclass
class Seeded:
    ids: dict[str, int] = field(default_factory=dict)
    stories: dict[int, int] = field(default_factory=dict)

    def keys(self, article_ids: Sequence[int]) -> set[str]:
        names = {v: k for k, v in self.ids.items()}
        return {names[i] for i in article_ids}


def seed(session: Session, docs: Sequence[Doc] = DOCS) -> Seeded:
    """Store outlets, feeds, articles, tags and stories as the pipeline would."""
    now = BASE + timedelta(days=1)
    outlets: dict[str, Outlet] = {}
    feeds: dict[str, Feed] = {}
    for slug, (name, country) in OUTLETS.items():
        outlet = Outlet(slug=slug, name=name, country=country, is_wire=slug == "map")
        session.add(outlet)
        session.flush()
        feed = Feed(
            slug=f"{slug}-main",
            outlet_id=outlet.id,
            url=f"http://127.0.0.1/{slug}.xml",
            language="ar",
            interval_seconds=900,
            created_at=now,
            updated_at=now,
        )
        session.add(feed)
        outlets[slug], feeds[slug] = outlet, feed
    tags: dict[str, Tag] = {}
    for slug in sorted({t for d in docs for t in d.tags}):
        tags[slug] = Tag(slug=slug, label=slug.replace("-", " ").title())
        session.add(tags[slug])
    session.flush()
    seeded = Seeded()
    members: dict[int, list[Article]] = {}
    for n, doc in enumerate(docs):
        when = BASE + timedelta(hours=doc.hours)
        article = Article(
            outlet_id=outlets[doc.outlet].id,
            feed_id=feeds[doc.outlet].id,
            guid=doc.key,
            url=f"https://{doc.outlet}.example/{doc.key}",
            canonical_url=f"https://{doc.outlet}.example/{doc.key}",
            title=doc.title,
            title_key=fold(doc.title)[:200],
            summary="",
            body=doc.body,
            match_text=fold(doc.body),
            language=doc.lang,
            published_at=when,
            first_seen_at=when + timedelta(minutes=5),
            updated_at=when,
            revision=1,
            content_hash=f"{n:064d}",
        )
        session.add(article)
        session.flush()
        seeded.ids[doc.key] = article.id
        for slug in doc.tags:
            session.add(
                ArticleTag(
                    article_id=article.id,
                    tag_id=tags[slug].id,
                    score=2.5,
                    evidence={"terms": [{"term": slug, "field": "title", "pos": 0}]},
                    taxonomy_version="t1",
                    tagged_at=now,
                )
            )
        if doc.story is not None:
            members.setdefault(doc.story, []).append(article)
    for number, arts in members.items():
        arts.sort(key=lambda a: a.first_seen_at)
        countries = {outlets_country(session, a.outlet_id) for a in arts}
        story = Story(
            first_article_id=arts[0].id,
            first_seen_at=arts[0].first_seen_at,
            last_seen_at=arts[-1].first_seen_at,
            member_count=len(arts),
            outlet_count=len({a.outlet_id for a in arts}),
            country_count=len(countries),
        )
        session.add(story)
        session.flush()
        seeded.stories[number] = story.id
        for i, article in enumerate(arts):
            article.story_id = story.id
            article.story_role = "original" if i == 0 else "copy"
    session.commit()
    return seeded


def outlets_country(session: Session, outlet_id: int) -> str:
    return session.execute(select(Outlet.country).where(Outlet.id == outlet_id)).scalar_one()


@pytest.fixture
def seeded(db_url: str) -> Seeded:
    with session_factory(get_engine(db_url))() as session:
        return seed(session)


def found(db_url: str, seeded: Seeded, query: str, **filters: Any) -> set[str]:
    records = search_records(db_url, query, ArticleFilter(limit=100, **filters))
    return seeded.keys([r["id"] for r in records])


SEARCHES: list[tuple[str, Mapping[str, Any], set[str]]] = [
    # Arabic: hamza and alif maqsura variants, clitics and suffixes
    ("اسرائيل", {}, {"ar1", "ar2", "ar4"}),
    ("إسرائيل", {}, {"ar1", "ar2", "ar4"}),
    ("الإسرائيلي", {}, {"ar1", "ar2", "ar4"}),
    ("كوخافي", {}, {"ar3"}),
    ("كوخافى", {}, {"ar3"}),
    ('"وزير الدفاع"', {}, {"ar1", "ar2"}),
    ("غانتس الرباط", {}, {"ar1", "ar2"}),
    ("لبنان", {}, {"ar5"}),
    ("اسرائيل", {"tags": ["morocco-israel"]}, {"ar1"}),
    ("اسرائيل", {"outlets": ["Barlamane"]}, {"ar2"}),
    # Hebrew: pointed text, gershayim, prefixes
    ("כוכבי", {}, {"he2"}),
    ("כּוֹכָבִי", {}, {"he2"}),
    ('צה"ל', {}, {"he1"}),
    ("מרוקו", {}, {"he1", "he2", "he3"}),
    ("ישראל", {}, {"he3"}),
    ("מרוקו -ישראל", {}, {"he1", "he2"}),
    ('"שר הביטחון"', {}, {"he1"}),
    # French and English: accents, case, elisions, phrases, whole words
    ("défense", {}, {"fr1", "en1"}),
    ("DEFENSE", {}, {"fr1", "en1"}),
    ("Gantz", {}, {"fr1", "en1"}),
    ("gantz", {"languages": ["fr"]}, {"fr1"}),
    ("gantz", {"countries": ["IL"]}, {"en1"}),
    ("gantz -Morocco", {}, {"fr1"}),
    ('"forces armées royales"', {}, {"fr1"}),
    ("armée", {}, {"fr2"}),
    ("armée*", {}, {"fr1", "fr2"}),
    ("art", {}, {"en2"}),
    ("Rabat", {"since": BASE + timedelta(hours=3)}, {"fr1"}),
    ("Rabat", {"until": BASE + timedelta(hours=3)}, {"en1"}),
    # across languages
    ("كوخافي OR כוכבי", {}, {"ar3", "he2"}),
    (
        "(Gantz OR غانتس OR גנץ) AND (Rabat OR الرباط OR ברבאט)",
        {},
        {"ar1", "ar2", "he1", "fr1", "en1"},
    ),
]


@pytest.mark.parametrize(("query", "filters", "expected"), SEARCHES)
def test_search_finds_variants(
    db_url: str, seeded: Seeded, query: str, filters: Mapping[str, Any], expected: set[str]
) -> None:
    assert found(db_url, seeded, query, **filters) == expected


def test_headline_hits_rank_first(db_url: str, seeded: Seeded) -> None:
    records = search_records(db_url, "Gantz", ArticleFilter(limit=10))
    assert seeded.keys([records[0]["id"]]) == {"en1"}  # in the headline and the body
    assert records[0]["rank"] > records[1]["rank"]


def test_records_are_article_records_with_rank_and_snippet(db_url: str, seeded: Seeded) -> None:
    records = search_records(db_url, "اسرائيل", ArticleFilter(limit=10, outlets=["hespress"]))
    assert len(records) == 1
    record = records[0]
    for key in (
        "id",
        "outlet",
        "feed",
        "feeds",
        "country",
        "lang",
        "guid",
        "url",
        "canonical_url",
        "title",
        "published_at",
        "first_seen_at",
        "story_id",
        "story_role",
        "credit",
        "origin",
        "tags",
        "evidence",
        "rank",
        "snippet",
    ):
        assert key in record
    assert record["tags"] == ["defense-cooperation", "morocco-israel"]
    assert record["story_role"] == "original"
    assert "[الإسرائيلي]" in record["snippet"]


def test_limit(db_url: str, seeded: Seeded) -> None:
    assert len(search_records(db_url, "Rabat", ArticleFilter(limit=1))) == 1


def test_index_follows_updates_and_new_articles(db_url: str, seeded: Seeded) -> None:
    with session_factory(get_engine(db_url))() as session:
        session.execute(
            update(Article)
            .where(Article.id == seeded.ids["en2"])
            .values(match_text=fold("Gallant visited Rabat"), title_key=fold("Gallant in Rabat"))
        )
        session.commit()
    assert found(db_url, seeded, "gallant") == {"en2"}
    assert found(db_url, seeded, "exhibition") == set()
    with session_factory(get_engine(db_url))() as session:
        extra = seed_one(session, "jpost", "Barak", "Ehud Barak in Marrakech")
    assert search_records(db_url, "marrakech", ArticleFilter())[0]["id"] == extra


def seed_one(session: Session, outlet: str, title: str, body: str) -> int:
    owner = session.execute(select(Outlet).where(Outlet.slug == outlet)).scalar_one()
    feed = session.execute(select(Feed).where(Feed.outlet_id == owner.id)).scalars().first()
    assert feed is not None
    article = Article(
        outlet_id=owner.id,
        feed_id=feed.id,
        guid=title,
        url=None,
        canonical_url=None,
        title=title,
        title_key=fold(title),
        summary="",
        body=body,
        match_text=fold(body),
        language="en",
        published_at=BASE,
        first_seen_at=BASE,
        updated_at=BASE,
        content_hash="x" * 64,
    )
    session.add(article)
    session.commit()
    return article.id


# ---------------------------------------------------------------- the command line


def invoke(db_url: str, *args: str) -> Any:
    runner = CliRunner()
    return runner.invoke(cli, list(args), env={"MONITOR_DATABASE_URL": db_url})


def test_cli_json_and_table(db_url: str, seeded: Seeded) -> None:
    result = invoke(db_url, "search", "كوخافى", "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert [r["id"] for r in records] == [seeded.ids["ar3"]]
    assert records[0]["published_at"] == "2026-11-20T13:00:00Z"
    table = invoke(db_url, "search", "gantz", "--limit", "5")
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split()[:3] == ["id", "rank", "published_at"]
    assert "[GANTZ]" in table.output


def test_cli_csv_round_trips(db_url: str, seeded: Seeded) -> None:
    result = invoke(db_url, "search", "מרוקו OR اسرائيل", "--csv")
    assert result.exit_code == 0, result.output
    raw = result.stdout_bytes
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets then read UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    jsonl = invoke(db_url, "search", "מרוקו OR اسرائيل", "--jsonl")
    records = [json.loads(line) for line in jsonl.output.splitlines()]
    assert len(rows) == len(records) == 6
    for row, record in zip(rows, records, strict=True):
        assert row["title"] == record["title"]
        assert row["snippet"] == record["snippet"]
        assert row["tags"] == ";".join(record["tags"])
        assert float(row["rank"]) == record["rank"]
        assert json.loads(row["evidence"]) == record["evidence"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"وزير الدفاع', "unclosed quote"),
        ("(Gantz OR", "OR at position 8"),
        ("-חמאס", "only excludes"),
        ("NEAR(", "missing ')'"),
        ('"', "unclosed quote"),
    ],
)
def test_cli_bad_query_is_a_clear_message(sqlite_url: str, query: str, message: str) -> None:
    result = invoke(sqlite_url, "search", query)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_articles_search_option_uses_search(db_url: str, seeded: Seeded) -> None:
    result = invoke(db_url, "articles", "--search", "כוכבי", "--jsonl")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["id"] for r in records] == [seeded.ids["he2"]]


# ---------------------------------------------------------------- end to end


def test_crawled_items_are_searchable(tmp_path: Path, feed_server: FeedServer, db_url: str) -> None:
    items = [
        {
            "guid": "a1",
            "link": "https://www.hespress.com/a1.html",
            "title": "كوخافى في الرباط",
            "description": "<p>وصل رئيس الأركان الإسرائيلي إلى المغرب.</p>",
            "pubDate": BASE,
        },
        {
            "guid": "h1",
            "link": "https://www.ynet.co.il/h1",
            "title": "שר הביטחון בְּמָרוֹקוֹ",
            "description": "<p>צה״ל ומרוקו חתמו על הסכם.</p>",
            "pubDate": BASE,
        },
    ]
    feed_server.route("/hespress.xml", Route(body=rss(items[:1], lang="ar")))
    feed_server.route("/ynet.xml", Route(body=rss(items[1:], lang="he")))
    path = tmp_path / "feeds.yaml"
    path.write_text(
        registry(
            feed_server,
            [
                {
                    "id": "hespress-ar",
                    "outlet": "Hespress",
                    "language": "ar",
                    "path": "/hespress.xml",
                },
                {
                    "id": "ynet-he",
                    "outlet": "Ynet",
                    "country": "IL",
                    "language": "he",
                    "path": "/ynet.xml",
                },
            ],
        ),
        encoding="utf-8",
    )
    env = monitor_env(db_url, MONITOR_FEEDS_FILE=str(path))
    for args in (["feeds", "sync"], ["crawl", "--all"]):
        done = run_monitor(args, env)
        assert done.returncode == 0, done.stderr[-3000:]
    for query, title in [
        ("كوخافي اسرائيل", "كوخافى في الرباط"),
        ('מרוקו צה"ל', "שר הביטחון בְּמָרוֹקוֹ"),
    ]:
        done = run_monitor(["search", query, "--jsonl"], env)
        assert done.returncode == 0, done.stderr[-3000:]
        assert [json.loads(line)["title"] for line in done.stdout.splitlines()] == [title]
