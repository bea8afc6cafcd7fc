"""Datasette plugin: our query language in the search box, snippets, links, RTL styling.

Datasette's own search (`?_search=` on a table with `fts_table` metadata) matches
`escape_fts(:search)`; this plugin registers its own `escape_fts` on every connection,
after Datasette's, so the box speaks the analysts' query language (monitor.search_query)
over the folded FTS5 index. The user's text stays a bound parameter throughout.
"""

from __future__ import annotations

import html
import re
import sqlite3
from typing import Any

from datasette import hookimpl
from datasette.filters import FilterArguments
from markupsafe import Markup

from monitor.browse.metadata import DATABASE
from monitor.search_query import Node, QueryError, parse, snippet, to_fts5

CSS_URL = "/monitor-static/monitor.css"
NO_MATCH = '""'  # an FTS5 expression that matches nothing
_MARKED = re.compile(r"\[([^\[\]]+)\]")


def _parsed(query: str | None) -> Node | None:
    try:
        return parse(query or "")
    except QueryError:
        return None


def fts_expression(query: str | None) -> str:
    """FTS5 MATCH text for a query; a bad query matches nothing (its error is shown apart)."""
    node = _parsed(query)
    return NO_MATCH if node is None else to_fts5(node)


def query_error(query: str | None) -> str | None:
    try:
        parse(query or "")
    except QueryError as exc:
        return f"⚠ search query: {exc}"
    return None


def snippet_of(query: str | None, title: str | None, summary: str | None, body: str | None) -> str:
    node = _parsed(query)
    texts = [t for t in (body, summary, title) if t]
    if node is None or not texts:
        return ""
    for text in texts:
        shown = snippet(node, text, require_hit=True)
        if shown:
            return shown
    return snippet(node, texts[0])


def prepare_connection(conn: sqlite3.Connection, database: str, datasette: Any) -> None:
    conn.create_function("escape_fts", 1, fts_expression, deterministic=True)
    conn.create_function("monitor_fts", 1, fts_expression, deterministic=True)
    conn.create_function("monitor_query_error", 1, query_error, deterministic=True)
    conn.create_function("monitor_snippet", 4, snippet_of, deterministic=True)


def filters_from_request(request: Any, database: str, table: str, datasette: Any) -> Any:
    """Say why a search box query cannot run (it then matches nothing)."""
    search = request.args.get("_search")
    message = query_error(search) if search is not None else None
    if message is None:
        return None
    return FilterArguments([], human_descriptions=[message])


def render_cell(value: Any, column: str, table: str | None, database: str) -> Any:
    if database != DATABASE or value is None:
        return None
    if column in {"story_id"} and isinstance(value, int):
        return Markup(f'<a href="/{DATABASE}/story?story_id={value}">{value}</a>')
    if column in {"article_id", "original_article_id"} and isinstance(value, int):
        href = f"/{DATABASE}/v_articles?article_id={value}"
        return Markup(f'<a href="{html.escape(href)}">{value}</a>')
    if column == "snippet" and isinstance(value, str):
        return Markup(_MARKED.sub(r"<mark>\1</mark>", html.escape(value, quote=False)))
    return None


def extra_css_urls() -> list[str]:
    return [CSS_URL]


# Registered without decorator syntax: datasette is untyped and mypy --strict would
# otherwise refuse the decorated functions.
hookimpl(trylast=True)(prepare_connection)
hookimpl(filters_from_request)
hookimpl(render_cell)
hookimpl(extra_css_urls)
