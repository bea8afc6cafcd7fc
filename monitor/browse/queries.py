"""Example SQL over the analyst views: portable (SQLite and PostgreSQL), tested on both.

The same queries appear in the README ("SQL for analysts") and as canned queries in
`monitor browse`. Dates are literals so each runs unchanged on either database.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    name: str  # canned query slug in the web view
    title: str
    sql: str


EXAMPLES = (
    Example(
        "defence_per_outlet_per_week",
        "Defence-cooperation articles per outlet per week",
        """SELECT published_week, outlet, count(*) AS articles
FROM v_article_tags
WHERE tag = 'defense-cooperation'
GROUP BY published_week, outlet
ORDER BY published_week DESC, articles DESC""",
    ),
    Example(
        "who_reposts_map_first",
        "Who reposts MAP dispatches first (minutes after the story's first appearance)",
        """SELECT outlet, count(*) AS map_reposts,
       round(avg(minutes_after_original), 0) AS avg_minutes_after_first,
       min(minutes_after_original) AS fastest_minutes
FROM v_story_members
WHERE origin = 'map' AND NOT is_original
GROUP BY outlet
ORDER BY avg_minutes_after_first""",
    ),
    Example(
        "widest_stories",
        "Stories carried by the most outlets since a date",
        """SELECT story_id, first_date, outlets, countries, outlet_list,
       original_outlet, original_title
FROM v_stories
WHERE first_date >= '2026-11-01'
ORDER BY outlets DESC, first_date DESC
LIMIT 20""",
    ),
    Example(
        "cross_border_stories",
        "Stories carried in both Morocco and Israel",
        """SELECT story_id, first_seen_at, outlet_list, tags, original_title
FROM v_stories
WHERE countries >= 2
ORDER BY first_seen_at DESC""",
    ),
    Example(
        "fastest_spreading",
        "Fastest-spreading stories (three outlets or more)",
        """SELECT story_id, outlets, spread_hours, original_outlet, original_title
FROM v_stories
WHERE outlets >= 3
ORDER BY spread_hours, outlets DESC""",
    ),
    Example(
        "originators",
        "Which outlets publish first, and how often others pick them up",
        """SELECT original_outlet, count(*) AS stories_first, sum(outlets - 1) AS pickups
FROM v_stories
WHERE outlets > 1
GROUP BY original_outlet
ORDER BY stories_first DESC""",
    ),
    Example(
        "wire_share",
        "Share of each outlet's articles credited to a news agency",
        """SELECT outlet, count(*) AS articles,
       sum(CASE WHEN origin IS NOT NULL THEN 1 ELSE 0 END) AS credited,
       round(100.0 * sum(CASE WHEN origin IS NOT NULL THEN 1 ELSE 0 END) / count(*), 1)
           AS credited_pct
FROM v_articles
GROUP BY outlet
ORDER BY credited_pct DESC""",
    ),
    Example(
        "latest_tagged",
        "Latest tagged articles with the evidence behind each tag",
        """SELECT published_at, outlet, language, tag, score, title, evidence
FROM v_article_tags
ORDER BY published_at DESC, article_id DESC
LIMIT 50""",
    ),
    Example(
        "tags_by_language",
        "Tagged articles per tag and language",
        """SELECT tag, language, count(*) AS articles
FROM v_article_tags
GROUP BY tag, language
ORDER BY tag, articles DESC""",
    ),
    Example(
        "articles_per_day",
        "Articles per day and language",
        """SELECT published_date, language, count(*) AS articles
FROM v_articles
GROUP BY published_date, language
ORDER BY published_date DESC, articles DESC""",
    ),
    Example(
        "failing_feeds",
        "Feeds failing now, worst first",
        """SELECT feed, outlet, consecutive_errors, last_outcome, last_status, last_error,
       last_success_at
FROM v_feeds
WHERE consecutive_errors > 0
ORDER BY consecutive_errors DESC""",
    ),
    Example(
        "fetch_outcomes_per_day",
        "Fetch outcomes per day",
        """SELECT started_date, outcome, count(*) AS fetches, sum(items_new) AS new_items
FROM v_fetches
GROUP BY started_date, outcome
ORDER BY started_date DESC, fetches DESC""",
    ),
    Example(
        "tag_overview",
        "Tags with article and story counts",
        """SELECT tag, label, articles, stories, last_published_at
FROM v_tags
ORDER BY articles DESC""",
    ),
)

# SQLite only (the web view): ranked search with our query language and snippets. The
# monitor_* functions come from monitor.browse.plugin. A bad query yields one row whose
# title says what is wrong, instead of an opaque SQL error.
SEARCH_SQL = """SELECT article_id, rank, published_at, outlet, country, language, title,
       snippet, tags, story_id, url
FROM (
  SELECT a.article_id AS article_id,
         round(-bm25(articles_fts, 3.0, 1.0), 3) AS rank,
         a.published_at AS published_at, a.outlet AS outlet, a.country AS country,
         a.language AS language, a.title AS title,
         monitor_snippet(:q, a.title, a.summary, a.body) AS snippet,
         a.tags AS tags, a.story_id AS story_id, a.url AS url
  FROM articles_fts JOIN v_articles a ON a.article_id = articles_fts.rowid
  WHERE articles_fts MATCH monitor_fts(:q)
    AND (:outlet = '' OR a.outlet = lower(:outlet))
    AND (:country = '' OR a.country = upper(:country))
    AND (:language = '' OR a.language = lower(:language))
    AND (:tag = '' OR EXISTS (SELECT 1 FROM v_article_tags t
                             WHERE t.article_id = a.article_id AND t.tag = :tag))
    AND (:since = '' OR a.published_date >= :since)
  ORDER BY bm25(articles_fts, 3.0, 1.0)
  LIMIT 200
)
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, monitor_query_error(:q), NULL, NULL, NULL, NULL
WHERE monitor_query_error(:q) IS NOT NULL"""

STORY_SQL = """SELECT is_original, outlet, country, published_at, first_seen_at,
       minutes_after_original, language, title, credit, origin, url, article_id
FROM v_story_members
WHERE story_id = :story_id
ORDER BY first_seen_at, article_id"""
