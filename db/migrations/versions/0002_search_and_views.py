"""full-text search index and analyst views

SQLite: an FTS5 table over the folded title (`title_key`) and body (`match_text`), with
`articles` as its external content, kept in step by triggers so every writer (the
pipeline, `monitor retag`, an analyst's UPDATE) updates it in the same transaction.
PostgreSQL: a stored generated tsvector column over the same two texts, with a GIN index.

Views with readable column names for analysts (README "SQL for analysts"): v_articles,
v_article_tags, v_stories, v_story_members, v_tags, v_feeds, v_fetches. Same names and
columns on both databases; times are ISO 8601 UTC text on SQLite and timestamptz on
PostgreSQL; `tags` is a JSON array (as text) of tag slugs.

Note for later migrations: SQLite batch mode rebuilds a table it alters; rebuilding
`articles` drops the articles_fts_* triggers, which must then be created again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

VIEWS = (
    "v_fetches",
    "v_feeds",
    "v_tags",
    "v_story_members",
    "v_stories",
    "v_article_tags",
    "v_articles",
)

# ------------------------------------------------------------------ SQLite

SQLITE_SEARCH = [
    # Tokens are already folded (monitor.text.fold): the tokenizer must not fold again.
    """CREATE VIRTUAL TABLE articles_fts USING fts5(
        title_key, match_text,
        content='articles', content_rowid='id',
        tokenize='unicode61 remove_diacritics 0'
    )""",
    """CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title_key, match_text)
        VALUES (new.id, new.title_key, new.match_text);
    END""",
    """CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title_key, match_text)
        VALUES ('delete', old.id, old.title_key, old.match_text);
    END""",
    """CREATE TRIGGER articles_fts_au AFTER UPDATE OF title_key, match_text ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title_key, match_text)
        VALUES ('delete', old.id, old.title_key, old.match_text);
        INSERT INTO articles_fts(rowid, title_key, match_text)
        VALUES (new.id, new.title_key, new.match_text);
    END""",
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
]


def _iso(expr: str) -> str:
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', {expr})"


SQLITE_VIEWS = [
    f"""CREATE VIEW v_articles AS
    SELECT a.id AS article_id,
           {_iso("a.published_at")} AS published_at,
           date(a.published_at) AS published_date,
           date(a.published_at, 'weekday 0', '-6 days') AS published_week,
           strftime('%Y-%m', a.published_at) AS published_month,
           o.slug AS outlet, o.name AS outlet_name, o.country AS country,
           o.is_wire AS outlet_is_wire, f.slug AS feed, a.language AS language,
           a.title AS title, a.url AS url, a.canonical_url AS canonical_url,
           a.author AS author, a.credit AS credit, a.origin AS origin,
           a.story_id AS story_id, a.story_role AS story_role,
           (SELECT json_group_array(slug) FROM (
                SELECT t.slug FROM article_tags x JOIN tags t ON t.id = x.tag_id
                WHERE x.article_id = a.id ORDER BY t.slug)) AS tags,
           {_iso("a.first_seen_at")} AS first_seen_at,
           {_iso("a.updated_at")} AS updated_at,
           a.revision AS revision, a.guid AS guid, a.summary AS summary, a.body AS body
    FROM articles a
    JOIN outlets o ON o.id = a.outlet_id
    JOIN feeds f ON f.id = a.feed_id""",
    f"""CREATE VIEW v_article_tags AS
    SELECT x.article_id AS article_id, t.slug AS tag, t.label AS tag_label,
           x.score AS score, x.taxonomy_version AS taxonomy_version,
           {_iso("x.tagged_at")} AS tagged_at, x.evidence AS evidence,
           {_iso("a.published_at")} AS published_at,
           date(a.published_at) AS published_date,
           date(a.published_at, 'weekday 0', '-6 days') AS published_week,
           o.slug AS outlet, o.country AS country, a.language AS language,
           a.title AS title, a.url AS url, a.story_id AS story_id, a.story_role AS story_role
    FROM article_tags x
    JOIN tags t ON t.id = x.tag_id
    JOIN articles a ON a.id = x.article_id
    JOIN outlets o ON o.id = a.outlet_id""",
    f"""CREATE VIEW v_stories AS
    SELECT s.id AS story_id,
           {_iso("s.first_seen_at")} AS first_seen_at,
           {_iso("s.last_seen_at")} AS last_seen_at,
           date(s.first_seen_at) AS first_date,
           date(s.first_seen_at, 'weekday 0', '-6 days') AS first_week,
           s.member_count AS articles, s.outlet_count AS outlets,
           s.country_count AS countries,
           round((julianday(s.last_seen_at) - julianday(s.first_seen_at)) * 24, 1)
               AS spread_hours,
           s.first_article_id AS original_article_id,
           o.slug AS original_outlet, o.country AS original_country,
           o.is_wire AS original_is_wire, a.language AS language,
           a.title AS original_title, a.url AS original_url,
           a.credit AS original_credit, a.origin AS origin,
           (SELECT group_concat(slug, ', ') FROM (
                SELECT mo.slug AS slug, min(m.first_seen_at) AS seen
                FROM articles m JOIN outlets mo ON mo.id = m.outlet_id
                WHERE m.story_id = s.id GROUP BY mo.slug ORDER BY seen, mo.slug))
               AS outlet_list,
           (SELECT json_group_array(slug) FROM (
                SELECT DISTINCT t.slug AS slug FROM articles m
                JOIN article_tags x ON x.article_id = m.id JOIN tags t ON t.id = x.tag_id
                WHERE m.story_id = s.id ORDER BY t.slug)) AS tags
    FROM stories s
    LEFT JOIN articles a ON a.id = s.first_article_id
    LEFT JOIN outlets o ON o.id = a.outlet_id""",
    f"""CREATE VIEW v_story_members AS
    SELECT m.story_id AS story_id, m.id AS article_id, m.story_role AS story_role,
           (m.id = s.first_article_id) AS is_original,
           {_iso("m.published_at")} AS published_at,
           {_iso("m.first_seen_at")} AS first_seen_at,
           CAST(round((julianday(m.first_seen_at) - julianday(orig.first_seen_at)) * 1440)
                AS INTEGER) AS minutes_after_original,
           o.slug AS outlet, o.name AS outlet_name, o.country AS country,
           o.is_wire AS outlet_is_wire, m.language AS language, m.title AS title,
           m.url AS url, m.credit AS credit, m.origin AS origin
    FROM articles m
    JOIN stories s ON s.id = m.story_id
    JOIN outlets o ON o.id = m.outlet_id
    LEFT JOIN articles orig ON orig.id = s.first_article_id""",
    f"""CREATE VIEW v_tags AS
    SELECT t.slug AS tag, t.label AS label,
           count(x.article_id) AS articles,
           count(DISTINCT a.story_id) AS stories,
           {_iso("max(a.published_at)")} AS last_published_at
    FROM tags t
    LEFT JOIN article_tags x ON x.tag_id = t.id
    LEFT JOIN articles a ON a.id = x.article_id
    GROUP BY t.id, t.slug, t.label""",
    f"""CREATE VIEW v_feeds AS
    SELECT f.slug AS feed, o.slug AS outlet, o.name AS outlet_name, o.country AS country,
           o.is_wire AS outlet_is_wire, f.language AS language, f.url AS url,
           f.enabled AS enabled,
           coalesce(f.adapted_interval_seconds, f.interval_seconds) / 60 AS interval_minutes,
           {_iso("f.last_success_at")} AS last_success_at,
           {_iso("f.last_polled_at")} AS last_polled_at,
           {_iso("f.next_poll_at")} AS next_poll_at,
           f.consecutive_errors AS consecutive_errors, f.last_status AS last_status,
           f.last_outcome AS last_outcome, f.last_error AS last_error
    FROM feeds f JOIN outlets o ON o.id = f.outlet_id""",
    f"""CREATE VIEW v_fetches AS
    SELECT x.id AS fetch_id, f.slug AS feed, o.slug AS outlet,
           {_iso("x.started_at")} AS started_at, date(x.started_at) AS started_date,
           x.outcome AS outcome, x.http_status AS http_status, x.duration_ms AS duration_ms,
           x.conditional AS conditional, x.items_seen AS items_seen,
           x.items_new AS items_new, x.items_updated AS items_updated, x.error AS error
    FROM fetches x
    JOIN feeds f ON f.id = x.feed_id
    JOIN outlets o ON o.id = f.outlet_id""",
]

# ------------------------------------------------------------------ PostgreSQL

PG_SEARCH = [
    # 'simple': no stemming or stop words; the text is already folded by monitor.text.fold.
    # Stored (not an expression index) so ranking reads the vector instead of re-parsing.
    """ALTER TABLE articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(title_key, '')), 'A')
        || setweight(to_tsvector('simple', coalesce(match_text, '')), 'B')
    ) STORED""",
    "CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)",
]

_UTC = "AT TIME ZONE 'UTC'"

PG_VIEWS = [
    f"""CREATE VIEW v_articles AS
    SELECT a.id AS article_id, a.published_at AS published_at,
           (a.published_at {_UTC})::date AS published_date,
           date_trunc('week', a.published_at {_UTC})::date AS published_week,
           to_char(a.published_at {_UTC}, 'YYYY-MM') AS published_month,
           o.slug AS outlet, o.name AS outlet_name, o.country AS country,
           o.is_wire AS outlet_is_wire, f.slug AS feed, a.language AS language,
           a.title AS title, a.url AS url, a.canonical_url AS canonical_url,
           a.author AS author, a.credit AS credit, a.origin AS origin,
           a.story_id AS story_id, a.story_role AS story_role,
           coalesce((SELECT json_agg(t.slug ORDER BY t.slug)
                     FROM article_tags x JOIN tags t ON t.id = x.tag_id
                     WHERE x.article_id = a.id)::text, '[]') AS tags,
           a.first_seen_at AS first_seen_at, a.updated_at AS updated_at,
           a.revision AS revision, a.guid AS guid, a.summary AS summary, a.body AS body
    FROM articles a
    JOIN outlets o ON o.id = a.outlet_id
    JOIN feeds f ON f.id = a.feed_id""",
    f"""CREATE VIEW v_article_tags AS
    SELECT x.article_id AS article_id, t.slug AS tag, t.label AS tag_label,
           x.score AS score, x.taxonomy_version AS taxonomy_version,
           x.tagged_at AS tagged_at, x.evidence::text AS evidence,
           a.published_at AS published_at,
           (a.published_at {_UTC})::date AS published_date,
           date_trunc('week', a.published_at {_UTC})::date AS published_week,
           o.slug AS outlet, o.country AS country, a.language AS language,
           a.title AS title, a.url AS url, a.story_id AS story_id, a.story_role AS story_role
    FROM article_tags x
    JOIN tags t ON t.id = x.tag_id
    JOIN articles a ON a.id = x.article_id
    JOIN outlets o ON o.id = a.outlet_id""",
    f"""CREATE VIEW v_stories AS
    SELECT s.id AS story_id, s.first_seen_at AS first_seen_at,
           s.last_seen_at AS last_seen_at,
           (s.first_seen_at {_UTC})::date AS first_date,
           date_trunc('week', s.first_seen_at {_UTC})::date AS first_week,
           s.member_count AS articles, s.outlet_count AS outlets,
           s.country_count AS countries,
           round((extract(epoch FROM s.last_seen_at - s.first_seen_at) / 3600)::numeric, 1)
               AS spread_hours,
           s.first_article_id AS original_article_id,
           o.slug AS original_outlet, o.country AS original_country,
           o.is_wire AS original_is_wire, a.language AS language,
           a.title AS original_title, a.url AS original_url,
           a.credit AS original_credit, a.origin AS origin,
           (SELECT string_agg(slug, ', ' ORDER BY seen, slug) FROM (
                SELECT mo.slug AS slug, min(m.first_seen_at) AS seen
                FROM articles m JOIN outlets mo ON mo.id = m.outlet_id
                WHERE m.story_id = s.id GROUP BY mo.slug) AS member_outlets)
               AS outlet_list,
           coalesce((SELECT json_agg(DISTINCT t.slug ORDER BY t.slug) FROM articles m
                     JOIN article_tags x ON x.article_id = m.id
                     JOIN tags t ON t.id = x.tag_id
                     WHERE m.story_id = s.id)::text, '[]') AS tags
    FROM stories s
    LEFT JOIN articles a ON a.id = s.first_article_id
    LEFT JOIN outlets o ON o.id = a.outlet_id""",
    """CREATE VIEW v_story_members AS
    SELECT m.story_id AS story_id, m.id AS article_id, m.story_role AS story_role,
           (m.id = s.first_article_id) AS is_original,
           m.published_at AS published_at, m.first_seen_at AS first_seen_at,
           round(extract(epoch FROM m.first_seen_at - orig.first_seen_at) / 60)::integer
               AS minutes_after_original,
           o.slug AS outlet, o.name AS outlet_name, o.country AS country,
           o.is_wire AS outlet_is_wire, m.language AS language, m.title AS title,
           m.url AS url, m.credit AS credit, m.origin AS origin
    FROM articles m
    JOIN stories s ON s.id = m.story_id
    JOIN outlets o ON o.id = m.outlet_id
    LEFT JOIN articles orig ON orig.id = s.first_article_id""",
    """CREATE VIEW v_tags AS
    SELECT t.slug AS tag, t.label AS label,
           count(x.article_id) AS articles,
           count(DISTINCT a.story_id) AS stories,
           max(a.published_at) AS last_published_at
    FROM tags t
    LEFT JOIN article_tags x ON x.tag_id = t.id
    LEFT JOIN articles a ON a.id = x.article_id
    GROUP BY t.id, t.slug, t.label""",
    """CREATE VIEW v_feeds AS
    SELECT f.slug AS feed, o.slug AS outlet, o.name AS outlet_name, o.country AS country,
           o.is_wire AS outlet_is_wire, f.language AS language, f.url AS url,
           f.enabled AS enabled,
           coalesce(f.adapted_interval_seconds, f.interval_seconds) / 60 AS interval_minutes,
           f.last_success_at AS last_success_at, f.last_polled_at AS last_polled_at,
           f.next_poll_at AS next_poll_at,
           f.consecutive_errors AS consecutive_errors, f.last_status AS last_status,
           f.last_outcome AS last_outcome, f.last_error AS last_error
    FROM feeds f JOIN outlets o ON o.id = f.outlet_id""",
    f"""CREATE VIEW v_fetches AS
    SELECT x.id AS fetch_id, f.slug AS feed, o.slug AS outlet,
           x.started_at AS started_at, (x.started_at {_UTC})::date AS started_date,
           x.outcome AS outcome, x.http_status AS http_status, x.duration_ms AS duration_ms,
           x.conditional AS conditional, x.items_seen AS items_seen,
           x.items_new AS items_new, x.items_updated AS items_updated, x.error AS error
    FROM fetches x
    JOIN feeds f ON f.id = x.feed_id
    JOIN outlets o ON o.id = f.outlet_id""",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in (SQLITE_SEARCH + SQLITE_VIEWS) if sqlite else (PG_SEARCH + PG_VIEWS):
        op.execute(statement)


def downgrade() -> None:
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("articles_fts_ai", "articles_fts_ad", "articles_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS articles_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_articles_search_vector")
        op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search_vector")
