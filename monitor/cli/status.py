"""`monitor status`: is the monitor healthy? Feeds, last crawl, counts, last digest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from sqlalchemy import func, select

from db.engine import get_engine, session_factory
from db.feeds import feed_counts
from db.models import Article, Digest, Feed, Fetch, Story
from monitor.cli import AppContext, pass_app
from monitor.cli.output import _jsonable


def status_record(url: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    with session_factory(get_engine(url))() as session:
        last_fetch = session.execute(select(func.max(Fetch.started_at))).scalar_one()
        failing = [
            {"id": slug, "outcome": outcome, "errors": errors, "error": error, "since": since}
            for slug, outcome, errors, error, since in session.execute(
                select(
                    Feed.slug,
                    Feed.last_outcome,
                    Feed.consecutive_errors,
                    Feed.last_error,
                    Feed.last_success_at,
                )
                .where(Feed.enabled.is_(True), Feed.consecutive_errors > 0)
                .order_by(Feed.consecutive_errors.desc(), Feed.slug)
            ).tuples()
        ]
        digest = session.execute(
            select(Digest).order_by(Digest.created_at.desc()).limit(1)
        ).scalar_one_or_none()
        return {
            "database": get_engine(url).url.render_as_string(hide_password=True),
            "feeds": feed_counts(session),
            "failing": failing,
            "last_fetch_at": last_fetch,
            "articles": session.execute(select(func.count(Article.id))).scalar_one(),
            "articles_today": session.execute(
                select(func.count(Article.id)).where(
                    Article.first_seen_at >= now - timedelta(hours=24)
                )
            ).scalar_one(),
            "stories": session.execute(select(func.count(Story.id))).scalar_one(),
            "last_digest": None
            if digest is None
            else {
                "date": digest.digest_date,
                "status": digest.status,
                "sent_at": digest.sent_at,
                "stories": digest.story_count,
            },
        }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Health at a glance: feeds ok / failing, last crawl, counts, last digest.

    \b
    Examples:
      monitor status
      monitor status --json | jq .feeds
    """
    record = status_record(app.database())
    if as_json:
        record["failing"] = [_jsonable(row) for row in record["failing"]]
        if record["last_digest"]:
            record["last_digest"] = _jsonable(record["last_digest"])
        click.echo(json.dumps(_jsonable(record), ensure_ascii=False, indent=2))
        return
    feeds = record["feeds"]
    click.echo(f"database      {record['database']}")
    click.echo(
        f"feeds         {feeds['enabled']} enabled: {feeds['ok']} ok, "
        f"{feeds['failing']} failing, {feeds['never_polled']} not polled yet"
    )
    click.echo(f"last fetch    {record['last_fetch_at'] or 'never'}")
    click.echo(f"articles      {record['articles']} ({record['articles_today']} in the last 24 h)")
    click.echo(f"stories       {record['stories']}")
    digest = record["last_digest"]
    click.echo(
        "last digest   "
        + (
            f"{digest['date']} {digest['status']} ({digest['stories']} stories)"
            if digest
            else "none"
        )
    )
    for row in record["failing"]:
        click.echo(f"  failing: {row['id']}: {row['outcome']} x{row['errors']}: {row['error']}")


commands = [status]
