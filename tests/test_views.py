"""Analyst views (migration 0002) on SQLite and PostgreSQL, and the README's example queries."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect, text

from db.engine import get_engine, session_factory
from monitor.browse.queries import EXAMPLES, Example
from tests.test_search import Seeded, seed

VIEWS = {
    "v_articles": {
        "article_id",
        "published_at",
        "published_date",
        "published_week",
        "outlet",
        "country",
        "language",
        "title",
        "credit",
        "origin",
        "story_id",
        "story_role",
        "tags",
        "body",
    },
    "v_article_tags": {"article_id", "tag", "score", "evidence", "published_week", "outlet"},
    "v_stories": {
        "story_id",
        "first_seen_at",
        "articles",
        "outlets",
        "countries",
        "spread_hours",
        "original_outlet",
        "original_title",
        "outlet_list",
        "tags",
    },
    "v_story_members": {
        "story_id",
        "article_id",
        "is_original",
        "minutes_after_original",
        "outlet",
        "country",
    },
    "v_tags": {"tag", "label", "articles", "stories"},
    "v_feeds": {"feed", "outlet", "consecutive_errors", "last_success_at"},
    "v_fetches": {"feed", "started_date", "outcome", "items_new"},
}


def test_views_exist_after_migration(db_url: str) -> None:
    inspector = inspect(get_engine(db_url))
    assert set(VIEWS) <= set(inspector.get_view_names())
    for view, columns in VIEWS.items():
        assert columns <= {c["name"] for c in inspector.get_columns(view)}, view


@pytest.fixture
def seeded(db_url: str) -> Seeded:
    with session_factory(get_engine(db_url))() as session:
        return seed(session)


def rows(db_url: str, sql: str, **params: object) -> list[dict[str, object]]:
    with get_engine(db_url).connect() as connection:
        return [dict(r._mapping) for r in connection.execute(text(sql), params)]


def test_article_view_reads_like_a_record(db_url: str, seeded: Seeded) -> None:
    (row,) = rows(db_url, "SELECT * FROM v_articles WHERE article_id = :i", i=seeded.ids["ar1"])
    assert row["outlet"] == "hespress" and row["country"] == "MA" and row["language"] == "ar"
    assert json.loads(str(row["tags"])) == ["defense-cooperation", "morocco-israel"]
    assert str(row["published_date"]) == "2026-11-20"
    assert str(row["published_week"]) == "2026-11-16"  # the Monday
    assert row["story_role"] == "original"
    (untagged,) = rows(
        db_url, "SELECT tags FROM v_articles WHERE article_id = :i", i=seeded.ids["en2"]
    )
    assert json.loads(str(untagged["tags"])) == []


def test_story_views(db_url: str, seeded: Seeded) -> None:
    (story,) = rows(db_url, "SELECT * FROM v_stories WHERE story_id = :s", s=seeded.stories[2])
    assert story["outlet_list"] == "ynet, le360"
    assert story["original_outlet"] == "ynet"
    assert story["countries"] == 2
    assert float(str(story["spread_hours"])) == 2.0
    assert json.loads(str(story["tags"])) == ["defense-cooperation", "morocco-israel"]
    members = rows(
        db_url,
        "SELECT outlet, is_original, minutes_after_original "
        "FROM v_story_members WHERE story_id = :s ORDER BY first_seen_at",
        s=seeded.stories[1],
    )
    assert [
        (m["outlet"], bool(m["is_original"]), m["minutes_after_original"]) for m in members
    ] == [("hespress", True, 0), ("barlamane", False, 120)]


def test_article_tags_view_keeps_evidence(db_url: str, seeded: Seeded) -> None:
    found = rows(
        db_url,
        "SELECT tag, evidence FROM v_article_tags WHERE article_id = :i ORDER BY tag",
        i=seeded.ids["he1"],
    )
    assert [r["tag"] for r in found] == ["defense-cooperation", "morocco-israel"]
    assert json.loads(str(found[0]["evidence"]))["terms"][0]["field"] == "title"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_readme_examples_run_on_both_databases(
    db_url: str, seeded: Seeded, example: Example
) -> None:
    result = rows(db_url, example.sql)
    if example.name == "defence_per_outlet_per_week":
        counts = {(str(r["published_week"]), r["outlet"]): r["articles"] for r in result}
        assert counts[("2026-11-16", "hespress")] == 1
        assert sum(int(str(v)) for v in counts.values()) == 5
    if example.name == "cross_border_stories":
        assert [r["story_id"] for r in result] == [seeded.stories[2]]
    if example.name == "originators":
        assert {r["original_outlet"] for r in result} == {"hespress", "ynet"}
    if example.name == "tag_overview":
        assert (result[0]["tag"], result[0]["articles"]) == ("defense-cooperation", 5)
