"""`monitor search QUERY`: ranked full-text search, variant-insensitive, with snippets."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from db.engine import get_engine, session_factory
from db.queries import ArticleFilter, filtered_ids, records_for
from db.search import SearchExpression, article_texts, search
from monitor.cli import AppContext, pass_app
from monitor.cli.articles import filter_options
from monitor.cli.output import emit, format_options
from monitor.search_query import Node, QueryError, parse, snippet, to_fts5, to_tsquery

SEARCH_COLUMNS = [
    ("id", 6),
    ("rank", 6),
    ("published_at", 20),
    ("outlet", 14),
    ("lang", 4),
    ("title", 40),
    ("snippet", 0),
]


def parse_query(query: str) -> Node:
    """The parsed query, or a usage error that says what is wrong with it."""
    try:
        return parse(query)
    except QueryError as exc:
        raise click.BadParameter(str(exc), param_hint="QUERY") from None


def _snippet(node: Node, texts: tuple[str, str, str]) -> str:
    title, summary, body = texts
    for text in (body, summary, title):  # the first text that shows a hit
        shown = snippet(node, text, require_hit=True)
        if shown:
            return shown
    return snippet(node, body or summary or title)


def search_records(url: str, query: str, flt: ArticleFilter) -> list[dict[str, Any]]:
    """Article records (as `monitor articles`) for the best matches, plus rank and snippet."""
    node = parse_query(query)
    expression = SearchExpression(
        fts5=to_fts5(node), tsquery=to_tsquery(node), tsquery_rank=to_tsquery(node, proclitics=1)
    )
    unfiltered = ArticleFilter(limit=flt.limit)
    with session_factory(get_engine(url))() as session:
        within = None
        if dataclasses.replace(flt, limit=None) != dataclasses.replace(unfiltered, limit=None):
            within = filtered_ids(session, flt)
        hits = search(session, expression, within=within, limit=flt.limit)
        ids = [hit.article_id for hit in hits]
        records = records_for(session, ids)
        texts = article_texts(session, ids)
    ranks = {hit.article_id: hit.rank for hit in hits}
    for record in records:
        record["rank"] = round(ranks[record["id"]], 4)
        record["snippet"] = _snippet(node, texts[record["id"]])
    return records


@click.command("search", context_settings={"ignore_unknown_options": True})
@click.argument("query")
@filter_options
@format_options
@pass_app
def search_command(app: AppContext, query: str, flt: ArticleFilter, output: str) -> None:
    """Full-text search in all four languages, best matches first, with a snippet.

    Spelling variants meet: إسرائيل = اسرائيل, كوخافى = كوخافي, pointed Hebrew =
    unpointed, défense = defense, Gantz = gantz. Arabic and Hebrew words are found with
    their prefixes and suffixes (اسرائيل finds والإسرائيلي, ישראל finds בישראל); Latin
    words match whole words, add * for a prefix (armée*).

    \b
    Query syntax:
      words          all must occur:            Gantz Rabat
      "a phrase"     words next to each other:  "وزير الدفاع"  «forces armées»
      OR, AND, NOT   upper case; ( ) group:     (المغرب OR מרוקו) AND drones
      -word          exclude:                   כוכבי -חמאס
      word*          prefix (Latin words):      défens*

    Records are those of `monitor articles` plus `rank` (higher is better) and `snippet`
    (hits in [brackets]).

    \b
    Examples:
      monitor search 'كوخافي'
      monitor search '"وزير الدفاع" اسرائيل' --since 7d --country MA
      monitor search 'צה"ל מרוקו' --lang he --limit 10
      monitor search 'défense -Algérie' --outlet le360 --csv > defense.csv
      monitor search 'Gantz OR Gallant' --tag defense-cooperation --jsonl
    """
    records = search_records(app.database(), query, flt)
    emit(records, output, SEARCH_COLUMNS)


commands = [search_command]
