"""`monitor stories` (syndication clusters with their members) and `monitor recluster`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from db.engine import get_engine, session_factory
from db.stories import StoryFilter, story_records
from monitor.cli import AppContext, pass_app
from monitor.cli.output import When, emit, format_options

# CSV: one row per member, the story's figures repeated, so a spreadsheet can pivot on them.
MEMBER_COLUMNS = [
    ("story_id", 6),
    ("outlet_count", 3),
    ("member_count", 3),
    ("spread_minutes", 6),
    ("role", 8),
    ("outlet", 16),
    ("country", 2),
    ("lang", 4),
    ("published_at", 20),
    ("minutes_after_original", 6),
    ("credit", 16),
    ("origin", 10),
    ("url", 0),
    ("title", 0),
]


def _spread(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes}m"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{rest:02d}m"
    return f"{hours // 24}d{hours % 24:02d}h"


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%MZ")


def _table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "no stories\n"
    lines: list[str] = []
    for story in records:
        tags = f"  [{', '.join(story['tags'])}]" if story["tags"] else ""
        origin = f"  origin {story['origin']}" if story["origin"] else ""
        lines.append(
            f"story {story['story_id']}  {story['outlet_count']} outlets "
            f"({'/'.join(story['countries'])}), {story['member_count']} articles, "
            f"spread {_spread(story['spread_minutes'])}{origin}{tags}"
        )
        lines.append(f"  {' '.join(story['title'].split())}")
        for m in story["members"]:
            when = (
                _when(m["published_at"])
                if m["role"] == "original"
                else f"+{_spread(m['minutes_after_original'])}"
            )
            credit = " ".join((m["credit"] or "").split())
            lines.append(
                f"    {m['role'] or '':<8} {when:<17} {m['outlet']:<18} {credit[:30]:<30} "
                f"{m['url'] or ''}"
            )
        lines.append("")
    return "\n".join(lines)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _nested_times(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Member times as ISO 8601 UTC too (the emitter converts top-level values only)."""
    return [
        {
            **story,
            "members": [{**m, "published_at": _iso(m["published_at"])} for m in story["members"]],
        }
        for story in records
    ]


def _member_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for story in records:
        for m in story["members"]:
            rows.append(
                {
                    "story_id": story["story_id"],
                    "outlet_count": story["outlet_count"],
                    "member_count": story["member_count"],
                    "spread_minutes": story["spread_minutes"],
                    **{k: v for k, v in m.items() if k != "outlet_name"},
                }
            )
    return rows


@click.command()
@click.option("--since", type=When(), help="Original published at or after (2026-11-30, 7d).")
@click.option("--until", type=When(), help="Original published before.")
@click.option("--tag", "tags", multiple=True, help="Some member has this tag (repeatable: all).")
@click.option("--country", "countries", multiple=True, help="Carried in this country (MA, IL).")
@click.option("--outlet", "outlets", multiple=True, help="Carried by this outlet (slug or name).")
@click.option(
    "--min-outlets",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Carried by at least N outlets (1 lists single articles too).",
)
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(min=0),
    help="At most N stories (0: no limit).",
)
@format_options
@pass_app
def stories(
    app: AppContext,
    since: datetime | None,
    until: datetime | None,
    tags: tuple[str, ...],
    countries: tuple[str, ...],
    outlets: tuple[str, ...],
    min_outlets: int,
    limit: int,
    output: str,
) -> None:
    """Syndication clusters: one text carried by several outlets, newest first.

    Each story lists its members, the original (earliest) first: outlet, time, credit line
    and URL; and its spread: how many outlets carried it and how long it took from the
    original to the last copy. --json/--jsonl give one record per story with a `members`
    list; --csv gives one row per member.

    \b
    Examples:
      monitor stories --since 24h
      monitor stories --tag defense-cooperation --min-outlets 3
      monitor stories --country IL --outlet hespress --since 7d --json
      monitor stories --since 2026-11-01 --csv > stories.csv
    """
    flt = StoryFilter(
        since=since,
        until=until,
        tags=tags,
        countries=countries,
        outlets=outlets,
        min_outlets=min_outlets,
        limit=limit or None,
    )
    with session_factory(get_engine(app.database()))() as session:
        records = story_records(session, flt)
    if output == "table":
        click.echo(_table(records), nl=False)
    elif output == "csv":
        emit(_member_rows(records), output, MEMBER_COLUMNS)
    else:
        emit(_nested_times(records), output, [])


@click.command()
@click.option("--since", type=When(), help="Only articles published at or after (default: all).")
@pass_app
def recluster(app: AppContext, since: datetime | None) -> None:
    """Rebuild stories from stored articles, e.g. after a threshold or normaliser change.

    Articles published since --since (all by default) leave their stories and are clustered
    again in publication order, as the crawl would have; older articles keep theirs and
    can be matched. The same database gives the same stories every time.

    \b
    Examples:
      monitor recluster
      monitor recluster --since 30d
    """
    from monitor.pipelines.cluster import Clusterer
    from monitor.pipelines.cluster import recluster as rebuild

    url = app.database()
    started = time.monotonic()
    clusterer = Clusterer(timedelta(days=app.config.dedupe_window_days))
    report = rebuild(session_factory(get_engine(url)), since=since, clusterer=clusterer)
    click.echo(
        f"re-clustered {report.articles} articles: {report.matched} joined an earlier "
        f"article's story, {report.articles - report.matched} started one "
        f"({time.monotonic() - started:.1f} s)"
    )


commands = [stories, recluster]
