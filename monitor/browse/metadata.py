"""Datasette metadata for the monitor database: descriptions, facets, canned queries."""

from __future__ import annotations

from typing import Any

from monitor.browse.queries import EXAMPLES, SEARCH_SQL, STORY_SQL

DATABASE = "monitor"  # the name (and URL path) the web view gives the database

_HOME = """
<form action="/monitor/v_articles" method="get" style="margin:1em 0">
  <label for="home-search"><strong>Search articles</strong> (Arabic, Hebrew, French,
  English; spelling variants folded):</label><br>
  <input id="home-search" type="search" name="_search" size="50"
    placeholder='كوخافي · צה"ל · "forces armées" · Gantz -Hamas'>
  <input type="submit" value="Search">
</form>
<p>Browse <a href="/monitor/v_articles">articles</a>, <a href="/monitor/v_stories">stories</a>
(each syndicated text once, with every outlet that carried it) and
<a href="/monitor/v_article_tags">tags with their evidence</a>;
<a href="/monitor/search">ranked search with snippets</a>.
Query syntax: words (all must occur), "a phrase", OR, NOT or -word, ( ), word*.
Every page has CSV and JSON links. Read-only.</p>
"""

_ARTICLE_COLUMNS = {
    "article_id": "Article id (as in `monitor articles`)",
    "published_at": "Publication time, UTC",
    "published_week": "Monday of the publication week (UTC)",
    "outlet": "Outlet slug",
    "country": "Outlet country (MA, IL, ...)",
    "language": "Detected language: ar, he, fr or en",
    "credit": "Credit line as published (و.م.ع, (MAP), AFP, ...)",
    "origin": "Wire agency or source the credit names (map, afp, compilation, ...)",
    "story_id": "Syndication cluster; open the story to see every outlet that carried it",
    "story_role": "original (earliest member of its story) or copy",
    "tags": "Tag slugs (JSON array)",
}


def _table(description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, **extra}


def metadata() -> dict[str, Any]:
    """The metadata dict handed to Datasette."""
    queries: dict[str, Any] = {
        "search": {
            "title": "Ranked search with snippets",
            "description": (
                "Best matches first, hits in [brackets]. q is required; leave the other "
                "fields empty to ignore them. since is a date (2026-11-01)."
            ),
            "sql": SEARCH_SQL,
            "hide_sql": True,
        },
        "story": {
            "title": "Story: every outlet that carried it",
            "description": "Members of one story, original first, with the delay of each copy.",
            "sql": STORY_SQL,
            "hide_sql": True,
        },
    }
    for example in EXAMPLES:
        queries[example.name] = {"title": example.title, "sql": example.sql}
    hidden = {
        name: {"hidden": True}
        for name in (
            "alembic_version",
            "dedupe_buckets",
            "daemon_state",
            "article_aliases",
            "digests",
            "fetches",
            "article_feeds",
        )
    }
    return {
        "title": "Media monitor",
        "description_html": _HOME,
        "databases": {
            DATABASE: {
                "description_html": _HOME,
                "tables": {
                    **hidden,
                    "v_articles": _table(
                        "Articles, newest first. Search box: our query language.",
                        fts_table="articles_fts",
                        fts_pk="article_id",
                        facets=[
                            "outlet",
                            "country",
                            "language",
                            {"array": "tags"},
                            {"date": "published_at"},
                        ],
                        sort_desc="published_at",
                        label_column="title",
                        columns=_ARTICLE_COLUMNS,
                    ),
                    "v_stories": _table(
                        "Syndication clusters: one row per text, with the original and "
                        "how many outlets carried it. Click a story id for its members.",
                        facets=[
                            "original_outlet",
                            "original_country",
                            "language",
                            {"array": "tags"},
                            {"date": "first_seen_at"},
                        ],
                        sort_desc="first_seen_at",
                    ),
                    "v_story_members": _table(
                        "Every article of every story, with minutes after the original.",
                        facets=["outlet", "country", "origin"],
                        sort_desc="first_seen_at",
                    ),
                    "v_article_tags": _table(
                        "One row per article and tag, with score and evidence.",
                        facets=["tag", "outlet", "country", "language", {"date": "published_at"}],
                        sort_desc="published_at",
                    ),
                    "v_tags": _table("Tags with article and story counts."),
                    "v_feeds": _table("Feeds and their health.", facets=["outlet", "country"]),
                    "v_fetches": _table(
                        "Every fetch attempt.",
                        facets=["outcome", "feed"],
                        sort_desc="started_at",
                    ),
                },
                "queries": queries,
            }
        },
    }
