"""Tags in the database: db/tags.py, the crawl's tag stage, `monitor articles --tag` and
`monitor retag`, on SQLite and PostgreSQL (the `db_url` fixture), against a real feed server."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.engine import get_engine, session_factory
from db.models import Article, ArticleTag, Feed, Outlet, Tag
from db.queries import ArticleFilter, article_records
from db.tags import TagRow, ensure_tags, replace_article_tags
from monitor.pipelines.tag import retag
from monitor.tagging import DEFAULT_TOPICS, load_rules
from tests.feedserver import FeedServer, Route
from tests.helpers import monitor_env, registry, rss, run_monitor

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

# ------------------------------------------------------------------ db/tags.py


def _article(session: Session) -> int:
    outlet = Outlet(slug="hespress", name="Hespress", country="MA", is_wire=False)
    session.add(outlet)
    session.flush()
    feed = Feed(
        slug="hespress-ar",
        outlet_id=outlet.id,
        url="http://127.0.0.1:9/feed",
        language="ar",
        interval_seconds=900,
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(feed)
    session.flush()
    article = Article(
        outlet_id=outlet.id,
        feed_id=feed.id,
        guid="g1",
        url="https://hespress.example/1",
        canonical_url="https://hespress.example/1",
        title="t",
        published_at=NOW,
        first_seen_at=NOW,
        updated_at=NOW,
        content_hash="0" * 64,
    )
    session.add(article)
    session.flush()
    return article.id


def _stored(session: Session, article_id: int) -> dict[str, tuple[float, Any, str, datetime]]:
    rows = session.execute(
        select(
            Tag.slug,
            ArticleTag.score,
            ArticleTag.evidence,
            ArticleTag.taxonomy_version,
            ArticleTag.tagged_at,
        )
        .join(Tag, Tag.id == ArticleTag.tag_id)
        .where(ArticleTag.article_id == article_id)
    )
    return {slug: (score, evidence, version, at) for slug, score, evidence, version, at in rows}


def test_ensure_tags_is_idempotent_and_keeps_labels_current(db_url: str) -> None:
    sessions = session_factory(get_engine(db_url))
    with sessions.begin() as session:
        first = ensure_tags(session, {"arms-deal": "Arms deal", "morocco-israel": "MA–IL"})
    with sessions.begin() as session:
        again = ensure_tags(session, {"arms-deal": "Arms deals", "morocco-israel": "MA–IL"})
    assert first == again
    with sessions() as session:
        labels = dict(session.execute(select(Tag.slug, Tag.label)).all())
    assert labels == {"arms-deal": "Arms deals", "morocco-israel": "MA–IL"}


def test_replace_article_tags_adds_removes_changes_and_keeps(db_url: str) -> None:
    sessions = session_factory(get_engine(db_url))
    evidence = {
        "via": [],
        "matches": [
            {
                "rule": "@il-defense",
                "field": "title",
                "positions": [0, 7],
                "text": "كوخافي",
                "points": 4.0,
            },
            {"rule": "ביקור", "field": "body", "positions": [3], "text": "ביקור", "points": 1.0},
        ],
    }
    visit = TagRow("military-visit", 12.0, evidence, "v1")
    pair = TagRow("morocco-israel", 11.0, {"via": [], "matches": []}, "v1")
    t0, t1, t2 = NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    with sessions.begin() as session:
        ids = ensure_tags(session, {"military-visit": "Visit", "morocco-israel": "Pair"})
        article_id = _article(session)
        change = replace_article_tags(session, article_id, [visit, pair], ids, tagged_at=t0)
    assert change.added == ("military-visit", "morocco-israel")
    assert change.removed == change.changed == change.unchanged == ()
    with sessions.begin() as session:
        # same tags, same evidence, new rules version: kept, version refreshed, time kept
        bumped = [TagRow(visit.slug, visit.score, visit.evidence, "v2"), pair]
        change = replace_article_tags(session, article_id, bumped, ids, tagged_at=t1)
        assert change.unchanged == ("military-visit", "morocco-israel")
        stored = _stored(session, article_id)
    assert stored["military-visit"][1] == evidence  # Arabic and Hebrew text round-trip
    assert stored["military-visit"][2] == "v2"
    assert stored["military-visit"][3] == t0
    assert stored["morocco-israel"][2] == "v1"
    with sessions.begin() as session:
        # the score moves and the pair tag is no longer given
        change = replace_article_tags(
            session,
            article_id,
            [TagRow("military-visit", 9.0, evidence, "v2")],
            ids,
            tagged_at=t2,
        )
        assert (change.added, change.removed, change.changed) == (
            (),
            ("morocco-israel",),
            ("military-visit",),
        )
        stored = _stored(session, article_id)
    assert set(stored) == {"military-visit"}
    assert stored["military-visit"][0] == 9.0
    assert stored["military-visit"][3] == t2


# ------------------------------------------------------------------ the crawl and the CLI


DEFENCE = {
    "guid": "kochavi",
    "link": "https://www.hespress.com/kochavi.html",
    "title": "رئيس أركان الجيش الإسرائيلي كوخافي يحل بالرباط في أول زيارة رسمية للمغرب",
    "description": "<p>حل الجنرال أفيف كوخافي بالمغرب في زيارة رسمية يلتقي خلالها الوزير المنتدب "
    "عبد اللطيف لوديي والمفتش العام للقوات المسلحة الملكية لبحث التعاون العسكري بين البلدين.</p>",
    "pubDate": NOW - timedelta(hours=2),
}
TOURISM = {
    "guid": "tourisme",
    "link": "https://www.hespress.com/tourisme.html",
    "title": "ارتفاع قياسي لعدد السياح الإسرائيليين الوافدين على المغرب",
    "description": "<p>سجل المغرب ارتفاعا قياسيا في عدد السياح الإسرائيليين، وتصدرت مراكش "
    "وفاس قائمة الوجهات المفضلة لديهم.</p>",
    "pubDate": NOW - timedelta(hours=3),
}
GAZA = {
    "guid": "gaza",
    "link": "https://www.hespress.com/gaza.html",
    "title": "غارات إسرائيلية على قطاع غزة",
    "description": "<p>شن الجيش الإسرائيلي غارات ليلية على مناطق متفرقة من قطاع غزة.</p>",
    "pubDate": NOW - timedelta(hours=4),
}


def _env(tmp_path: Path, server: FeedServer, db_url: str, **extra: str) -> dict[str, str]:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        registry(
            server,
            [{"id": "hespress-ar", "outlet": "Hespress", "path": "/f.xml", "language": "ar"}],
        ),
        encoding="utf-8",
    )
    env = monitor_env(db_url, MONITOR_FEEDS_FILE=str(path), **extra)
    done = run_monitor(["feeds", "sync"], env)
    assert done.returncode == 0, done.stderr
    return env


def _ok(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = run_monitor(list(args), env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _by_guid(env: dict[str, str], *args: str) -> dict[str, dict[str, Any]]:
    """`monitor articles --json ARGS`, by guid (the analysts' path, in a child process)."""
    records = json.loads(_ok(env, "articles", "--json", *args).stdout)
    return {record["guid"]: record for record in records}


def _tagged(db_url: str, *tags: str) -> dict[str, dict[str, Any]]:
    """The same records read in-process (a child process per check would be slow)."""
    with session_factory(get_engine(db_url))() as session:
        records = article_records(session, ArticleFilter(tags=tags, limit=None))
    return {record["guid"]: record for record in records}


def _rules_copy(tmp_path: Path, version: str, edit: tuple[str, str] | None = None) -> Path:
    text = DEFAULT_TOPICS.read_text(encoding="utf-8")
    text = text.replace('version: "', f'version: "{version}-was-', 1)
    if edit:
        assert edit[0] in text
        text = text.replace(*edit)
    path = tmp_path / f"topics-{version}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_crawl_tags_articles_and_retag_applies_edited_rules(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    feed_server.route("/f.xml", Route(body=rss([DEFENCE, TOURISM, GAZA], lang="ar")))
    env = _env(tmp_path, feed_server, db_url)
    _ok(env, "crawl", "--all")

    defence = _by_guid(env, "--tag", "defense-cooperation")
    assert list(defence) == ["kochavi"]
    record = defence["kochavi"]
    assert {"defense-cooperation", "military-visit", "morocco-israel"} <= set(record["tags"])
    visit = record["evidence"]["military-visit"]
    assert visit["version"] and visit["score"] >= 10
    assert any(m["field"] == "title" and m["positions"] for m in visit["matches"])
    assert record["evidence"]["defense-cooperation"]["via"] == ["military-visit"]
    assert set(_tagged(db_url, "morocco-israel")) == {"kochavi", "tourisme"}
    assert _tagged(db_url, "arms-deal") == {}
    assert _tagged(db_url)["gaza"]["tags"] == []

    # An edit that turns the visit into a trade story is re-tagged by the crawl.
    edited = dict(
        DEFENCE,
        title="ارتفاع المبادلات التجارية بين المغرب وإسرائيل",
        description="<p>ارتفعت المبادلات التجارية بين المغرب وإسرائيل خلال السنة "
        "الماضية بفضل صادرات المعدات الفلاحية.</p>",
    )
    feed_server.route("/f.xml", Route(body=rss([edited, TOURISM, GAZA], lang="ar")))
    assert "1 updated" in _ok(env, "crawl", "--all").stdout
    assert _tagged(db_url, "defense-cooperation") == {}
    assert set(_tagged(db_url, "morocco-israel")) == {"kochavi", "tourisme"}

    # Edited rules: the pair tag now needs far more; retag reports what it removed.
    rules = _rules_copy(
        tmp_path,
        "edited",
        ("threshold: 10\n    all:\n      - &ma-any", "threshold: 1000\n    all:\n      - &ma-any"),
    )
    env_edited = dict(env, MONITOR_TOPICS_FILE=str(rules))
    report = json.loads(_ok(env_edited, "retag", "--json").stdout)
    assert report["articles"] == 3
    assert report["removed"] == {"morocco-israel": 2}
    assert report["added"] == {} and report["version"].startswith("edited-was-")
    assert _tagged(db_url, "morocco-israel") == {}
    # Nothing left to change: a second run changes nothing; --since in the future sees nothing.
    sessions = session_factory(get_engine(db_url))
    again = retag(sessions, load_rules(rules))
    assert (again.articles, again.added, again.removed, again.changed) == (3, {}, {}, {})
    assert retag(sessions, load_rules(rules), since=NOW + timedelta(days=365)).articles == 0
    # Back to the shipped rules: the table report names the tags it added back.
    table = _ok(env, "retag").stdout
    assert "re-tagged 3 articles" in table and "2 tags added" in table
    assert "morocco-israel" in table


def test_broken_rules_leave_articles_untagged_until_fixed(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    feed_server.route("/f.xml", Route(body=rss([DEFENCE, GAZA], lang="ar")))
    broken = _rules_copy(tmp_path, "broken", ("      '@weapons': 2\n", "      '@weapons': lots\n"))
    env = _env(tmp_path, feed_server, db_url, MONITOR_TOPICS_FILE=str(broken))
    _ok(env, "crawl", "--all")  # the crawl goes on: articles are kept, untagged
    stored = _tagged(db_url)
    assert set(stored) == {"kochavi", "gaza"}
    assert all(record["tags"] == [] for record in stored.values())

    failed = run_monitor(["retag"], env)
    assert failed.returncode == 1
    assert "tag 'arms-deal'" in failed.stderr and "must be a number, got 'lots'" in failed.stderr
    assert "line " in failed.stderr and "Traceback" not in failed.stderr
    fixed = dict(env)
    del fixed["MONITOR_TOPICS_FILE"]
    assert "OK" in _ok(fixed, "retag", "--check").stdout
    report = json.loads(_ok(fixed, "retag", "--json").stdout)
    assert report["added"]["defense-cooperation"] == 1
    assert report["added"]["military-visit"] == 1
    assert set(_tagged(db_url, "military-visit")) == {"kochavi"}
