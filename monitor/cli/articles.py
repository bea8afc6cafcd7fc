"""`monitor articles`: query stored articles with filters, as a table, JSON, JSONL or CSV."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import click

from db.engine import get_engine, session_factory
from db.queries import ArticleFilter, article_records
from monitor.cli import AppContext, pass_app
from monitor.cli.output import When, emit, format_options

ARTICLE_COLUMNS = [
    ("id", 6),
    ("published_at", 20),
    ("outlet", 16),
    ("lang", 4),
    ("story_id", 6),
    ("tags", 24),
    ("title", 0),
]


FILTER_PARAMS = ("since", "until", "tags", "outlets", "countries", "languages", "feeds", "limit")


def filter_options(func: Callable[..., None]) -> Callable[..., None]:
    """The filters shared by `articles` and `search`, handed to the command as one
    `flt: ArticleFilter` argument."""

    @functools.wraps(func)
    def with_filter(*args: Any, **kwargs: Any) -> None:
        values = {name: kwargs.pop(name) for name in FILTER_PARAMS}
        values["limit"] = values["limit"] or None  # 0: no limit
        func(*args, flt=ArticleFilter(**values), **kwargs)

    options = [
        click.option("--since", type=When(), help="Published at or after (2026-11-30, 24h, 7d)."),
        click.option("--until", type=When(), help="Published before."),
        click.option("--tag", "tags", multiple=True, help="Has this tag (repeatable: all)."),
        click.option("--outlet", "outlets", multiple=True, help="Outlet slug or name."),
        click.option("--country", "countries", multiple=True, help="MA, IL, ..."),
        click.option("--lang", "languages", multiple=True, help="ar, fr, he or en."),
        click.option("--feed", "feeds", multiple=True, help="Seen in this feed id."),
        click.option(
            "--limit",
            default=50,
            show_default=True,
            type=click.IntRange(min=0),
            help="At most N records (0: no limit).",
        ),
    ]
    command: Callable[..., None] = with_filter
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@filter_options
@click.option("--story", "story_id", type=int, help="Members of this story.")
@click.option("--search", "query", help="Full-text query (as `monitor search`).")
@format_options
@pass_app
def articles(
    app: AppContext, flt: ArticleFilter, story_id: int | None, query: str | None, output: str
) -> None:
    """Stored articles, newest first.

    Records carry id, outlet, feed, feeds, country, lang, guid, url, canonical_url, title,
    published_at, first_seen_at, story_id, story_role, credit, origin, tags and evidence;
    times are ISO 8601 UTC.

    \b
    Examples:
      monitor articles --since 24h
      monitor articles --outlet hespress --lang ar --limit 10
      monitor articles --tag defense-cooperation --since 2026-11-01 --csv > defence.csv
      monitor articles --story 42 --json
      monitor articles --search 'كوخافي' --jsonl
    """
    flt = dataclasses.replace(flt, story_id=story_id)
    url = app.database()
    if query is not None:
        from monitor.cli.search import search_records

        records = search_records(url, query, flt)
    else:
        with session_factory(get_engine(url))() as session:
            records = article_records(session, flt)
    emit(records, output, ARTICLE_COLUMNS)


commands = [articles]
